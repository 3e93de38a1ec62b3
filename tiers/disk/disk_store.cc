// DiskStore: reads, removal, metadata updates, eviction and recency.
// Publishing lives in disk_sink.cc, open/recovery in disk_recovery.cc.
//
// Locking. Every change to one key's index entry (publish, remove, update,
// evict, drop after a failed verification) and every lookup that opens a
// data file happens under that key's stripe. This is what makes "read the
// record, open the file it names" safe: nobody can unlink the file in
// between, and once the descriptor is open the file stays readable whatever
// happens to the entry. Verification (a full read of the file) then runs
// with no lock held. mu_ guards only in-memory accounting and the policy,
// and is taken inside a stripe, never around I/O.
//
// Eviction picks a victim under mu_, then takes the victim's stripe and
// checks the entry's generation: if the key was published again meanwhile
// (the new copy is tracked by the policy again), the victim is skipped.
#include "tiers/disk/disk_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include "tiers/disk/checksum.h"

#include <fmt/format.h>

#include "core/compressor.h"
#include "tiers/disk/disk_reader.h"
#include "tiers/disk/rocks_util.h"
#include "util/log.h"

namespace daramjwee::tiers {

using disk_detail::IndexRecord;
using disk_detail::UniqueFd;

namespace {

// Objects up to this size are verified by reading them into memory once and
// served from that copy; larger ones get a streaming hash pass.
constexpr uint64_t kVerifyInMemoryMax = 8 << 20;
constexpr uint64_t kAccessPersistBatch = 1024;
constexpr int64_t kAccessPersistIntervalNs = 30'000'000'000;
constexpr int64_t kRacyStampNs = 1'000'000'000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch()).count();
}

int64_t ts_ns(const struct timespec& t) { return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

}  // namespace

Status DiskStoreOptions::validate() const {
  if (dir.empty()) return Status::config_error("dir", "must name a directory");
  if (capacity_bytes == 0) return Status::config_error("capacity_bytes", "must be > 0");
  if (inline_threshold > (1u << 20))
    return Status::config_error("inline_threshold", "must be at most 1 MiB (RocksDB values)");
  if (!(min_compression_saving >= 0.0 && min_compression_saving < 1.0))
    return Status::config_error("min_compression_saving", "must be in [0, 1)");
  if (owner.find('\n') != std::string::npos) return Status::config_error("owner", "must not contain a newline");
  if (copy_mode && fastest_tier)
    return Status::config_error(
        "copy_mode", "copy mode is not crash-atomic and is refused for the fastest tier");
  return Status::ok();
}

DiskStore::DiskStore(DiskStoreOptions opts, disk_detail::DirLock lock)
    : opts_(std::move(opts)),
      lock_(std::move(lock)),
      data_dir_(opts_.dir + "/data"),
      tmp_dir_(opts_.dir + "/tmp"),
      policy_(make_eviction_policy(opts_.policy, opts_.capacity_bytes)),
      index_reserve_(disk_detail::index_reserve_bytes(opts_.capacity_bytes)),
      index_fixed_(disk_detail::index_fixed_files_bytes(opts_.capacity_bytes)) {}

DiskStore::~DiskStore() {
  if (!db_) return;
  ignore_error(persist_access(true));
  rocksdb::FlushOptions fo;
  fo.wait = true;
  auto s = db_->Flush(fo);
  (void)s;
  s = db_->Close();
  (void)s;
  db_.reset();
}

std::mutex& DiskStore::stripe(std::string_view key) {
  return stripes_[std::hash<std::string_view>{}(key) % stripes_.size()];
}

std::string DiskStore::data_path(uint64_t file_id) const {
  return data_dir_ + "/" + disk_detail::data_file_rel(file_id);
}

Result<std::optional<IndexRecord>> DiskStore::read_record(std::string_view key) {
  std::string value;
  auto s = note_index(db_->Get(rocksdb::ReadOptions(), disk_detail::entry_key(key), &value));
  if (s.IsNotFound()) return std::optional<IndexRecord>();
  if (!s.ok()) return disk_detail::from_rocks(s, "get");
  auto rec = disk_detail::decode_record(value);
  if (!rec) {
    // Unreadable record: report as a miss with a zero commit_seq so the
    // caller drops it (commit_seq 0 never matches a real commit).
    IndexRecord bad;
    bad.commit_seq = 0;
    bad.md.size = UINT64_MAX;
    return std::optional<IndexRecord>(bad);
  }
  return std::optional<IndexRecord>(std::move(*rec));
}

bool DiskStore::is_verified(uint64_t file_id, const FileStamp& s) {
  std::lock_guard l(verified_mu_);
  auto it = verified_.find(file_id);
  return it != verified_.end() && it->second == s;
}

void DiskStore::set_verified(uint64_t file_id, const FileStamp& s) {
  // The "racy git" rule: file timestamps come from a coarse clock, so a
  // write within the same tick as the one we verified could leave the stamp
  // unchanged. Only remember verdicts on files whose last change is safely
  // older than now; younger files are simply verified on every get.
  if (now_ns() - std::max(s.mtime_ns, s.ctime_ns) < kRacyStampNs) return;
  std::lock_guard l(verified_mu_);
  verified_[file_id] = s;
}

void DiskStore::unlink_data(uint64_t file_id) {
  {
    std::lock_guard l(verified_mu_);
    verified_.erase(file_id);
  }
  std::string path = data_path(file_id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    static util::RateLimit rl;
    uint64_t suppressed = 0;
    if (rl.allow(&suppressed))
      util::logger("tier.disk")->warn("could not unlink data file tier=disk path={} error={} suppressed={}",
                                      path, std::strerror(errno), suppressed);
  }
}

void DiskStore::forget_entry_locked(std::string_view key) {
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return;
  used_bytes_ -= it->second.footprint;
  file_bytes_ -= it->second.file_bytes;
  entries_.erase(it);
  policy_->remove(key);
  entries_count_.store(entries_.size(), std::memory_order_relaxed);
  used_mirror_.store(charged_locked(), std::memory_order_relaxed);
}

rocksdb::Status DiskStore::write(bool sync, rocksdb::WriteBatch* batch) {
  std::lock_guard lock(write_mu_);
  auto s = note_index(db_->Write(disk_detail::write_options(sync), batch));
  if (!s.ok() && !s.IsCorruption()) {
    // A failed write (disk full) can leave RocksDB read-only; let the next
    // write find out whether space came back. An error Resume() cannot
    // clear (a background compaction met a bad block) would refuse every
    // write from now on: that is a damaged index.
    auto r = db_->Resume();
    if (!r.ok() && !disk_detail::is_no_space(r) && !disk_detail::is_no_space(s)) {
      note_index(rocksdb::Status::Corruption("write failed and the index cannot resume", r.ToString()));
    }
  }
  return s;
}

const rocksdb::Status& DiskStore::note_index(const rocksdb::Status& s) {
  if (!s.IsCorruption()) return s;
  {
    std::lock_guard l(damage_mu_);
    if (damage_reason_.empty()) damage_reason_ = s.ToString();
  }
  index_damaged_.store(true, std::memory_order_release);
  return s;
}

Status DiskStore::delete_locked(std::string_view key, const IndexRecord& rec) {
  rocksdb::WriteBatch b;
  auto s = b.Delete(disk_detail::entry_key(key));
  if (s.ok() && rec.file_id == 0) s = b.Delete(disk_detail::data_key(key));
  if (s.ok()) s = b.Delete(disk_detail::access_key(key));
  if (s.ok()) s = write(opts_.fsync == FsyncPolicy::kOnCommit, &b);
  if (!s.ok()) return disk_detail::from_rocks(s, "remove");
  std::lock_guard l(mu_);
  forget_entry_locked(key);
  return Status::ok();
}

void DiskStore::drop_corrupt(std::string_view key, uint64_t commit_seq, std::string_view why) {
  corruptions_.fetch_add(1, std::memory_order_relaxed);
  static util::RateLimit rl;
  uint64_t suppressed = 0;
  if (rl.allow(&suppressed))
    util::logger("tier.disk")->warn("dropped corrupt entry tier=disk key={} reason={} suppressed={}",
                                    key, why, suppressed);
  std::optional<IndexRecord> rec;
  {
    std::lock_guard sl(stripe(key));
    auto r = read_record(key);
    if (!r || !*r || (*r)->commit_seq != commit_seq) return;  // replaced or gone meanwhile
    if (!delete_locked(key, **r)) return;  // an I/O error; the next get tries again
    rec = **r;
  }
  if (rec->file_id) unlink_data(rec->file_id);
}

Result<std::optional<StoreEntry>> DiskStore::get(std::string_view key) {
  return with_index(true, [&]() -> Result<std::optional<StoreEntry>> {
    try {
      return get_impl(key);
    } catch (const std::bad_alloc&) {
      return Status::exhausted("out of memory reading a disk-tier object").with_tier("disk", "get");
    } catch (const std::exception& e) {
      return Status::tier_error("disk", "get", fmt::format("exception: {}", e.what()));
    }
  });
}

Result<std::optional<StoreEntry>> DiskStore::get_impl(std::string_view key) {
  IndexRecord rec;
  rocksdb::PinnableSlice inline_value;  // pins the block: no copy out of RocksDB
  auto fd = std::make_shared<UniqueFd>();
  std::string bad;
  {
    std::lock_guard sl(stripe(key));
    auto r = read_record(key);
    if (!r) return r.error();
    if (!*r) return std::optional<StoreEntry>();
    rec = std::move(**r);
    if (rec.commit_seq == 0) {
      bad = "index record unreadable";
    } else if (rec.file_id == 0) {
      auto s = note_index(db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(),
                                   disk_detail::data_key(key), &inline_value));
      if (s.IsNotFound()) bad = "inline value missing";
      else if (!s.ok()) return disk_detail::from_rocks(s, "get");
    } else {
      std::string path = data_path(rec.file_id);
      fd->reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd->valid()) {
        if (errno != ENOENT) return disk_detail::errno_status("open " + path, errno).with_tier("disk", "get");
        bad = "data file missing";
      }
    }
  }
  auto drop = [&](std::string_view why) -> Result<std::optional<StoreEntry>> {
    drop_corrupt(key, rec.commit_seq, why);
    return std::optional<StoreEntry>();
  };
  if (!bad.empty()) return drop(bad);
  const Compressor& codec = compressor_for(rec.md.compression);

  std::unique_ptr<Reader> body;
  if (rec.file_id == 0) {
    if (inline_value.size() != rec.md.stored_size) return drop("inline value has the wrong size");
    if (disk_detail::checksum64(inline_value.data(), inline_value.size()) != rec.checksum64)
      return drop("checksum mismatch (inline value)");
    auto stored = std::as_bytes(std::span(inline_value.data(), inline_value.size()));
    // Raw values are copied once, straight into the buffer the reader owns.
    auto bytes = rec.md.compression == Compression::kNone ? Result<Bytes>(Bytes::copy_of(stored))
                                                          : codec.decompress(stored, rec.md.size);
    if (!bytes) return drop(bytes.error().message());
    if (bytes->size() != rec.md.size) return drop("logical size mismatch");
    body = make_bytes_reader(std::make_shared<const Bytes>(std::move(*bytes)));
  } else {
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return disk_detail::errno_status("fstat", errno).with_tier("disk", "get");
    if (static_cast<uint64_t>(st.st_size) != rec.md.stored_size)
      return drop(fmt::format("data file has {} bytes, expected {}", st.st_size, rec.md.stored_size));
    FileStamp stamp{static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
                    ts_ns(st.st_mtim), ts_ns(st.st_ctim)};
    bool compressed = rec.md.compression != Compression::kNone;
    if (compressed || (!is_verified(rec.file_id, stamp) && rec.md.stored_size <= kVerifyInMemoryMax)) {
      const size_t stored = static_cast<size_t>(rec.md.stored_size);
      const bool direct = opts_.direct_reads && direct_reads_.load(std::memory_order_relaxed) &&
                          stored >= Bytes::kPageAlignFrom;
      // Direct reads transfer whole 4 KiB blocks: room for the last one.
      Bytes data(direct ? (stored + Bytes::kPage - 1) / Bytes::kPage * Bytes::kPage : std::max<size_t>(stored, 1));
      prefault(std::span(data.data(), data.capacity()));
      std::optional<size_t> got;
      if (direct) {
        auto d = disk_detail::pread_direct(fd->get(), std::span(data.data(), data.capacity()), stored);
        if (!d) return d.error().with_tier("disk", "get");
        if (!*d && direct_reads_.exchange(false))
          util::logger("tier.disk")->info("O_DIRECT refused under {}: the disk tier reads through the page cache",
                                          opts_.dir);
        got = *d;
      }
      if (!got) {
        auto n = disk_detail::pread_full(fd->get(), std::span(data.data(), stored), 0);
        if (!n) return n.error().with_tier("disk", "get");
        got = *n;
      }
      if (*got != stored) return drop("data file is short");
      data.resize(stored);
      if (disk_detail::checksum64(data.data(), data.size()) != rec.checksum64) return drop("checksum mismatch (data file)");
      if (compressed) {
        auto bytes = codec.decompress(data.span(), rec.md.size);
        if (!bytes) return drop(bytes.error().message());
        body = make_bytes_reader(std::make_shared<const Bytes>(std::move(*bytes)));
      } else {
        set_verified(rec.file_id, stamp);
        body = disk_detail::make_file_reader(fd, rec.md.stored_size,
                                             std::make_shared<const Bytes>(std::move(data)));
      }
    } else {
      if (!is_verified(rec.file_id, stamp)) {
        // Large raw object: hash it in a streaming pass before handing out a byte.
        std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> st3(XXH3_createState(), XXH3_freeState);
        XXH3_64bits_reset(st3.get());
        Bytes buf(1 << 20);
        uint64_t off = 0;
        while (off < rec.md.stored_size) {
          size_t want = static_cast<size_t>(std::min<uint64_t>(buf.capacity(), rec.md.stored_size - off));
          auto n = disk_detail::pread_full(fd->get(), std::span(buf.data(), want), off);
          if (!n) return n.error().with_tier("disk", "get");
          if (*n != want) return drop("data file is short");
          disk_detail::checksum_update(st3.get(), buf.data(), *n);
          off += *n;
        }
        if (XXH3_64bits_digest(st3.get()) != rec.checksum64) return drop("checksum mismatch (data file)");
        set_verified(rec.file_id, stamp);
      }
      body = disk_detail::make_file_reader(fd, rec.md.stored_size, nullptr);
    }
  }
  note_access(key);
  return std::optional<StoreEntry>(StoreEntry{std::move(rec.md), std::move(body)});
}

