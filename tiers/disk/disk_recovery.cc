// DiskStore::open: directory setup, exclusive lock, format check and crash
// recovery. After a crash (kill -9, power loss) the directory may hold:
//   - temporary files in DIR/tmp (a write in progress): deleted;
//   - data files no index record names (renamed but not yet indexed, or
//     unlinked-to-be after a replaced/removed entry): deleted;
//   - index records whose data file is missing or short (power loss with
//     FsyncPolicy::kNone): dropped;
//   - "a:" recency records of removed keys: deleted.
// Records are checked against one scan of DIR/data (readdir + fstatat), not
// one stat per record, and the "e:" and "a:" key ranges are merge-joined in
// one ordered pass, so opening 100k entries costs two sequential scans.
// Inline values are not read at open: they are written atomically with
// their record and verified on every read.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <fmt/format.h>

#include "tiers/disk/disk_store.h"
#include "tiers/disk/owner_file.h"
#include "tiers/disk/rocks_util.h"
#include "util/log.h"

namespace daramjwee::tiers {

using disk_detail::IndexRecord;

namespace {

Status make_dir(const std::string& path) { return disk_detail::make_private_dir(path).with_tier("disk", "open"); }

// The tier's directory: created 0700 when missing. One that exists may be
// the operator's (systemd's CacheDirectory=, a mount point), so its mode is
// only reported: everything the store keeps inside it is owner-only anyway,
// but others can see the names.
Status make_top_dir(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return Status::tier_error("disk", "open", fmt::format("mkdir {}: {}", parent.string(), ec.message()));
    return make_dir(path);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return disk_detail::errno_status("stat " + path, errno).with_tier("disk", "open");
  if (!S_ISDIR(st.st_mode)) return Status::config_error("dir", fmt::format("{} is not a directory", path));
  if (st.st_mode & 077)
    util::logger("tier.disk")->warn(
        "cache directory is accessible to other users tier=disk path={} mode={:o}; the files the cache keeps "
        "in it are owner-only, but their names are visible: chmod 700 it",
        path, st.st_mode & 07777);
  return Status::ok();
}

// Sets every file directly under `dir` to 0600 (a cache written by an older
// build, or an index RocksDB created before its Env made files private).
// Returns how many needed it.
uint64_t make_files_private(const std::string& dir) {
  uint64_t fixed = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if ((st.st_mode & 07777) != disk_detail::kPrivateFileMode &&
        ::chmod(e.path().c_str(), disk_detail::kPrivateFileMode) == 0)
      ++fixed;
  }
  return fixed;
}

// Calls fn(name, dirfd) for each entry of `dir` except "." and "..".
template <typename Fn>
Status for_each_entry(const std::string& dir, Fn&& fn) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return disk_detail::errno_status("opendir " + dir, errno).with_tier("disk", "open");
  struct Closer {
    void operator()(DIR* p) const { ::closedir(p); }
  };
  std::unique_ptr<DIR, Closer> guard(d);
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    fn(name, ::dirfd(d));
  }
  return Status::ok();
}

struct Loaded {
  std::string key;
  uint64_t footprint;
  uint64_t seq;
  int64_t access_ns;
  uint64_t file_id;
  uint64_t stored_size;
};

}  // namespace

Result<std::shared_ptr<DiskStore>> DiskStore::open(const DiskStoreOptions& options) {
  if (auto s = options.validate(); !s) return s;
  if (auto s = make_top_dir(options.dir); !s) return s;
  // Recovery deletes files (DIR/tmp/*, strays in DIR/data): refuse a
  // directory that holds other things and no index, e.g. a mistyped path.
  if (!std::filesystem::exists(options.dir + "/index")) {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(options.dir, ec)) {
      auto name = e.path().filename().string();
      if (name != "LOCK" && name != "data" && name != "tmp" && name != "lost+found" && !name.starts_with("index.") &&
          !name.starts_with(disk_detail::kOwnerFile))
        return Status::config_error(
            "dir", fmt::format("{} is not empty and is not a disk-tier directory (found '{}'); "
                               "use an empty or dedicated directory",
                               options.dir, name));
    }
  }
  auto lock = disk_detail::DirLock::acquire(options.dir);
  if (!lock) return lock.error();
  std::shared_ptr<DiskStore> store(new DiskStore(options, std::move(*lock)));
  if (auto s = store->check_owner(); !s) return s;
  if (auto s = store->recover(); !s) return s;
  return store;
}

