/*
 * ch-store: a test tool, not part of the product. Drives src/clickhouse
 * against a real server for tests/e2e/clickhouse_store.sh:
 *
 *   ch-store DSN open                         open (schema), print "ok"
 *   ch-store DSN put [-repeat N] [-attempts N] [-t NS] [-sync F] [-retention NS]
 *                    [-max-future NS] FILE LABEL=VALUE...
 *                                             (-sync: after open, create F.ready
 *                                             and wait for F.go before appending)
 *                                             append FILE (pprof when it
 *                                             decodes, else raw), print its id
 *   ch-store DSN putmany LABEL=VALUE... -- FILE...
 *                                             append every FILE through one
 *                                             store (one writer: symbols shared),
 *                                             type= from the name before "-"
 *                                             when no type label is given
 *   ch-store DSN get ID OUT                   body to OUT, meta line on stdout
 *   ch-store DSN find FROM TO SELECTOR [LIMIT]  "id t_ns" lines
 *   ch-store DSN series FROM TO SELECTOR      "labels profiles" lines
 *   ch-store DSN values NAME | names          one per line
 *   ch-store DSN merge OUT ID...              merge by ids into OUT (gzip pprof,
 *                                             ch_merge_encoded)
 *   ch-store DSN merge-sel OUT FROM TO SELECTOR
 *   ch-store DSN concurrent N FILE...         N threads each append every FILE
 *                                             (one service: shared symbols), then
 *                                             every id is read back and compared
 *                                             sample by sample (values, frames:
 *                                             address, function, file, line;
 *                                             labels); prints "ok X differ Y failed Z"
 *   ch-store DSN retain RETENTION_NS          drop old days, print the count
 *   ch-store DSN flood PID N QMAX FILE        the queue's overflow: SIGSTOP the
 *                                             server PID, N threads append FILE
 *                                             (raw) through a queue of QMAX; once
 *                                             each is refused, queued or in the
 *                                             writer's batch, SIGCONT; prints
 *                                             "ok X busy Y other Z readback R"
 * Errors: "error: MESSAGE" on stderr, exit 1.
 */
#include "clickhouse/clickhouse.h"
#include "pprof/pprof.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct flood {
	struct ch_store *s;
	struct pf_buf *body;
	int rc;
	char id[CH_ID_LEN + 1];
	struct pf_err err;
};

/* Sample i of a and b the same (values, frames, labels)? */
static int same_sample(const struct pprof_profile *a, const struct pprof_profile *b, size_t i)
{
	const pprof_msg *ma = pprof_message(a), *mb = pprof_message(b);
	const Perftools__Profiles__Sample *x = ma->sample[i], *y = mb->sample[i];
	if (x->n_value != y->n_value || x->n_location_id != y->n_location_id ||
	    x->n_label != y->n_label || memcmp(x->value, y->value, x->n_value * sizeof(int64_t)))
		return 0;
	for (size_t k = 0; k < x->n_location_id; k++) {
		const Perftools__Profiles__Location *la =
			ma->location[pprof_location_index(a, x->location_id[k])];
		const Perftools__Profiles__Location *lb =
			mb->location[pprof_location_index(b, y->location_id[k])];
		if (la->address != lb->address || la->n_line != lb->n_line)
			return 0;
		for (size_t j = 0; j < la->n_line; j++) {
			const Perftools__Profiles__Function *fa =
				ma->function[pprof_function_index(a, la->line[j]->function_id)];
			const Perftools__Profiles__Function *fb =
				mb->function[pprof_function_index(b, lb->line[j]->function_id)];
			if (la->line[j]->line != lb->line[j]->line ||
			    strcmp(pprof_string(a, fa->name), pprof_string(b, fb->name)) ||
			    strcmp(pprof_string(a, fa->filename), pprof_string(b, fb->filename)))
				return 0;
		}
	}
	for (size_t k = 0; k < x->n_label; k++)
		if (strcmp(pprof_string(a, x->label[k]->key), pprof_string(b, y->label[k]->key)) ||
		    strcmp(pprof_string(a, x->label[k]->str), pprof_string(b, y->label[k]->str)) ||
		    x->label[k]->num != y->label[k]->num)
			return 0;
	return 1;
}

struct conc {
	struct ch_store *s;
	struct pf_buf *bodies;
	struct pprof_profile **want;
	size_t nfiles;
	char (*ids)[CH_ID_LEN + 1];
	int *rcs;
};

