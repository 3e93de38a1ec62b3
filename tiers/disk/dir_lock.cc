#include "tiers/disk/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include <fmt/format.h>

namespace daramjwee::tiers::disk_detail {

Result<DirLock> DirLock::acquire(const std::string& dir) {
  std::string path = dir + "/LOCK";
  UniqueFd fd(open_private(path, O_RDWR));
  if (!fd.valid()) return errno_status("create lock file " + path, errno);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return errno_status("flock " + path, errno);
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
    std::string_view pid = n > 0 ? std::string_view(buf, static_cast<size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.remove_suffix(1);
    return Status::tier_error(
        "disk", "open",
        fmt::format("cache directory {} is in use by another running process (pid {}); "
                    "each daemon needs its own disk-tier directory",
                    dir, pid.empty() ? "unknown" : pid));
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock is held; the PID text is informative only.
  }
  return DirLock(std::move(fd));
}

}  // namespace daramjwee::tiers::disk_detail