Status DiskStore::check_owner() {
  if (opts_.owner.empty()) return Status::ok();
  auto log = util::logger("tier.disk");
  auto recorded = disk_detail::read_owner(opts_.dir);
  if (!recorded) return recorded.error().with_tier("disk", "open");
  if (*recorded && **recorded == opts_.owner) return Status::ok();
  std::error_code ec;
  // A directory that caches nothing yet may change hands: a mount that
  // failed (a mistyped, unreachable origin) recorded itself without
  // caching anything, and refusing the corrected mount would help no one.
  auto holds_entries = [&]() -> bool {
    if (!std::filesystem::exists(opts_.dir + "/index/CURRENT", ec)) return false;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::OpenForReadOnly(disk_detail::index_options(opts_.capacity_bytes), opts_.dir + "/index", &raw)
             .ok())
      return true;  // cannot tell: assume it does
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->Seek(disk_detail::kEntryPrefix);
    return !it->status().ok() ||
           (it->Valid() && it->key().starts_with(rocksdb::Slice(disk_detail::kEntryPrefix.data(), 2)));
  };
  if (*recorded && !holds_entries()) {
    log->info("cache directory recorded another origin but holds no entries; taking it over tier=disk dir={} was={} "
              "now={}",
              opts_.dir, **recorded, opts_.owner);
  } else if (!*recorded) {
    if (std::filesystem::exists(opts_.dir + "/index", ec))
      log->warn("cache directory records no origin (written by an older build); adopting it tier=disk dir={} "
                "origin={}",
                opts_.dir, opts_.owner);
  } else if (!opts_.reset_foreign) {
    return Status::config_error(
        "cache_dir", fmt::format("cache directory {} holds the cache of origin {}, not of {}: refusing to serve one "
                                 "origin's files as another's. Use another cache_dir, or mount with "
                                 "cache_mismatch=reset to empty it",
                                 opts_.dir, **recorded, opts_.owner));
  } else {
    // Only what the tier itself keeps there; open() has already refused a
    // directory holding anything else.
    for (const char* part : {"index", "index.corrupt", "index.rebuild", "data", "tmp"}) {
      std::filesystem::remove_all(opts_.dir + "/" + part, ec);
      if (ec)
        return Status::tier_error("disk", "open", fmt::format("cannot empty {}/{}: {}", opts_.dir, part, ec.message()));
    }
    recovery_.reset_for_owner = true;
    log->warn("emptied the cache directory: it held another origin's cache tier=disk dir={} was={} now={}",
              opts_.dir, **recorded, opts_.owner);
  }
  return disk_detail::write_owner(opts_.dir, opts_.owner).with_tier("disk", "open");
}

Status DiskStore::recover() {
  auto t0 = std::chrono::steady_clock::now();
  auto log = util::logger("tier.disk");
  if (auto s = make_dir(data_dir_); !s) return s;
  if (auto s = make_dir(tmp_dir_); !s) return s;
  for (unsigned i = 0; i < 256; ++i)
    if (auto s = make_dir(data_dir_ + "/" + disk_detail::data_subdir_name(i)); !s) return s;

  // 1. Orphan temporaries: nothing references them by construction.
  auto s = for_each_entry(tmp_dir_, [&](std::string_view name, int dfd) {
    if (::unlinkat(dfd, std::string(name).c_str(), 0) == 0) ++recovery_.orphan_temps_removed;
  });
  if (!s) return s;

  // 2. The index (3, 4, 5 in load_index). A rebuild that crashed between
  // its two renames left the fresh index under its temporary name; one that
  // crashed earlier left a partial copy beside the intact index.
  {
    const std::string index_dir = opts_.dir + "/index", fresh = opts_.dir + "/index.rebuild";
    std::error_code ec;
    if (std::filesystem::exists(fresh, ec)) {
      if (!std::filesystem::exists(index_dir, ec)) std::filesystem::rename(fresh, index_dir, ec);
      else std::filesystem::remove_all(fresh, ec);
      if (ec) return Status::tier_error("disk", "open", fmt::format("cannot clean up {}: {}", fresh, ec.message()));
    }
  }
  if (auto st = open_index(true, &recovery_); !st) return st;
  auto index_start = std::chrono::steady_clock::now();
  s = load_index(&recovery_);
  if (s.is(StatusCode::kCorruption)) {
    note_index(rocksdb::Status::Corruption(s.message()));
    s = rebuild_locked(s.message(), &recovery_);
  }
  if (!s) return s;
  index_damaged_.store(false);
  auto index_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - index_start).count();
  recovery_.open_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log->info("opened disk tier tier=disk dir={} entries={} used_bytes={} capacity={} orphan_temps={} "
            "dropped_entries={} unreferenced_files={} evicted={} index_rebuilt={} open_ms={:.1f} index_ms={:.1f}",
            opts_.dir, recovery_.entries, used_mirror_.load(), opts_.capacity_bytes,
            recovery_.orphan_temps_removed, recovery_.dangling_entries_dropped,
            recovery_.unreferenced_files_removed, recovery_.evicted_to_capacity, recovery_.index_rebuilt,
            recovery_.open_seconds * 1000, index_ms);
  return Status::ok();
}

