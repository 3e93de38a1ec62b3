#include <set>

#include <fmt/format.h>

#include "core/cache.h"

namespace daramjwee {

Status CacheOptions::validate() const {
  if (!tiers.empty() && (hot || cold))
    return Status::config_error("tiers", "give either a tier list or hot/cold, not both");
  if (tiers.empty() && !hot) {
    if (cold) return Status::config_error("hot", "cold is set but hot is missing");
    return Status::config_error("tiers", "the tier list is empty");
  }
  if (tiers.size() > 16) return Status::config_error("tiers", "at most 16 tiers");
  std::set<const Store*> seen;
  for (size_t i = 0; i < tiers.size(); ++i) {
    const auto& t = tiers[i];
    std::string f = fmt::format("tiers[{}]", i);
    if (!t.store) return Status::config_error(f + ".store", "tier is null");
    if (!seen.insert(t.store.get()).second)
      return Status::config_error(f + ".store", "the same store appears twice in the chain");
    if (t.ttl && t.ttl->count() < 0) return Status::config_error(f + ".ttl", "must be >= 0");
    if (t.negative_ttl && t.negative_ttl->count() < 0)
      return Status::config_error(f + ".negative_ttl", "must be >= 0");
  }
  if (hot && cold && hot == cold)
    return Status::config_error("cold", "hot and cold are the same store");
  if (ttl.count() < 0) return Status::config_error("ttl", "must be >= 0");
  if (negative_ttl.count() < 0) return Status::config_error("negative_ttl", "must be >= 0");
  if (workers < 1 || workers > 1024) return Status::config_error("workers", "must be in 1..1024");
  if (worker_queue == 0) return Status::config_error("worker_queue", "must be > 0");
  if (shutdown_timeout.count() < 0) return Status::config_error("shutdown_timeout", "must be >= 0");
  if (write_behind_wait.count() < 0) return Status::config_error("write_behind_wait", "must be >= 0");
  if (promotion_probation && probation_slots == 0)
    return Status::config_error("probation_slots", "must be > 0 when probation is on");
  return buffers.validate();
}

}  // namespace daramjwee