static void *conc_one(void *arg)
{
	struct conc *c = arg;
	struct tsdb_label l[2] = {{"service", "conc"}, {"type", "heap"}};
	for (size_t i = 0; i < c->nfiles; i++) {
		struct tsdb_append_req req = {l, 2, pprof_time_nanos(c->want[i]), TSDB_KIND_PPROF,
					      c->bodies[i].data, c->bodies[i].len, NULL, 0};
		struct pf_err err = {0};
		c->rcs[i] = ch_append(c->s, &req, c->ids[i], &err);
		if (c->rcs[i] < 0)
			fprintf(stderr, "error: %s\n", err.msg);
	}
	return NULL;
}

static void *flood_one(void *arg)
{
	struct flood *f = arg;
	struct tsdb_label l[2] = {{"service", "flood"}, {"type", "trace"}};
	struct tsdb_append_req req = {l, 2, pf_now_ns(), TSDB_KIND_RAW, f->body->data,
				      f->body->len, NULL, 0};
	f->rc = ch_append(f->s, &req, f->id, &f->err);
	return NULL;
}

/* SIGSTOP pid, then wait (at most 5 s) until every thread of it is stopped:
 * kill returns before the group stop, and until one thread takes the
 * signal the others run on. 0, or -1 when it could not be sent or seen. */