Status DiskStore::open_index(bool quarantine, DiskRecoveryReport* report) {
  auto log = util::logger("tier.disk");
  const std::string index_dir = opts_.dir + "/index";
  if (auto s = make_dir(index_dir); !s) return s;
  rocksdb::DB* raw = nullptr;
  auto rs = rocksdb::DB::Open(disk_detail::index_options(opts_.capacity_bytes), index_dir, &raw);
  if (rs.IsCorruption() && quarantine) {
    // Nothing of it can be read without opening it: keep it for a
    // post-mortem and start empty (load_index then deletes the data files).
    log->warn("cannot open a damaged index; moved it aside, the disk tier starts empty tier=disk dir={} "
              "quarantine={} error={}",
              opts_.dir, opts_.dir + "/index.corrupt", rs.ToString());
    if (auto s = quarantine_index(); !s) return s;
    if (auto s = make_dir(index_dir); !s) return s;
    index_rebuilds_.fetch_add(1, std::memory_order_relaxed);
    report->index_rebuilt = true;
    rs = rocksdb::DB::Open(disk_detail::index_options(opts_.capacity_bytes), index_dir, &raw);
  }
  if (!rs.ok())
    return Status::tier_error("disk", "open", fmt::format("cannot open index {}: {}", index_dir, rs.ToString()));
  db_.reset(raw);
  if (uint64_t fixed = make_files_private(index_dir); fixed > 0)
    log->info("made index files owner-only (0600) tier=disk dir={} files={}", opts_.dir, fixed);
  return Status::ok();
}

Status DiskStore::quarantine_index() {
  const std::string index_dir = opts_.dir + "/index", q = opts_.dir + "/index.corrupt";
  std::error_code ec;
  std::filesystem::remove_all(q, ec);
  if (ec) return Status::tier_error("disk", "rebuild", fmt::format("cannot remove {}: {}", q, ec.message()));
  if (::rename(index_dir.c_str(), q.c_str()) != 0 && errno != ENOENT)
    return disk_detail::errno_status("rename " + index_dir + " to " + q, errno).with_tier("disk", "rebuild");
  return Status::ok();
}

