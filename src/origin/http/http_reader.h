// The Reader behind HttpOrigin::read(): checks a GET response against the
// requested range and pinned version, then streams its body, verifying at
// the end that exactly the promised number of bytes arrived.
// Thread-safety: one thread at a time (as every Reader).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/origin.h"
#include "core/result.h"
#include "core/stream.h"
#include "net/transfer.h"

namespace daramjwee::origin {

// The version a read is pinned to.
struct Pin {
  enum Kind { kNone, kStrongEtag, kWeakEtag, kLastModified } kind = kNone;
  std::string etag;                  // as given by the caller
  int64_t lm_seconds = 0;            // kLastModified
  std::optional<uint64_t> lm_size;   // kLastModified, when known
};

// Interprets the response head of `t` (the answer to a GET of `range`):
// 200/206 -> a reader of exactly the requested bytes; 416 past the end ->
// an empty reader; 404/410 -> kNotFound; 401/403/407 -> kPermissionDenied;
// 412 or other validators -> kChangedAtOrigin; a Content-Range that does
// not match the request -> kIoError. `what` names the request in errors.
Result<std::unique_ptr<Reader>> open_http_reader(std::unique_ptr<net::Transfer> t, ByteRange range,
                                                 const Pin& pin, std::string what);

}  // namespace daramjwee::origin
