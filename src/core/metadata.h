// Metadata: what the cache knows about an entry besides its bytes.
// Stores persist every field; the engine reads cached_at and negative for
// freshness; the filesystem reads etag/size/mtime for attributes.
// Thread-safety: a plain value.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace daramjwee {

using Clock = std::chrono::system_clock;  // cached_at survives restarts

enum class Compression : uint8_t { kNone = 0, kLz4 = 1 };

struct Metadata {
  // Version tag: an ETag, or for file:// origins size+mtime+inode. Empty
  // means "unknown": conditional requests are then not possible.
  std::string etag;
  // Logical size in bytes (what callers read). Stores set it on commit to
  // the number of bytes written.
  uint64_t size = 0;
  // The origin's modification time, nanoseconds since the epoch; 0 unknown.
  int64_t origin_mtime_ns = 0;
  // When the entry was fetched or last revalidated.
  Clock::time_point cached_at{};
  // A cached "not found": the body is empty.
  bool negative = false;

  // Store-private fields: a store fills them on commit and may ignore them
  // on begin_set. Not part of the version identity.
  uint32_t checksum = 0;
  Compression compression = Compression::kNone;
  uint64_t stored_size = 0;

  friend bool operator==(const Metadata&, const Metadata&) = default;
};

}  // namespace daramjwee
