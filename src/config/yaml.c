/*
 * Reading YAML (libyaml's document API) and JSON (jansson, turned into the
 * same document with the position of every node), and the typed getters
 * the loaders use: every error names FILE:LINE:COLUMN of the node at fault.
 */
#include "config/config-internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

/* ---- loading --------------------------------------------------------- */

/* Line and column (1-based, characters) of a byte offset. */
static void offset_pos(const uint8_t *p, size_t len, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (p[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if ((p[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

static int parser_error(const char *file, yaml_parser_t *p, const void *data, size_t len,
			struct pf_err *err)
{
	size_t line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return pf_err_set(err, PF_ENOMEM, "%s: out of memory while parsing YAML", file);
	case YAML_READER_ERROR:
		offset_pos(data, len, p->problem_offset, &line, &col);
		return pf_err_set(err, PF_EINVAL, "%s:%zu:%zu: invalid YAML: %s", file, line, col,
				  p->problem ? p->problem : "cannot read the input");
	default:
		if (p->context)
			return pf_err_set(err, PF_EINVAL, "%s:%zu:%zu: invalid YAML: %s (%s at line %zu column %zu)",
					  file, p->problem_mark.line + 1, p->problem_mark.column + 1,
					  p->problem ? p->problem : "syntax error", p->context,
					  p->context_mark.line + 1, p->context_mark.column + 1);
		return pf_err_set(err, PF_EINVAL, "%s:%zu:%zu: invalid YAML: %s", file,
				  p->problem_mark.line + 1, p->problem_mark.column + 1,
				  p->problem ? p->problem : "syntax error");
	}
}

int config__yaml_load(const char *file, const void *data, size_t len, yaml_document_t *doc,
		      struct pf_err *err)
{
	yaml_parser_t p;
	yaml_document_t extra;
	yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return pf_err_set(err, PF_ENOMEM, "%s: out of memory while parsing YAML", file);
	yaml_parser_set_input_string(&p, data, len);
	if (!yaml_parser_load(&p, doc)) {
		rc = parser_error(file, &p, data, len, err);
		goto out;
	}
	if (!yaml_document_get_root_node(doc))
		goto out;
	if (!yaml_parser_load(&p, &extra)) {
		rc = parser_error(file, &p, data, len, err);
		yaml_document_delete(doc);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root) {
		rc = pf_err_set(err, PF_EINVAL, "%s:%zu:%zu: a second YAML document; the file must hold one",
				file, root->start_mark.line + 1, root->start_mark.column + 1);
		yaml_document_delete(doc);
	}
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&p);
	return rc;
}

/* A cursor over JSON text that jansson has accepted, tracking positions. */
struct jcur {
	const uint8_t *start, *p, *end;
	size_t line, col;
};

static void jadv(struct jcur *c)
{
	if (c->p >= c->end)
		return;
	if (*c->p == '\n') {
		c->line++;
		c->col = 0;
	} else if ((*c->p & 0xC0) != 0x80) {
		c->col++;
	}
	c->p++;
}

static void jws(struct jcur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		jadv(c);
}

static yaml_mark_t jmark(const struct jcur *c)
{
	yaml_mark_t m = {(size_t)(c->p - c->start), c->line, c->col};
	return m;
}

static void jskip_string(struct jcur *c)
{
	jadv(c); /* the opening quote */
	while (c->p < c->end) {
		if (*c->p == '\\') {
			jadv(c);
			jadv(c);
		} else if (*c->p == '"') {
			jadv(c);
			return;
		} else {
			jadv(c);
		}
	}
}

static void jskip_token(struct jcur *c)
{
	while (c->p < c->end && !strchr(",]} \t\r\n", *c->p))
		jadv(c);
}

/* Add v (whose text starts at the cursor) to doc; returns the node id or 0
 * after setting err. */
static int jbuild(const char *file, struct jcur *c, json_t *v, yaml_document_t *doc, struct pf_err *err)
{
	yaml_mark_t m;
	int id = 0;

	jws(c);
	m = jmark(c);
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *val;
		id = yaml_document_add_mapping(doc, NULL, YAML_FLOW_MAPPING_STYLE);
		if (!id)
			goto nomem;
		jadv(c); /* { */
		json_object_foreach(v, k, val) {
			yaml_mark_t km;
			int kid, vid;
			jws(c);
			km = jmark(c);
			jskip_string(c);
			jws(c);
			jadv(c); /* : */
			kid = yaml_document_add_scalar(doc, NULL, (yaml_char_t *)k, (int)strlen(k),
						       YAML_DOUBLE_QUOTED_SCALAR_STYLE);
			if (!kid)
				goto nomem;
			doc->nodes.start[kid - 1].start_mark = km;
			if (!(vid = jbuild(file, c, val, doc, err)))
				return 0;
			if (!yaml_document_append_mapping_pair(doc, id, kid, vid))
				goto nomem;
			jws(c);
			if (c->p < c->end && *c->p == ',')
				jadv(c);
		}
		jws(c);
		jadv(c); /* } */
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *el;
		id = yaml_document_add_sequence(doc, NULL, YAML_FLOW_SEQUENCE_STYLE);
		if (!id)
			goto nomem;
		jadv(c); /* [ */
		json_array_foreach(v, i, el) {
			int eid = jbuild(file, c, el, doc, err);
			if (!eid)
				return 0;
			if (!yaml_document_append_sequence_item(doc, id, eid))
				goto nomem;
			jws(c);
			if (c->p < c->end && *c->p == ',')
				jadv(c);
		}
		jws(c);
		jadv(c); /* ] */
		break;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (memchr(s, 0, n)) {
			pf_err_set(err, PF_EINVAL, "%s:%zu:%zu: a string holds a NUL character", file,
				   m.line + 1, m.column + 1);
			return 0;
		}
		id = yaml_document_add_scalar(doc, NULL, (yaml_char_t *)s, (int)n,
					      YAML_DOUBLE_QUOTED_SCALAR_STYLE);
		if (!id)
			goto nomem;
		jskip_string(c);
		break;
	}
	default: {
		/* numbers, true, false, null: their text, as a plain scalar */
		const uint8_t *s = c->p;
		jskip_token(c);
		id = yaml_document_add_scalar(doc, NULL, (yaml_char_t *)s, (int)(c->p - s),
					      YAML_PLAIN_SCALAR_STYLE);
		if (!id)
			goto nomem;
		break;
	}
	}
	doc->nodes.start[id - 1].start_mark = m;
	return id;
nomem:
	pf_err_set(err, PF_ENOMEM, "%s: out of memory building the JSON document", file);
	return 0;
}

int config__json_load(const char *file, const void *data, size_t len, yaml_document_t *doc,
		      struct pf_err *err)
{
	json_error_t je;
	json_t *root;
	struct jcur c = {data, data, (const uint8_t *)data + len, 0, 0};

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!root) {
		/* jansson's column is the last character of the token it names
		 * ("near '"targets"'"); point at its first, as for YAML */
		const char *near = strstr(je.text, "near '");
		size_t tl = near ? strlen(near + 6) : 0;
		if (tl > 1 && near[6 + tl - 1] == '\'') {
			int chars = 0;
			for (size_t i = 0; i < tl - 1; i++)
				chars += ((unsigned char)near[6 + i] & 0xC0) != 0x80;
			if (je.column - chars + 1 >= 1)
				je.column = je.column - chars + 1;
		}
		return pf_err_set(err, PF_EINVAL, "%s:%d:%d: invalid JSON: %s", file,
				  je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1, je.text);
	}
	if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1)) {
		json_decref(root);
		return pf_err_set(err, PF_ENOMEM, "%s: out of memory building the JSON document", file);
	}
	if (!jbuild(file, &c, root, doc, err)) {
		json_decref(root);
		yaml_document_delete(doc);
		return err && err->code ? err->code : PF_EINVAL;
	}
	json_decref(root);
	return 0;
}

