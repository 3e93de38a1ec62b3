// RocksDB glue for the disk tier: options tuned for a small index, an Env
// that keeps RocksDB's files owner-only, and the mapping of rocksdb::Status
// to ours (no space -> kResourceExhausted).
// Thread-safety: free functions; the Env is shared and thread-safe.
#pragma once

#include <string>

#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include "core/status.h"

namespace daramjwee::tiers::disk_detail {

// Small write buffers and block cache: the index holds ~100 bytes per entry
// plus inline objects; per-put WAL sync only when `sync_writes`. Memtables,
// WAL, LOG files and level sizes are scaled down for a small
// `capacity_bytes` (the index counts against it). Its env is
// owner_only_env().
rocksdb::Options index_options(uint64_t capacity_bytes);

// What RocksDB may hold on disk beyond what it held when last measured,
// for index_options(capacity_bytes): a WAL and memtable being flushed into
// a new table (each up to the write buffer), LOG files, MANIFEST and
// OPTIONS. The disk tier charges it against capacity up front.
uint64_t index_reserve_bytes(uint64_t capacity_bytes);
// The part of that reserve for files an index has whatever it holds (LOG
// files, MANIFEST, OPTIONS, CURRENT): a measurement is charged only for
// what exceeds it, so a small index costs exactly the reserve.
uint64_t index_fixed_files_bytes(uint64_t capacity_bytes);

// The default (POSIX) Env, except that every file and directory RocksDB
// creates is chmod'ed to 0600 / 0700 right after creation, whatever the
// process umask. Changing the umask around DB::Open would not do: the umask
// is per process, other threads create files meanwhile, and RocksDB keeps
// creating files (SSTs, WALs, MANIFESTs, LOGs) for as long as it runs. The
// file exists with umask-derived bits for the moment between its creation
// and the chmod; the store creates DIR/index 0700 beforehand, so nobody else
// can reach it even then. Lives for the whole process, as Env::Default().
rocksdb::Env* owner_only_env();
rocksdb::WriteOptions write_options(bool sync_writes);

// RocksDB's "no space left" (IsNoSpace, or an IOError that says so).
bool is_no_space(const rocksdb::Status& s);

// OK for ok(); kResourceExhausted for "no space"; else kTierError(disk, op).
Status from_rocks(const rocksdb::Status& s, const char* op);

}  // namespace daramjwee::tiers::disk_detail
