/*
 * Open/close, the writer and append.
 *
 * An append builds its rows (RowBinary, one buffer per table): under the
 * store's lock the profile id, the series row (the first time this node
 * writes the series on that day) and the namespace; then, under that
 * namespace's own lock only (appends of other services and days encode in
 * parallel), the profile row and the rows of every symbol it uses whose
 * rows ClickHouse has not acknowledged yet. Ids (profile id, symbol ids)
 * are fixed there. The job joins a bounded queue (full: PF_EBUSY,
 * nothing queued); the writer thread takes the queued jobs as one batch
 * (up to batch_max_bytes per table), inserts each table's rows (symbols
 * first, profiles last) and retries a failed insert with the same bytes
 * after a doubling backoff, up to max_attempts. Only after the last insert
 * of a batch succeeds are its symbols and series marked written and its
 * appenders answered 0; a batch given up answers PF_EIO and leaves its
 * symbols unwritten, so the next profile that uses them sends them again.
 * Rows sent twice (a retry after a lost reply) are collapsed by the
 * ReplacingMergeTree and by every read's LIMIT 1 BY.
 */
#include "clickhouse/ch-internal.h"
#include "tsdb/tsdb-internal.h" /* tsdb__id_encode: the ids are the embedded store's */

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

enum { K_MAP, K_FN, K_LOC, K_STACK };

struct mark {
	struct ch__nsdict *d;
	uint32_t kind, id;
};

struct ch__job {
	struct pf_buf rows[CH__T_N];
	struct mark *marks;
	size_t nmarks, capm;
	uint64_t series_key;
	int series_new;
	int done, rc;
	struct pf_err err;
	struct ch__job *next;
};

uint64_t ch__random64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = pf_hash64(&ts, sizeof(ts), (uint64_t)(uintptr_t)&v);
	}
	return v;
}

