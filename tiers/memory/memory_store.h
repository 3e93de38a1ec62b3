// MemoryStore: the RAM tier. Keeps committed objects in memory, bounded by
// a byte capacity, evicting with a pluggable EvictionPolicy.
//
// Sharding: keys are spread over a power-of-two number of shards by hash;
// each shard has its own lock, map, policy and an equal part of the
// capacity, so threads working on different keys rarely share a lock.
//
// Accounting: an entry is charged
//   charge_for(key, etag, allocated payload bytes)
//     = key.size() + etag.size() + allocated bytes + kEntryOverheadBytes,
// where the fixed overhead approximates the map node, the policy node, the
// shared_ptr control block and the Metadata. "Allocated bytes" is the
// buffer's capacity (a size hint on begin_set reserves exactly; without a
// hint the sink grows geometrically and commit trims a buffer with more than
// 1/8 slack, so the charge matches what the process really holds).
//
// Too-large objects: an object whose charge exceeds one shard's capacity is
// never stored. That is not a failure of the tier: begin_set (when the size
// hint already says so), write() or commit() return kResourceExhausted,
// which the engine reads as "not cacheable here". Nothing is published.
//
// Zero copy: committed entries are immutable. get() returns a Reader whose
// view() exposes the stored buffer; the reader (and any SharedView it hands
// out) owns a reference to the entry, so the bytes stay valid after the
// entry is evicted, removed or overwritten.
//
// Thread-safety: every method may be called concurrently (Store contract).
// A sink stages without any lock; commit() takes its shard's lock only to
// swap the entry in and run the policy. Evicted payloads are freed after
// the lock is released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/eviction_policy.h"
#include "core/status.h"
#include "core/store.h"

namespace daramjwee::tiers {

struct MemoryStoreOptions {
  // Total bytes the tier may hold, overhead included. Must be > 0.
  // Default: 256 MiB.
  uint64_t capacity_bytes = 256ull << 20;
  // Eviction policy of every shard. Default: S3-FIFO.
  EvictionKind policy = EvictionKind::kS3Fifo;
  // Number of shards: 0 = automatic (capacity / 16 MiB, clamped to 1..16,
  // rounded down to a power of two), else a power of two <= 256 leaving at
  // least kMinShardBytes per shard. Default: 0.
  size_t shards = 0;

  static constexpr uint64_t kMinShardBytes = 64 << 10;
  // Names the offending field ("capacity_bytes", "shards").
  Status validate() const;
};

class MemoryStore final : public Store, public std::enable_shared_from_this<MemoryStore> {
 public:
  // Fixed per-entry charge on top of key, etag and payload (see above).
  static constexpr uint64_t kEntryOverheadBytes = 192;
  static uint64_t charge_for(std::string_view key, std::string_view etag, uint64_t allocated) {
    return key.size() + etag.size() + allocated + kEntryOverheadBytes;
  }

  // Errors: kConfigError from options.validate().
  static Result<std::shared_ptr<MemoryStore>> open(const MemoryStoreOptions& options);
  ~MemoryStore() override;

  std::string_view kind() const override { return "memory"; }
  Result<std::optional<StoreEntry>> get(std::string_view key) override;
  // Errors: kResourceExhausted when metadata.size says the object can never
  // fit a shard (see "Too-large objects").
  Result<std::unique_ptr<WriteSink>> begin_set(std::string_view key,
                                               const Metadata& metadata) override;
  Status remove(std::string_view key) override;
  Result<std::optional<Metadata>> stat(std::string_view key) override;
  Result<bool> update_metadata(std::string_view key, const Metadata& metadata) override;
  StoreStats stats() const override;

  size_t shard_count() const { return shards_.size(); }
  // Byte budget of the shard that holds `key` (the largest storable charge).
  uint64_t shard_capacity(std::string_view key) const;

 private:
  struct Entry;
  struct Shard;
  class Sink;

  explicit MemoryStore(const MemoryStoreOptions& options);
  Shard& shard_for(std::string_view key) const;
  // Publishes a staged entry (called by Sink::commit).
  Status publish(std::string_view key, std::shared_ptr<Entry> entry);

  MemoryStoreOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;  // fixed after construction
};

}  // namespace daramjwee::tiers
