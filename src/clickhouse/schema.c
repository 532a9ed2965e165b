/*
 * The schema (../shared/reference/clickhouse.md, section 3), written for
 * ClickHouse 18.16 and later: ReplacingMergeTree tables partitioned by day
 * (retention drops whole partitions), no codecs, TTL or LowCardinality.
 * Version CH_SCHEMA_VERSION lives in schema_version; a database written by
 * a newer build is refused, an older one would be migrated here (there is
 * none yet). Every statement is IF NOT EXISTS, so several nodes may create
 * the schema at once.
 */
#include "clickhouse/ch-internal.h"

#include <inttypes.h>
#include <stdlib.h>

const char *const ch__table_name[CH__T_N] = {"mappings", "functions", "locations",
					     "stacks",   "series",    "profiles"};

const char *const ch__insert_sql[CH__T_N] = {
	"INSERT INTO mappings (day, service, ns, mapping_id, memory_start, memory_limit, "
	"file_offset, filename, build_id, has_functions, has_filenames, has_line_numbers, "
	"has_inline_frames) FORMAT RowBinary",
	"INSERT INTO functions (day, service, ns, func_id, name, system_name, filename, "
	"start_line) FORMAT RowBinary",
	"INSERT INTO locations (day, service, ns, loc_id, mapping_id, address, is_folded, "
	"func_ids, lines, cols) FORMAT RowBinary",
	"INSERT INTO stacks (day, service, ns, stack_id, loc_ids, label_keys, label_strs, "
	"label_nums, label_units) FORMAT RowBinary",
	"INSERT INTO series (day, series_id, service, type, label_keys, label_values) "
	"FORMAT RowBinary",
	"INSERT INTO profiles (day, series_id, t_ns, seq, kind, body_size, sample_types, "
	"sample_units, period_type, period_unit, period, time_nanos, duration_nanos, "
	"drop_frames, keep_frames, comments, default_sample_type, totals, ns, mapping_ids, "
	"extra_loc_ids, extra_func_ids, stack_ids, values, raw) FORMAT RowBinary",
};

#define SYM_KEY "PARTITION BY day ORDER BY (service, ns, "

static const char *const create_sql[] = {
	"CREATE TABLE IF NOT EXISTS series (day Date, series_id UInt64, service String, "
	"type String, label_keys Array(String), label_values Array(String)) "
	"ENGINE = ReplacingMergeTree PARTITION BY day ORDER BY (service, type, series_id)",

	"CREATE TABLE IF NOT EXISTS profiles (day Date, series_id UInt64, t_ns Int64, "
	"seq UInt32, kind UInt8, body_size UInt64, sample_types Array(String), "
	"sample_units Array(String), period_type String, period_unit String, period Int64, "
	"time_nanos Int64, duration_nanos Int64, drop_frames String, keep_frames String, "
	"comments Array(String), default_sample_type String, totals Array(Int64), ns UInt64, "
	"mapping_ids Array(UInt32), extra_loc_ids Array(UInt32), extra_func_ids Array(UInt32), "
	"stack_ids Array(UInt32), values Array(Array(Int64)), raw String) "
	"ENGINE = ReplacingMergeTree PARTITION BY day ORDER BY (series_id, t_ns, seq) "
	"SETTINGS index_granularity = 256",

	"CREATE TABLE IF NOT EXISTS stacks (day Date, service String, ns UInt64, "
	"stack_id UInt32, loc_ids Array(UInt32), label_keys Array(String), "
	"label_strs Array(String), label_nums Array(Int64), label_units Array(String)) "
	"ENGINE = ReplacingMergeTree " SYM_KEY "stack_id)",

	"CREATE TABLE IF NOT EXISTS locations (day Date, service String, ns UInt64, "
	"loc_id UInt32, mapping_id UInt32, address UInt64, is_folded UInt8, "
	"func_ids Array(UInt32), lines Array(Int64), cols Array(Int64)) "
	"ENGINE = ReplacingMergeTree " SYM_KEY "loc_id)",

	"CREATE TABLE IF NOT EXISTS functions (day Date, service String, ns UInt64, "
	"func_id UInt32, name String, system_name String, filename String, start_line Int64) "
	"ENGINE = ReplacingMergeTree " SYM_KEY "func_id)",

	"CREATE TABLE IF NOT EXISTS mappings (day Date, service String, ns UInt64, "
	"mapping_id UInt32, memory_start UInt64, memory_limit UInt64, file_offset UInt64, "
	"filename String, build_id String, has_functions UInt8, has_filenames UInt8, "
	"has_line_numbers UInt8, has_inline_frames UInt8) "
	"ENGINE = ReplacingMergeTree " SYM_KEY "mapping_id)",
};

/* The one number of a TSV reply. */
static int read_number(const struct pf_buf *b, uint64_t *v)
{
	char tmp[32];
	char *end;
	size_t n = b->len;
	while (n && (b->data[n - 1] == '\n' || b->data[n - 1] == '\r'))
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return PF_EINVAL;
	memcpy(tmp, b->data, n);
	tmp[n] = 0;
	*v = strtoull(tmp, &end, 10);
	return *end ? PF_EINVAL : 0;
}

int ch__schema_ensure(struct ch_client *c, struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(1 << 20);
	uint64_t have = 0;
	int rc;

	pf_buf_printf(&sql, "CREATE DATABASE IF NOT EXISTS %s", ch_client_database(c));
	pf_buf_putc(&sql, 0);
	if ((rc = ch_query(c, 0, (char *)sql.data, NULL, 0, NULL, err)) < 0)
		goto done;
	rc = ch_query(c, 1,
		      "CREATE TABLE IF NOT EXISTS schema_version (version UInt32, "
		      "written_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree "
		      "ORDER BY version",
		      NULL, 0, NULL, err);
	if (rc < 0)
		goto done;
	if ((rc = ch_query(c, 1, "SELECT max(version) FROM schema_version FORMAT TSV", NULL, 0,
			   &out, err)) < 0)
		goto done;
	if (read_number(&out, &have) < 0) {
		rc = pf_err_set(err, PF_EINVAL,
				"clickhouse: database %s: schema_version holds no number (\"%.*s\")",
				ch_client_database(c), (int)PF_MIN(out.len, 64), (char *)out.data);
		goto done;
	}
	if (have > CH_SCHEMA_VERSION) {
		rc = pf_err_set(err, PF_ENEWER,
				"clickhouse: database %s has schema version %" PRIu64
				", newer than this build's %d: upgrade profefe or use another database",
				ch_client_database(c), have, CH_SCHEMA_VERSION);
		goto done;
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(create_sql); i++)
		if ((rc = ch_query(c, 1, create_sql[i], NULL, 0, NULL, err)) < 0)
			goto done;
	if (have < CH_SCHEMA_VERSION) {
		pf_buf_reset(&sql);
		pf_buf_printf(&sql, "INSERT INTO schema_version (version) VALUES (%d)",
			      CH_SCHEMA_VERSION);
		pf_buf_putc(&sql, 0);
		rc = ch_query(c, 1, (char *)sql.data, NULL, 0, NULL, err);
	}
done:
	pf_buf_free(&sql);
	pf_buf_free(&out);
	return rc;
}
