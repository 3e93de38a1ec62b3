// Errors of the filesystem layer and their one mapping to errno.
//
// Filesystem methods answer with FsResult<T>: a value, or an Errc plus the
// engine Status that caused it (for logs). The FUSE adapter turns an Errc into
// an errno with to_errno(); errno appears nowhere else (STYLE.md "Errors").
// Each EIO cause has its own Errc so logs and counters can tell them apart.
// Thread-safety: plain values.
#pragma once

#include <string_view>
#include <utility>
#include <variant>

#include "core/status.h"

namespace daramjwee::fs {

enum class Errc {
  kNotFound,       // ENOENT
  kNotDir,         // ENOTDIR
  kIsDir,          // EISDIR
  kReadOnly,       // EROFS: every write-like operation
  kNoData,         // ENODATA: no such xattr
  kRange,          // ERANGE: xattr buffer too small
  kAccess,         // EACCES: origin refused access
  kInvalid,        // EINVAL
  kBadHandle,      // EBADF
  kNoMemory,       // ENOMEM
  kOriginError,    // EIO: origin failed (down, 5xx, timeout)
  kVersionChanged, // EIO: the pinned version is gone at the origin
  kCacheError,     // EIO: the engine failed (closed, tier error)
  kShortData,      // EIO: a chunk shorter than its file says
  kInternal,       // EIO: a broken invariant
};

struct Error {
  Errc code;
  Status cause;  // OK when the error did not come from the engine
};

// The errno for `code` (positive).
int to_errno(Errc code);
// A short label for logs and EIO reason counters ("origin", "version", ...).
std::string_view reason(Errc code);
// Maps an engine/origin Status to an Errc (kNotFound, kAccess, kVersionChanged,
// kOriginError, kCacheError ...). Requires: !status.is_ok().
Errc errc_from_status(const Status& status);
// True when errors of this kind deserve a warning (EIO causes); ENOENT and
// friends are routine and logged at trace.
bool is_failure(Errc code);

template <typename T>
class [[nodiscard]] FsResult {
 public:
  FsResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  FsResult(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  FsResult(Errc code) : v_(std::in_place_index<1>, Error{code, Status()}) {}  // NOLINT
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

inline Error error_from(const Status& s) { return Error{errc_from_status(s), s}; }

}  // namespace daramjwee::fs
