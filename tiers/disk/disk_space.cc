// DiskStore: what the tier occupies and the filesystem's free space (see
// "Capacity" and "Free space" in disk_store.h).
//
// Why measure the index: the per-entry estimate (key, record, overhead,
// inline bytes) is what the index holds once compacted. On disk RocksDB
// keeps more: the WAL beside the memtable, tables not yet compacted
// (overwritten and deleted entries still in them), LOG files. A soak on the
// estimate alone overshot capacity by about 6%; a small tier, much more.
// The charge is the larger of the estimate and the last measurement (an
// evicted inline entry leaves a tombstone that shrinks the files only at
// the next compaction: until then evicting data files has to make up for
// it), plus room for compactions and for what RocksDB may add before the
// next measurement.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "tiers/disk/disk_store.h"
#include "tiers/disk/file_util.h"
#include "util/log.h"

namespace daramjwee::tiers {
namespace {

// Bytes allocated to the regular files directly under `dir` (0 if absent).
uint64_t allocated_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  uint64_t n = 0;
  while (struct dirent* e = ::readdir(d)) {
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      n += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  ::closedir(d);
  return n;
}

uint64_t allocated(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

}  // namespace

uint64_t DiskStore::charged_locked() const {
  const uint64_t estimate = used_bytes_ - file_bytes_;
  // The reserve covers the files every index has; beyond them, half the
  // measured index again: a compaction writes its output before it deletes
  // its inputs, and level 0 to 1 rewrites a good part of a small index.
  const uint64_t measured = index_measured_ > index_fixed_ ? index_measured_ - index_fixed_ : 0;
  return file_bytes_ + std::max(estimate, measured) + measured / 2 + index_reserve_ + layout_bytes_;
}

void DiskStore::measure_index() {
  commits_since_measure_.store(0, std::memory_order_relaxed);
  // The quarantined copy takes room too until the next rebuild replaces it.
  const uint64_t on_disk = allocated_files(opts_.dir + "/index") + allocated_files(opts_.dir + "/index.corrupt") +
                           allocated(opts_.dir + "/LOCK") + allocated(opts_.dir + "/OWNER");
  std::lock_guard l(mu_);
  if (layout_bytes_ == 0) {
    // Directories, once: 256 fan-out dirs are about 1 MiB on ext4.
    uint64_t dirs = allocated(opts_.dir) + allocated(data_dir_) + allocated(tmp_dir_) + allocated(opts_.dir + "/index");
    for (unsigned i = 0; i < 256; ++i) dirs += allocated(data_dir_ + "/" + disk_detail::data_subdir_name(i));
    layout_bytes_ = dirs;
  }
  index_measured_ = on_disk;
  used_mirror_.store(charged_locked(), std::memory_order_relaxed);
}

Status DiskStore::ensure_space(uint64_t bytes) {
  if (opts_.free_min_bytes == 0) return Status::ok();
  auto free_now = [&]() -> std::optional<uint64_t> {
    struct statvfs v {};
    if (::statvfs(opts_.dir.c_str(), &v) != 0) return std::nullopt;
    return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  };
  const uint64_t need = bytes + opts_.free_min_bytes;
  auto free_bytes = free_now();
  if (!free_bytes || *free_bytes >= need) return Status::ok();  // statvfs failing is no reason to refuse
  // Evicting an entry frees about its charge (a file held open by a reader
  // is freed when the reader closes it).
  uint64_t charged;
  {
    std::lock_guard l(mu_);
    charged = charged_locked();
  }
  const uint64_t deficit = need - *free_bytes;
  evict_until(charged > deficit ? charged - deficit : 0);
  free_bytes = free_now();
  if (!free_bytes || *free_bytes >= need) return Status::ok();
  auto s = Status::exhausted(fmt::format(
                                 "{}: no space left on device for the disk tier: {} bytes free, the tier keeps "
                                 "free_min_bytes={} free and needs {} more",
                                 opts_.dir, *free_bytes, opts_.free_min_bytes, bytes))
               .with_tier("disk", "commit");
  return s;
}

void DiskStore::note_full(const Status& why) {
  full_refusals_.fetch_add(1, std::memory_order_relaxed);
  if (full_.exchange(true, std::memory_order_relaxed)) return;
  struct statvfs v {};
  const uint64_t free_bytes =
      ::statvfs(opts_.dir.c_str(), &v) == 0 ? static_cast<uint64_t>(v.f_bavail) * v.f_frsize : 0;
  util::logger("tier.disk")->warn(
      "the disk tier's filesystem is full: fills are refused (counted in full_refusals) until there is room "
      "again; reads are not affected tier=disk dir={} free_bytes={} free_min_bytes={} error={}",
      opts_.dir, free_bytes, opts_.free_min_bytes, why.message());
}

void DiskStore::note_space_ok() {
  if (!full_.load(std::memory_order_relaxed)) return;
  // Hysteresis: next to a full filesystem a small fill often squeezes in
  // between refused ones (seen: 17 warnings in 0.1 s with no floor). Only
  // real room again — the floor plus 16 MiB (an eighth of a smaller
  // filesystem) — ends the episode, so it is reported once.
  struct statvfs v {};
  if (::statvfs(opts_.dir.c_str(), &v) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
    const uint64_t total = static_cast<uint64_t>(v.f_blocks) * v.f_frsize;
    const uint64_t margin = std::min<uint64_t>(16ull << 20, total / 8);
    if (free_bytes < opts_.free_min_bytes + margin) return;
  }
  if (!full_.exchange(false, std::memory_order_relaxed)) return;
  util::logger("tier.disk")->info("free space is back on the disk tier's filesystem tier=disk dir={} refused={}",
                                  opts_.dir, full_refusals_.load(std::memory_order_relaxed));
}

}  // namespace daramjwee::tiers
