/*
 * Blocks: the on-disk format and the reader's view of a block, shared by
 * block_write.c, block_read.c and block_index.c (nothing else includes it).
 *
 *   <dir>/blocks/<ULID>/index     series, label postings, per-profile entries
 *   <dir>/blocks/<ULID>/symbols   one symbol table per service (codec.h)
 *   <dir>/blocks/<ULID>/chunks    chunks of consecutive profiles of one series
 *
 * A block is written under <ULID>.tmp, every file fsync'd, then renamed into
 * place and the parent fsync'd: it either exists whole or not at all.
 *
 * Format (version TSDB__BLOCK_VERSION in format.h), byte by byte:
 * docs/format/block.md (the directory, chunks and symbols files) and
 * docs/format/index.md (the index: META, SYMBOLS, SERVICES, SERIES and
 * POSTINGS sections; the SERIES entries are the per-profile summary, so
 * queries over time and totals never open a chunk).
 *
 * A reader loads and verifies the index at open; chunks and symbol tables are
 * read when asked for (one chunk at a time; symbol tables cached per block).
 */
#ifndef PF_TSDB_BLOCK_INTERNAL_H
#define PF_TSDB_BLOCK_INTERNAL_H

#include "tsdb/tsdb-internal.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- an open block: built by block_read.c, read by block_index.c --------- */

struct br_series {
	uint64_t hash, max_seq;
	uint32_t service;
	uint32_t nlabels;
	const uint32_t *labels; /* into b->label_syms */
	const uint8_t *entries; /* encoded entries in the index buffer */
	size_t entries_len;
	uint64_t nentries;
	int64_t min_t, max_t;
};

struct br_pair {
	uint32_t name, value;
	const uint8_t *ids; /* encoded */
	size_t len;
	uint64_t count;
};

struct br_service {
	uint32_t name;
	uint64_t off, len;
	struct tsdb__symtab *st; /* loaded on first use (b->mu) */
};

struct hash_ord {
	uint64_t hash;
	uint32_t ord;
};

struct tsdb__block {
	int refs; /* atomic */
	int deleted;
	int no_compact; /* atomic: a compaction found a corrupt chunk in it */
	char *path;
	char chunks_path[PATH_MAX], symbols_path[PATH_MAX], index_path[PATH_MAX];
	int chunks_fd, symbols_fd;
	struct tsdb__block_info info;
	char **sources;

	uint8_t *index;
	size_t index_len;
	const char **syms;
	size_t nsyms;
	struct br_service *services;
	size_t nservices;
	struct br_series *series;
	uint32_t *label_syms;
	struct hash_ord *by_hash;
	struct br_pair *pairs;
	size_t npairs;
	pthread_mutex_t mu;
};

#endif /* PF_TSDB_BLOCK_INTERNAL_H */
