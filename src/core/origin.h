// Origin: a hierarchical, read-only source of files — what the filesystem
// needs beyond a Fetcher: attributes of a path, the listing of a directory,
// and a byte range of a pinned version. HTTP(S), S3 and file:// implement it
// under src/origin/; the filesystem sees only this interface.
//
// Paths are relative to the origin's root, '/'-separated, without a leading
// or trailing '/'; "" is the root. Every name is already validated (no "",
// ".", "..", '/', NUL; at most 255 bytes): implementations drop bad names
// from listings with a warning, so nothing from the origin escapes the mount.
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/stream.h"

namespace daramjwee {

enum class FileType : uint8_t { kFile, kDirectory };

struct FileAttr {
  FileType type = FileType::kFile;
  // Size in bytes; for HTTP listings that round sizes ("1.2M") size_exact is
  // false until a HEAD fills it.
  uint64_t size = 0;
  bool size_exact = true;
  int64_t mtime_ns = 0;  // 0 = unknown
  std::string etag;      // version tag; empty = unknown
  uint32_t mode = 0;     // permission bits if the origin knows them, else 0
};

struct DirEntry {
  std::string name;  // a single validated component
  FileAttr attr;
};

struct ByteRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;  // nullopt: to the end
};

class Origin {
 public:
  Origin() = default;
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;
  virtual ~Origin() = default;

  // Human-readable origin (credentials removed), for logs and status.
  virtual std::string describe() const = 0;

  // Attributes of `path`. Errors: kNotFound (cacheable), kPermissionDenied,
  // kIoError/kTimeout (retryable, not cacheable).
  virtual Result<FileAttr> stat(std::string_view path) = 0;

  // Children of directory `path`, bad names already dropped. Errors: as
  // stat(), plus kResourceExhausted when the listing exceeds its bound and
  // kCorruption when it cannot be parsed.
  virtual Result<std::vector<DirEntry>> list(std::string_view path) = 0;

  // Opens a stream of `range` of `path`. When `etag` is non-empty the
  // request is pinned to that version: if the origin now has another
  // version the open (or a later read) fails with kChangedAtOrigin instead
  // of returning mixed data. A body shorter or longer than promised is an
  // error (kIoError), never silently accepted.
  // Errors: kNotFound, kChangedAtOrigin, kPermissionDenied, kIoError, kTimeout.
  virtual Result<std::unique_ptr<Reader>> read(std::string_view path, std::string_view etag,
                                               ByteRange range) = 0;

  // Conditional check: kNotModified when `etag` is still current, otherwise
  // the new attributes. Errors: as stat().
  virtual Result<FileAttr> revalidate(std::string_view path, std::string_view etag) = 0;
};

}  // namespace daramjwee
