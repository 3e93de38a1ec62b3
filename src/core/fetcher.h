// Fetcher: how the cache reaches the origin for one key.
//
// fetch() answers with exactly one of: a body with its metadata, "not
// modified" (the cached version tag still matches), or a cacheable
// not-found. Anything else is an error Status (not cached).
// Thread-safety: fetch() may be called from a worker thread while the caller
// that created the fetcher is gone: keep it self-contained (the engine holds
// it by shared_ptr for background refreshes). It may be called concurrently
// for different keys.
#pragma once

#include <memory>
#include <string_view>
#include <variant>

#include "core/metadata.h"
#include "core/result.h"
#include "core/stream.h"

namespace daramjwee {

struct FetchedBody {
  Metadata metadata;              // etag, size (0 if unknown), origin mtime
  std::unique_ptr<Reader> body;   // never null
};
struct NotModified {
  Metadata metadata;  // fresh origin metadata if known (etag may be empty)
};
struct NotFoundAtOrigin {};

using FetchOutcome = std::variant<FetchedBody, NotModified, NotFoundAtOrigin>;

class Fetcher {
 public:
  Fetcher() = default;
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;
  virtual ~Fetcher() = default;

  // Fetches `key`. `cached` is the metadata of the copy the cache holds
  // (nullptr when none): send its etag as a condition and answer NotModified
  // when it still matches. Errors: kIoError (retryable()), kTimeout,
  // kPermissionDenied, kChangedAtOrigin; never a miss.
  virtual Result<FetchOutcome> fetch(std::string_view key, const Metadata* cached) = 0;
};

}  // namespace daramjwee
