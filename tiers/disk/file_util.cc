#include "tiers/disk/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace daramjwee::tiers::disk_detail {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status errno_status(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT)
    return Status::exhausted(fmt::format("{}: no space left on device", what));
  return Status::io_error(fmt::format("{}: {}", what, std::strerror(err)));
}

bool is_no_space(const Status& s) {
  return s.is(StatusCode::kResourceExhausted) && s.message().find("no space left on device") != std::string::npos;
}

Status make_private_dir(const std::string& path) {
  // mkdir's mode is filtered by the umask, so set it explicitly either way.
  if (::mkdir(path.c_str(), kPrivateDirMode) != 0 && errno != EEXIST) return errno_status("mkdir " + path, errno);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_status("stat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Status::io_error(fmt::format("{} exists and is not a directory", path));
  if ((st.st_mode & 07777) != kPrivateDirMode && ::chmod(path.c_str(), kPrivateDirMode) != 0)
    return errno_status("chmod 0700 " + path, errno);
  return Status::ok();
}

int open_private(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CREAT | O_CLOEXEC, kPrivateFileMode);
  if (fd >= 0 && ::fchmod(fd, kPrivateFileMode) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

Status write_all(int fd, std::span<const std::byte> data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write " + path, errno);
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return Status::ok();
}

Result<bool> write_new_file(int fd, std::span<const std::byte> data, const std::string& path) {
  constexpr size_t kAlign = 4096;
  if (data.empty() || reinterpret_cast<uintptr_t>(data.data()) % kAlign != 0 || data.size() % kAlign != 0) {
    if (auto s = write_all(fd, data, path); !s) return s;
    return false;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno_status("fcntl(F_GETFL) " + path, errno);
  bool direct = ::fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
  size_t done = 0;
  while (direct && done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::fcntl(fd, F_SETFL, flags);
      if (err != EINVAL || done != 0) return errno_status("write (O_DIRECT) " + path, err);
      direct = false;  // refused: the buffered write below
      break;
    }
    done += static_cast<size_t>(n);
    if (done % kAlign != 0) break;  // finish a short, unaligned transfer buffered
  }
  if (direct) ::fcntl(fd, F_SETFL, flags);
  if (done < data.size()) {
    if (::lseek(fd, static_cast<off_t>(done), SEEK_SET) < 0) return errno_status("lseek " + path, errno);
    if (auto s = write_all(fd, data.subspan(done), path); !s) return s;
  }
  return direct;
}

Result<size_t> pread_full(int fd, std::span<std::byte> out, uint64_t offset) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("pread", errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<std::optional<size_t>> pread_direct(int fd, std::span<std::byte> buf, size_t size) {
  constexpr size_t kAlign = 4096;  // covers 512- and 4096-byte logical blocks
  if (reinterpret_cast<uintptr_t>(buf.data()) % kAlign != 0 || buf.size() % kAlign != 0 || buf.size() < size)
    return std::optional<size_t>();
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno_status("fcntl(F_GETFL)", errno);
  if (::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) return std::optional<size_t>();
  struct Restore {
    int fd, flags;
    ~Restore() { ::fcntl(fd, F_SETFL, flags); }
  } restore{fd, flags};
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && done == 0) return std::optional<size_t>();
      return errno_status("pread (O_DIRECT)", errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
    if (done % kAlign != 0) break;  // a short, unaligned transfer ends at end of file
  }
  return std::optional<size_t>(std::min(done, size));
}

Status fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return errno_status("open dir " + dir, errno);
  if (::fsync(fd.get()) != 0) return errno_status("fsync dir " + dir, errno);
  return Status::ok();
}

Status copy_fd(int in_fd, int out_fd, uint64_t length, const std::string& path) {
  loff_t in_off = 0;
  while (length > 0) {
    ssize_t n = ::copy_file_range(in_fd, &in_off, out_fd, nullptr, length, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
      break;  // not supported here: fall back to read/write below
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("copy to " + path, errno);
    }
    if (n == 0) return Status::io_error("copy to " + path + ": source shorter than expected");
    length -= static_cast<uint64_t>(n);
  }
  std::array<std::byte, 1 << 16> buf;
  while (length > 0) {
    auto r = pread_full(in_fd, std::span(buf.data(), std::min<uint64_t>(buf.size(), length)),
                        static_cast<uint64_t>(in_off));
    if (!r) return r.error();
    if (*r == 0) return Status::io_error("copy to " + path + ": source shorter than expected");
    if (auto s = write_all(out_fd, std::span(buf.data(), *r), path); !s) return s;
    in_off += static_cast<loff_t>(*r);
    length -= *r;
  }
  return Status::ok();
}

}  // namespace daramjwee::tiers::disk_detail
