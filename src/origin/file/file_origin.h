// FileOrigin: an Origin over a local (or NFS) directory tree.
//
// Attributes come from lstat: regular files and directories are served;
// symbolic links, devices, FIFOs and sockets are left out of listings and
// answer kNotFound (so nothing outside the tree is reachable through a
// link). Every path is resolved beneath the root with openat2
// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel has it.
//
// Version tag: "<size>-<mtime ns>-<inode>" in hex. A read checks the tag
// when it opens the file, and re-checks it (fstat) after every pread: a file
// replaced, truncated or rewritten during a read of a pinned version fails
// with kChangedAtOrigin instead of yielding mixed bytes.
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include "core/origin.h"

namespace daramjwee::origin {

class FileOrigin final : public Origin {
 public:
  // Errors: kConfigError when `root` is not an accessible directory.
  static Result<std::shared_ptr<FileOrigin>> create(const std::string& root, size_t max_entries);
  ~FileOrigin() override;

  std::string describe() const override;
  Result<FileAttr> stat(std::string_view path) override;
  Result<std::vector<DirEntry>> list(std::string_view path) override;
  Result<std::unique_ptr<Reader>> read(std::string_view path, std::string_view etag,
                                       ByteRange range) override;
  Result<FileAttr> revalidate(std::string_view path, std::string_view etag) override;

  // The version tag of a stat result (exposed for tests).
  static std::string version_tag(const struct stat& st);

 private:
  FileOrigin(std::string root, int root_fd, size_t max_entries)
      : root_(std::move(root)), root_fd_(root_fd), max_entries_(max_entries) {}
  // Opens `path` beneath the root without following symlinks. -errno on error.
  int open_beneath(std::string_view path, int flags) const;

  const std::string root_;
  const int root_fd_;  // O_PATH directory fd, owned
  const size_t max_entries_;
};

}  // namespace daramjwee::origin
