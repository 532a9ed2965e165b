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
 * Every file starts with a magic and a version (u32le each). All integers
 * are little-endian or varints.
 *
 * index: after the header, five sections, each
 *     len u64le | crc32c(payload) u32le | payload
 *   META      min_t i64le, max_t i64le, uvarints nseries, nprofiles, nchunks,
 *             level, nsources, then each source block name (uvarint len, bytes)
 *   SYMBOLS   uvarint n, then n strings (uvarint len, bytes, a NUL byte)
 *   SERVICES  uvarint n, then per service: name symbol, offset and length of
 *             its symbol table in the symbols file (uvarints)
 *   SERIES    uvarint n, then per series: uvarint record length, record:
 *             hash u64le, max_seq, service index, nlabels, (name, value)
 *             symbol pairs, nentries, then per entry (ascending (t, seq)):
 *             zigzag t delta, seq, kind u8, body size, chunk offset, chunk
 *             length, index in chunk, ntotals, (type, unit, zigzag value)
 *   POSTINGS  uvarint n, then per label pair sorted by (name, value) as
 *             strings: name symbol, value symbol, count, ascending series
 *             ordinals as uvarint deltas
 *   The SERIES entries are the per-profile summary: queries over time and
 *   totals never open a chunk.
 * symbols: header, then the symbol tables (each self-checking, codec.h).
 * chunks: header, then chunks (each self-checking, codec.h).
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
