/*
 * libFuzzer entry point for the ClickHouse store's reply parsers
 * (src/clickhouse/query.c, through ch__parse_reply): the first byte picks
 * the reply (0 series rows, 1 profile rows, 2..5 mapping, function,
 * location and stack rows), the rest is the RowBinary reply.
 * Built by `make fuzz` and, with tests/fuzz/driver.c as main, by
 * `make test`, which feeds it its seeds: real replies of clickhouse-server
 * 18.16 to the store's selects (tests/fixtures/clickhouse, each with its
 * kind byte first).
 *
 * Every input is parsed or refused with PF_ECORRUPT and a sentence; the
 * sanitizers check that no read passes the end and nothing leaks.
 */
#include "clickhouse/ch-internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_err err = {0};
	int rc;

	if (size < 1)
		return 0;
	rc = ch__parse_reply(data[0] % 6, data + 1, size - 1, &err);
	if (rc != 0 && (rc != PF_ECORRUPT || !err.msg[0]))
		abort();
	return 0;
}