int ch__put_day(struct pf_buf *b, int64_t day)
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return PF_EINVAL;
	return pf_buf_printf(b, "'%04d-%02d-%02d'", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* ---- the writer ---------------------------------------------------------- */

static void job_free(struct ch__job *j)
{
	if (!j)
		return;
	for (int t = 0; t < CH__T_N; t++)
		pf_buf_free(&j->rows[t]);
	free(j->marks);
	free(j);
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Insert one table's rows, retrying with the same bytes. */
static int insert_retry(struct ch_store *s, int t, const struct pf_buf *rows, struct pf_err *err)
{
	int64_t backoff = s->o.backoff_ns;
	int rc = 0;

	for (int attempt = 1;; attempt++) {
		rc = ch_query(s->c, 1, ch__insert_sql[t], rows->data, rows->len, NULL, err);
		if (rc == 0 || (rc != PF_EIO && rc != PF_EBUSY) || attempt >= s->o.max_attempts)
			break;
		pthread_mutex_lock(&s->mu);
		s->st.retries++;
		pthread_mutex_unlock(&s->mu);
		pf_log(PF_LOG_WARN, "clickhouse insert failed, retrying", "table",
		       ch__table_name[t], "error", err ? err->msg : "", NULL);
		sleep_ns(backoff);
		backoff = PF_MIN(backoff * 2, (int64_t)5000000000);
	}
	if (rc < 0)
		pf_err_prefix(err, "insert into %s (gave up after the attempts allowed): ",
			      ch__table_name[t]);
	return rc;
}

static int insert_batch(struct ch_store *s, struct ch__job *batch, struct pf_err *err)
{
	for (int t = 0; t < CH__T_N; t++) {
		struct pf_buf all = PF_BUF_INIT(0);
		const struct pf_buf *rows = &all;
		int rc;
		if (!batch->next) {
			rows = &batch->rows[t];
		} else {
			for (struct ch__job *j = batch; j; j = j->next)
				if (j->rows[t].len && pf_buf_append(&all, j->rows[t].data, j->rows[t].len) < 0)
					abort();
		}
		if (rows->len == 0) {
			pf_buf_free(&all);
			continue;
		}
		rc = insert_retry(s, t, rows, err);
		for (int k = 0; rc == 0 && k < s->o.test_repeat_inserts; k++)
			rc = ch_query(s->c, 1, ch__insert_sql[t], rows->data, rows->len, NULL, err);
		pf_buf_free(&all);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Store lock held; takes each namespace's lock (order: store, then
 * namespace; encoders hold a namespace's lock alone). */
static void mark_written(struct ch_store *s, struct ch__job *j)
{
	struct ch__nsdict *locked = NULL;
	for (size_t i = 0; i < j->nmarks; i++) {
		struct ch__nsdict *d = j->marks[i].d;
		if (d != locked) {
			if (locked)
				pthread_mutex_unlock(&locked->mu);
			pthread_mutex_lock(&d->mu);
			locked = d;
		}
		d->written[j->marks[i].kind][j->marks[i].id] = 1;
	}
	if (locked)
		pthread_mutex_unlock(&locked->mu);
	if (j->series_new)
		pf_htab_set(&s->series_written, j->series_key, 1);
}

static void *writer_main(void *arg)
{
	struct ch_store *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct ch__job *batch, *last;
		size_t bytes = 0, n = 0;
		struct pf_err err = {0};
		int64_t t0;
		int rc;

		while (!s->head && !s->closing)
			pthread_cond_wait(&s->work, &s->mu);
		if (!s->head)
			break;
		/* take jobs up to the batch size (at least one) */
		batch = last = s->head;
		for (;;) {
			size_t jb = 0;
			for (int t = 0; t < CH__T_N; t++)
				jb += last->rows[t].len;
			bytes += jb;
			n++;
			if (!last->next || bytes >= s->o.batch_max_bytes)
				break;
			last = last->next;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		s->queued -= n;
		s->inflight = n;
		pthread_mutex_unlock(&s->mu);

		t0 = pf_mono_ns();
		rc = insert_batch(s, batch, &err);

		pthread_mutex_lock(&s->mu);
		s->inflight = 0;
		if (rc == 0) {
			s->st.inserts++;
			s->st.insert_ns += (uint64_t)(pf_mono_ns() - t0);
		} else {
			s->st.failures++;
		}
		for (struct ch__job *j = batch; j; j = j->next) {
			if (rc == 0)
				mark_written(s, j);
			j->rc = rc;
			j->err = err;
			j->done = 1;
		}
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- open / close ------------------------------------------------------- */

static void dict_free(struct ch__nsdict *d);

int ch_store_open(const struct ch_store_options *o, struct ch_store **out, struct pf_err *err)
{
	struct ch_store *s;
	struct ch_dsn d;
	int rc;

	*out = NULL;
	if ((rc = ch_dsn_parse(o->dsn, &d, err)) < 0)
		return rc;
	s = pf_xcalloc(1, sizeof(*s));
	s->o = *o;
	s->o.dsn = NULL;
	if (!s->o.queue_max)
		s->o.queue_max = 1024;
	if (!s->o.batch_max_bytes)
		s->o.batch_max_bytes = (size_t)16 << 20;
	if (s->o.max_attempts <= 0)
		s->o.max_attempts = 5;
	if (s->o.backoff_ns <= 0)
		s->o.backoff_ns = 100000000;
	if (!s->o.max_profile_bytes)
		s->o.max_profile_bytes = (size_t)512 << 20;
	s->c = ch_client_new(&d, o->timeout_ns);
	s->dsn_base = pf_xstrdup(d.base);
	ch_dsn_free(&d);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->done, NULL);
	s->dicts = pf_map_new(16);
	pf_htab_init(&s->series_written, 64);
	if ((rc = ch__schema_ensure(s->c, err)) < 0)
		goto fail;
	s->seq_next = (uint32_t)ch__random64();
	if ((rc = ch__newest(s, &s->newest_t, err)) < 0)
		goto fail;
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
		rc = pf_err_set(err, PF_EIO, "clickhouse: cannot start the writer thread");
		goto fail;
	}
	s->writer_started = 1;
	*out = s;
	return 0;
fail:
	ch_store_close(s);
	return rc;
}

void ch_store_close(struct ch_store *s)
{
	if (!s)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->mu);
		s->closing = 1;
		pthread_cond_broadcast(&s->work);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
	}
	for (size_t i = 0; i < s->ndict; i++)
		dict_free(s->dictv[i]);
	free(s->dictv);
	pf_map_free(s->dicts);
	pf_htab_free(&s->series_written);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->mu);
	ch_client_free(s->c);
	free(s->dsn_base);
	free(s);
}

struct ch_client *ch_store_client(struct ch_store *s)
{
	return s->c;
}

void ch_stats(struct ch_store *s, struct ch_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	st->queued = s->queued;
	st->inflight = s->inflight;
	pthread_mutex_unlock(&s->mu);
}

/* ---- append: building the rows ------------------------------------------ */

static void dict_free(struct ch__nsdict *d)
{
	pthread_mutex_destroy(&d->mu);
	for (int k = 0; k < 4; k++) {
		pf_map_free(d->keys[k]);
		free(d->written[k]);
	}
	free(d->service);
	free(d);
}

/*
 * Bound the dictionaries' memory: past CH__MAX_DICTS namespaces, when no
 * job refers to any (nothing queued or in flight), forget those of days
 * before the newest two that no appender is encoding with. A later profile of such a day starts a new
 * namespace (a new random ns), so ids are never reused for other content.
 */
#define CH__MAX_DICTS 256
static void evict_dicts(struct ch_store *s)
{
	int64_t newest = INT64_MIN;
	size_t j = 0;

	if (s->ndict <= CH__MAX_DICTS || s->queued || s->inflight)
		return;
	for (size_t i = 0; i < s->ndict; i++)
		newest = PF_MAX(newest, s->dictv[i]->day);
	pf_map_free(s->dicts);
	s->dicts = pf_map_new(16);
	for (size_t i = 0; i < s->ndict; i++) {
		struct ch__nsdict *d = s->dictv[i];
		struct pf_buf k = PF_BUF_INIT(0);
		if (d->day < newest - 1 && !d->users) {
			dict_free(d);
			continue;
		}
		pf_buf_put_le64(&k, (uint64_t)d->day);
		pf_buf_append(&k, d->service, strlen(d->service));
		pf_map_put(s->dicts, k.data, k.len, j);
		pf_buf_free(&k);
		s->dictv[j++] = d;
	}
	s->ndict = j;
}

static struct ch__nsdict *get_dict(struct ch_store *s, int64_t day, const char *service)
{
	struct pf_buf k = PF_BUF_INIT(0);
	uint64_t idx = s->ndict;
	struct ch__nsdict *d;

	pf_buf_put_le64(&k, (uint64_t)day);
	pf_buf_append(&k, service, strlen(service));
	if (pf_map_get_or_put(s->dicts, k.data, k.len, &idx)) {
		pf_buf_free(&k);
		return s->dictv[idx];
	}
	pf_buf_free(&k);
	d = pf_xcalloc(1, sizeof(*d));
	pthread_mutex_init(&d->mu, NULL);
	d->day = day;
	d->service = pf_xstrdup(service);
	d->ns = ch__random64();
	for (int i = 0; i < 4; i++)
		d->keys[i] = pf_map_new(256);
	pf_xgrow((void **)&s->dictv, &s->dictcap, s->ndict + 1, sizeof(*s->dictv));
	s->dictv[s->ndict++] = d;
	return d;
}

/* State of one append while its rows are built. */
struct enc {
	struct ch_store *s;
	struct ch__job *j;
	struct ch__nsdict *d;
	const struct pprof_profile *p;
	struct pf_htab injob; /* kind << 32 | id of symbols whose rows this job has */
	struct pf_buf key;
};

/* The id of a symbol (content in e->key); *emit is set when its row must
 * go into this job. */
static uint32_t intern(struct enc *e, int kind, int *emit)
{
	struct ch__nsdict *d = e->d;
	uint64_t id = (uint64_t)d->n[kind] + 1;
	uint32_t old;

	if (!pf_map_get_or_put(d->keys[kind], e->key.data, e->key.len, &id)) {
		d->n[kind]++;
		pf_xgrow((void **)&d->written[kind], &d->cap[kind], (size_t)id + 1, 1);
		d->written[kind][id] = 0;
	}
	*emit = 0;
	if (!d->written[kind][id] &&
	    !pf_htab_put(&e->injob, (uint64_t)kind << 32 | id, 1, &old)) {
		struct ch__job *j = e->j;
		*emit = 1;
		pf_xgrow((void **)&j->marks, &j->capm, j->nmarks + 1, sizeof(*j->marks));
		j->marks[j->nmarks++] = (struct mark){d, (uint32_t)kind, (uint32_t)id};
	}
	return (uint32_t)id;
}

/* day, service, ns: the first columns of every symbol row */
static void sym_head(struct enc *e, struct pf_buf *b, uint32_t id)
{
	ch_rb_date(b, (uint16_t)e->d->day);
	ch_rb_cstr(b, e->d->service);
	ch_rb_u64(b, e->d->ns);
	ch_rb_u32(b, id);
}

static void key_str(struct pf_buf *k, const char *s)
{
	pf_buf_put_bytes(k, s, strlen(s));
}

#define STR(i) pprof_string(e->p, (int64_t)(i))

static uint32_t enc_mapping(struct enc *e, const Perftools__Profiles__Mapping *m)
{
	struct pf_buf *k = &e->key, *b = &e->j->rows[CH__T_MAP];
	uint8_t flags = (uint8_t)((m->has_functions ? 1 : 0) | (m->has_filenames ? 2 : 0) |
				  (m->has_line_numbers ? 4 : 0) | (m->has_inline_frames ? 8 : 0));
	uint32_t id;
	int emit;

	pf_buf_reset(k);
	pf_buf_put_le64(k, m->memory_start);
	pf_buf_put_le64(k, m->memory_limit);
	pf_buf_put_le64(k, m->file_offset);
	key_str(k, STR(m->filename));
	key_str(k, STR(m->build_id));
	pf_buf_putc(k, flags);
	id = intern(e, K_MAP, &emit);
	if (emit) {
		sym_head(e, b, id);
		ch_rb_u64(b, m->memory_start);
		ch_rb_u64(b, m->memory_limit);
		ch_rb_u64(b, m->file_offset);
		ch_rb_cstr(b, STR(m->filename));
		ch_rb_cstr(b, STR(m->build_id));
		for (int i = 0; i < 4; i++)
			ch_rb_u8(b, (uint8_t)(flags >> i & 1));
	}
	return id;
}

static uint32_t enc_function(struct enc *e, const Perftools__Profiles__Function *f)
{
	struct pf_buf *k = &e->key, *b = &e->j->rows[CH__T_FN];
	uint32_t id;
	int emit;

	pf_buf_reset(k);
	key_str(k, STR(f->name));
	key_str(k, STR(f->system_name));
	key_str(k, STR(f->filename));
	pf_buf_put_le64(k, (uint64_t)f->start_line);
	id = intern(e, K_FN, &emit);
	if (emit) {
		sym_head(e, b, id);
		ch_rb_cstr(b, STR(f->name));
		ch_rb_cstr(b, STR(f->system_name));
		ch_rb_cstr(b, STR(f->filename));
		ch_rb_i64(b, f->start_line);
	}
	return id;
}

static uint32_t enc_location(struct enc *e, const Perftools__Profiles__Location *l,
			     const uint32_t *mid, const uint32_t *fid)
{
	const struct pprof_profile *p = e->p;
	struct pf_buf *k = &e->key, *b = &e->j->rows[CH__T_LOC];
	uint32_t m = 0, id;
	int emit;

	if (l->mapping_id)
		m = mid[pprof_mapping_index(p, l->mapping_id)];
	pf_buf_reset(k);
	pf_buf_put_uvarint(k, m);
	pf_buf_put_le64(k, l->address);
	pf_buf_putc(k, l->is_folded ? 1 : 0);
	pf_buf_put_uvarint(k, l->n_line);
	for (size_t i = 0; i < l->n_line; i++) {
		const Perftools__Profiles__Line *ln = l->line[i];
		pf_buf_put_uvarint(k, ln->function_id ? fid[pprof_function_index(p, ln->function_id)] : 0);
		pf_buf_put_uvarint(k, pf_zigzag(ln->line));
		pf_buf_put_uvarint(k, pf_zigzag(ln->column));
	}
	id = intern(e, K_LOC, &emit);
	if (emit) {
		sym_head(e, b, id);
		ch_rb_u32(b, m);
		ch_rb_u64(b, l->address);
		ch_rb_u8(b, l->is_folded ? 1 : 0);
		ch_rb_len(b, l->n_line);
		for (size_t i = 0; i < l->n_line; i++)
			ch_rb_u32(b, l->line[i]->function_id
					     ? fid[pprof_function_index(p, l->line[i]->function_id)]
					     : 0);
		ch_rb_len(b, l->n_line);
		for (size_t i = 0; i < l->n_line; i++)
			ch_rb_i64(b, l->line[i]->line);
		ch_rb_len(b, l->n_line);
		for (size_t i = 0; i < l->n_line; i++)
			ch_rb_i64(b, l->line[i]->column);
	}
	return id;
}

static uint32_t enc_stack(struct enc *e, const Perftools__Profiles__Sample *sm, const uint32_t *lid)
{
	const struct pprof_profile *p = e->p;
	struct pf_buf *k = &e->key, *b = &e->j->rows[CH__T_STACK];
	uint32_t id;
	size_t i;
	int emit;

	pf_buf_reset(k);
	pf_buf_put_uvarint(k, sm->n_location_id);
	for (i = 0; i < sm->n_location_id; i++)
		pf_buf_put_uvarint(k, lid[pprof_location_index(p, sm->location_id[i])]);
	pf_buf_put_uvarint(k, sm->n_label);
	for (i = 0; i < sm->n_label; i++) {
		const Perftools__Profiles__Label *lb = sm->label[i];
		key_str(k, STR(lb->key));
		key_str(k, STR(lb->str));
		pf_buf_put_le64(k, (uint64_t)lb->num);
		key_str(k, STR(lb->num_unit));
	}
	id = intern(e, K_STACK, &emit);
	if (emit) {
		sym_head(e, b, id);
		ch_rb_len(b, sm->n_location_id);
		for (i = 0; i < sm->n_location_id; i++)
			ch_rb_u32(b, lid[pprof_location_index(p, sm->location_id[i])]);
		ch_rb_len(b, sm->n_label);
		for (i = 0; i < sm->n_label; i++)
			ch_rb_cstr(b, STR(sm->label[i]->key));
		ch_rb_len(b, sm->n_label);
		for (i = 0; i < sm->n_label; i++)
			ch_rb_cstr(b, STR(sm->label[i]->str));
		ch_rb_len(b, sm->n_label);
		for (i = 0; i < sm->n_label; i++)
			ch_rb_i64(b, sm->label[i]->num);
		ch_rb_len(b, sm->n_label);
		for (i = 0; i < sm->n_label; i++)
			ch_rb_cstr(b, STR(sm->label[i]->num_unit));
	}
	return id;
}

/* The profile row's columns after (day, series_id, t_ns, seq, kind,
 * body_size): header, totals, ns, mapping_ids, extras, samples, raw. */
static void enc_pprof(struct enc *e, struct pf_buf *b)
{
	const pprof_msg *m = pprof_message(e->p);
	const struct pprof_profile *p = e->p;
	uint32_t *mid = pf_xcalloc(m->n_mapping + 1, sizeof(uint32_t));
	uint32_t *fid = pf_xcalloc(m->n_function + 1, sizeof(uint32_t));
	uint32_t *lid = pf_xcalloc(m->n_location + 1, sizeof(uint32_t));
	uint8_t *lused = pf_xcalloc(m->n_location + 1, 1);
	uint8_t *fused = pf_xcalloc(m->n_function + 1, 1);
	int64_t *totals = pf_xcalloc(m->n_sample_type + 1, sizeof(int64_t));
	size_t i, k, nextra;

	ch_rb_len(b, m->n_sample_type);
	for (i = 0; i < m->n_sample_type; i++)
		ch_rb_cstr(b, STR(m->sample_type[i]->type));
	ch_rb_len(b, m->n_sample_type);
	for (i = 0; i < m->n_sample_type; i++)
		ch_rb_cstr(b, STR(m->sample_type[i]->unit));
	ch_rb_cstr(b, m->period_type ? STR(m->period_type->type) : "");
	ch_rb_cstr(b, m->period_type ? STR(m->period_type->unit) : "");
	ch_rb_i64(b, m->period);
	ch_rb_i64(b, m->time_nanos);
	ch_rb_i64(b, m->duration_nanos);
	ch_rb_cstr(b, STR(m->drop_frames));
	ch_rb_cstr(b, STR(m->keep_frames));
	ch_rb_len(b, m->n_comment);
	for (i = 0; i < m->n_comment; i++)
		ch_rb_cstr(b, STR(m->comment[i]));
	ch_rb_cstr(b, STR(m->default_sample_type));
	pprof_totals(p, totals);
	ch_rb_len(b, m->n_sample_type);
	for (i = 0; i < m->n_sample_type; i++)
		ch_rb_i64(b, totals[i]);
	ch_rb_u64(b, e->d->ns);

	for (i = 0; i < m->n_mapping; i++)
		mid[i] = enc_mapping(e, m->mapping[i]);
	for (i = 0; i < m->n_function; i++)
		fid[i] = enc_function(e, m->function[i]);
	for (i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *l = m->location[i];
		lid[i] = enc_location(e, l, mid, fid);
		for (k = 0; k < l->n_line; k++)
			if (l->line[k]->function_id)
				fused[pprof_function_index(p, l->line[k]->function_id)] = 1;
	}
	for (i = 0; i < m->n_sample; i++)
		for (k = 0; k < m->sample[i]->n_location_id; k++)
			lused[pprof_location_index(p, m->sample[i]->location_id[k])] = 1;

	ch_rb_len(b, m->n_mapping);
	for (i = 0; i < m->n_mapping; i++)
		ch_rb_u32(b, mid[i]);
	for (nextra = 0, i = 0; i < m->n_location; i++)
		nextra += !lused[i];
	ch_rb_len(b, nextra);
	for (i = 0; i < m->n_location; i++)
		if (!lused[i])
			ch_rb_u32(b, lid[i]);
	for (nextra = 0, i = 0; i < m->n_function; i++)
		nextra += !fused[i];
	ch_rb_len(b, nextra);
	for (i = 0; i < m->n_function; i++)
		if (!fused[i])
			ch_rb_u32(b, fid[i]);

	ch_rb_len(b, m->n_sample);
	for (i = 0; i < m->n_sample; i++)
		ch_rb_u32(b, enc_stack(e, m->sample[i], lid));
	ch_rb_len(b, m->n_sample);
	for (i = 0; i < m->n_sample; i++) {
		ch_rb_len(b, m->sample[i]->n_value);
		for (k = 0; k < m->sample[i]->n_value; k++)
			ch_rb_i64(b, m->sample[i]->value[k]);
	}
	ch_rb_cstr(b, ""); /* raw */
	free(mid);
	free(fid);
	free(lid);
	free(lused);
	free(fused);
	free(totals);
}

#undef STR

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct tsdb_label *)a)->name, ((const struct tsdb_label *)b)->name);
}

