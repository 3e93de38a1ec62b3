// The factory behind core/eviction_policy.h.
#include "core/eviction_policy.h"

#include "core/policies/lru_policy.h"
#include "core/policies/s3fifo_policy.h"
#include "core/policies/sieve_policy.h"

namespace daramjwee {

std::unique_ptr<EvictionPolicy> make_eviction_policy(EvictionKind kind, uint64_t capacity_bytes) {
  switch (kind) {
    case EvictionKind::kLru:
      return std::make_unique<policies::LruPolicy>();
    case EvictionKind::kS3Fifo:
      return std::make_unique<policies::S3FifoPolicy>(capacity_bytes);
    case EvictionKind::kSieve:
      return std::make_unique<policies::SievePolicy>();
  }
  return nullptr;  // unreachable: every enumerator is handled above
}

std::optional<EvictionKind> parse_eviction_kind(std::string_view name) {
  if (name == "lru") return EvictionKind::kLru;
  if (name == "s3fifo") return EvictionKind::kS3Fifo;
  if (name == "sieve") return EvictionKind::kSieve;
  return std::nullopt;
}

}  // namespace daramjwee
