/*
 * ingest: checks, decode, totals and append of one profile (see ingest.h).
 */
#include "ingest/ingest.h"
#include "pprof/pprof.h"
#include "pprof/stream.h"

#include <stdlib.h>

const char *ingest_class_name(enum ingest_class c)
{
	switch (c) {
	case INGEST_OK: return "ok";
	case INGEST_BAD_LABELS: return "bad_labels";
	case INGEST_BAD_TYPE: return "bad_type";
	case INGEST_MALFORMED: return "malformed";
	case INGEST_NO_SAMPLES: return "no_samples";
	case INGEST_TOO_BIG: return "too_big";
	case INGEST_DECODE_CAP: return "decode_cap";
	case INGEST_BUSY: return "busy";
	case INGEST_FUTURE: return "future";
	case INGEST_TOO_OLD: return "too_old";
	case INGEST_INVALID: return "invalid";
	case INGEST_DISK_FULL: return "disk_full";
	case INGEST_QUEUE_FULL: return "queue_full";
	case INGEST_STORE_DOWN: return "store_down";
	case INGEST_STORE: return "store";
	}
	return "?";
}

int ingest_is_go_trace(const void *data, size_t n)
{
	const uint8_t *p = data;

	/* "go 1.19 trace\0\0\0" and its kin */
	return n >= 16 && memcmp(p, "go 1.", 5) == 0 && memmem(p, 16, " trace", 6) != NULL;
}

static const char *label_value(const struct tsdb_label *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].name && strcmp(l[i].name, name) == 0)
			return l[i].value;
	return NULL;
}

enum ingest_class ingest_check_labels(const struct tsdb_label *labels, size_t nlabels,
				      struct pf_err *err)
{
	const char *type;

	if (nlabels > PF_MAX_LABELS) {
		pf_err_set(err, PF_EINVAL, "more than %d labels (%zu)", PF_MAX_LABELS, nlabels);
		return INGEST_BAD_LABELS;
	}
	for (size_t i = 0; i < nlabels; i++) {
		const struct tsdb_label *l = &labels[i];
		size_t vl;

		if (!l->name || !l->value) {
			pf_err_set(err, PF_EINVAL, "label %zu has no name or value", i);
			return INGEST_BAD_LABELS;
		}
		if (!pf_label_name_ok(l->name, strlen(l->name))) {
			pf_err_set(err, PF_EINVAL, "invalid label name \"%.64s\": want [a-zA-Z_][a-zA-Z0-9_]*",
				   l->name);
			return INGEST_BAD_LABELS;
		}
		if (pf_label_name_reserved(l->name)) {
			pf_err_set(err, PF_EINVAL, "label name \"%.64s\" is reserved (starts with __)", l->name);
			return INGEST_BAD_LABELS;
		}
		vl = strlen(l->value);
		if (vl == 0) {
			pf_err_set(err, PF_EINVAL, "label \"%.64s\" has an empty value", l->name);
			return INGEST_BAD_LABELS;
		}
		if (!pf_label_value_ok(l->value, vl)) {
			pf_err_set(err, PF_EINVAL, "value of \"%.64s\" is not valid UTF-8 or longer than %d bytes",
				   l->name, PF_MAX_LABEL_VALUE);
			return INGEST_BAD_LABELS;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(labels[j].name, l->name) == 0) {
				pf_err_set(err, PF_EINVAL, "label \"%.64s\" is repeated", l->name);
				return INGEST_BAD_LABELS;
			}
		}
	}
	if (!label_value(labels, nlabels, "service") || !(type = label_value(labels, nlabels, "type"))) {
		pf_err_set(err, PF_EINVAL, "labels need \"service\" and \"type\"");
		return INGEST_BAD_LABELS;
	}
	if (!pf_type_ok(type)) {
		pf_err_set(err, PF_EINVAL, "unknown profile type \"%.64s\": want one of SPEC §1's or [a-z0-9_.-]+",
			   type);
		return INGEST_BAD_TYPE;
	}
	return INGEST_OK;
}

/* ---- pprof: decode, check, total -------------------------------------- */

