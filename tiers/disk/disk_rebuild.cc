// DiskStore: rebuilding a damaged index (see disk_store.h).
//
// Why salvage rather than start empty: a single bad block (bit rot, a torn
// write after a power loss) makes RocksDB refuse every write once a
// compaction reads it, and every point read of a key in it. Starting empty
// would throw away every cached file because of one 4 KiB block; copying
// what is still readable keeps all but the keys of that block.
//
// How: an iterator verifies each block's checksum and stops (invalid, with a
// Corruption status) at the first bad one. A forward scan from the first key
// and a backward scan from the last key, each stopping at the damage, read
// every key outside the damaged range. What they read goes into a fresh
// RocksDB in DIR/index.rebuild, which then replaces DIR/index by two
// renames (the damaged one is kept as DIR/index.corrupt for a post-mortem,
// replacing any older quarantine). load_index() then rebuilds the in-memory
// view and deletes the data files no surviving record names.
//
// Concurrency: all of this runs with index_mu_ held exclusively, so no
// operation uses db_ meanwhile and no commit is between placing a data file
// and indexing it (commits hold index_mu_ shared throughout). Readers that
// already hold a data file's descriptor keep reading it.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <fmt/format.h>

#include "tiers/disk/disk_store.h"
#include "tiers/disk/file_util.h"
#include "tiers/disk/rocks_util.h"
#include "util/log.h"

namespace daramjwee::tiers {
namespace {

constexpr int64_t kRebuildRetryNs = 30'000'000'000;  // after a failed rebuild
constexpr size_t kSalvageBatchBytes = 4 << 20;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Salvage {
  uint64_t records = 0;   // "e:" keys copied
  uint64_t pairs = 0;     // all keys copied
  std::string damage;     // what stopped the scans; empty if nothing did
};

// Copies every readable pair of `from` into `to`. Fails only when `to`
// cannot be written.
Status salvage(rocksdb::DB* from, rocksdb::DB* to, Salvage* out) {
  rocksdb::WriteBatch batch;
  auto put = [&](const rocksdb::Slice& k, const rocksdb::Slice& v) -> Status {
    ++out->pairs;
    if (k.starts_with(rocksdb::Slice(disk_detail::kEntryPrefix.data(), disk_detail::kEntryPrefix.size())))
      ++out->records;
    if (auto s = batch.Put(k, v); !s.ok()) return disk_detail::from_rocks(s, "rebuild");
    if (batch.GetDataSize() < kSalvageBatchBytes) return Status::ok();
    auto s = to->Write(disk_detail::write_options(false), &batch);
    batch.Clear();
    return disk_detail::from_rocks(s, "rebuild");
  };
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // a one-off pass
  std::string last_forward;
  bool forward_done = false;
  {
    std::unique_ptr<rocksdb::Iterator> it(from->NewIterator(ro));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (auto s = put(it->key(), it->value()); !s) return s;
      last_forward = it->key().ToString();
    }
    forward_done = it->status().ok();
    if (!forward_done) out->damage = it->status().ToString();
  }
  if (!forward_done) {
    // From the end down to the damage (or to where the forward scan stopped).
    std::unique_ptr<rocksdb::Iterator> it(from->NewIterator(ro));
    for (it->SeekToLast(); it->Valid() && it->key().ToString() > last_forward; it->Prev())
      if (auto s = put(it->key(), it->value()); !s) return s;
  }
  auto s = to->Write(disk_detail::write_options(true), &batch);
  if (!s.ok()) return disk_detail::from_rocks(s, "rebuild");
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return disk_detail::from_rocks(to->Flush(fo), "rebuild");
}

}  // namespace

bool DiskStore::rebuild_if_damaged() {
  std::unique_lock l(index_mu_);
  if (!index_damaged_.load(std::memory_order_acquire)) return db_ != nullptr;  // rebuilt by another thread
  const int64_t now = steady_ns();
  if (last_rebuild_ns_ != 0 && now - last_rebuild_ns_ < kRebuildRetryNs) return db_ != nullptr;
  last_rebuild_ns_ = now;
  std::string reason;
  {
    std::lock_guard dl(damage_mu_);
    reason = damage_reason_;
  }
  DiskRecoveryReport report;
  if (auto s = rebuild_locked(reason, &report); !s) {
    util::logger("tier.disk")->error("could not rebuild the damaged index; retrying in 30 s tier=disk dir={} error={}",
                                     opts_.dir, s.to_string());
    return false;
  }
  last_rebuild_ns_ = 0;
  return true;
}

Status DiskStore::rebuild_locked(const std::string& reason, DiskRecoveryReport* report) {
  auto log = util::logger("tier.disk");
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t entries_before = entries_count_.load();
  log->warn("index damaged; rebuilding it from what is still readable tier=disk dir={} reason={}", opts_.dir,
            reason);
  const std::string index_dir = opts_.dir + "/index", fresh_dir = opts_.dir + "/index.rebuild";
  std::error_code ec;
  std::filesystem::remove_all(fresh_dir, ec);
  if (ec) return Status::tier_error("disk", "rebuild", fmt::format("cannot remove {}: {}", fresh_dir, ec.message()));
  if (auto s = disk_detail::make_private_dir(fresh_dir); !s) return s.with_tier("disk", "rebuild");
  Salvage got;
  {
    rocksdb::DB* raw = nullptr;
    auto rs = rocksdb::DB::Open(disk_detail::index_options(opts_.capacity_bytes), fresh_dir, &raw);
    if (!rs.ok()) return Status::tier_error("disk", "rebuild", "cannot create a fresh index: " + rs.ToString());
    std::unique_ptr<rocksdb::DB> fresh(raw);
    rs = fresh->Put(disk_detail::write_options(true), disk_detail::kFormatKey,
                    disk_detail::format_tag(disk_detail::kFormatVersion));
    if (!rs.ok()) return disk_detail::from_rocks(rs, "rebuild");
    if (db_) {
      if (auto s = salvage(db_.get(), fresh.get(), &got); !s) return s;
    }
    if (rs = fresh->Close(); !rs.ok()) return disk_detail::from_rocks(rs, "rebuild");
  }
  if (db_) {
    // The damaged index may refuse a clean close (its background error):
    // what it failed to write is what this rebuild replaces anyway.
    (void)db_->Close();
    db_.reset();
  }
  if (auto s = quarantine_index(); !s) return s;
  if (::rename(fresh_dir.c_str(), index_dir.c_str()) != 0)
    return disk_detail::errno_status("rename " + fresh_dir + " to " + index_dir, errno).with_tier("disk", "rebuild");
  if (auto s = open_index(false, report); !s) return s;
  {
    std::lock_guard dl(damage_mu_);
    damage_reason_.clear();
  }
  index_damaged_.store(false, std::memory_order_release);
  if (auto s = load_index(report); !s) return s;
  index_rebuilds_.fetch_add(1, std::memory_order_relaxed);
  report->index_rebuilt = true;
  const uint64_t kept = entries_count_.load();
  log->warn("rebuilt the disk-tier index tier=disk dir={} entries_before={} entries_kept={} records_salvaged={} "
            "stopped_at={} quarantine={} ms={:.1f}",
            opts_.dir, entries_before, kept, got.records, got.damage.empty() ? "nothing" : got.damage,
            opts_.dir + "/index.corrupt",
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return Status::ok();
}

}  // namespace daramjwee::tiers