Status DiskStore::remove(std::string_view key) {
  return with_index(true, [&] { return remove_impl(key); });
}

Status DiskStore::remove_impl(std::string_view key) {
  std::optional<IndexRecord> rec;
  {
    std::lock_guard sl(stripe(key));
    auto r = read_record(key);
    if (!r) return r.error();
    if (!*r) return Status::ok();
    if (auto s = delete_locked(key, **r); !s) return s;
    rec = **r;
  }
  if (rec->file_id) unlink_data(rec->file_id);
  return Status::ok();
}

Result<std::optional<Metadata>> DiskStore::stat(std::string_view key) {
  return with_index(true, [&]() -> Result<std::optional<Metadata>> { return stat_impl(key); });
}

Result<std::optional<Metadata>> DiskStore::stat_impl(std::string_view key) {
  auto r = read_record(key);
  if (!r) return r.error();
  if (!*r || (*r)->commit_seq == 0) return std::optional<Metadata>();
  return std::optional<Metadata>((*r)->md);
}

Result<bool> DiskStore::update_metadata(std::string_view key, const Metadata& md) {
  return with_index(true, [&] { return update_metadata_impl(key, md); });
}

Result<bool> DiskStore::update_metadata_impl(std::string_view key, const Metadata& md) {
  std::lock_guard sl(stripe(key));
  auto r = read_record(key);
  if (!r) return r.error();
  if (!*r || (*r)->commit_seq == 0) return false;
  IndexRecord rec = std::move(**r);
  // Only what a revalidation can change; the bytes, their size and the
  // store-private fields stay as committed (no data is rewritten).
  rec.md.etag = md.etag;
  rec.md.origin_mtime_ns = md.origin_mtime_ns;
  rec.md.cached_at = md.cached_at;
  std::string enc = disk_detail::encode_record(rec);
  rocksdb::WriteBatch b;
  auto s = b.Put(disk_detail::entry_key(key), enc);
  if (s.ok()) s = write(opts_.fsync == FsyncPolicy::kOnCommit, &b);
  if (!s.ok()) return disk_detail::from_rocks(s, "update_metadata");
  std::lock_guard l(mu_);
  if (auto it = entries_.find(std::string(key)); it != entries_.end()) {
    uint64_t fp = disk_detail::entry_footprint(key, rec, enc.size());
    used_bytes_ = used_bytes_ - it->second.footprint + fp;
    it->second.footprint = fp;
    used_mirror_.store(charged_locked(), std::memory_order_relaxed);
  }
  return true;
}

