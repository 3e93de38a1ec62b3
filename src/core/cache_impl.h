// CacheImpl: the Cache of cache.h over a chain of Stores. Internal header:
// users include core/cache.h and call Cache::open(). The essay on how gets,
// fills, promotions and removals interleave is at the top of cache_impl.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/cache.h"
#include "core/key_fence.h"
#include "core/probation.h"
#include "core/single_flight.h"
#include "core/worker_pool.h"
#include "util/striped_counter.h"

namespace daramjwee {

// Hot-path counters are striped per thread (util/striped_counter.h).
struct TierCounters {
  util::StripedCounter hits, misses, negative_hits, bytes_read;
  std::atomic<uint64_t> errors{0}, stale_hits{0}, promotions{0}, failed_promotions{0}, fills{0},
      failed_fills{0}, dropped_fills{0}, bytes_written{0};
};

struct Tier {
  std::string name;
  std::shared_ptr<Store> store;
  Duration ttl{}, negative_ttl{};
  TierCounters c;
};

// State shared by the cache and the work it started (flights, background
// jobs), so a reader that outlives the Cache object stays valid. The Cache
// joins the worker pool in close(), before its own reference goes away, so
// a worker never drops the last reference.
struct Engine : std::enable_shared_from_this<Engine> {
  explicit Engine(CacheOptions options);  // Requires: options.validate() OK

  bool is_fresh(const Tier& t, const Metadata& m, Clock::time_point now) const;
  // Commits `sink` into tier `tier` if the key's generation is still `gen`.
  // False when fenced out or when the commit failed (logged and counted by
  // the caller's kind of work, `what`).
  bool commit_fenced(size_t tier, std::string_view key, uint64_t gen,
                     std::unique_ptr<WriteSink> sink, const char* what);
  // Removes key from every tier below tier 0, lowest first; failures are
  // logged (the caller holds the key's exclusive fence).
  void invalidate_lower(std::string_view key);
  // Queues the write-behind fill of `targets` with `segments`.
  void fill_tiers_behind(std::string key, uint64_t gen, Metadata meta,
                         std::vector<SharedBytes> segments, std::vector<size_t> targets);

  std::vector<std::unique_ptr<Tier>> tiers;  // immutable after construction
  KeyFence fence;
  std::shared_ptr<FlightRegistry> flights = std::make_shared<FlightRegistry>();
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<Probation> probation;  // null: promote on first hit
  std::shared_ptr<BufferPool> buffers;
  Duration shutdown_timeout{};
  Duration write_behind_wait{};
  std::atomic<bool> closed{false};
  std::shared_ptr<spdlog::logger> log;

  struct {
    std::atomic<uint64_t> fetches{0}, not_modified{0}, not_found{0}, errors{0}, bytes{0},
        coalesced{0};
  } origin;
  struct {
    std::atomic<uint64_t> scheduled{0}, deduplicated{0}, not_modified{0}, updated{0},
        became_negative{0}, failed{0};
  } refresh;
  std::atomic<uint64_t> fence_rejections{0};

  std::mutex refresh_mu;                         // guards refresh_queued
  std::unordered_set<std::string> refresh_queued;  // keys with a refresh queued or running
};

class CacheImpl final : public Cache {
 public:
  explicit CacheImpl(CacheOptions options);  // Requires: options.validate() OK
  ~CacheImpl() override;

  using Cache::set;
  Result<GetResult> get(std::string_view key, const std::shared_ptr<Fetcher>& fetcher) override;
  Result<std::unique_ptr<WriteSink>> set(std::string_view key, const Metadata& metadata,
                                         SetMode mode) override;
  Status remove(std::string_view key) override;
  Status schedule_refresh(std::string_view key, std::shared_ptr<Fetcher> fetcher) override;
  Result<std::vector<TierPresence>> locate(std::string_view key) override;
  Status close() override;
  CacheStats stats() const override;
  std::vector<std::string> tier_names() const override;

 private:
  // `flight` is the key's flight this caller leads; the returned reader is
  // that flight's (waiters share it). Requires: flight pending.
  std::unique_ptr<Reader> promote(std::string_view key, uint64_t gen, size_t hit, uint64_t failed,
                                  const Metadata& meta, std::unique_ptr<Reader> body,
                                  const std::shared_ptr<Flight>& flight);
  void promote_negative(std::string_view key, uint64_t gen, size_t hit, const Metadata& meta);
  // Joins or leads the key's flight, or continues one the caller already
  // leads (`led`, non-null after a lookup below tier 0).
  Result<GetResult> fetch_from_origin(std::string_view key, uint64_t gen, uint64_t failed,
                                      const std::shared_ptr<Fetcher>& fetcher,
                                      std::shared_ptr<Flight> led = nullptr);
  // The outcome of a flight this caller joined as a follower.
  Result<GetResult> follow(Flight& flight);
  // Called by a new leader: a flight that ended between the caller's tier-0
  // lookup and its join_or_lead() has just published the key in tier 0 (it
  // commits before it ends), and looking further would fetch it again. On a
  // fresh tier-0 hit, starts `flight` with it and returns the result.
  std::optional<GetResult> recheck_tier0(std::string_view key, Flight& flight);
  void publish_negative(std::string key, uint64_t gen, uint64_t failed, const Metadata& neg);
  static void refresh_now(Engine& e, const std::string& key, Fetcher& fetcher);
  static void replace_everywhere(Engine& e, const std::string& key, uint64_t gen,
                                 const Metadata& meta, std::vector<SharedBytes> segments);

  std::shared_ptr<Engine> e_;

  enum class CloseState { kOpen, kRunning, kDone };
  std::mutex close_mu_;               // guards close_state_, close_status_
  std::condition_variable close_cv_;  // close finished
  CloseState close_state_ = CloseState::kOpen;
  Status close_status_;
};

}  // namespace daramjwee