static int stop_all(pid_t pid)
{
	char dir[64];

	if (kill(pid, SIGSTOP) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/proc/%ld/task", (long)pid);
	for (int k = 0; k < 500; k++) {
		DIR *d = opendir(dir);
		struct dirent *e;
		int running = 0;
		if (!d)
			return -1;
		while ((e = readdir(d)) != NULL) {
			char path[384], st[512], *p;
			FILE *f;
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/stat", dir, e->d_name);
			if (!(f = fopen(path, "r")))
				continue; /* a thread that ended */
			p = fgets(st, sizeof(st), f) ? strrchr(st, ')') : NULL;
			fclose(f);
			if (p && p[1] == ' ' && p[2] != 'T')
				running++;
		}
		closedir(d);
		if (!running)
			return 0;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	return -1;
}

static int fail(const struct pf_err *err)
{
	fprintf(stderr, "error: %s\n", err->msg);
	return 1;
}

static int parse_sel(const char *s, struct tsdb_selector **sel, struct tsdb_query *q,
		     struct pf_err *err)
{
	int rc = tsdb_selector_parse(s, sel, err);
	if (rc < 0)
		return rc;
	q->matchers = tsdb_selector_matchers(*sel);
	q->nmatchers = tsdb_selector_len(*sel);
	return 0;
}

int main(int argc, char **argv)
{
	struct ch_store_options o = {0};
	struct ch_store *s = NULL;
	struct pf_err err = {0};
	const char *cmd;
	int rc = 0, a = 3;

	if (argc < 3) {
		fprintf(stderr, "usage: ch-store DSN CMD ...\n");
		return 2;
	}
	pf_log_setup("error", "logfmt");
	o.dsn = argv[1];
	o.max_attempts = 2;
	o.backoff_ns = 10000000;
	o.timeout_ns = (int64_t)20 * 1000000000;
	cmd = argv[2];
	if (!strcmp(cmd, "flood") && argc == 7)
		o.queue_max = (size_t)strtoul(argv[5], NULL, 10);
	if (!strcmp(cmd, "put")) {
		for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
			if (!strcmp(argv[a], "-repeat")) {
				o.test_repeat_inserts = (int)strtol(argv[a + 1], NULL, 10);
			} else if (!strcmp(argv[a], "-retention")) {
				o.retention_ns = strtoll(argv[a + 1], NULL, 10);
			} else if (!strcmp(argv[a], "-max-future")) {
				o.max_future_ns = strtoll(argv[a + 1], NULL, 10);
			} else if (!strcmp(argv[a], "-attempts")) {
				o.max_attempts = (int)strtol(argv[a + 1], NULL, 10);
				o.backoff_ns = 200000000;
			}
		}
	}
	if (ch_store_open(&o, &s, &err) < 0)
		return fail(&err);

	if (!strcmp(cmd, "open")) {
		printf("ok\n");
	} else if (!strcmp(cmd, "put") && a < argc) {
		struct pf_buf body = PF_BUF_INIT(0);
		struct tsdb_label l[64];
		struct tsdb_append_req req = {0};
		struct pprof_profile *p = NULL;
		char id[CH_ID_LEN + 1];
		int64_t t = 0;
		for (int k = 3; k < a; k += 2) {
			if (!strcmp(argv[k], "-t"))
				t = strtoll(argv[k + 1], NULL, 10);
			if (!strcmp(argv[k], "-sync")) {
				char f[4096];
				FILE *fp;
				snprintf(f, sizeof(f), "%s.ready", argv[k + 1]);
				if ((fp = fopen(f, "w")))
					fclose(fp);
				snprintf(f, sizeof(f), "%s.go", argv[k + 1]);
				for (int w = 0; w < 6000 && access(f, F_OK) < 0; w++)
					nanosleep(&(struct timespec){0, 10000000}, NULL);
			}
		}
		if (pf_read_file(argv[a], (size_t)1 << 30, &body, &err) < 0) {
			rc = fail(&err);
			goto out;
		}
		req.kind = TSDB_KIND_RAW;
		if (pprof_decode(body.data, body.len, (size_t)1 << 30, &p, &err) == 0) {
			req.kind = TSDB_KIND_PPROF;
			if (!t)
				t = pprof_time_nanos(p);
		}
		pprof_free(p);
		req.t_ns = t ? t : pf_now_ns();
		req.body = body.data;
		req.len = body.len;
		for (int k = a + 1; k < argc && req.nlabels < 64; k++) {
			char *eq = strchr(argv[k], '=');
			if (!eq)
				continue;
			*eq = 0;
			l[req.nlabels].name = argv[k];
			l[req.nlabels++].value = eq + 1;
		}
		req.labels = l;
		if (ch_append(s, &req, id, &err) < 0) {
			rc = fail(&err);
		} else {
			struct ch_stats st;
			ch_stats(s, &st);
			printf("%s\n", id);
			if (st.retries)
				fprintf(stderr, "# writer retries: %" PRIu64 "\n", st.retries);
		}
		pf_buf_free(&body);
	} else if (!strcmp(cmd, "putmany")) {
		struct tsdb_label l[65];
		size_t nl = 0, ntype;
		int k = 3, have_type = 0;
		char type[64];
		for (; k < argc && strcmp(argv[k], "--") && nl < 64; k++) {
			char *eq = strchr(argv[k], '=');
			if (!eq)
				continue;
			*eq = 0;
			have_type |= !strcmp(argv[k], "type");
			l[nl].name = argv[k];
			l[nl++].value = eq + 1;
		}
		ntype = nl;
		if (!have_type)
			l[nl++] = (struct tsdb_label){"type", type};
		for (k++; k < argc && rc == 0; k++) {
			struct pf_buf body = PF_BUF_INIT(0);
			struct tsdb_append_req req = {0};
			struct pprof_profile *p = NULL;
			const char *base = strrchr(argv[k], '/') ? strrchr(argv[k], '/') + 1 : argv[k];
			char id[CH_ID_LEN + 1];
			snprintf(type, sizeof(type), "%.*s", (int)strcspn(base, "-."), base);
			if (pf_read_file(argv[k], (size_t)1 << 30, &body, &err) < 0 ||
			    pprof_decode(body.data, body.len, (size_t)1 << 30, &p, &err) < 0) {
				rc = fail(&err);
			} else {
				req.kind = TSDB_KIND_PPROF;
				req.t_ns = pprof_time_nanos(p) ? pprof_time_nanos(p) : pf_now_ns();
				req.body = body.data;
				req.len = body.len;
				req.labels = l;
				req.nlabels = have_type ? ntype : ntype + 1;
				if (ch_append(s, &req, id, &err) < 0)
					rc = fail(&err);
				else
					printf("%s %s\n", argv[k], id);
			}
			pprof_free(p);
			pf_buf_free(&body);
		}
	} else if (!strcmp(cmd, "get") && argc == 5) {
		struct pf_buf body = PF_BUF_INIT(0);
		struct tsdb_meta *m = NULL;
		if (ch_read(s, argv[3], &body, &m, &err) < 0 ||
		    pf_write_file_atomic(argv[4], body.data, body.len, &err) < 0) {
			rc = fail(&err);
		} else {
			printf("%s t=%" PRId64 " kind=%d size=%zu", m->id, m->t_ns, (int)m->kind, m->size);
			for (size_t i = 0; i < m->nlabels; i++)
				printf(" %s=%s", m->labels[i].name, m->labels[i].value);
			for (size_t i = 0; i < m->ntotals; i++)
				printf(" %s/%s:%" PRId64, m->totals[i].type, m->totals[i].unit,
				       m->totals[i].value);
			printf("\n");
		}
		ch_meta_free(m);
		pf_buf_free(&body);
	} else if ((!strcmp(cmd, "find") || !strcmp(cmd, "series") || !strcmp(cmd, "merge-sel")) &&
		   argc >= 6) {
		int merge = !strcmp(cmd, "merge-sel");
		struct tsdb_query q = {0};
		struct tsdb_selector *sel = NULL;
		int base = merge ? 4 : 3;
		q.min_t_ns = strtoll(argv[base], NULL, 10);
		q.max_t_ns = strtoll(argv[base + 1], NULL, 10);
		if (argc > base + 3)
			q.limit = (size_t)strtoul(argv[base + 3], NULL, 10);
		if (parse_sel(argv[base + 2], &sel, &q, &err) < 0) {
			rc = fail(&err);
		} else if (!strcmp(cmd, "find")) {
			struct ch_result *r = NULL;
			if (ch_find(s, &q, &r, &err) < 0)
				rc = fail(&err);
			for (size_t i = 0; i < ch_result_len(r); i++)
				printf("%s %" PRId64 "\n", ch_result_at(r, i)->id, ch_result_at(r, i)->t_ns);
			ch_result_free(r);
		} else if (!strcmp(cmd, "series")) {
			struct ch_series_set *set = NULL;
			if (ch_series(s, &q, &set, &err) < 0)
				rc = fail(&err);
			for (size_t i = 0; i < ch_series_len(set); i++) {
				const struct tsdb_series_info *si = ch_series_at(set, i);
				for (size_t k = 0; k < si->nlabels; k++)
					printf("%s%s=%s", k ? "," : "", si->labels[k].name,
					       si->labels[k].value);
				printf(" %" PRIu64 "\n", si->profiles);
			}
			ch_series_free(set);
		} else {
			struct pprof_profile *p = NULL;
			struct pf_buf gz = PF_BUF_INIT(0);
			size_t n = 0;
			if (ch_merge(s, &q, &p, &n, &err) < 0 || pprof_encode(p, &gz, &err) < 0 ||
			    pf_write_file_atomic(argv[3], gz.data, gz.len, &err) < 0)
				rc = fail(&err);
			else
				printf("merged %zu\n", n);
			pprof_free(p);
			pf_buf_free(&gz);
		}
		tsdb_selector_free(sel);
	} else if (!strcmp(cmd, "values") && argc == 4) {
		char **v = NULL;
		size_t n = 0;
		if (ch_label_values(s, argv[3], &v, &n, &err) < 0)
			rc = fail(&err);
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i]);
		ch_strings_free(v, n);
	} else if (!strcmp(cmd, "names")) {
		char **v = NULL;
		size_t n = 0;
		if (ch_label_names(s, &v, &n, &err) < 0)
			rc = fail(&err);
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i]);
		ch_strings_free(v, n);
	} else if (!strcmp(cmd, "merge") && argc >= 5) {
		struct tsdb_query q = {0};
		struct pprof_profile *p = NULL;
		struct pf_buf gz = PF_BUF_INIT(0);
		size_t n = 0;
		q.ids = (const char *const *)&argv[4];
		q.nids = (size_t)(argc - 4);
		if (ch_merge_encoded(s, &q, &gz, &n, &err) < 0 ||
		    pf_write_file_atomic(argv[3], gz.data, gz.len, &err) < 0)
			rc = fail(&err);
		else
			printf("merged %zu\n", n);
		pprof_free(p);
		pf_buf_free(&gz);
	} else if (!strcmp(cmd, "flood") && argc == 7) {
		pid_t pid = (pid_t)strtol(argv[3], NULL, 10);
		size_t n = (size_t)strtoul(argv[4], NULL, 10), ok = 0, busy = 0, other = 0, back = 0;
		struct pf_buf body = PF_BUF_INIT(0);
		struct flood *f = calloc(n, sizeof(*f));
		pthread_t *th = calloc(n, sizeof(*th));
		struct ch_stats st;
		if (!f || !th || pf_read_file(argv[6], (size_t)1 << 30, &body, &err) < 0 ||
		    stop_all(pid) < 0) {
			rc = 1;
			fprintf(stderr, "error: flood setup\n");
		} else {
			for (size_t i = 0; i < n; i++) {
				f[i].s = s;
				f[i].body = &body;
				pthread_create(&th[i], NULL, flood_one, &f[i]);
			}
			/* every append refused, queued or in the batch being sent */
			for (int k = 0; k < 3000; k++) {
				ch_stats(s, &st);
				if (st.refused + st.queued + st.inflight >= n)
					break;
				nanosleep(&(struct timespec){0, 10000000}, NULL);
			}
			kill(pid, SIGCONT);
			for (size_t i = 0; i < n; i++) {
				pthread_join(th[i], NULL);
				if (f[i].rc == 0)
					ok++;
				else if (f[i].rc == PF_EBUSY)
					busy++;
				else {
					other++;
					fprintf(stderr, "error: %s\n", f[i].err.msg);
				}
			}
			for (size_t i = 0; i < n; i++) {
				struct pf_buf got = PF_BUF_INIT(0);
				if (f[i].rc == 0 && ch_read(s, f[i].id, &got, NULL, &err) == 0 &&
				    got.len == body.len && !memcmp(got.data, body.data, got.len))
					back++;
				pf_buf_free(&got);
			}
			printf("ok %zu busy %zu other %zu readback %zu\n", ok, busy, other, back);
		}
		free(f);
		free(th);
		pf_buf_free(&body);
	} else if (!strcmp(cmd, "concurrent") && argc >= 5) {
		size_t nt = (size_t)strtoul(argv[3], NULL, 10), nf = (size_t)(argc - 4);
		size_t ok = 0, differ = 0, failed = 0;
		struct pf_buf *bodies = pf_xcalloc(nf, sizeof(*bodies));
		struct pprof_profile **want = pf_xcalloc(nf, sizeof(*want));
		struct conc *c = pf_xcalloc(nt, sizeof(*c));
		pthread_t *th = pf_xcalloc(nt, sizeof(*th));
		for (size_t i = 0; i < nf && rc == 0; i++)
			if (pf_read_file(argv[4 + i], (size_t)1 << 30, &bodies[i], &err) < 0 ||
			    pprof_decode(bodies[i].data, bodies[i].len, (size_t)1 << 30, &want[i], &err) < 0)
				rc = fail(&err);
		for (size_t t = 0; t < nt && rc == 0; t++) {
			c[t] = (struct conc){s, bodies, want, nf, pf_xcalloc(nf, CH_ID_LEN + 1),
					     pf_xcalloc(nf, sizeof(int))};
			pthread_create(&th[t], NULL, conc_one, &c[t]);
		}
		for (size_t t = 0; t < nt && rc == 0; t++)
			pthread_join(th[t], NULL);
		for (size_t t = 0; t < nt && rc == 0; t++) {
			for (size_t i = 0; i < nf; i++) {
				struct pf_buf got = PF_BUF_INIT(0);
				struct pprof_profile *p = NULL;
				int same;
				if (c[t].rcs[i] < 0 || ch_read(s, c[t].ids[i], &got, NULL, &err) < 0 ||
				    pprof_decode(got.data, got.len, (size_t)1 << 30, &p, &err) < 0) {
					failed++;
					pf_buf_free(&got);
					continue;
				}
				same = pprof_sample_count(p) == pprof_sample_count(want[i]);
				for (size_t k = 0; same && k < pprof_sample_count(p); k++)
					same = same_sample(p, want[i], k);
				if (same)
					ok++;
				else
					differ++;
				pprof_free(p);
				pf_buf_free(&got);
			}
			free(c[t].ids);
			free(c[t].rcs);
		}
		if (rc == 0)
			printf("ok %zu differ %zu failed %zu\n", ok, differ, failed);
		for (size_t i = 0; i < nf; i++) {
			pf_buf_free(&bodies[i]);
			pprof_free(want[i]);
		}
		free(bodies);
		free(want);
		free(c);
		free(th);
	} else if (!strcmp(cmd, "retain") && argc == 4) {
		size_t n = 0;
		if (ch_retain(s, strtoll(argv[3], NULL, 10), 0, 0, &n, &err) < 0)
			rc = fail(&err);
		else
			printf("dropped %zu\n", n);
	} else {
		fprintf(stderr, "ch-store: unknown command or arguments\n");
		rc = 2;
	}
out:
	ch_store_close(s);
	return rc;
}