/* ---- nodes ----------------------------------------------------------- */

int config__fail(struct config__yw *w, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[sizeof(w->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!n)
		return pf_err_set(w->err, PF_EINVAL, "%s: %s", w->file, msg);
	return pf_err_set(w->err, PF_EINVAL, "%s:%zu:%zu: %s", w->file, n->start_mark.line + 1,
			  n->start_mark.column + 1, msg);
}

const char *config__where(struct config__yw *w, const yaml_node_t *n)
{
	char buf[512];
	int len = snprintf(buf, sizeof(buf), "%s:%zu:%zu", w->file, n->start_mark.line + 1,
			   n->start_mark.column + 1);
	if (len < 0)
		len = 0;
	if ((size_t)len >= sizeof(buf))
		len = sizeof(buf) - 1;
	return pf_arena_strndup(w->a, buf, (size_t)len);
}

yaml_node_t *config__node(struct config__yw *w, int id)
{
	return yaml_document_get_node(w->doc, id);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

int config__is_null(const yaml_node_t *n)
{
	const char *s;
	if (!n || n->type != YAML_SCALAR_NODE)
		return 0;
	if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
		return 1;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = sval(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *config__kind(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_SCALAR_NODE: return config__is_null(n) ? "null" : "a string";
	default: return "nothing";
	}
}

int config__want_map(struct config__yw *w, const yaml_node_t *n, const char *what)
{
	if (!n || config__is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return config__fail(w, n, "%s must be a mapping (key: value), not %s", what, config__kind(n));
	return 1;
}

int config__want_seq(struct config__yw *w, const yaml_node_t *n, const char *what)
{
	if (!n || config__is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return config__fail(w, n, "%s must be a list, not %s", what, config__kind(n));
	return 1;
}

int config__get_str(struct config__yw *w, const yaml_node_t *n, const char *what, const char **out)
{
	if (!n || config__is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return config__fail(w, n, "%s must be a string, not %s", what, config__kind(n));
	if (memchr(n->data.scalar.value, 0, n->data.scalar.length))
		return config__fail(w, n, "%s holds a NUL character", what);
	*out = pf_arena_strndup(w->a, sval(n), n->data.scalar.length);
	return 0;
}

int config__get_bool(struct config__yw *w, const yaml_node_t *n, const char *what, int *out)
{
	/* YAML 1.1 booleans, as yaml.v2 (Prometheus, conprof) reads them */
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};

	if (!n || config__is_null(n))
		return 0;
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (size_t i = 0; i < PF_ARRAY_LEN(yes); i++) {
			if (strcmp(sval(n), yes[i]) == 0) {
				*out = 1;
				return 0;
			}
			if (strcmp(sval(n), no[i]) == 0) {
				*out = 0;
				return 0;
			}
		}
	}
	if (n->type == YAML_SCALAR_NODE)
		return config__fail(w, n, "%s must be true or false, not \"%s\"", what, sval(n));
	return config__fail(w, n, "%s must be true or false, not %s", what, config__kind(n));
}

int config__get_int(struct config__yw *w, const yaml_node_t *n, const char *what, int64_t min,
		    int64_t max, int64_t *out)
{
	const char *s;
	char *end;
	long long v;

	if (!n || config__is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return config__fail(w, n, "%s must be a whole number, not %s", what, config__kind(n));
	s = sval(n);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s || *end || errno ||
	    !(isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))))
		return config__fail(w, n, "%s must be a whole number, not \"%s\"", what, s);
	if (v < min || v > max)
		return config__fail(w, n, "%s must be between %lld and %lld, not %lld", what,
				    (long long)min, (long long)max, v);
	*out = v;
	return 0;
}

int config__get_duration(struct config__yw *w, const yaml_node_t *n, const char *what, int64_t *ns)
{
	int64_t v;

	if (!n || config__is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return config__fail(w, n, "%s must be a duration like 15s, not %s", what, config__kind(n));
	if (pf_parse_duration(sval(n), &v) < 0)
		return config__fail(w, n, "%s: \"%s\" is not a valid duration (want e.g. 15s, 1m30s, 2h, 15d)",
				    what, sval(n));
	if (v <= 0)
		return config__fail(w, n, "%s must be longer than 0s", what);
	*ns = v;
	return 0;
}

int config__collect(struct config__yw *w, const yaml_node_t *n, const char *what,
		    struct config__key *keys, size_t nkeys, const char *(*unsupported)(const char *key))
{
	yaml_node_pair_t *pair;

	if (n->type != YAML_MAPPING_NODE)
		return config__fail(w, n, "%s must be a mapping (key: value), not %s", what, config__kind(n));
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = config__node(w, pair->key), *v = config__node(w, pair->value);
		const char *name, *why;
		size_t i;

		if (k->type != YAML_SCALAR_NODE)
			return config__fail(w, k, "%s: a key must be a string, not %s", what, config__kind(k));
		name = sval(k);
		for (i = 0; i < nkeys; i++)
			if (strcmp(keys[i].name, name) == 0)
				break;
		if (i < nkeys) {
			if (keys[i].key)
				return config__fail(w, k, "%s: key \"%s\" is repeated (first at line %zu)", what,
						    name, keys[i].key->start_mark.line + 1);
			keys[i].key = k;
			keys[i].val = v;
			continue;
		}
		if (unsupported && (why = unsupported(name)))
			return config__fail(w, k, "%s", why);
		{
			char known[320];
			size_t off = 0;
			known[0] = 0;
			for (i = 0; i < nkeys && off < sizeof(known); i++) {
				int m = snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "", keys[i].name);
				if (m < 0)
					break;
				off += (size_t)m;
			}
			return config__fail(w, k, "unknown key \"%s\" in %s (known: %s)", name, what, known);
		}
	}
	return 0;
}

/* ---- durations ---------------------------------------------------------- */

void config_format_duration(int64_t ns, char *out, size_t n)
{
	pf_format_duration(ns, out, n);
}
