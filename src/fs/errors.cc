// The only place errno values appear (STYLE.md: errno exists only here).
#include "fs/errors.h"

#include <cerrno>

namespace daramjwee::fs {

int to_errno(Errc code) {
  switch (code) {
    case Errc::kNotFound: return ENOENT;
    case Errc::kNotDir: return ENOTDIR;
    case Errc::kIsDir: return EISDIR;
    case Errc::kReadOnly: return EROFS;
    case Errc::kNoData: return ENODATA;
    case Errc::kRange: return ERANGE;
    case Errc::kAccess: return EACCES;
    case Errc::kInvalid: return EINVAL;
    case Errc::kBadHandle: return EBADF;
    case Errc::kNoMemory: return ENOMEM;
    case Errc::kOriginError:
    case Errc::kVersionChanged:
    case Errc::kCacheError:
    case Errc::kShortData:
    case Errc::kInternal: return EIO;
  }
  return EIO;
}

std::string_view reason(Errc code) {
  switch (code) {
    case Errc::kNotFound: return "not_found";
    case Errc::kNotDir: return "not_dir";
    case Errc::kIsDir: return "is_dir";
    case Errc::kReadOnly: return "read_only";
    case Errc::kNoData: return "no_xattr";
    case Errc::kRange: return "range";
    case Errc::kAccess: return "access";
    case Errc::kInvalid: return "invalid";
    case Errc::kBadHandle: return "bad_handle";
    case Errc::kNoMemory: return "no_memory";
    case Errc::kOriginError: return "origin";
    case Errc::kVersionChanged: return "version_changed";
    case Errc::kCacheError: return "cache";
    case Errc::kShortData: return "short_data";
    case Errc::kInternal: return "internal";
  }
  return "unknown";
}

Errc errc_from_status(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound: return Errc::kNotFound;
    case StatusCode::kPermissionDenied: return Errc::kAccess;
    case StatusCode::kChangedAtOrigin: return Errc::kVersionChanged;
    case StatusCode::kIoError:
    case StatusCode::kTimeout:
    case StatusCode::kCorruption: return Errc::kOriginError;
    case StatusCode::kInvalidArgument: return Errc::kInvalid;
    case StatusCode::kInternal: return Errc::kInternal;
    default: return Errc::kCacheError;
  }
}

bool is_failure(Errc code) { return to_errno(code) == EIO || code == Errc::kNoMemory; }

}  // namespace daramjwee::fs
