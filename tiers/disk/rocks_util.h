// RocksDB glue for the disk tier: options tuned for a small index and the
// mapping of rocksdb::Status to ours (no space -> kResourceExhausted).
// Thread-safety: free functions.
#pragma once

#include <string>

#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include "core/status.h"

namespace daramjwee::tiers::disk_detail {

// Small write buffers and block cache: the index holds ~100 bytes per entry
// plus inline objects; per-put WAL sync only when `sync_writes`.
rocksdb::Options index_options();
rocksdb::WriteOptions write_options(bool sync_writes);

// OK for ok(); kResourceExhausted for "no space"; else kTierError(disk, op).
Status from_rocks(const rocksdb::Status& s, const char* op);

}  // namespace daramjwee::tiers::disk_detail
