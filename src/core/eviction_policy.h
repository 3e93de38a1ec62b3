// EvictionPolicy: decides which key a capacity-bound store drops next.
// The store owns the bytes and the accounting of capacity; the policy only
// orders keys. LRU, S3-FIFO (with its ghost queue) and SIEVE ship.
//
// Thread-safety: NOT thread-safe. The owning store serialises calls (one
// policy per shard, called under that shard's lock). This keeps the policies
// simple and the locking decisions in one place.
// Bounded work: evict() examines a bounded number of entries per call and
// never spins on keys it no longer tracks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace daramjwee {

class EvictionPolicy {
 public:
  EvictionPolicy() = default;
  EvictionPolicy(const EvictionPolicy&) = delete;
  EvictionPolicy& operator=(const EvictionPolicy&) = delete;
  virtual ~EvictionPolicy() = default;

  virtual std::string_view name() const = 0;

  // A hit on a tracked key. Untracked keys are ignored.
  virtual void touch(std::string_view key) = 0;

  // Starts tracking key (or re-adds it with a new size, counted as a touch).
  virtual void add(std::string_view key, uint64_t size) = 0;

  // Stops tracking key (explicit removal). Untracked keys are ignored.
  virtual void remove(std::string_view key) = 0;

  // Chooses a victim and stops tracking it. nullopt when nothing is tracked.
  // The caller must then drop the victim's bytes.
  virtual std::optional<std::string> evict() = 0;

  // Number of tracked keys.
  virtual size_t size() const = 0;
};

enum class EvictionKind { kLru, kS3Fifo, kSieve };

// Factory. `capacity_bytes` is the byte budget of the store (or shard) the
// policy serves: S3-FIFO sizes its small queue (10%) and ghost list from it.
std::unique_ptr<EvictionPolicy> make_eviction_policy(EvictionKind kind, uint64_t capacity_bytes);
std::optional<EvictionKind> parse_eviction_kind(std::string_view name);

}  // namespace daramjwee