StoreStats DiskStore::stats() const {
  StoreStats s;
  s.entries = entries_count_.load(std::memory_order_relaxed);
  s.used_bytes = used_mirror_.load(std::memory_order_relaxed);
  s.capacity_bytes = opts_.capacity_bytes;
  s.evictions = evictions_.load(std::memory_order_relaxed);
  s.corruptions = corruptions_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.index_rebuilds = index_rebuilds_.load(std::memory_order_relaxed);
  s.full_refusals = full_refusals_.load(std::memory_order_relaxed);
  return s;
}

Status DiskStore::flush() {
  return with_index(false, [&] {
    if (auto s = persist_access(true); !s) return s;
    rocksdb::FlushOptions fo;
    fo.wait = true;
    auto s = disk_detail::from_rocks(note_index(db_->Flush(fo)), "flush");
    measure_index();
    evict_to_capacity();  // the measurement may have raised the charge
    return s;
  });
}

void DiskStore::note_access(std::string_view key) {
  bool persist = false;
  {
    std::lock_guard l(mu_);
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) return;
    policy_->touch(key);
    it->second.access_seq = next_seq();
    it->second.access_ns = now_ns();
    if (!it->second.access_dirty) {
      it->second.access_dirty = true;
      dirty_keys_.push_back(it->first);
    }
    persist = dirty_keys_.size() >= kAccessPersistBatch ||
              it->second.access_ns - last_persist_ns_ > kAccessPersistIntervalNs;
  }
  if (persist) ignore_error(persist_access(false));
}

