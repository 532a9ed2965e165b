/*
 * The profile record of the WAL (type TSDB__REC_PROFILE): labels in their
 * canonical encoding, time, sequence number, kind, totals, then the body.
 * Format: docs/format/wal.md, "Profile record".
 */
#include "tsdb/tsdb-internal.h"

int tsdb__rec_encode_meta(struct pf_buf *b, const uint8_t *labels_enc, size_t labels_enc_len,
			  int64_t t_ns, uint64_t seq, uint8_t kind, const struct tsdb_total *totals,
			  size_t ntotals, uint64_t body_len)
{
	int rc = pf_buf_putc(b, TSDB__REC_PROFILE);
	if (rc == 0)
		rc = pf_buf_append(b, labels_enc, labels_enc_len);
	if (rc == 0)
		rc = pf_buf_put_le64(b, (uint64_t)t_ns);
	if (rc == 0)
		rc = pf_buf_put_uvarint(b, seq);
	if (rc == 0)
		rc = pf_buf_putc(b, kind);
	if (rc == 0)
		rc = pf_buf_put_uvarint(b, ntotals);
	for (size_t i = 0; i < ntotals && rc == 0; i++) {
		rc = pf_buf_put_bytes(b, totals[i].type, strlen(totals[i].type));
		if (rc == 0)
			rc = pf_buf_put_bytes(b, totals[i].unit, strlen(totals[i].unit));
		if (rc == 0)
			rc = pf_buf_put_le64(b, (uint64_t)totals[i].value);
	}
	if (rc == 0)
		rc = pf_buf_put_uvarint(b, body_len);
	return rc;
}

static int has_nul(const uint8_t *p, size_t n)
{
	return memchr(p, 0, n) != NULL;
}

static int str_cmp(const struct tsdb__rec_str *a, const struct tsdb__rec_str *b)
{
	size_t n = PF_MIN(a->n, b->n);
	int c = memcmp(a->p, b->p, n);
	if (c)
		return c;
	return a->n < b->n ? -1 : a->n > b->n;
}

static int str_is(const struct tsdb__rec_str *s, const char *lit)
{
	return s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

int tsdb__rec_decode(const uint8_t *head, size_t nhead, uint64_t rec_len, struct tsdb__rec *r,
		     const char **why)
{
	struct pf_reader rd;
	uint64_t n;
	const uint8_t *p;
	size_t len;
	int have_service = 0, have_type = 0;

	if (nhead > rec_len)
		nhead = (size_t)rec_len;
	pf_reader_init(&rd, head, nhead);
	if (pf_read_u8(&rd) != TSDB__REC_PROFILE || rd.bad) {
		*why = "unknown record type";
		return PF_ECORRUPT;
	}
	r->labels_enc = rd.p;
	n = pf_read_uvarint(&rd);
	if (rd.bad || n > TSDB__MAX_LABELS) {
		*why = "bad label count";
		return PF_ECORRUPT;
	}
	r->nlabels = (size_t)n;
	for (size_t i = 0; i < r->nlabels; i++) {
		struct tsdb__rec_label *l = &r->labels[i];
		p = pf_read_bytes(&rd, &len);
		if (rd.bad || !tsdb__label_name_ok((const char *)p, len)) {
			*why = "bad label name";
			return PF_ECORRUPT;
		}
		l->name.p = (const char *)p;
		l->name.n = len;
		p = pf_read_bytes(&rd, &len);
		if (rd.bad || len == 0 || len > TSDB__MAX_VALUE_LEN || has_nul(p, len)) {
			*why = "bad label value";
			return PF_ECORRUPT;
		}
		l->value.p = (const char *)p;
		l->value.n = len;
		if (i > 0 && str_cmp(&r->labels[i - 1].name, &l->name) >= 0) {
			*why = "labels not sorted";
			return PF_ECORRUPT;
		}
		have_service |= str_is(&l->name, "service");
		have_type |= str_is(&l->name, "type");
	}
	if (!have_service || !have_type) {
		*why = "labels lack service or type";
		return PF_ECORRUPT;
	}
	r->labels_enc_len = (size_t)(rd.p - r->labels_enc);
	r->hash = tsdb__labels_hash(r->labels_enc, r->labels_enc_len);
	r->t_ns = (int64_t)pf_read_le64(&rd);
	r->seq = pf_read_uvarint(&rd);
	r->kind = pf_read_u8(&rd);
	if (rd.bad || r->seq > UINT32_MAX ||
	    (r->kind != TSDB_KIND_PPROF && r->kind != TSDB_KIND_RAW)) {
		*why = "bad time, sequence or kind";
		return PF_ECORRUPT;
	}
	n = pf_read_uvarint(&rd);
	if (rd.bad || n > TSDB__MAX_TOTALS) {
		*why = "bad totals count";
		return PF_ECORRUPT;
	}
	r->ntotals = (size_t)n;
	for (size_t i = 0; i < r->ntotals; i++) {
		struct tsdb__rec_total *t = &r->totals[i];
		p = pf_read_bytes(&rd, &len);
		if (rd.bad || len > TSDB__MAX_TOTAL_STR || has_nul(p, len))
			goto bad_total;
		t->type.p = (const char *)p;
		t->type.n = len;
		p = pf_read_bytes(&rd, &len);
		if (rd.bad || len > TSDB__MAX_TOTAL_STR || has_nul(p, len))
			goto bad_total;
		t->unit.p = (const char *)p;
		t->unit.n = len;
		t->value = (int64_t)pf_read_le64(&rd);
	}
	r->body_len = pf_read_uvarint(&rd);
	if (rd.bad) {
		*why = "metadata truncated";
		return PF_ECORRUPT;
	}
	r->meta_len = (size_t)(rd.p - head);
	if (r->body_len != rec_len - r->meta_len) {
		*why = "body length does not match the record length";
		return PF_ECORRUPT;
	}
	return 0;
bad_total:
	*why = "bad total";
	return PF_ECORRUPT;
}
