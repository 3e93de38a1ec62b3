#include "tiers/disk/rocks_util.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

namespace daramjwee::tiers::disk_detail {

rocksdb::Options index_options() {
  rocksdb::Options o;
  o.create_if_missing = true;
  // 4 MiB memtables: the index is small, and a short WAL keeps replay after
  // a crash (part of open time) short.
  o.write_buffer_size = 4 << 20;
  o.max_write_buffer_number = 2;
  o.max_total_wal_size = 16 << 20;
  o.max_background_jobs = 2;
  o.max_open_files = 256;
  // Inline values are already lz4'ed by us where that pays.
  o.compression = rocksdb::kNoCompression;
  o.info_log_level = rocksdb::WARN_LEVEL;
  o.keep_log_file_num = 2;
  o.max_log_file_size = 1 << 20;
  o.skip_stats_update_on_db_open = true;
  // The default preallocates 4 MiB per MANIFEST: wasteful for a small index,
  // and it counts against a small cache filesystem.
  o.manifest_preallocation_size = 64 << 10;
  o.avoid_unnecessary_blocking_io = true;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(16 << 20);
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

rocksdb::WriteOptions write_options(bool sync_writes) {
  rocksdb::WriteOptions w;
  w.sync = sync_writes;
  return w;
}

Status from_rocks(const rocksdb::Status& s, const char* op) {
  if (s.ok()) return Status::ok();
  if (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos)
    return Status::exhausted("disk tier index: no space left on device (" + s.ToString() + ")")
        .with_tier("disk", op);
  return Status::tier_error("disk", op, "index: " + s.ToString());
}

}  // namespace daramjwee::tiers::disk_detail
