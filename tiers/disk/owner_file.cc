#include "tiers/disk/owner_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <span>

#include <fmt/format.h>

#include "tiers/disk/file_util.h"

namespace daramjwee::tiers::disk_detail {
namespace {
constexpr std::string_view kHeader = "daramjwee-fs cache of\n";
constexpr size_t kMaxOwnerFile = 64 << 10;  // an URL; anything bigger is not ours
}  // namespace

Result<std::optional<std::string>> read_owner(const std::string& dir) {
  const std::string path = dir + "/" + kOwnerFile;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    return errno_status("open " + path, errno);
  }
  std::string text(kMaxOwnerFile + 1, '\0');
  auto n = pread_full(fd.get(), std::as_writable_bytes(std::span(text.data(), text.size())), 0);
  if (!n) return n.error();
  text.resize(*n);
  if (text.size() > kMaxOwnerFile || !text.starts_with(kHeader) || !text.ends_with('\n') ||
      text.size() == kHeader.size() + 1 || text.find('\n', kHeader.size()) != text.size() - 1)
    return Status::corruption(fmt::format("{} is not a daramjwee-fs owner file", path));
  return std::optional<std::string>(text.substr(kHeader.size(), text.size() - kHeader.size() - 1));
}

Status write_owner(const std::string& dir, const std::string& owner) {
  const std::string path = dir + "/" + kOwnerFile, tmp = path + ".tmp";
  const std::string text = std::string(kHeader) + owner + "\n";
  {
    UniqueFd fd(open_private(tmp, O_WRONLY | O_TRUNC));
    if (!fd.valid()) return errno_status("create " + tmp, errno);
    if (auto s = write_all(fd.get(), std::as_bytes(std::span(text.data(), text.size())), tmp); !s) return s;
    if (::fsync(fd.get()) != 0) return errno_status("fsync " + tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errno_status("rename " + tmp, err);
  }
  return fsync_dir(dir);
}

}  // namespace daramjwee::tiers::disk_detail
