// DIR/OWNER: which origin a disk-tier directory caches. Keys name paths and
// versions, not origins, so a directory filled from one origin and mounted
// for another would serve the first origin's files under the second's
// names; recording the owner lets open() refuse that (or empty the
// directory first). The file is two lines, "daramjwee-fs cache of" and the
// owner (the daemon's normalised origin URL, credentials removed), 0600,
// replaced atomically (temporary file, fsync, rename, fsync of DIR).
// Thread-safety: free functions; callers hold DIR/LOCK.
#pragma once

#include <optional>
#include <string>

#include "core/result.h"
#include "core/status.h"

namespace daramjwee::tiers::disk_detail {

inline constexpr const char* kOwnerFile = "OWNER";

// The owner recorded in `dir`; nullopt when DIR/OWNER does not exist.
// Errors: kIoError (unreadable), kCorruption (not an owner file).
Result<std::optional<std::string>> read_owner(const std::string& dir);

// Records `owner` in DIR/OWNER, replacing it atomically.
// Requires: owner is non-empty and holds no newline. Errors: kIoError
// (kResourceExhausted when the disk is full).
Status write_owner(const std::string& dir, const std::string& owner);

}  // namespace daramjwee::tiers::disk_detail
