// CacheStats: one snapshot of the engine's counters, for ctl and metrics.
// Counters are monotonically increasing totals since open().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/store.h"

namespace daramjwee {

struct TierStats {
  std::string name;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t errors = 0;              // lookups that failed (tier treated as failed)
  uint64_t stale_hits = 0;
  uint64_t negative_hits = 0;
  uint64_t promotions = 0;          // entries promoted into this tier
  uint64_t failed_promotions = 0;   // promotions into this tier that failed
  uint64_t fills = 0;               // origin data written into this tier
  uint64_t failed_fills = 0;
  uint64_t dropped_fills = 0;       // write-behind fills never attempted (queue full past
                                    // write_behind_wait, or shutdown)
  uint64_t bytes_read = 0;          // bytes served from this tier
  uint64_t bytes_written = 0;       // bytes committed into this tier
  StoreStats store;                 // the store's own view (evictions, usage)
};

struct OriginStats {
  uint64_t fetches = 0;
  uint64_t not_modified = 0;
  uint64_t not_found = 0;
  uint64_t errors = 0;
  uint64_t bytes = 0;
  uint64_t coalesced = 0;  // gets that joined another caller's fetch
};

struct WorkerStats {
  uint64_t queued = 0;
  uint64_t dropped = 0;   // queue full, or discarded at shutdown
  uint64_t failed = 0;    // jobs that threw or returned an error
  uint64_t completed = 0;
  uint64_t depth = 0;     // currently queued
  uint64_t running = 0;   // currently executing
};

struct RefreshStats {
  uint64_t scheduled = 0;
  uint64_t deduplicated = 0;  // already queued for the key
  uint64_t not_modified = 0;
  uint64_t updated = 0;
  uint64_t became_negative = 0;
  uint64_t failed = 0;        // stale entry kept (stale-if-error)
};

struct CacheStats {
  std::vector<TierStats> tiers;
  OriginStats origin;
  WorkerStats workers;
  RefreshStats refresh;
  uint64_t fence_rejections = 0;  // publishes lost to a concurrent remove/set
};

}  // namespace daramjwee
