// Cache: the N-tier read-through cache (libdaramjwee's front door).
//
// get() looks the tiers up in order (tier 0 fastest). A hit in tier i > 0
// streams to the caller while being promoted into tiers 0..i-1; a miss
// everywhere makes one origin fetch per key however many callers ask at once
// (single flight), streams it to every caller while filling tier 0, and fills
// the lower tiers write-behind on the worker pool. Stale hits are served at
// once and refreshed in the background (stale-while-revalidate, one queued
// refresh per key); "not found" answers are cached for negative_ttl.
// The essay at the top of core/cache_impl.cc has the whole story and the races.
//
// Thread-safety: every method is thread-safe. No method holds an internal
// lock while calling a store or a fetcher, except the per-key fence (see
// remove()).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/buffer_pool.h"
#include "core/cache_stats.h"
#include "core/fetcher.h"
#include "core/metadata.h"
#include "core/result.h"
#include "core/store.h"

namespace daramjwee {

using Duration = std::chrono::milliseconds;

struct TierConfig {
  std::shared_ptr<Store> store;  // required
  std::string name;              // Default: the store's kind(), suffixed ".N" if repeated
  std::optional<Duration> ttl;           // Default: CacheOptions::ttl
  std::optional<Duration> negative_ttl;  // Default: CacheOptions::negative_ttl
};

struct CacheOptions {
  // The chain, fastest first. Either `tiers` or the legacy hot/cold pair
  // (converted to tiers {hot, cold}); giving both is a configuration error.
  std::vector<TierConfig> tiers;
  std::shared_ptr<Store> hot;   // legacy
  std::shared_ptr<Store> cold;  // legacy, optional

  Duration ttl = std::chrono::minutes(5);           // Default: 5 min fresh
  Duration negative_ttl = std::chrono::seconds(30); // Default: 30 s
  int workers = 4;                  // Default: 4 background threads (1..1024)
  size_t worker_queue = 1024;       // Default: 1024 queued jobs (>0)
  // How long a fill waits for room in the worker queue before its
  // write-behind to the lower tiers is dropped (counted per tier as
  // dropped_fills). The wait is the backpressure that keeps a fast reader
  // from outrunning the disk tier; 0 drops at once. Default: 30 s.
  Duration write_behind_wait = std::chrono::seconds(30);
  Duration shutdown_timeout = std::chrono::seconds(10);  // Default: 10 s
  bool promotion_probation = false; // Default: off (promote on first hit)
  size_t probation_slots = 16384;   // Default: remembers 16384 one-hit keys
  BufferPoolOptions buffers;        // Default: see BufferPoolOptions

  // Rejects invalid values, naming the field: empty chain, null tier, the
  // same store twice, hot/cold with tiers, negative durations, workers out of
  // range, zero queue, negative write_behind_wait, zero probation slots,
  // invalid buffer options.
  Status validate() const;
};

// Where a get was served from.
struct Source {
  static constexpr int kOrigin = -1;
  int tier = kOrigin;  // tier index, or kOrigin
  bool is_origin() const { return tier == kOrigin; }
};

struct GetResult {
  Metadata metadata;
  std::unique_ptr<Reader> body;  // never null
  Source source;
  bool stale = false;            // served past its ttl; a refresh was queued
};

enum class SetMode { kReplace, kFill };

struct TierPresence {
  std::string tier;
  Metadata metadata;
};

class Cache {
 public:
  // Builds a cache. Errors: kConfigError naming the field.
  static Result<std::unique_ptr<Cache>> open(CacheOptions options);

  Cache() = default;
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;
  // Closes (as close()) if not closed yet.
  virtual ~Cache() = default;

  // Reads `key` through the chain. Outcomes:
  // - a GetResult (fresh or stale hit, or an origin body);
  // - kNotFound: the origin said not-found (now or within negative_ttl);
  // - kCacheClosed after close();
  // - the fetcher's error when every tier missed and the fetch failed (all
  //   coalesced callers get the same error; none fetches again).
  // A tier error is logged and counted and never fails the get.
  virtual Result<GetResult> get(std::string_view key, const std::shared_ptr<Fetcher>& fetcher) = 0;

  // Writes `key` into tier 0. On commit the key is first removed from the
  // lower tiers (so an eviction cannot resurrect an old copy), then tier 0
  // publishes. The commit loses to a remove() or another set() that
  // committed after this set() began: commit() then fails with
  // kResourceExhausted ("superseded") and publishes nothing.
  // Errors: kCacheClosed; tier 0's begin_set errors.
  Result<std::unique_ptr<WriteSink>> set(std::string_view key, const Metadata& metadata) {
    return set(key, metadata, SetMode::kReplace);
  }
  // kReplace: as set() above.
  // kFill: for immutable keys whose value cannot differ from any copy the
  // lower tiers hold (e.g. a chunk keyed by path+version+index): publishes
  // tier 0 now and fills the lower tiers write-behind, exactly as an origin
  // fetch does. Tier 0 refusing the object (too large) is not an error: the
  // lower tiers still get it. Loses to a concurrent remove().
  virtual Result<std::unique_ptr<WriteSink>> set(std::string_view key, const Metadata& metadata,
                                                 SetMode mode) = 0;

  // Removes `key` from every tier, lowest first, under the key's fence so a
  // concurrent fill or promotion cannot publish an older value afterwards.
  // Keeps going when a tier fails. Errors: kAggregate with one child per
  // failed tier (tier() and operation() set); kCacheClosed.
  virtual Status remove(std::string_view key) = 0;

  // Queues a background conditional fetch (the cached etag is sent). At most
  // one refresh per key is queued at a time (a duplicate is OK and ignored).
  // Errors: kCacheClosed; kResourceExhausted when the queue is full (the job
  // is dropped and counted).
  virtual Status schedule_refresh(std::string_view key, std::shared_ptr<Fetcher> fetcher) = 0;

  // Which tiers hold `key`, without fetching or promoting. Tier errors are
  // skipped. Errors: kCacheClosed.
  virtual Result<std::vector<TierPresence>> locate(std::string_view key) = 0;

  // Stops accepting work, drains the worker pool within shutdown_timeout
  // (jobs still queued after it are dropped and counted), flushes every
  // tier. Idempotent; concurrent callers all wait for the one shutdown.
  // Afterwards every method returns kCacheClosed. Errors: kTimeout when the
  // drain ran out of time; kAggregate of tier flush failures.
  virtual Status close() = 0;

  // A snapshot of every counter.
  virtual CacheStats stats() const = 0;

  // Tier names in chain order (as used in logs and stats).
  virtual std::vector<std::string> tier_names() const = 0;
};

}  // namespace daramjwee
