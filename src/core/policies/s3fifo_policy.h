// S3FifoPolicy: S3-FIFO (Yang et al., SOSP'23), sized in bytes.
//
// Three queues: a small FIFO S (new keys; its target is 10% of the capacity
// bytes), a main FIFO M, and a ghost FIFO G of keys recently evicted from S
// (hashes only, no data; bounded to the bytes of M, i.e. 90% of capacity).
// Each tracked key has a frequency counter capped at 3, bumped by touch().
// - add(new key): into M if its hash is in G (it came back soon after being
//   dropped from S, so it is not a one-hit wonder), otherwise into S.
// - evict(): while S holds at least its target (or M is empty), take S's
//   tail: if it was hit while in S it moves to M's head with its counter
//   cleared; otherwise it is the victim and its hash enters G. Otherwise take
//   M's tail: if its counter is > 0, decrement it and reinsert at M's head
//   (a 2-bit CLOCK); otherwise it is the victim.
// As in the paper's reference code (libCacheSim, move-to-main threshold 1),
// one hit while in S is enough to be promoted to M.
//
// With capacity_bytes == 0 (unknown) the targets follow the tracked bytes:
// S aims at 10% of them and G at the bytes in M.
//
// Bounded work: one evict() moves each S key at most once and decrements
// each M counter at most 3 times, so it examines at most |S| + 4|M| keys,
// O(1) amortised (every step undoes an earlier hit or insertion). Keys are
// only ever in our own lists, so nothing is looked up that is absent.
// Thread-safety: none (the owning store serialises).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/eviction_policy.h"
#include "core/policies/policy_table.h"

namespace daramjwee::policies {

class S3FifoPolicy final : public EvictionPolicy {
 public:
  explicit S3FifoPolicy(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::string_view name() const override { return "s3fifo"; }
  void touch(std::string_view key) override;
  void add(std::string_view key, uint64_t size) override;
  void remove(std::string_view key) override;
  std::optional<std::string> evict() override;
  size_t size() const override { return table_.size(); }

  // Introspection for tests and stats.
  uint64_t small_bytes() const { return small_bytes_; }
  uint64_t main_bytes() const { return main_bytes_; }
  size_t ghost_entries() const { return ghost_index_.size(); }

 private:
  static constexpr uint8_t kMaxFreq = 3;
  struct Node : Link {
    const std::string* key = nullptr;
    uint64_t size = 0;
    uint8_t freq = 0;
    bool in_main = false;
  };
  struct Ghost {
    uint64_t hash;
    uint64_t seq;  // matches ghost_index_[hash] while this record is live
    uint64_t size;
  };

  uint64_t small_target() const;
  uint64_t ghost_target() const;
  void link(Node* n, bool main);
  void unlink(Node* n);
  void ghost_insert(uint64_t hash, uint64_t size);
  // True (and forgets it) if hash is in G.
  bool ghost_take(uint64_t hash);

  uint64_t capacity_;
  KeyTable<Node> table_;
  LinkList small_, main_;  // front = newest
  uint64_t small_bytes_ = 0, main_bytes_ = 0;
  std::deque<Ghost> ghost_;  // FIFO; front = oldest
  std::unordered_map<uint64_t, uint64_t> ghost_index_;  // hash -> seq of live record
  uint64_t ghost_bytes_ = 0;  // bytes of every record in ghost_ (live or stale)
  uint64_t ghost_seq_ = 0;
};

}  // namespace daramjwee::policies