/* A sink of the streaming decoder that keeps what the store needs: the
 * totals per sample type, their type and unit strings and time_nanos. */
struct totals_sink {
	size_t nt;
	int64_t *idx;   /* 2 * nt: type, unit string indexes */
	char **str;     /* 2 * nt: their strings, as they pass */
	int64_t *sums;  /* nt */
	int64_t time_nanos;
	size_t nsample;
};

static int ts_header(void *ctx, const struct pprof_stream_header *h, struct pf_err *err)
{
	struct totals_sink *t = ctx;
	size_t n = h->n_sample_type;

	(void)err;
	t->nt = n;
	t->idx = pf_xcalloc(2 * n + 1, sizeof(*t->idx));
	t->str = pf_xcalloc(2 * n + 1, sizeof(*t->str));
	t->sums = pf_xcalloc(n + 1, sizeof(*t->sums));
	if (n)
		memcpy(t->idx, h->sample_type, 2 * n * sizeof(*t->idx));
	t->time_nanos = h->time_nanos;
	t->nsample = h->n_sample;
	return 0;
}

static int ts_string(void *ctx, size_t idx, const char *s, size_t len, struct pf_err *err)
{
	struct totals_sink *t = ctx;

	(void)err;
	for (size_t j = 0; j < 2 * t->nt; j++)
		if (t->idx[j] >= 0 && (size_t)t->idx[j] == idx && !t->str[j])
			t->str[j] = pf_xstrndup(s, len);
	return 0;
}

static int ts_sample(void *ctx, const struct pprof_stream_sample *s, struct pf_err *err)
{
	struct totals_sink *t = ctx;
	size_t n = PF_MIN(s->n_value, t->nt);

	(void)err;
	for (size_t j = 0; j < n; j++)
		t->sums[j] = (int64_t)((uint64_t)t->sums[j] + (uint64_t)s->value[j]);
	return 0;
}

static void totals_sink_free(struct totals_sink *t)
{
	for (size_t j = 0; t->str && j < 2 * t->nt; j++)
		free(t->str[j]);
	free(t->str);
	free(t->idx);
	free(t->sums);
	memset(t, 0, sizeof(*t));
}

/* A decoded pprof body as tsdb_append takes it. */
struct pprof_prep {
	struct totals_sink ts;
	struct tsdb_total *totals;
	struct pf_buf gz; /* the body gzipped, when it came raw */
};

static void pprof_prep_free(struct pprof_prep *pp)
{
	totals_sink_free(&pp->ts);
	free(pp->totals);
	pf_buf_free(&pp->gz);
}

/*
 * Decode and check req's pprof body (pprof_decode's checks and sentences,
 * on the streaming decoder: no protobuf-c tree), total it and gzip it when
 * it came raw; fills ar's body, totals and time.
 */
static enum ingest_class pprof_prep(const struct ingest_opts *o, const struct ingest_req *req,
				    struct pprof_prep *pp, struct tsdb_append_req *ar, struct pf_err *err)
{
	static const struct pprof_sink sink = {
		.header = ts_header,
		.string = ts_string,
		.sample = ts_sample,
	};
	struct pprof_limits lim = {.max_decompressed = o->max_profile_bytes, .budget = o->inflight};
	int rc = pprof_stream_decode_limited(req->body, req->len, &lim, &sink, &pp->ts, err);

