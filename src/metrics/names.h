// Metric names: every metric daramjwee-fs exports, with its type, unit and
// help text, in one place (mountpoint-s3's defs.rs), so the Prometheus
// exposition, daramjwee-ctl and docs/OPERATIONS.md agree.
// Conventions: snake_case, the daramjwee_ prefix, base units in the name
// (_bytes, _seconds), counters end in _total.
// Labels: tier="memory|disk|...", kind="fetch|not_modified|not_found",
// served_from="<tier>|origin".
#pragma once

#include <string_view>

namespace daramjwee::metrics {

struct MetricDef {
  std::string_view name;
  std::string_view type;  // counter | gauge | histogram
  std::string_view unit;  // "" for plain counts
  std::string_view help;
};

// Process.
inline constexpr MetricDef kUptime{"daramjwee_uptime_seconds", "gauge", "seconds",
                                   "Seconds since the daemon mounted the filesystem."};

// Per tier {tier}.
inline constexpr MetricDef kTierHits{"daramjwee_tier_hits_total", "counter", "", "Lookups the tier answered."};
inline constexpr MetricDef kTierMisses{"daramjwee_tier_misses_total", "counter", "", "Lookups the tier missed."};
inline constexpr MetricDef kTierErrors{"daramjwee_tier_errors_total", "counter", "",
                                       "Lookups that failed in the tier (treated as a miss)."};
inline constexpr MetricDef kTierStaleHits{"daramjwee_tier_stale_hits_total", "counter", "",
                                          "Hits served past their ttl (a refresh was queued)."};
inline constexpr MetricDef kTierPromotions{"daramjwee_tier_promotions_total", "counter", "",
                                           "Entries promoted into the tier from a lower tier."};
inline constexpr MetricDef kTierFills{"daramjwee_tier_fills_total", "counter", "",
                                      "Origin data written into the tier."};
inline constexpr MetricDef kTierDroppedFills{"daramjwee_tier_dropped_fills_total", "counter", "",
                                             "Write-behind fills into this tier never attempted (queue full past "
                                             "write_behind_wait, or shutdown)."};
inline constexpr MetricDef kTierFailedFills{"daramjwee_tier_failed_fills_total", "counter", "",
                                            "Fills and promotions into the tier that failed."};
inline constexpr MetricDef kTierEvictions{"daramjwee_tier_evictions_total", "counter", "",
                                          "Entries the tier evicted to stay within capacity."};
inline constexpr MetricDef kTierReadBytes{"daramjwee_tier_read_bytes_total", "counter", "bytes",
                                          "Bytes served from the tier."};
inline constexpr MetricDef kTierWrittenBytes{"daramjwee_tier_written_bytes_total", "counter", "bytes",
                                             "Bytes committed into the tier."};
inline constexpr MetricDef kTierUsed{"daramjwee_tier_used_bytes", "gauge", "bytes",
                                     "Bytes the tier holds against its capacity."};
inline constexpr MetricDef kTierCapacity{"daramjwee_tier_capacity_bytes", "gauge", "bytes",
                                         "The tier's capacity (0: unbounded)."};
inline constexpr MetricDef kTierEntries{"daramjwee_tier_entries", "gauge", "", "Entries the tier holds."};
inline constexpr MetricDef kTierCorruptions{"daramjwee_tier_corruptions_total", "counter", "",
                                            "Entries dropped after failing verification."};
inline constexpr MetricDef kTierStoreErrors{"daramjwee_tier_store_errors_total", "counter", "",
                                            "Operations the tier itself failed (I/O or index errors, a full disk)."};
inline constexpr MetricDef kTierIndexRebuilds{"daramjwee_tier_index_rebuilds_total", "counter", "",
                                              "Damaged indexes quarantined and rebuilt (disk tier)."};
inline constexpr MetricDef kTierFullRefusals{"daramjwee_tier_full_refusals_total", "counter", "",
                                             "Writes refused because the filesystem was full or below the "
                                             "free-space floor (disk tier)."};

// Origin.
inline constexpr MetricDef kOriginRequests{"daramjwee_origin_requests_total", "counter", "",
                                           "Origin fetches by outcome kind (fetch, not_modified, not_found)."};
inline constexpr MetricDef kOriginErrors{"daramjwee_origin_errors_total", "counter", "", "Origin fetches that failed."};
inline constexpr MetricDef kOriginBytes{"daramjwee_origin_bytes_total", "counter", "bytes",
                                        "Bytes received from the origin."};
inline constexpr MetricDef kOriginCoalesced{"daramjwee_origin_coalesced_total", "counter", "",
                                            "Gets that joined another caller's origin fetch."};

// Background work.
inline constexpr MetricDef kWorkerQueued{"daramjwee_worker_jobs_queued_total", "counter", "",
                                         "Background jobs (fills, promotions, refreshes) queued."};
inline constexpr MetricDef kWorkerDropped{"daramjwee_worker_jobs_dropped_total", "counter", "",
                                          "Background jobs dropped (queue full or shutdown)."};
inline constexpr MetricDef kWorkerFailed{"daramjwee_worker_jobs_failed_total", "counter", "",
                                         "Background jobs that failed."};
inline constexpr MetricDef kWorkerDepth{"daramjwee_worker_queue_depth", "gauge", "", "Background jobs waiting."};
inline constexpr MetricDef kRefreshes{"daramjwee_refreshes_total", "counter", "",
                                      "Background refreshes by outcome (scheduled, deduplicated, not_modified, "
                                      "updated, became_negative, failed)."};

// Filesystem.
inline constexpr MetricDef kFsOps{"daramjwee_fs_operations_total", "counter", "",
                                  "Filesystem operations by kind (lookup, negative_lookup, open, read)."};
inline constexpr MetricDef kFsReadBytes{"daramjwee_fs_read_bytes_total", "counter", "bytes",
                                        "Bytes returned by read()."};
inline constexpr MetricDef kFsEio{"daramjwee_fs_eio_total", "counter", "", "Operations that failed with EIO."};
inline constexpr MetricDef kFsChunkOriginRequests{"daramjwee_fs_chunk_origin_requests_total", "counter", "",
                                                  "Origin requests made for file data."};
inline constexpr MetricDef kReadLatency{"daramjwee_read_latency_seconds", "histogram", "seconds",
                                        "Latency of read() by where its slowest chunk was served from."};

}  // namespace daramjwee::metrics
