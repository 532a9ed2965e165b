/*
 * file_sd: Prometheus target files, JSON or YAML, holding
 * [{targets: ["host:port", ...], labels: {name: value}}]. The scrape
 * manager reads them at load, when they change and every refresh_interval.
 */
#include "config/config-internal.h"

#include <glob.h>
#include <stdlib.h>

struct config_sd_groups {
	struct pf_arena *a;
	struct config_group *g;
	size_t n, cap;
	const char **files;
	size_t nfiles, capfiles;
};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int read_into(struct config_sd_groups *sg, const char *path, struct pf_err *err)
{
	struct pf_buf b;
	yaml_document_t doc;
	struct config__yw w;
	struct config_group *g = NULL;
	struct pf_map *seen = NULL;
	const char *name;
	size_t ng = 0;
	int rc;

	if ((rc = config__read_file(path, &b, err)) < 0)
		return rc;
	name = pf_arena_strndup(sg->a, path, strlen(path));
	if (ends_with(path, ".json"))
		rc = config__json_load(name, b.data ? (const void *)b.data : "", b.len, &doc, err);
	else
		rc = config__yaml_load(name, b.data ? (const void *)b.data : "", b.len, &doc, err);
	pf_buf_free(&b);
	if (rc < 0)
		return rc;
	w = (struct config__yw){name, &doc, sg->a, err};
	rc = config__parse_groups(&w, yaml_document_get_root_node(&doc), "a target file", &g, &ng);
	yaml_document_delete(&doc);
	if (rc < 0)
		return rc;
	/* a target listed twice in one file is a mistake worth naming */
	seen = pf_map_new(0);
	for (size_t i = 0; i < ng; i++) {
		for (size_t t = 0; t < g[i].ntargets; t++) {
			uint64_t dummy = 0;
			if (pf_map_get_or_put(seen, g[i].targets[t], strlen(g[i].targets[t]), &dummy)) {
				rc = pf_err_set(err, PF_EINVAL, "%s: target \"%s\" is repeated in this file",
						g[i].target_sources[t], g[i].targets[t]);
				goto out;
			}
		}
	}
	pf_xgrow((void **)&sg->g, &sg->cap, sg->n + ng, sizeof(*sg->g));
	if (ng)
		memcpy(sg->g + sg->n, g, ng * sizeof(*g));
	sg->n += ng;
	pf_xgrow((void **)&sg->files, &sg->capfiles, sg->nfiles + 1, sizeof(*sg->files));
	sg->files[sg->nfiles++] = name;
out:
	pf_map_free(seen);
	return rc;
}

static struct config_sd_groups *groups_new(void)
{
	struct config_sd_groups *g = pf_xcalloc(1, sizeof(*g));
	g->a = pf_arena_new();
	return g;
}

int config_sd_read_file(const char *path, struct config_sd_groups **out, struct pf_err *err)
{
	struct config_sd_groups *g = groups_new();
	int rc = read_into(g, path, err);
	if (rc < 0) {
		config_sd_groups_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

int config_sd_read(const struct config_file_sd *sd, struct config_sd_groups **out, struct pf_err *err)
{
	struct config_sd_groups *g = groups_new();
	int rc = 0;

	for (size_t i = 0; i < sd->nfiles && rc == 0; i++) {
		glob_t gl;
		int grc = glob(sd->files[i], 0, NULL, &gl);
		if (grc == GLOB_NOMATCH)
			continue;
		if (grc != 0) {
			rc = pf_err_set(err, PF_EIO, "%s: cannot list the files of this pattern", sd->files[i]);
			break;
		}
		for (size_t k = 0; k < gl.gl_pathc && rc == 0; k++) {
			int dup = 0;
			for (size_t f = 0; f < g->nfiles; f++)
				dup |= strcmp(g->files[f], gl.gl_pathv[k]) == 0;
			if (!dup)
				rc = read_into(g, gl.gl_pathv[k], err);
		}
		globfree(&gl);
	}
	if (rc < 0) {
		config_sd_groups_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

size_t config_sd_groups_count(const struct config_sd_groups *g)
{
	return g->n;
}

const struct config_group *config_sd_groups_at(const struct config_sd_groups *g, size_t i)
{
	return i < g->n ? &g->g[i] : NULL;
}

size_t config_sd_files_count(const struct config_sd_groups *g)
{
	return g->nfiles;
}

const char *config_sd_file_at(const struct config_sd_groups *g, size_t i)
{
	return i < g->nfiles ? g->files[i] : NULL;
}

void config_sd_groups_free(struct config_sd_groups *g)
{
	if (!g)
		return;
	pf_arena_free(g->a);
	free(g->g);
	free(g->files);
	free(g);
}
