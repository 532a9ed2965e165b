/*
 * Every magic number and version the store writes, in one place. Each file
 * format is described byte by byte in docs/format/ (named beside each
 * group); the code reads and writes them with these names only.
 *
 * Rules (docs/format/README.md): every file starts with a magic and a
 * version (u32 little-endian each). A change to what a writer puts in a
 * file raises that file's version; the reader keeps reading every earlier
 * version (tests/fixtures/golden/vN holds data each release wrote) and
 * refuses, at open, a version above the one it knows, naming both (never
 * misreading it). tests/unit/test_format.c holds the table of the values
 * below per version: changing a value without its version fails there.
 */
#ifndef PF_TSDB_FORMAT_H
#define PF_TSDB_FORMAT_H

/* ---- WAL segments: docs/format/wal.md ---------------------------------- */

/* <dir>/wal/NNNNNNNN (8 decimal digits): header, then records. */
#define TSDB__WAL_MAGIC 0x4c574650u /* bytes "PFWL" */
#define TSDB__WAL_VERSION 1u
#define TSDB__WAL_HDR 8u /* magic, version */
/* A record: len u32le, crc u32le, then len bytes (type byte + payload). */
#define TSDB__REC_HDR 8u
/* Record types (the first byte after the record header). */
#define TSDB__REC_PROFILE 1 /* docs/format/wal.md, "Profile record" */

/* ---- WAL checkpoints: docs/format/checkpoint.md ------------------------ */

/* <dir>/wal/checkpoint.NNNNNNNN: header, then records framed as in segments. */
#define TSDB__CKPT_PREFIX "checkpoint."
#define TSDB__CKPT_MAGIC 0x43574650u /* bytes "PFWC" */
#define TSDB__CKPT_VERSION 1u
#define TSDB__CKPT_HDR 16u /* magic, version, N, CRC32C of those 12 bytes */

/* ---- block files: docs/format/block.md, index.md ----------------------- */

/* <dir>/blocks/<ULID>/{index,symbols,chunks}: magic, version (one version
 * for the three files of a block and their layout around the codec's
 * symbol tables and chunks). */
#define TSDB__BLOCK_INDEX_MAGIC 0x49424650u  /* bytes "PFBI" */
#define TSDB__BLOCK_SYMS_MAGIC 0x53424650u   /* bytes "PFBS" */
#define TSDB__BLOCK_CHUNKS_MAGIC 0x43424650u /* bytes "PFBC" */
#define TSDB__BLOCK_VERSION 1u
#define TSDB__BLOCK_HDR 8u       /* magic, version */
#define TSDB__BLOCK_NAME_LEN 26  /* a ULID in Crockford base32 */

/* ---- the profile codec: docs/format/symtab.md, chunk.md ----------------- */

/* One service's symbol table inside a block's symbols file. */
#define TSDB__SYMTAB_MAGIC 0x59534650u /* bytes "PFSY" */
#define TSDB__SYMTAB_VERSION 1u
/* One chunk (consecutive profiles of one series) inside a chunks file. */
#define TSDB__CHUNK_MAGIC 0x4b434650u /* bytes "PFCK" */
#define TSDB__CHUNK_VERSION 1u

/* ---- newer releases: docs/format/README.md, "Versions and upgrades" ---- */

/* A file whose version is above the reader's by at most this much is taken
 * for a newer release's (the open is refused, naming both versions); one
 * further above is damage (a flipped byte of a header no checksum covers),
 * handled as a wrong magic is. */
#define TSDB__NEWER_VERSIONS 64u

static inline int tsdb__version_newer(unsigned got, unsigned known)
{
	return got > known && got - known <= TSDB__NEWER_VERSIONS;
}

/* ---- series hashes and ids: docs/format/README.md ----------------------- */

/* Seed of the series hash (XXH64 of the canonical label encoding). The
 * hash is in every id handed out and in every block index: never change
 * it. */
#define TSDB__LABELS_HASH_SEED 0x70726f66656665ull /* "profefe" */

#endif