Status DiskStore::persist_access(bool all) {
  // One persister at a time; an opportunistic one (from a reader's get)
  // never waits for another.
  bool expected = false;
  if (!persisting_.compare_exchange_strong(expected, true)) {
    if (!all) return Status::ok();
    // Bounded: a shutdown must never hang here, even if a persister were
    // stuck (one report of a hang at unmount after a restart; unreproduced).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (persisting_.exchange(true)) {
      if (std::chrono::steady_clock::now() > deadline)
        return Status::timeout("another thread has been persisting access recency for 5 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  struct Release {
    std::atomic<bool>* f;
    ~Release() { f->store(false); }
  } release{&persisting_};
  std::vector<std::pair<std::string, disk_detail::AccessRecord>> batch;
  {
    std::lock_guard l(mu_);
    last_persist_ns_ = now_ns();
    if (dirty_keys_.empty()) return Status::ok();
    batch.reserve(dirty_keys_.size());
    for (auto& k : dirty_keys_) {
      auto it = entries_.find(k);
      if (it == entries_.end() || !it->second.access_dirty) continue;  // gone, replaced or a duplicate
      it->second.access_dirty = false;
      batch.emplace_back(std::move(k), disk_detail::AccessRecord{it->second.access_seq, it->second.access_ns});
    }
    dirty_keys_.clear();
  }
  rocksdb::WriteBatch b;
  for (auto& [k, a] : batch) {
    auto s = b.Put(disk_detail::access_key(k), disk_detail::encode_access(a));
    if (!s.ok()) return disk_detail::from_rocks(s, "persist_access");
  }
  // A key removed meanwhile gets a stray "a:" record; open() deletes those.
  return disk_detail::from_rocks(write(false, &b), "persist_access");
}

void DiskStore::evict_until(uint64_t limit) {
  // Bounded: at most one pass over what the policy tracked when we started.
  size_t budget;
  {
    std::lock_guard l(mu_);
    budget = policy_->size() + 1;
  }
  for (size_t round = 0; round < budget; ++round) {
    std::string victim;
    uint64_t gen = 0;
    {
      std::lock_guard l(mu_);
      if (charged_locked() <= limit) return;
      auto v = policy_->evict();
      if (!v) {
        static util::RateLimit rl;
        uint64_t suppressed = 0;
        // Nothing left is fine (a tier smaller than its fixed charge, a
        // free-space floor that eviction cannot reach); entries the policy
        // does not know of are a broken invariant.
        if (!entries_.empty() && rl.allow(&suppressed))
          util::logger("tier.disk")->error(
              "eviction policy is empty while over its limit tier=disk charged={} limit={} entries={}",
              charged_locked(), limit, entries_.size());
        return;
      }
      auto it = entries_.find(*v);
      if (it == entries_.end()) continue;  // the policy named a key we no longer hold
      victim = std::move(*v);
      gen = it->second.gen;
    }
    std::optional<IndexRecord> rec;
    {
      std::lock_guard sl(stripe(victim));
      {
        std::lock_guard l(mu_);
        auto it = entries_.find(victim);
        if (it == entries_.end() || it->second.gen != gen) continue;  // republished: tracked again
      }
      auto r = read_record(victim);
      Status s = r ? Status::ok() : r.error();
      if (s && *r) s = delete_locked(victim, **r);
      if (!s) {
        std::lock_guard l(mu_);
        if (auto it = entries_.find(victim); it != entries_.end()) policy_->add(victim, it->second.footprint);
        util::logger("tier.disk")->warn("eviction failed tier=disk key={} error={}", victim, s.to_string());
        return;
      }
      if (!*r) {
        std::lock_guard l(mu_);
        forget_entry_locked(victim);
        continue;
      }
      rec = **r;
    }
    evictions_.fetch_add(1, std::memory_order_relaxed);
    if (rec->file_id) unlink_data(rec->file_id);
  }
}

}  // namespace daramjwee::tiers
