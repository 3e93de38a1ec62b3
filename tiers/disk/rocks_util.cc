#include "tiers/disk/rocks_util.h"

#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

namespace daramjwee::tiers::disk_detail {
namespace {

// After a successful create, chmod the new file or directory. A chmod that
// fails leaves it as RocksDB made it, inside DIR/index (0700) and so out of
// everyone else's reach all the same: not worth failing RocksDB's operation.
rocksdb::IOStatus owner_only(rocksdb::IOStatus s, const std::string& path, mode_t mode) {
  if (s.ok()) (void)::chmod(path.c_str(), mode);
  return s;
}

class OwnerOnlyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  static const char* kClassName() { return "DaramjweeOwnerOnlyFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->NewWritableFile(f, o, r, dbg), f, 0600);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->ReopenWritableFile(f, o, r, dbg), f, 0600);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->ReuseWritableFile(f, old, o, r, dbg), f, 0600);
  }
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->NewRandomRWFile(f, o, r, dbg), f, 0600);
  }
  rocksdb::IOStatus NewLogger(const std::string& f, const rocksdb::IOOptions& o,
                              std::shared_ptr<rocksdb::Logger>* r, rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->NewLogger(f, o, r, dbg), f, 0600);
  }
  rocksdb::IOStatus LockFile(const std::string& f, const rocksdb::IOOptions& o, rocksdb::FileLock** l,
                             rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->LockFile(f, o, l, dbg), f, 0600);
  }
  rocksdb::IOStatus CreateDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->CreateDir(d, o, dbg), d, 0700);
  }
  rocksdb::IOStatus CreateDirIfMissing(const std::string& d, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
    return owner_only(target()->CreateDirIfMissing(d, o, dbg), d, 0700);
  }
};

}  // namespace

rocksdb::Env* owner_only_env() {
  // Leaked on purpose: RocksDB's background threads may outlive any static
  // destructor order we could arrange, as they do Env::Default().
  static rocksdb::Env* env =
      rocksdb::NewCompositeEnv(std::make_shared<OwnerOnlyFileSystem>(rocksdb::FileSystem::Default())).release();
  return env;
}

namespace {

uint64_t clamp_size(uint64_t v, uint64_t lo, uint64_t hi) { return std::min(hi, std::max(lo, v)); }
// Up to 4 MiB: the index is small, and a short WAL keeps replay after a
// crash (part of open time) short. Less for a small tier, whose capacity
// the index shares.
uint64_t write_buffer(uint64_t capacity) { return clamp_size(capacity / 32, 256 << 10, 4 << 20); }
uint64_t log_file(uint64_t capacity) { return clamp_size(capacity / 128, 64 << 10, 1 << 20); }

}  // namespace

uint64_t index_fixed_files_bytes(uint64_t capacity) { return 2 * log_file(capacity) + (256 << 10); }

uint64_t index_reserve_bytes(uint64_t capacity) { return 3 * write_buffer(capacity) + index_fixed_files_bytes(capacity); }

rocksdb::Options index_options(uint64_t capacity) {
  rocksdb::Options o;
  o.env = owner_only_env();
  o.create_if_missing = true;
  o.write_buffer_size = write_buffer(capacity);
  o.max_write_buffer_number = 2;
  o.max_total_wal_size = 4 * o.write_buffer_size;
  // Smaller levels and files for a small tier: a compaction's output
  // exists beside its inputs until it finishes.
  o.target_file_size_base = clamp_size(capacity / 64, 1 << 20, 64 << 20);
  o.max_bytes_for_level_base = clamp_size(capacity / 8, 4 << 20, 256 << 20);
  o.max_background_jobs = 2;
  o.max_open_files = 256;
  // Inline values are already lz4'ed by us where that pays.
  o.compression = rocksdb::kNoCompression;
  o.info_log_level = rocksdb::WARN_LEVEL;
  o.keep_log_file_num = 2;
  o.max_log_file_size = log_file(capacity);
  o.skip_stats_update_on_db_open = true;
  // The default preallocates 4 MiB per MANIFEST: wasteful for a small index,
  // and it counts against a small cache filesystem.
  o.manifest_preallocation_size = 64 << 10;
  o.avoid_unnecessary_blocking_io = true;
  // Preallocating WAL and table files (1.1 write buffers each) would be
  // charged against a small tier for bytes it never writes.
  o.allow_fallocate = false;
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

bool is_no_space(const rocksdb::Status& s) {
  return s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos;
}

Status from_rocks(const rocksdb::Status& s, const char* op) {
  if (s.ok()) return Status::ok();
  if (is_no_space(s))
    return Status::exhausted("disk tier index: no space left on device (" + s.ToString() + ")")
        .with_tier("disk", op);
  return Status::tier_error("disk", op, "index: " + s.ToString());
}

}  // namespace daramjwee::tiers::disk_detail