	if (rc == PF_EBUSY)
		return INGEST_BUSY;
	if (rc == PF_ELIMIT)
		return INGEST_DECODE_CAP;
	if (rc == PF_ETOOBIG)
		return INGEST_TOO_BIG;
	if (rc < 0)
		return INGEST_MALFORMED;
	if (pp->ts.nsample == 0) {
		pf_err_set(err, PF_EINVAL, "profile has no samples");
		return INGEST_NO_SAMPLES;
	}
	pp->totals = pf_xcalloc(pp->ts.nt + 1, sizeof(*pp->totals));
	for (size_t i = 0; i < pp->ts.nt; i++) {
		pp->totals[i].type = pp->ts.str[2 * i] ? pp->ts.str[2 * i] : "";
		pp->totals[i].unit = pp->ts.str[2 * i + 1] ? pp->ts.str[2 * i + 1] : "";
		pp->totals[i].value = pp->ts.sums[i];
	}
	ar->kind = TSDB_KIND_PPROF;
	ar->totals = pp->totals;
	ar->ntotals = pp->ts.nt;
	if (pprof_is_gzip(req->body, req->len)) {
		ar->body = req->body;
		ar->len = req->len;
	} else {
		if ((rc = pprof_gzip(req->body, req->len, &pp->gz, err)) < 0) {
			pf_err_prefix(err, "compressing the profile: ");
			return INGEST_STORE;
		}
		ar->body = pp->gz.data;
		ar->len = pp->gz.len;
	}
	if (req->time_nanos_wins && pp->ts.time_nanos > 0)
		ar->t_ns = pp->ts.time_nanos;
	return INGEST_OK;
}

/* ---- the path ----------------------------------------------------------- */

enum ingest_class ingest_profile(const struct ingest_opts *o, const struct ingest_req *req,
				 struct ingest_out *out, struct pf_err *err)
{
	struct tsdb_append_req ar = {0};
	struct pprof_prep pp = {0};
	enum ingest_class c;
	const char *type;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((c = ingest_check_labels(req->labels, req->nlabels, err)) != INGEST_OK)
		return c;
	type = label_value(req->labels, req->nlabels, "type");
	ar.labels = req->labels;
	ar.nlabels = req->nlabels;
	ar.t_ns = req->t_ns;
	if (strcmp(type, "trace") == 0) {
		/* a Go execution trace, stored byte for byte */
		if (req->len == 0) {
			pf_err_set(err, PF_EINVAL, "empty trace body");
			return INGEST_MALFORMED;
		}
		if (!ingest_is_go_trace(req->body, req->len)) {
			pf_err_set(err, PF_EINVAL,
				   "not a Go execution trace: it does not start with \"go 1.N trace\"");
			return INGEST_MALFORMED;
		}
		ar.kind = TSDB_KIND_RAW;
		ar.body = req->body;
		ar.len = req->len;
	} else if (req->decoded) {
		ar.kind = TSDB_KIND_PPROF;
		ar.body = req->body;
		ar.len = req->len;
		ar.totals = req->totals;
		ar.ntotals = req->ntotals;
	} else {
		/*
		 * Until the store's head is symbolized (issue 18), the ingest
		 * path decodes and totals the body here, and the store keeps the
		 * gzip body. When tsdb_append decodes pprof bodies itself (the
		 * streaming decoder into the head's symbol tables) and totals
		 * them when given none, this call goes: the body is passed as it
		 * came, with totals NULL, and tsdb_append's decode errors map to
		 * these same classes (PF_EINVAL malformed, PF_ETOOBIG, PF_ELIMIT,
		 * PF_EBUSY, "no samples").
		 */
		if ((c = pprof_prep(o, req, &pp, &ar, err)) != INGEST_OK)
			goto out;
	}
	rc = store_append(o->db, &ar, out->id, err);
	switch (rc) {
	case 0:
		out->t_ns = ar.t_ns;
		out->kind = ar.kind;
		c = INGEST_OK;
		break;
	case PF_EFUTURE: c = INGEST_FUTURE; break;
	case PF_ETOOOLD: c = INGEST_TOO_OLD; break;
	case PF_EINVAL:
	case PF_ETOOBIG: c = INGEST_INVALID; break;
	case PF_ENOSPC: c = INGEST_DISK_FULL; break;
	case PF_EBUSY: c = INGEST_QUEUE_FULL; break;
	case PF_EIO:
		/* the embedded store's WAL write failed (the server's fault), or
		 * ClickHouse is unreachable (the pusher may retry) */
		c = store_type(o->db) == STORE_CLICKHOUSE ? INGEST_STORE_DOWN : INGEST_STORE;
		break;
	default: c = INGEST_STORE; break;
	}
out:
	pprof_prep_free(&pp);
	return c;
}
