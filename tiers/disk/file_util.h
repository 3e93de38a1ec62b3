// Small POSIX helpers for the disk tier: an owning fd, owner-only creation
// of files and directories, full reads and writes that retry on EINTR and
// short transfers, directory fsync, and the mapping from errno to Status
// (ENOSPC/EDQUOT become kResourceExhausted so callers can tell "disk full"
// from a failing disk).
// Thread-safety: free functions; a UniqueFd is a plain owning value.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "core/result.h"
#include "core/status.h"

namespace daramjwee::tiers::disk_detail {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// "what: strerror" as kIoError, or kResourceExhausted for ENOSPC/EDQUOT
// ("what: no space left on device").
Status errno_status(const std::string& what, int err);

// Whether `s` says the filesystem is full: kResourceExhausted saying "no
// space left on device" (errno_status, from_rocks, the free-space floor),
// as opposed to an object too large for the tier.
bool is_no_space(const Status& s);

// The modes of everything the tier creates, whatever the process umask.
inline constexpr unsigned kPrivateDirMode = 0700;
inline constexpr unsigned kPrivateFileMode = 0600;

// Creates the directory `path` (its parent must exist) with mode 0700, or,
// when it already exists as a directory, sets its mode to 0700 (so a cache
// an older build made readable to everyone is repaired at open). Errors:
// kIoError (kResourceExhausted on ENOSPC/EDQUOT), also when `path` exists and
// is not a directory.
Status make_private_dir(const std::string& path);

// open(path, flags | O_CREAT | O_CLOEXEC) with mode 0600 whatever the umask
// (an fchmod follows the open, since the umask may have cleared owner bits).
// Returns the descriptor, or -1 with errno set as open(2) does.
int open_private(const std::string& path, int flags);

// Writes all of `data` at the current offset.
Status write_all(int fd, std::span<const std::byte> data, const std::string& path);

// Reads up to out.size() bytes at `offset`; fewer only at end of file.
Result<size_t> pread_full(int fd, std::span<std::byte> out, uint64_t offset);

// Reads a file of `size` bytes from offset 0 into `buf` with O_DIRECT: the
// data goes from the device into `buf`, without a copy through the page cache
// and without keeping a second, cached copy of bytes the caller holds anyway.
// Requires nothing of buf, but only a page-aligned buf whose size is a
// multiple of 4096 and at least `size` can be read directly. Returns the
// bytes read (fewer than `size` only if the file is shorter); std::nullopt
// when it cannot read directly (buf unsuitable, or EINVAL: the file system
// has no direct I/O), and the caller then reads buffered; or the I/O error.
// The fd's status flags are restored before it returns.
Result<std::optional<size_t>> pread_direct(int fd, std::span<std::byte> buf, size_t size);

// Writes all of `data` at offset 0 of a new, empty file, with O_DIRECT when
// `data` is page-aligned and a multiple of 4096 bytes long: no copy into the
// page cache, and no dirty pages for writeback to find later. Otherwise, or
// where the file system refuses O_DIRECT (EINVAL), a buffered write_all.
// Returns whether the write was direct, or the I/O error. The fd's status
// flags are restored before it returns.
Result<bool> write_new_file(int fd, std::span<const std::byte> data, const std::string& path);

// fsync() on a directory, so a rename or create inside it is durable.
Status fsync_dir(const std::string& dir);

// Copies `length` bytes from in_fd (offset 0) to out_fd's current offset.
Status copy_fd(int in_fd, int out_fd, uint64_t length, const std::string& path);

}  // namespace daramjwee::tiers::disk_detail
