// MemoryStore: how a write becomes visible, and what each lock covers.
//
// A sink owns a private Bytes buffer and appends to it with no lock at all:
// a slow producer (an origin fetch streaming in) never blocks readers or
// other writers of the same key. A body that arrives as one shared buffer
// (write_shared: a whole chunk) is kept by reference instead, so the entry
// and the fetch that produced it share one copy of the bytes. commit() turns
// the buffer into an immutable Entry (no copy: the buffer is moved; only a
// buffer with a lot of geometric-growth slack is trimmed by one copy, before
// any lock is taken)
// and then publishes it under the shard lock by swapping a shared_ptr in the
// map. Two sinks for one key race only at that swap: whichever commits last
// wins, and since each publishes a whole entry no reader can see a mix.
//
// Readers take the lock just long enough to copy the shared_ptr and the
// Metadata and to tell the policy about the hit; the payload is then read
// through the entry's SharedBytes, which stays alive on its own, so an
// eviction, removal or overwrite meanwhile only drops the map's reference.
// Replaced and evicted entries are collected while locked and released after
// unlocking, so freeing a large buffer never happens under a shard lock.
#include "tiers/memory/memory_store.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "core/bytes.h"
#include "core/stream.h"
#include "util/log.h"

namespace daramjwee::tiers {

namespace {

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
struct KeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

constexpr uint64_t kAutoShardBytes = 16ull << 20;
constexpr size_t kMaxAutoShards = 16;
constexpr size_t kMaxShards = 256;

size_t auto_shards(uint64_t capacity) {
  uint64_t n = std::clamp<uint64_t>(capacity / kAutoShardBytes, 1, kMaxAutoShards);
  return std::bit_floor(static_cast<size_t>(n));
}

}  // namespace

struct MemoryStore::Entry {
  explicit Entry(SharedBytes bytes) : data(std::move(bytes)) {}
  const SharedBytes data;  // never null; immutable, read without any lock
  Metadata metadata;  // guarded by the owning shard's mu once published
  uint64_t charge = 0;  // guarded by the owning shard's mu once published
};

struct MemoryStore::Shard {
  Shard(EvictionKind kind, uint64_t cap) : policy(make_eviction_policy(kind, cap)), capacity(cap) {}

  // Lock order: a thread holds at most one shard's mu at a time and takes
  // no other lock (nor does I/O or frees a payload) while holding it.
  std::mutex mu;
  // key -> published entry. Guarded by mu.
  std::unordered_map<std::string, std::shared_ptr<Entry>, KeyHash, KeyEq> map;
  // Orders the keys of `map` (same key set, charge as size). Guarded by mu.
  std::unique_ptr<EvictionPolicy> policy;
  const uint64_t capacity;  // immutable
  // Written only under mu; atomics so that stats() can read them unlocked.
  std::atomic<uint64_t> used{0};
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> evictions{0};

  // Requires: mu held. Evicts until used <= capacity, moving the dropped
  // entries into `dropped` (freed by the caller after unlocking).
  void evict_to_capacity(std::vector<std::shared_ptr<Entry>>& dropped) {
    while (used.load(std::memory_order_relaxed) > capacity) {
      std::optional<std::string> victim = policy->evict();
      if (!victim) {
        // The policy tracks exactly the keys of `map`; an empty policy with
        // bytes still charged is a broken invariant. Stop rather than spin.
        util::logger("tier.memory")->error("policy empty while over capacity tier=memory used={} capacity={}",
                                     used.load(), capacity);
        return;
      }
      auto it = map.find(*victim);
      if (it == map.end()) continue;  // bounded: the policy shrinks on every evict()
      used.fetch_sub(it->second->charge, std::memory_order_relaxed);
      entries.fetch_sub(1, std::memory_order_relaxed);
      evictions.fetch_add(1, std::memory_order_relaxed);
      dropped.push_back(std::move(it->second));
      map.erase(it);
    }
  }
};

class MemoryStore::Sink final : public WriteSink {
 public:
  Sink(std::shared_ptr<MemoryStore> store, std::string key, Metadata metadata, uint64_t limit)
      : store_(std::move(store)), key_(std::move(key)), metadata_(std::move(metadata)), limit_(limit) {}
  ~Sink() override { abort(); }

