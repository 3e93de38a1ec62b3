// LruPolicy: least-recently-used. A hit or a re-add moves the key to the
// front; evict() takes the back. O(1) per call, no allocation on touch.
// Thread-safety: none (EvictionPolicy's rule: the owning store serialises).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/eviction_policy.h"
#include "core/policies/policy_table.h"

namespace daramjwee::policies {

class LruPolicy final : public EvictionPolicy {
 public:
  LruPolicy() = default;

  std::string_view name() const override { return "lru"; }
  void touch(std::string_view key) override;
  void add(std::string_view key, uint64_t size) override;
  void remove(std::string_view key) override;
  std::optional<std::string> evict() override;
  size_t size() const override { return table_.size(); }

 private:
  struct Node : Link {
    const std::string* key = nullptr;
    uint64_t size = 0;
  };
  KeyTable<Node> table_;
  LinkList order_;  // front = most recently used
};

}  // namespace daramjwee::policies
