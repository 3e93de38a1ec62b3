// DirLock: exclusive ownership of a disk-tier directory by one process.
// flock(LOCK_EX|LOCK_NB) on DIR/LOCK, which then holds the owner's PID so a
// second daemon (or a second DiskStore in the same process: flock is per
// open file description) is refused with a message naming the holder. The
// kernel drops the lock when the holder dies, so kill -9 never leaves a
// stale lock behind; the PID text is only informative.
// Thread-safety: a plain owning value.
#pragma once

#include <string>

#include "core/result.h"
#include "tiers/disk/file_util.h"

namespace daramjwee::tiers::disk_detail {

class DirLock {
 public:
  // Errors: kTierError ("... is in use by another running process (pid N)"),
  // kIoError when the lock file cannot be created.
  static Result<DirLock> acquire(const std::string& dir);

  DirLock(DirLock&&) = default;
  DirLock& operator=(DirLock&&) = default;

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

}  // namespace daramjwee::tiers::disk_detail
