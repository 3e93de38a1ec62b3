// SievePolicy: SIEVE (Zhang et al., NSDI'24). One FIFO queue, new keys at
// the head, a visited bit per key and a "hand" that moves from the tail
// toward the head. A hit only sets the bit (no list move, so hits are cheap).
// evict() walks the hand: a visited key has its bit cleared and stays where
// it is; the first unvisited key is the victim and the hand stops just past
// it (toward the head), wrapping to the tail at the head.
//
// Bounded work: one evict() examines at most size()+1 keys (every bit is
// cleared on the first lap) and O(1) amortised, since each visited bit
// cleared was set by an earlier touch or add.
// Thread-safety: none (the owning store serialises).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/eviction_policy.h"
#include "core/policies/policy_table.h"

namespace daramjwee::policies {

class SievePolicy final : public EvictionPolicy {
 public:
  SievePolicy() = default;

  std::string_view name() const override { return "sieve"; }
  void touch(std::string_view key) override;
  void add(std::string_view key, uint64_t size) override;
  void remove(std::string_view key) override;
  std::optional<std::string> evict() override;
  size_t size() const override { return table_.size(); }

 private:
  struct Node : Link {
    const std::string* key = nullptr;
    uint64_t size = 0;
    bool visited = false;
  };
  // Unlinks n, first stepping the hand past it if the hand is on it.
  void unlink(Node* n);

  KeyTable<Node> table_;
  LinkList queue_;       // front = head (newest), back = tail (oldest)
  Node* hand_ = nullptr;  // next key to examine; nullptr = start at the tail
};

}  // namespace daramjwee::policies
