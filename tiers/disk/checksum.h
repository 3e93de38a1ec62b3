// The disk tier's checksum: XXH3-64 of the stored bytes, taken when an
// object is written and checked before any of its bytes are handed out.
//
// On x86-64, libxxhash's *_dispatch entry points choose the widest vector
// unit at run time (AVX2, AVX-512): the same hash values as the portable
// entry points, which Debian builds for baseline SSE2 only. Measured on the
// development VM (Xeon, AVX-512), 1 MiB inputs: 12.6-15.8 GB/s portable,
// 27.4-33.2 GB/s dispatched; the warm read path hashes every byte it reads.
// Thread-safety: pure functions; a state belongs to one caller.
#pragma once

#include <cstddef>
#include <cstdint>

#include <xxhash.h>
#if defined(__x86_64__)
#define XXH_DISPATCH_DISABLE_REPLACE 1
#include <xxh_x86dispatch.h>
#endif

namespace daramjwee::tiers::disk_detail {

inline uint64_t checksum64(const void* data, size_t len) {
#if defined(__x86_64__)
  return XXH3_64bits_dispatch(data, len);
#else
  return XXH3_64bits(data, len);
#endif
}

// Streaming form for objects hashed in pieces; equal to checksum64 of the
// concatenation. The state is reset with XXH3_64bits_reset and read with
// XXH3_64bits_digest, as usual.
inline void checksum_update(XXH3_state_t* state, const void* data, size_t len) {
#if defined(__x86_64__)
  XXH3_64bits_update_dispatch(state, data, len);
#else
  XXH3_64bits_update(state, data, len);
#endif
}

}  // namespace daramjwee::tiers::disk_detail
