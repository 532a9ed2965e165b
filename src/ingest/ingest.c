/*
 * ingest: checks, decode, totals and append of one profile (see ingest.h).
 */
#include "ingest/ingest.h"
#include "pprof/pprof.h"

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

/* ---- pprof: decoded by the store ------------------------------------- */

/*
 * A pprof body as store_append takes it: decoded there (once, with the
 * streaming decoder, into the head's symbol tables), with the checks and
 * sentences of pprof_decode, -max-inflight-decompressed charged for the
 * inflated body while the store holds it, totals computed there. A raw
 * body is gzipped for the store and handed over as plain too (no inflate).
 */
static enum ingest_class pprof_prep(const struct ingest_opts *o, const struct ingest_req *req,
				    struct pf_buf *gz, struct tsdb_append_req *ar, struct pf_err *err)
{
	int rc;

	ar->kind = TSDB_KIND_PPROF;
	ar->budget = o->inflight;
	ar->max_decompressed = o->max_profile_bytes;
	ar->time_nanos_wins = req->time_nanos_wins;
	ar->need_samples = 1;
	if (req->len == 0) {
		pf_err_set(err, PF_EINVAL, "parsing profile: empty input file");
		return INGEST_MALFORMED;
	}
	if (pprof_is_gzip(req->body, req->len)) {
		ar->body = req->body;
		ar->len = req->len;
		return INGEST_OK;
	}
	if (req->len > o->max_profile_bytes) {
		pf_err_set(err, PF_ETOOBIG, "profile is larger than %zu bytes", o->max_profile_bytes);
		return INGEST_TOO_BIG;
	}
	if ((rc = pprof_gzip(req->body, req->len, gz, err)) < 0) {
		pf_err_prefix(err, "compressing the profile: ");
		return INGEST_STORE;
	}
	ar->body = gz->data;
	ar->len = gz->len;
	ar->plain = req->body;
	ar->plain_len = req->len;
	return INGEST_OK;
}

/* A refusal of store_append's as a class. */
static enum ingest_class append_class(int rc, const struct tsdb_append_info *info,
				       enum store_type type)
{
	if (info->body == TSDB_BODY_EMPTY)
		return INGEST_NO_SAMPLES;
	if (info->body == TSDB_BODY_BAD) {
		switch (rc) {
		case PF_EBUSY: return INGEST_BUSY;
		case PF_ELIMIT: return INGEST_DECODE_CAP;
		case PF_ETOOBIG: return INGEST_TOO_BIG;
		case PF_ENOMEM: return INGEST_STORE;
		default: return INGEST_MALFORMED;
		}
	}
	switch (rc) {
	case PF_EFUTURE: return INGEST_FUTURE;
	case PF_ETOOOLD: return INGEST_TOO_OLD;
	case PF_EINVAL:
	case PF_ETOOBIG: return INGEST_INVALID;
	case PF_ENOSPC: return INGEST_DISK_FULL;
	case PF_EBUSY: return INGEST_QUEUE_FULL; /* ClickHouse's write queue */
	case PF_EIO:
		/* the embedded store's WAL write failed (the server's fault), or
		 * ClickHouse is unreachable (the pusher may retry) */
		return type == STORE_CLICKHOUSE ? INGEST_STORE_DOWN : INGEST_STORE;
	default: return INGEST_STORE;
	}
}

/* ---- the path ----------------------------------------------------------- */

enum ingest_class ingest_profile(const struct ingest_opts *o, const struct ingest_req *req,
				 struct ingest_out *out, struct pf_err *err)
{
	struct tsdb_append_req ar = {0};
	struct tsdb_append_info info = {0};
	struct pf_buf gz = PF_BUF_INIT(0);
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
		ar.plain = req->plain;
		ar.plain_len = req->plain_len;
	} else if ((c = pprof_prep(o, req, &gz, &ar, err)) != INGEST_OK) {
		goto out;
	}
	ar.info = &info;
	rc = store_append(o->db, &ar, out->id, err);
	if (rc == 0) {
		out->t_ns = info.t_ns;
		out->kind = ar.kind;
		c = INGEST_OK;
	} else {
		c = append_class(rc, &info, store_type(o->db));
	}
out:
	pf_buf_free(&gz);
	return c;
}
