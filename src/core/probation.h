// Probation: remembers keys that hit a lower tier once, so that only a
// second hit within a bounded window promotes them (one-hit wonders do not
// flush tier 0). Memory is bounded: `slots` key hashes in FIFO order; the
// oldest is forgotten when full. A hash collision only promotes early.
// Thread-safety: all methods are thread-safe (sharded locks).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <unordered_set>

namespace daramjwee {

class Probation {
 public:
  explicit Probation(size_t slots);
  // True when `key` was seen within the window (and forgets it); otherwise
  // records it and returns false.
  bool admit(std::string_view key);

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;  // guards set and order
    std::unordered_set<uint64_t> set;
    std::deque<uint64_t> order;
  };
  size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace daramjwee
