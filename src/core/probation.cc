#include "core/probation.h"

#include <algorithm>
#include <functional>

namespace daramjwee {

Probation::Probation(size_t slots) : per_shard_(std::max<size_t>(1, slots / kShards)) {}

bool Probation::admit(std::string_view key) {
  uint64_t h = std::hash<std::string_view>{}(key);
  Shard& s = shards_[h % kShards];
  std::lock_guard lock(s.mu);
  if (s.set.erase(h)) return true;  // its stale slot in `order` ages out harmlessly
  while (s.order.size() >= per_shard_) {
    s.set.erase(s.order.front());
    s.order.pop_front();
  }
  s.set.insert(h);
  s.order.push_back(h);
  return false;
}

}  // namespace daramjwee
