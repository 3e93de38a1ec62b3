#include "origin/file/file_origin.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "origin/listing/listing.h"
#include "util/log.h"

namespace daramjwee::origin {
namespace {

std::shared_ptr<spdlog::logger> log() {
  static auto l = util::logger("origin.file");
  return l;
}

bool valid_path(std::string_view path) {
  if (path.empty()) return true;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    if (!valid_name(path.substr(start, slash == path.npos ? path.npos : slash - start))) return false;
    if (slash == path.npos) return true;
    start = slash + 1;
  }
}

Status errno_status(int err, std::string_view what, std::string_view path) {
  std::string msg = fmt::format("{} {}: {}", what, path, std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:  // a symlink on the way: not served
    case EXDEV:  // resolution would leave the root
      return Status::not_found(msg);
    case EACCES:
    case EPERM:
      return Status::permission_denied(msg);
    default:
      return Status::io_error(msg, err == EINTR || err == EAGAIN || err == ESTALE);
  }
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

FileAttr attr_of(const struct stat& st) {
  FileAttr a;
  a.type = S_ISDIR(st.st_mode) ? FileType::kDirectory : FileType::kFile;
  a.size = S_ISDIR(st.st_mode) ? 0 : static_cast<uint64_t>(st.st_size);
  a.size_exact = true;
  a.mtime_ns = mtime_ns(st);
  a.mode = st.st_mode & 07777;
  if (!S_ISDIR(st.st_mode)) a.etag = FileOrigin::version_tag(st);
  return a;
}

// Reads a pinned version with pread, re-checking the version after each read.
class FileReader final : public Reader {
 public:
  FileReader(int fd, std::string tag, uint64_t pos, uint64_t remaining, std::string path)
      : fd_(fd), tag_(std::move(tag)), pos_(pos), remaining_(remaining), path_(std::move(path)) {}
  ~FileReader() override { ::close(fd_); }

  Result<size_t> read(std::span<std::byte> out) override {
    if (!error_.is_ok()) return error_;
    size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), remaining_));
    if (want == 0) return size_t{0};
    ssize_t n;
    do n = ::pread(fd_, out.data(), want, static_cast<off_t>(pos_));
    while (n < 0 && errno == EINTR);
    if (n < 0) return fail(errno_status(errno, "pread", path_));
    // Verify after reading: bytes read while the file changed are dropped.
    if (Status s = check(); !s.is_ok()) return fail(s);
    if (n == 0) return fail(Status::changed_at_origin("file shrank during read: " + path_));
    pos_ += static_cast<uint64_t>(n);
    remaining_ -= static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }

  Result<uint64_t> skip(uint64_t n) override {
    if (!error_.is_ok()) return error_;
    uint64_t k = std::min(n, remaining_);
    pos_ += k;
    remaining_ -= k;
    return k;
  }

  std::optional<uint64_t> size_hint() const override { return remaining_; }

 private:
  Status check() {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return errno_status(errno, "fstat", path_);
    if (FileOrigin::version_tag(st) != tag_)
      return Status::changed_at_origin("file changed during read: " + path_);
    return Status::ok();
  }
  Status fail(Status s) {
    error_ = s;
    return s;
  }

  const int fd_;
  const std::string tag_;
  uint64_t pos_, remaining_;
  const std::string path_;
  Status error_;
};

}  // namespace

std::string FileOrigin::version_tag(const struct stat& st) {
  return fmt::format("{:x}-{:x}-{:x}", static_cast<uint64_t>(st.st_size),
                     static_cast<uint64_t>(mtime_ns(st)), static_cast<uint64_t>(st.st_ino));
}

Result<std::shared_ptr<FileOrigin>> FileOrigin::create(const std::string& root, size_t max_entries) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return Status::config_error("origin.url", fmt::format("{}: {}", root, std::strerror(errno)));
  return std::shared_ptr<FileOrigin>(new FileOrigin(root, fd, max_entries));
}

FileOrigin::~FileOrigin() { ::close(root_fd_); }

std::string FileOrigin::describe() const { return "file://" + root_; }

int FileOrigin::open_beneath(std::string_view path, int flags) const {
  std::string p = path.empty() ? std::string(".") : std::string(path);
  static std::atomic<bool> no_openat2{false};
  if (!no_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd;
    do fd = ::syscall(SYS_openat2, root_fd_, p.c_str(), &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != ENOSYS && errno != EPERM) return -errno;  // EPERM: seccomp filters
    no_openat2.store(true, std::memory_order_relaxed);
  }
  // Older kernels: names were validated (no ".."), the last component is
  // not followed; a symlinked directory on the way is (documented).
  int fd = ::openat(root_fd_, p.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
  return fd >= 0 ? fd : -errno;
}

Result<FileAttr> FileOrigin::stat(std::string_view path) {
  if (!valid_path(path)) return Status::invalid_argument("invalid path");
  int fd = open_beneath(path, O_PATH);
  if (fd < 0) return errno_status(-fd, "open", path);
  struct stat st;
  int rc = ::fstat(fd, &st);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status(err, "fstat", path);
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    return Status::not_found(fmt::format("not a regular file or directory: {}", path));
  return attr_of(st);
}

Result<FileAttr> FileOrigin::revalidate(std::string_view path, std::string_view etag) {
  auto a = stat(path);
  if (!a) return a;
  if (!etag.empty() && a->etag == etag) return Status::not_modified();
  return a;
}

Result<std::vector<DirEntry>> FileOrigin::list(std::string_view path) {
  if (!valid_path(path)) return Status::invalid_argument("invalid path");
  int fd = open_beneath(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return errno_status(-fd, "opendir", path);
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    int err = errno;
    ::close(fd);
    return errno_status(err, "fdopendir", path);
  }
  std::vector<DirEntry> out;
  size_t skipped = 0;
  Status status;
  for (;;) {
    errno = 0;
    struct dirent* de = ::readdir(dir);
    if (!de) {
      if (errno != 0) status = errno_status(errno, "readdir", path);
      break;
    }
    std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    if (!valid_name(name)) {
      ++skipped;
      continue;
    }
    struct stat st;
    if (::fstatat(::dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced away
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;  // links, devices: not served
    if (out.size() >= max_entries_) {
      status = Status::exhausted(fmt::format("listing of {} has more than {} entries", path, max_entries_));
      break;
    }
    out.push_back(DirEntry{std::string(name), attr_of(st)});
  }
  ::closedir(dir);
  if (skipped) log()->warn("skip invalid names dir={} count={}", path, skipped);
  if (!status.is_ok()) return status;
  return out;
}

Result<std::unique_ptr<Reader>> FileOrigin::read(std::string_view path, std::string_view etag,
                                                 ByteRange range) {
  if (!valid_path(path) || path.empty()) return Status::invalid_argument("invalid path");
  int fd = open_beneath(path, O_RDONLY);
  if (fd < 0) return errno_status(-fd, "open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return errno_status(err, "fstat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::not_found(fmt::format("not a regular file: {}", path));
  }
  std::string tag = version_tag(st);
  if (!etag.empty() && etag != tag) {
    ::close(fd);
    return Status::changed_at_origin(fmt::format("{}: version {} is now {}", path, etag, tag));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t start = std::min(range.offset, size);
  uint64_t len = size - start;
  if (range.length) len = std::min(len, *range.length);
  return std::unique_ptr<Reader>(new FileReader(fd, std::move(tag), start, len, std::string(path)));
}

}  // namespace daramjwee::origin