/* Sorted copy of the labels (checked: names unique and non-empty, values
 * non-empty, service and type present); the series id is their hash. */
static int sort_labels(const struct tsdb_append_req *req, struct tsdb_label **out,
		       const char **service, const char **type, uint64_t *series, struct pf_err *err)
{
	struct tsdb_label *l;
	struct pf_buf k = PF_BUF_INIT(0);
	size_t i;
	int rc = 0;

	*service = *type = NULL;
	*out = NULL;
	if (req->nlabels == 0 || req->nlabels > 64)
		return pf_err_set(err, PF_EINVAL, "a profile needs 1 to 64 labels, not %zu",
				  req->nlabels);
	for (i = 0; i < req->nlabels; i++)
		if (!req->labels[i].name || !req->labels[i].name[0] || !req->labels[i].value ||
		    !req->labels[i].value[0] || strlen(req->labels[i].value) > 1024)
			return pf_err_set(err, PF_EINVAL,
					  "label %zu: empty name, or value empty or over 1024 bytes", i);
	l = pf_xmalloc(req->nlabels * sizeof(*l));
	memcpy(l, req->labels, req->nlabels * sizeof(*l));
	qsort(l, req->nlabels, sizeof(*l), cmp_label);
	for (i = 0; i < req->nlabels; i++) {
		if (i && !strcmp(l[i].name, l[i - 1].name)) {
			rc = pf_err_set(err, PF_EINVAL, "label %.64s given twice", l[i].name);
			goto fail;
		}
		if (!strcmp(l[i].name, "service"))
			*service = l[i].value;
		if (!strcmp(l[i].name, "type"))
			*type = l[i].value;
		pf_buf_put_bytes(&k, l[i].name, strlen(l[i].name));
		pf_buf_put_bytes(&k, l[i].value, strlen(l[i].value));
	}
	if (!*service || !*type) {
		rc = pf_err_set(err, PF_EINVAL, "a profile's labels need service and type");
		goto fail;
	}
	*series = pf_hash64(k.data, k.len, 0x70726f6665666543ull);
	pf_buf_free(&k);
	*out = l;
	return 0;
fail:
	pf_buf_free(&k);
	free(l);
	return rc;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

/* The time limits (as the embedded store's tsdb__check_time). Lock held. */
static int check_time(struct ch_store *s, int64_t t, struct pf_err *err)
{
	int64_t now = pf_now_ns(), anchor, start;
	char ts[40], nows[40], dur[40], st[40], an[40];

	if (s->o.max_future_ns > 0 && t > sat_add(now, s->o.max_future_ns)) {
		pf_format_rfc3339(t, ts, sizeof(ts));
		pf_format_rfc3339(now, nows, sizeof(nows));
		pf_format_duration(s->o.max_future_ns, dur, sizeof(dur));
		return pf_err_set(err, PF_EFUTURE,
				  "profile time %s is more than -tsdb.max-future %s after the server's "
				  "time %s",
				  ts, dur, nows);
	}
	if (s->o.retention_ns <= 0 || s->newest_t == INT64_MIN)
		return 0;
	anchor = s->newest_t;
	if (s->o.max_future_ns > 0)
		anchor = PF_MIN(anchor, sat_add(now, s->o.max_future_ns));
	start = sat_add(anchor, -s->o.retention_ns);
	if (t >= start)
		return 0;
	pf_format_rfc3339(t, ts, sizeof(ts));
	pf_format_rfc3339(start, st, sizeof(st));
	pf_format_duration(s->o.retention_ns, dur, sizeof(dur));
	pf_format_rfc3339(anchor, an, sizeof(an));
	return pf_err_set(err, PF_ETOOOLD,
			  "profile time %s is before the retention window, which starts at %s "
			  "(-tsdb.retention %s before %s, %s)",
			  ts, st, dur, an,
			  anchor < s->newest_t ? "the server's time plus -tsdb.max-future"
					       : "the newest profile's time");
}

int ch_append(struct ch_store *s, const struct tsdb_append_req *req, char *id, struct pf_err *err)
{
	struct tsdb_label *labels = NULL;
	struct pprof_profile *p = NULL;
	struct ch__job *j = NULL;
	struct enc e;
	const char *service, *type;
	uint64_t series;
	uint32_t seq;
	int64_t day, t_ns;
	struct pf_buf *b;
	int rc;

	memset(&e, 0, sizeof(e));
	if (id)
		id[0] = 0;
	if ((rc = sort_labels(req, &labels, &service, &type, &series, err)) < 0)
		return rc;
	if (!req->body || req->len == 0) {
		rc = pf_err_set(err, PF_EINVAL, "empty body");
		goto done;
	}
	if (req->len > (size_t)UINT32_MAX) {
		rc = pf_err_set(err, PF_ETOOBIG, "body of %zu bytes is over 4 GiB", req->len);
		goto done;
	}
	if (req->kind != TSDB_KIND_PPROF && req->kind != TSDB_KIND_RAW) {
		rc = pf_err_set(err, PF_EINVAL, "unknown kind %d", (int)req->kind);
		goto done;
	}
	/* the body's refusals first, with the request's pprof options as
	 * tsdb_append reads them (tsdb.h: plain, max_decompressed, budget,
	 * need_samples, time_nanos_wins, info) */
	t_ns = req->t_ns;
	if (req->kind == TSDB_KIND_PPROF) {
		struct pprof_limits lim = {.max_decompressed = s->o.max_profile_bytes,
					   .budget = req->budget};
		if (req->max_decompressed && req->max_decompressed < lim.max_decompressed)
			lim.max_decompressed = req->max_decompressed;
		if (req->plain)
			rc = pprof_decode_limited(req->plain, req->plain_len, &lim, &p, err);
		else
			rc = pprof_decode_limited(req->body, req->len, &lim, &p, err);
		if (rc < 0) {
			if (req->info)
				req->info->body = TSDB_BODY_BAD;
			goto done;
		}
		if (req->need_samples && pprof_message(p)->n_sample == 0) {
			if (req->info)
				req->info->body = TSDB_BODY_EMPTY;
			rc = pf_err_set(err, PF_EINVAL, "profile has no samples");
			goto done;
		}
		if (req->time_nanos_wins && pprof_message(p)->time_nanos > 0)
			t_ns = pprof_message(p)->time_nanos;
	}
	day = ch_day_of(t_ns);
	if (day < 0 || day > 65535) {
		rc = pf_err_set(err, PF_EINVAL,
				"profile time %lld ns is outside ClickHouse's Date range "
				"(1970-01-01 to 2149-06-06)",
				(long long)t_ns);
		goto done;
	}

	j = pf_xcalloc(1, sizeof(*j));
	pthread_mutex_lock(&s->mu);
	if (s->closing) {
		pthread_mutex_unlock(&s->mu);
		rc = pf_err_set(err, PF_ECLOSED, "the store is closing");
		goto done;
	}
	if ((rc = check_time(s, t_ns, err)) < 0) {
		pthread_mutex_unlock(&s->mu);
		goto done;
	}
	if (s->queued >= s->o.queue_max) {
		s->st.refused++;
		pthread_mutex_unlock(&s->mu);
		rc = pf_err_set(err, PF_EBUSY,
				"the ClickHouse write queue is full (%zu profiles waiting): try again later",
				s->o.queue_max);
		goto done;
	}
	if (p) {
		evict_dicts(s);
		e.d = get_dict(s, day, service);
		e.d->users++;
	}
	/* a counter, not a fresh random number: two appends of one series at
	 * one time through this node always get two ids (random seqs would
	 * collide with probability 2^-32 and the ReplacingMergeTree would
	 * keep one of the two rows) */
	seq = s->seq_next++;
	tsdb__id_encode(series, t_ns, seq, id ? id : (char[CH_ID_LEN + 1]){0});

	/* series row, once per node and day */
	j->series_key = pf_hash64(&series, sizeof(series), (uint64_t)day);
	if (!pf_htab_get(&s->series_written, j->series_key, &(uint32_t){0})) {
		j->series_new = 1;
		b = &j->rows[CH__T_SERIES];
		ch_rb_date(b, (uint16_t)day);
		ch_rb_u64(b, series);
		ch_rb_cstr(b, service);
		ch_rb_cstr(b, type);
		ch_rb_len(b, req->nlabels);
		for (size_t i = 0; i < req->nlabels; i++)
			ch_rb_cstr(b, labels[i].name);
		ch_rb_len(b, req->nlabels);
		for (size_t i = 0; i < req->nlabels; i++)
			ch_rb_cstr(b, labels[i].value);
	}
	b = &j->rows[CH__T_PROF];
	ch_rb_date(b, (uint16_t)day);
	ch_rb_u64(b, series);
	ch_rb_i64(b, t_ns);
	ch_rb_u32(b, seq);
	ch_rb_u8(b, (uint8_t)req->kind);
	ch_rb_u64(b, req->len);
	pthread_mutex_unlock(&s->mu);
	if (p) {
		/* symbols under the namespace's lock only */
		e.s = s;
		e.j = j;
		e.p = p;
		pf_htab_init(&e.injob, 256);
		pthread_mutex_lock(&e.d->mu);
		enc_pprof(&e, b);
		pthread_mutex_unlock(&e.d->mu);
		pf_htab_free(&e.injob);
		pf_buf_free(&e.key);
	} else {
		/* a trace: empty header and samples, the body kept */
		for (int i = 0; i < 2; i++)
			ch_rb_len(b, 0);
		ch_rb_cstr(b, "");
		ch_rb_cstr(b, "");
		ch_rb_i64(b, 0);
		ch_rb_i64(b, t_ns);
		ch_rb_i64(b, 0);
		ch_rb_cstr(b, "");
		ch_rb_cstr(b, "");
		ch_rb_len(b, 0);
		ch_rb_cstr(b, "");
		ch_rb_len(b, 0);
		ch_rb_u64(b, 0);
		for (int i = 0; i < 5; i++)
			ch_rb_len(b, 0);
		ch_rb_str(b, req->body, req->len);
	}
	pthread_mutex_lock(&s->mu);
	if (e.d)
		e.d->users--;
	if (s->closing || s->queued >= s->o.queue_max) {
		/* closed or filled while the rows were built: nothing queued (the
		 * symbols stay unwritten, the next profile sends them) */
		int closing = s->closing;
		if (!closing)
			s->st.refused++;
		pthread_mutex_unlock(&s->mu);
		rc = closing ? pf_err_set(err, PF_ECLOSED, "the store is closing")
			     : pf_err_set(err, PF_EBUSY,
					     "the ClickHouse write queue is full (%zu profiles "
					     "waiting): try again later",
					     s->o.queue_max);
		goto done;
	}
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->queued++;
	pthread_cond_signal(&s->work);
	while (!j->done)
		pthread_cond_wait(&s->done, &s->mu);
	rc = j->rc;
	if (rc == 0 && (s->newest_t == INT64_MIN || t_ns > s->newest_t))
		s->newest_t = t_ns;
	pthread_mutex_unlock(&s->mu);
	if (rc < 0 && err)
		*err = j->err;
	if (rc == 0 && req->info)
		req->info->t_ns = t_ns;
done:
	job_free(j);
	pprof_free(p);
	free(labels);
	return rc;
}
