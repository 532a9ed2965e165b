/*
 * Fuzz entry point for the configuration loader and the file_sd parsers:
 * the input is loaded as a configuration (and, when it loads, printed and
 * loaded again: the printed form must load), then parsed as a JSON and as
 * a YAML target file. Every failure must say why; nothing may crash, leak
 * or read out of bounds.
 *
 * Built by `make fuzz` (clang libFuzzer, corpus under build-fuzz/corpus/config) and,
 * with tests/fuzz/driver.c as main, by `make test`, which feeds it its seeds.
 * Seeds: tests/fixtures/config, examples/profefe.yaml, config/profefe.yaml.
 */
#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sd_file(const char *name, const uint8_t *data, size_t size)
{
	struct config_sd_groups *g = NULL;
	struct pf_err err = {0};
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/fuzz-config-%d.%s", (int)getpid(), name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(data, 1, size, f);
	fclose(f);
	if (config_sd_read_file(path, &g, &err) < 0) {
		if (!err.msg[0])
			abort();
	} else {
		config_sd_groups_free(g);
	}
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL, *c2 = NULL;
	struct pf_err err = {0};
	struct pf_buf out = PF_BUF_INIT(0);

	if (config_load_buffer("fuzz.yaml", "/nonexistent", data, size, &c, &err) < 0) {
		if (!err.msg[0])
			abort(); /* every failure says why */
	} else {
		if (config_print_yaml(c, &out, &err) < 0)
			abort();
		if (config_load_buffer("printed.yaml", "/nonexistent", out.data, out.len, &c2, &err) < 0)
			abort(); /* what we print loads */
		config_free(c2);
		config_free(c);
		pf_buf_free(&out);
	}
	sd_file("json", data, size);
	sd_file("yaml", data, size);
	return 0;
}