Status DiskStore::load_index(DiskRecoveryReport* report) {
  auto log = util::logger("tier.disk");
  // 3 (in the background while the index is read). What is in
  // DIR/data: file id -> size. Two threads, each half of the fan-out: the
  // fstatat per file dominates open time with many file-backed entries.
  struct ScanPart {
    std::vector<std::pair<uint64_t, uint64_t>> files;
    uint64_t removed = 0;
    uint64_t modes_fixed = 0;
    Status status;
  };
  std::array<ScanPart, 2> parts;
  auto scan = [this](unsigned from, unsigned to, ScanPart* out) {
    for (unsigned i = from; i < to && out->status; ++i) {
      std::string sub = data_dir_ + "/" + disk_detail::data_subdir_name(i);
      out->status = for_each_entry(sub, [&](std::string_view name, int dfd) {
        std::string n(name);
        auto id = disk_detail::parse_file_name(name);
        struct stat st {};
        if (!id || (*id & 0xff) != i || ::fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode)) {
          if (::unlinkat(dfd, n.c_str(), 0) == 0) ++out->removed;
          return;
        }
        if ((st.st_mode & 07777) != disk_detail::kPrivateFileMode &&
            ::fchmodat(dfd, n.c_str(), disk_detail::kPrivateFileMode, 0) == 0)
          ++out->modes_fixed;
        out->files.emplace_back(*id, static_cast<uint64_t>(st.st_size));
      });
    }
  };
  std::array<std::optional<std::jthread>, 2> scanners;
  for (unsigned k = 0; k < 2; ++k) {
    try {
      scanners[k].emplace(scan, k * 128u, (k + 1) * 128u, &parts[k]);
    } catch (const std::system_error&) {
      scan(k * 128u, (k + 1) * 128u, &parts[k]);  // no thread available: scan inline
    }
  }
  struct Joiner {  // joins on every exit path, before `parts` goes away
    std::array<std::optional<std::jthread>, 2>* t;
    ~Joiner() {
      for (auto& x : *t) x.reset();
    }
  } joiner{&scanners};

  uint64_t modes_fixed = 0;
  std::string tag;
  auto rs = db_->Get(rocksdb::ReadOptions(), disk_detail::kFormatKey, &tag);
  if (rs.IsCorruption()) return Status::corruption("reading the format version: " + rs.ToString());
  if (rs.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    if (it->Valid())
      return Status::tier_error("disk", "open",
                                fmt::format("cache directory {} holds an index without a format version; "
                                            "it was not written by a compatible daramjwee-fs. Move it "
                                            "away or delete it (it is only a cache)",
                                            opts_.dir));
    rs = db_->Put(disk_detail::write_options(true), disk_detail::kFormatKey,
                  disk_detail::format_tag(disk_detail::kFormatVersion));
    if (!rs.ok()) return disk_detail::from_rocks(rs, "open");
  } else if (!rs.ok()) {
    return disk_detail::from_rocks(rs, "open");
  } else {
    auto v = disk_detail::parse_format_tag(tag);
    if (!v || *v != disk_detail::kFormatVersion)
      return Status::tier_error(
          "disk", "open",
          fmt::format("cache directory {} was written by disk format version {}, this build reads "
                      "version {}; delete the directory (it is only a cache) or use a matching build",
                      opts_.dir, v ? std::to_string(*v) : "'" + tag + "'", disk_detail::kFormatVersion));
  }

  // 4. Records, merge-joined with recency records (both ordered by key).
  std::vector<Loaded> loaded;
  rocksdb::WriteBatch repairs;
  uint64_t max_seq = 0, max_id = 0;
  auto drop = [&](std::string_view key, const char* why) {
    ++report->dangling_entries_dropped;
    log->warn("dropped index entry at open tier=disk key={} reason={}", key, why);
    ignore_error(disk_detail::from_rocks(repairs.Delete(disk_detail::entry_key(key)), "open"));
    ignore_error(disk_detail::from_rocks(repairs.Delete(disk_detail::data_key(key)), "open"));
    ignore_error(disk_detail::from_rocks(repairs.Delete(disk_detail::access_key(key)), "open"));
  };
  {
    std::unique_ptr<rocksdb::Iterator> ait(db_->NewIterator(rocksdb::ReadOptions()));
    ait->Seek(disk_detail::kAccessPrefix);
    auto a_valid = [&] { return ait->Valid() && ait->key().starts_with(rocksdb::Slice(disk_detail::kAccessPrefix.data(), 2)); };
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(disk_detail::kEntryPrefix);
         it->Valid() && it->key().starts_with(rocksdb::Slice(disk_detail::kEntryPrefix.data(), 2)); it->Next()) {
      std::string_view key(it->key().data() + 2, it->key().size() - 2);
      // Recency records of keys before this one have no entry: stray.
      while (a_valid() && std::string_view(ait->key().data() + 2, ait->key().size() - 2) < key) {
        ignore_error(disk_detail::from_rocks(repairs.Delete(ait->key()), "open"));
        ait->Next();
      }
      std::optional<disk_detail::AccessRecord> access;
      if (a_valid() && std::string_view(ait->key().data() + 2, ait->key().size() - 2) == key) {
        access = disk_detail::decode_access(std::string_view(ait->value().data(), ait->value().size()));
        ait->Next();
      }
      auto rec = disk_detail::decode_record(std::string_view(it->value().data(), it->value().size()));
      if (!rec) {
        drop(key, "unreadable record");
        continue;
      }
      uint64_t seq = rec->commit_seq;
      int64_t acc_ns = 0;
      if (access && access->seq > seq) {
        seq = access->seq;
        acc_ns = access->wall_ns;
      }
      max_seq = std::max(max_seq, seq);
      max_id = std::max(max_id, rec->file_id);
      loaded.push_back(Loaded{std::string(key), disk_detail::entry_footprint(key, *rec, it->value().size()),
                              seq, acc_ns, rec->file_id, rec->md.stored_size});
    }
    if (it->status().IsCorruption() || ait->status().IsCorruption())
      return Status::corruption(fmt::format("reading the index: {}", (it->status().IsCorruption() ? it : ait)->status().ToString()));
    if (!it->status().ok()) return disk_detail::from_rocks(it->status(), "open");
    for (; a_valid(); ait->Next()) ignore_error(disk_detail::from_rocks(repairs.Delete(ait->key()), "open"));
  }

  // 5. Join records with the scan: an entry needs its whole data file; a
  // file needs an entry.
  for (auto& t : scanners) t.reset();
  std::unordered_map<uint64_t, uint64_t> files;
  files.reserve(parts[0].files.size() + parts[1].files.size());
  for (auto& p : parts) {
    if (!p.status) return p.status;
    report->unreferenced_files_removed += p.removed;
    modes_fixed += p.modes_fixed;
    for (auto [id, size] : p.files) {
      files.emplace(id, size);
      max_id = std::max(max_id, id);
    }
  }
  std::erase_if(loaded, [&](const Loaded& e) {
    if (e.file_id == 0) return false;
    auto f = files.find(e.file_id);
    bool ok = f != files.end() && f->second == e.stored_size;
    if (f != files.end()) {
      files.erase(f);  // referenced; deleted right here if it is not whole
      if (!ok && ::unlink(data_path(e.file_id).c_str()) == 0) ++report->unreferenced_files_removed;
    }
    if (!ok) drop(e.key, "data file missing or short");
    return !ok;
  });
  if (repairs.Count() > 0) {
    rs = db_->Write(disk_detail::write_options(true), &repairs);
    if (!rs.ok()) return disk_detail::from_rocks(rs, "open");
  }
  for (auto& [id, size] : files) {
    (void)size;
    if (::unlink(data_path(id).c_str()) == 0) ++report->unreferenced_files_removed;
  }

  // 5. Rebuild the policy oldest access first, so its order is the one
  // persisted.
  std::sort(loaded.begin(), loaded.end(), [](const Loaded& a, const Loaded& b) { return a.seq < b.seq; });
  {
    std::lock_guard l(mu_);
    // Empty at open; after a rebuild the old view goes (readers keep their
    // open descriptors).
    entries_.clear();
    dirty_keys_.clear();
    used_bytes_ = 0;
    file_bytes_ = 0;
    policy_ = make_eviction_policy(opts_.policy, opts_.capacity_bytes);
    entries_.reserve(loaded.size());
    for (auto& e : loaded) {
      policy_->add(e.key, e.footprint);
      const uint64_t file_bytes = disk_detail::file_charge(e.file_id, e.stored_size);
      entries_.emplace(std::move(e.key), MemEntry{e.footprint, file_bytes, ++gen_counter_, e.seq, e.access_ns, false});
      used_bytes_ += e.footprint;
      file_bytes_ += file_bytes;
    }
    entries_count_.store(entries_.size());
  }
  measure_index();
  // Never backwards: after a rebuild, sinks in flight hold ids past what the
  // index and data/ show.
  seq_.store(std::max(seq_.load(), max_seq));
  next_file_id_.store(std::max(next_file_id_.load(), max_id + 1));

  if (modes_fixed > 0)
    log->info("made cache files owner-only (0600) tier=disk dir={} files={}", opts_.dir, modes_fixed);

  uint64_t before = evictions_.load();
  evict_to_capacity();
  report->evicted_to_capacity += evictions_.load() - before;
  report->entries = entries_count_.load();
  return Status::ok();
}

}  // namespace daramjwee::tiers
