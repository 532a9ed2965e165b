/*
 * Fuzz entry point for the autoprof bundle reader (src/bundle): the input is
 * read as a bundle (zip through libzip, meta JSON, every pprof entry decoded).
 * A refusal must say why; a bundle that reads must hold sorted labels with
 * service and type, a type of SPEC §1 and a non-empty body per profile, and
 * must read back the same when written again with the writer (meta, then
 * every profile under its entry name). Nothing may crash, leak or read out
 * of bounds.
 *
 * Built by `make fuzz` (clang libFuzzer, corpus under build-fuzz/corpus/bundle) and,
 * with tests/fuzz/driver.c as main, by `make test`, which feeds it its seeds.
 * Seeds: tests/fixtures/autoprof, the bundles of tests/fixtures/bad.
 */
#include "bundle/bundle.h"

#include <jansson.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *label(const struct bundle_profile *p, const char *name)
{
	for (size_t i = 0; i < p->nlabels; i++)
		if (strcmp(p->labels[i].name, name) == 0)
			return p->labels[i].value;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_options o = {.max_total = (uint64_t)64 << 20,
				   .pprof = {.max_decompressed = (size_t)64 << 20}};
	struct bundle *b = NULL, *c = NULL;
	struct bundle_writer *w;
	struct pf_buf z = PF_BUF_INIT(0);
	struct pf_err err = {0};
	const struct bundle_meta *m;
	json_t *mj;
	char *ms;

	if (bundle_read(data, size, &o, &b, &err) < 0) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < bundle_nprofiles(b); i++) {
		const struct bundle_profile *p = bundle_profile_at(b, i);
		if (!label(p, "service") || !label(p, "type") || strcmp(label(p, "type"), p->type) != 0 ||
		    !p->len || !*p->type || strspn(p->type, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(p->type))
			abort();
		for (size_t j = 1; j < p->nlabels; j++)
			if (strcmp(p->labels[j - 1].name, p->labels[j].name) >= 0)
				abort();
	}
	/* written again, it reads the same */
	m = bundle_get_meta(b);
	mj = json_pack("{ssssssssssssss}", "main", m->main, "revision", m->revision, "go_version",
		       m->go_version, "hostname", m->hostname, "proc_id", m->proc_id, "init_time",
		       m->init_time, "capture_time", m->capture_time);
	ms = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	w = bundle_writer_new();
	if (bundle_writer_add(w, "meta", ms, strlen(ms), &err) < 0)
		abort();
	free(ms);
	for (size_t i = 0; i < bundle_nprofiles(b); i++) {
		const struct bundle_profile *p = bundle_profile_at(b, i);
		if (bundle_writer_add(w, p->entry, p->body, p->len, &err) < 0)
			abort();
	}
	if (bundle_writer_finish(w, &z, &err) < 0)
		abort();
	bundle_writer_free(w);
	if (bundle_read(z.data, z.len, &o, &c, &err) < 0 || bundle_nprofiles(c) != bundle_nprofiles(b))
		abort();
	for (size_t i = 0; i < bundle_nprofiles(b); i++) {
		const struct bundle_profile *p = bundle_profile_at(b, i), *q = bundle_profile_at(c, i);
		if (strcmp(p->entry, q->entry) != 0 || p->t_ns != q->t_ns || p->digest != q->digest ||
		    p->nlabels != q->nlabels)
			abort();
	}
	bundle_free(c);
	bundle_free(b);
	pf_buf_free(&z);
	return 0;
}