  Status write(std::span<const std::byte> data) override {
    if (state_ != State::kOpen) return Status::invalid_argument("memory sink: write after commit or abort");
    if (too_large_ || size() + data.size() > limit_) return fail_too_large();
    unshare();
    if (buf_.capacity() == 0 && metadata_.size > 0) buf_.reserve(static_cast<size_t>(metadata_.size));
    buf_.append(data);
    return Status::ok();
  }

  // The first buffer is kept by reference: an entry that arrives whole (a
  // chunk fetched into one buffer) is published without a copy. A second
  // write turns it back into a private buffer.
  Status write_shared(const SharedBytes& data) override {
    if (state_ != State::kOpen || !data) return write(data ? data->span() : std::span<const std::byte>());
    if (too_large_ || size() + data->size() > limit_) return fail_too_large();
    if (buf_.size() == 0 && !adopted_) {
      adopted_ = data;
      return Status::ok();
    }
    return write(data->span());
  }

  Status commit() override {
    if (state_ != State::kOpen) return Status::invalid_argument("memory sink: commit after commit or abort");
    state_ = State::kCommitted;
    if (too_large_) return fail_too_large();
    SharedBytes data = std::move(adopted_);
    if (!data) data = std::make_shared<const Bytes>(std::move(buf_));
    // Trim geometric-growth slack so the charge reflects real memory, and
    // never let slack alone push an entry over the shard budget.
    if (data->capacity() - data->size() > data->capacity() / 8 || data->capacity() > limit_) {
      data = std::make_shared<const Bytes>(Bytes::copy_of(data->span()));
    }
    auto entry = std::make_shared<Entry>(std::move(data));
    entry->metadata = std::move(metadata_);
    entry->metadata.size = entry->data->size();
    entry->metadata.stored_size = entry->data->size();
    entry->metadata.compression = Compression::kNone;
    entry->metadata.checksum = 0;
    entry->charge = charge_for(key_, entry->metadata.etag, entry->data->capacity());
    return store_->publish(key_, std::move(entry));
  }

  void abort() noexcept override {
    if (state_ == State::kOpen) state_ = State::kAborted;
    buf_ = Bytes();
    adopted_.reset();
  }

 private:
  enum class State { kOpen, kCommitted, kAborted };
  uint64_t size() const { return adopted_ ? adopted_->size() : buf_.size(); }
  // Makes an adopted buffer private before appending to it.
  void unshare() {
    if (!adopted_) return;
    buf_.reserve(std::max<size_t>(adopted_->size(), static_cast<size_t>(metadata_.size)));
    buf_.append(adopted_->span());
    adopted_.reset();
  }
  Status fail_too_large() {
    too_large_ = true;
    buf_ = Bytes();  // nothing will be published; give the memory back now
    adopted_.reset();
    return Status::exhausted("object too large for the memory tier (larger than one shard)")
        .with_tier("memory", "write");
  }

  std::shared_ptr<MemoryStore> store_;  // keeps the store alive until commit
  std::string key_;
  Metadata metadata_;
  const uint64_t limit_;  // largest payload that fits the shard with its overhead
  Bytes buf_;
  SharedBytes adopted_;  // the first write_shared buffer, while it is the only content
  State state_ = State::kOpen;
  bool too_large_ = false;
};

Status MemoryStoreOptions::validate() const {
  if (capacity_bytes == 0) {
    return Status::config_error("capacity_bytes",
                                "must be > 0 (a memory tier with no capacity stores nothing; use the null tier)");
  }
  if (shards != 0) {
    if (!std::has_single_bit(shards) || shards > kMaxShards) {
      return Status::config_error("shards", "must be 0 (automatic) or a power of two <= 256");
    }
    if (shards > 1 && capacity_bytes / shards < kMinShardBytes) {
      return Status::config_error("shards", "too many shards: each would get less than 64 KiB of capacity_bytes");
    }
  }
  return Status::ok();
}

Result<std::shared_ptr<MemoryStore>> MemoryStore::open(const MemoryStoreOptions& options) {
  if (Status s = options.validate(); !s) return s;
  return std::shared_ptr<MemoryStore>(new MemoryStore(options));
}

MemoryStore::MemoryStore(const MemoryStoreOptions& options) : options_(options) {
  size_t n = options.shards ? options.shards : auto_shards(options.capacity_bytes);
  uint64_t base = options.capacity_bytes / n;
  uint64_t extra = options.capacity_bytes % n;  // spread so the sum is exact
  shards_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>(options.policy, base + (i < extra ? 1 : 0)));
  }
}

MemoryStore::~MemoryStore() = default;

MemoryStore::Shard& MemoryStore::shard_for(std::string_view key) const {
  // Fibonacci hashing on the high bits: independent of the low bits the
  // shard's own hash table uses for its buckets.
  uint64_t h = std::hash<std::string_view>{}(key) * 0x9E3779B97F4A7C15ull;
  size_t idx = shards_.size() == 1 ? 0 : static_cast<size_t>(h >> (64 - std::countr_zero(shards_.size())));
  return *shards_[idx];
}

uint64_t MemoryStore::shard_capacity(std::string_view key) const { return shard_for(key).capacity; }

Result<std::optional<StoreEntry>> MemoryStore::get(std::string_view key) {
  Shard& s = shard_for(key);
  std::shared_ptr<Entry> entry;
  Metadata md;
  {
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return std::optional<StoreEntry>();
    entry = it->second;
    md = entry->metadata;
    s.policy->touch(key);
  }
  return std::optional<StoreEntry>(StoreEntry{std::move(md), make_bytes_reader(entry->data)});
}

Result<std::unique_ptr<WriteSink>> MemoryStore::begin_set(std::string_view key, const Metadata& metadata) {
  uint64_t cap = shard_for(key).capacity;
  uint64_t fixed = charge_for(key, metadata.etag, 0);
  if (fixed > cap || metadata.size > cap - fixed) {
    return Status::exhausted("object too large for the memory tier (larger than one shard)")
        .with_tier("memory", "begin_set");
  }
  return std::unique_ptr<WriteSink>(
      std::make_unique<Sink>(shared_from_this(), std::string(key), metadata, cap - fixed));
}

Status MemoryStore::publish(std::string_view key, std::shared_ptr<Entry> entry) {
  Shard& s = shard_for(key);
  std::vector<std::shared_ptr<Entry>> dropped;  // released after unlocking
  {
    std::lock_guard lock(s.mu);
    uint64_t charge = entry->charge;
    auto it = s.map.find(key);
    if (it != s.map.end()) {
      s.used.fetch_sub(it->second->charge, std::memory_order_relaxed);
      dropped.push_back(std::exchange(it->second, std::move(entry)));
    } else {
      s.map.emplace(std::string(key), std::move(entry));
      s.entries.fetch_add(1, std::memory_order_relaxed);
    }
    s.used.fetch_add(charge, std::memory_order_relaxed);
    s.policy->add(key, charge);
    s.evict_to_capacity(dropped);
  }
  return Status::ok();
}

Status MemoryStore::remove(std::string_view key) {
  Shard& s = shard_for(key);
  std::shared_ptr<Entry> dropped;  // released after unlocking
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return Status::ok();
  s.used.fetch_sub(it->second->charge, std::memory_order_relaxed);
  s.entries.fetch_sub(1, std::memory_order_relaxed);
  dropped = std::move(it->second);
  s.map.erase(it);
  s.policy->remove(key);
  // `lock` is destroyed before `dropped` (reverse declaration order).
  return Status::ok();
}

Result<std::optional<Metadata>> MemoryStore::stat(std::string_view key) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return std::optional<Metadata>();
  return std::optional<Metadata>(it->second->metadata);
}

Result<bool> MemoryStore::update_metadata(std::string_view key, const Metadata& metadata) {
  Shard& s = shard_for(key);
  std::vector<std::shared_ptr<Entry>> dropped;  // declared before the lock: freed after unlock
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return false;
  Entry& e = *it->second;
  Metadata next = metadata;
  next.size = e.metadata.size;
  next.checksum = e.metadata.checksum;
  next.compression = e.metadata.compression;
  next.stored_size = e.metadata.stored_size;
  e.metadata = std::move(next);
  // The etag is part of the charge; a revalidation also counts as a use.
  uint64_t charge = charge_for(key, e.metadata.etag, e.data->capacity());
  s.used.fetch_add(charge, std::memory_order_relaxed);
  s.used.fetch_sub(e.charge, std::memory_order_relaxed);
  e.charge = charge;
  s.policy->add(key, charge);
  s.evict_to_capacity(dropped);
  return true;
}

StoreStats MemoryStore::stats() const {
  StoreStats out;
  out.capacity_bytes = options_.capacity_bytes;
  for (const auto& s : shards_) {
    out.entries += s->entries.load(std::memory_order_relaxed);
    out.used_bytes += s->used.load(std::memory_order_relaxed);
    out.evictions += s->evictions.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace daramjwee::tiers
