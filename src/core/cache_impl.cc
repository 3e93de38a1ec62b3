// The tier chain: how a get, a fill, a promotion and a removal interleave.
//
// get(key):
//   1. Snapshot the key's generation (KeyFence) BEFORE reading any tier.
//   2. Ask tiers in order. A tier error marks the tier failed for this get:
//      it is logged and counted, never promoted into, and the search goes on.
//      A fresh negative entry answers kNotFound; a stale one is a miss.
//   3. Below tier 0 one caller per key leads: a tier-0 miss joins or leads
//      the key's Flight (single_flight.h) before looking further, so
//      concurrent misses read a lower tier (or the origin) once and share
//      the bytes. A hit in tier i > 0 is promoted into tiers 0..i-1. Up to
//      4 MiB it is read whole once, published upward as that one buffer and
//      served from it; larger hits stream through a tee: the reads also
//      write the upper tiers, and at the end of the stream each sink commits
//      through the fence. A failed promotion is a warning, never a failed
//      read. If a tier above the hit failed, nothing is promoted: that tier
//      may hold a newer copy we could not see. With probation on, only a
//      second hit within the window promotes.
//   4. A stale hit is served at once and one refresh is queued.
//   5. A miss everywhere is fetched by the flight's leader; the body
//      streams to every caller through the flight while filling tier 0;
//      at the end of the stream tier 0 commits
//      through the fence and the lower tiers are filled write-behind on the
//      worker pool from the same segments (so they hold identical bytes).
//
// remove(key) bumps the generation under the key's exclusive fence, then
// removes bottom-up: lowest tier first, so a promotion reading a lower tier
// cannot copy the old value above a tier already cleared. Every publish that
// started before the bump is rejected by the fence (counted).
//
// Nothing here holds an engine lock while calling a store or a fetcher,
// except the fence stripe around the publish or removal itself.
#include "core/cache_impl.h"

#include <exception>

#include <fmt/format.h>

#include "util/log.h"

namespace daramjwee {

namespace {

uint64_t load(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }
uint64_t load(const util::StripedCounter& c) { return c.load(); }
void inc(std::atomic<uint64_t>& a, uint64_t n = 1) { a.fetch_add(n, std::memory_order_relaxed); }
void inc(util::StripedCounter& c, uint64_t n = 1) { c.add(n); }

// Logs a warning at most once per second per call site.
#define DJ_WARN_LIMITED(log, ...)                             \
  do {                                                        \
    static util::RateLimit dj_limit_;                         \
    uint64_t dj_suppressed_ = 0;                              \
    if (dj_limit_.allow(&dj_suppressed_)) {                   \
      (log)->warn(__VA_ARGS__);                               \
      if (dj_suppressed_)                                     \
        (log)->warn("... {} similar messages suppressed", dj_suppressed_); \
    }                                                         \
  } while (0)

// Lower-tier hits up to this size are read whole before they are promoted
// (one buffer shared by the caller and the upper tiers); larger ones stream
// through a tee. Chunks of the filesystem (1 MiB by default) are below it.
constexpr uint64_t kWholePromotionBytes = 4 << 20;

// A body whose first read fails with `error` (a lower tier's body failed
// while it was being read whole for promotion).
class FailedReader final : public Reader {
 public:
  explicit FailedReader(Status error) : error_(std::move(error)) {}
  Result<size_t> read(std::span<std::byte>) override { return error_; }

 private:
  Status error_;
};
std::unique_ptr<Reader> make_failed_reader(Status error) { return std::make_unique<FailedReader>(std::move(error)); }

// Fetchers are user code: an exception must not cross into the engine (a
// worker thread would die; a leader would leave followers waiting).
Result<FetchOutcome> guarded_fetch(Fetcher& fetcher, std::string_view key, const Metadata* cached) {
  try {
    return fetcher.fetch(key, cached);
  } catch (const std::bad_alloc&) {
    return Status::exhausted("out of memory in fetcher");
  } catch (const std::exception& ex) {
    return Status::internal(fmt::format("fetcher threw: {}", ex.what()));
  } catch (...) {
    return Status::internal("fetcher threw a non-exception");
  }
}

}  // namespace

// ---------------------------------------------------------------- Engine --

Engine::Engine(CacheOptions opts) : log(util::logger("core")) {
  if (opts.tiers.empty()) {
    opts.tiers.push_back(TierConfig{opts.hot, {}, {}, {}});
    if (opts.cold) opts.tiers.push_back(TierConfig{opts.cold, {}, {}, {}});
  }
  std::unordered_map<std::string, int> kinds;
  for (auto& t : opts.tiers) ++kinds[std::string(t.store->kind())];
  std::unordered_map<std::string, int> seen;
  for (auto& t : opts.tiers) {
    auto tier = std::make_unique<Tier>();
    std::string kind(t.store->kind());
    if (!t.name.empty()) {
      tier->name = t.name;
    } else if (kinds[kind] > 1) {
      tier->name = fmt::format("{}.{}", kind, seen[kind]++);
    } else {
      tier->name = kind;
    }
    tier->store = t.store;
    tier->ttl = t.ttl.value_or(opts.ttl);
    tier->negative_ttl = t.negative_ttl.value_or(opts.negative_ttl);
    tiers.push_back(std::move(tier));
  }
  pool = std::make_unique<WorkerPool>(opts.workers, opts.worker_queue);
  if (opts.promotion_probation) probation = std::make_unique<Probation>(opts.probation_slots);
  buffers = std::make_shared<BufferPool>(opts.buffers);
  shutdown_timeout = opts.shutdown_timeout;
  write_behind_wait = opts.write_behind_wait;
}

bool Engine::is_fresh(const Tier& t, const Metadata& m, Clock::time_point now) const {
  auto ttl = m.negative ? t.negative_ttl : t.ttl;
  return now - m.cached_at < ttl;
}

bool Engine::commit_fenced(size_t tier, std::string_view key, uint64_t gen,
                           std::unique_ptr<WriteSink> sink, const char* what) {
  Tier& t = *tiers[tier];
  Status st;
  bool ran = fence.publish_if(key, gen, [&] { st = sink->commit(); });
  if (!ran) {
    sink->abort();
    inc(fence_rejections);
    log->debug("dropped {} after a concurrent remove tier={} key={}", what, t.name, key);
    return false;
  }
  if (!st) {
    if (st.is(StatusCode::kResourceExhausted)) {
      log->debug("{} not cacheable tier={} key={} reason=\"{}\"", what, t.name, key, st.message());
    } else {
      DJ_WARN_LIMITED(log, "{} failed tier={} key={} op=commit error=\"{}\"", what, t.name, key,
                      st.to_string());
    }
    return false;
  }
  return true;
}

void Engine::invalidate_lower(std::string_view key) {
  for (size_t i = tiers.size(); i-- > 1;) {
    if (auto s = tiers[i]->store->remove(key); !s)
      DJ_WARN_LIMITED(log, "invalidate failed tier={} key={} op=remove error=\"{}\"", tiers[i]->name,
                      key, s.to_string());
  }
}

void Engine::fill_tiers_behind(std::string key, uint64_t gen, Metadata meta,
                               std::vector<SharedBytes> segments, std::vector<size_t> targets) {
  if (targets.empty()) return;
  auto self = shared_from_this();
  const std::string shown = key;  // for the log line if it is dropped
  const std::vector<size_t> dropped_targets = targets;
  bool queued = pool->submit_wait([self, key = std::move(key), gen, meta = std::move(meta),
                              segments = std::move(segments),
                              targets = std::move(targets)](std::stop_token st) {
    for (size_t i : targets) {
      if (st.stop_requested()) return;
      Tier& t = *self->tiers[i];
      auto sink = t.store->begin_set(key, meta);
      if (!sink) {
        if (!sink.error().is(StatusCode::kResourceExhausted)) {
          inc(t.c.failed_fills);
          DJ_WARN_LIMITED(self->log, "fill failed tier={} key={} op=begin_set error=\"{}\"",
                          t.name, key, sink.error().to_string());
        }
        continue;
      }
      Status ws;
      for (const auto& seg : segments) {
        if (ws = (*sink)->write_shared(seg); !ws) break;
      }
      if (!ws) {
        (*sink)->abort();
        if (!ws.is(StatusCode::kResourceExhausted)) {
          inc(t.c.failed_fills);
          DJ_WARN_LIMITED(self->log, "fill failed tier={} key={} op=write error=\"{}\"", t.name,
                          key, ws.to_string());
        }
        continue;
      }
      if (self->commit_fenced(i, key, gen, std::move(*sink), "fill")) {
        inc(t.c.fills);
        inc(t.c.bytes_written, meta.negative ? 0 : meta.size);
      } else if (self->fence.generation(key) != gen) {
        return;  // superseded: the lower tiers must not get it either
      }
    }
  }, std::chrono::steady_clock::now() + write_behind_wait);
  if (!queued) {
    for (size_t i : dropped_targets) inc(tiers[i]->c.dropped_fills);
    DJ_WARN_LIMITED(log, "write-behind dropped (queue full for write_behind_wait, or closing) key={}", shown);
  }
}

// ------------------------------------------------------------- CacheImpl --

namespace {

class RefreshMark {
 public:
  RefreshMark(std::shared_ptr<Engine> e, std::string key) : e_(std::move(e)), key_(std::move(key)) {}
  ~RefreshMark() {
    std::lock_guard lock(e_->refresh_mu);
    e_->refresh_queued.erase(key_);
  }
  RefreshMark(const RefreshMark&) = delete;
  RefreshMark& operator=(const RefreshMark&) = delete;

 private:
  std::shared_ptr<Engine> e_;
  std::string key_;
};

// The sink set() hands out. See cache.h for kReplace vs kFill.
class CacheSink final : public WriteSink {
 public:
  CacheSink(std::shared_ptr<Engine> e, std::string key, Metadata meta, uint64_t gen, SetMode mode,
            std::unique_ptr<WriteSink> tier0)
      : e_(std::move(e)), key_(std::move(key)), meta_(std::move(meta)), gen_(gen), mode_(mode),
        tier0_(std::move(tier0)) {}
  ~CacheSink() override { abort(); }

  Status write(std::span<const std::byte> data) override {
    if (done_) return Status::invalid_argument("write after commit or abort");
    if (tier0_) {
      if (auto s = tier0_->write(data); !s) {
        if (mode_ == SetMode::kReplace) return s;
        tier0_->abort();  // kFill: tier 0 cannot take it; the lower tiers still can
        tier0_.reset();
        if (!s.is(StatusCode::kResourceExhausted))
          DJ_WARN_LIMITED(e_->log, "fill failed tier={} key={} op=write error=\"{}\"",
                          e_->tiers[0]->name, key_, s.to_string());
      }
    }
    if (mode_ == SetMode::kFill && !data.empty())
      kept_.push_back(std::make_shared<const Bytes>(Bytes::copy_of(data)));
    total_ += data.size();
    return Status::ok();
  }

  Status commit() override {
    if (done_) return Status::invalid_argument("commit after commit or abort");
    done_ = true;
    meta_.size = total_;
    if (mode_ == SetMode::kFill) return commit_fill();
    Status result;
    bool ran = e_->fence.exclusive(key_, &gen_, [&] {
      // Lower tiers first, so tier 0's new value is never shadowed by an old
      // copy resurfacing after an eviction.
      e_->invalidate_lower(key_);
      result = tier0_->commit();
    });
    tier0_.reset();
    if (!ran) {
      inc(e_->fence_rejections);
      return Status::exhausted("superseded by a concurrent remove or set");
    }
    if (result) inc(e_->tiers[0]->c.bytes_written, total_);
    return result.is_ok() ? result : result.with_tier(e_->tiers[0]->name, "commit");
  }

  void abort() noexcept override {
    done_ = true;
    if (tier0_) tier0_->abort();
    tier0_.reset();
    kept_.clear();
  }

 private:
  Status commit_fill() {
    std::vector<size_t> lower;
    for (size_t i = 1; i < e_->tiers.size(); ++i) lower.push_back(i);
    if (tier0_) {
      if (e_->commit_fenced(0, key_, gen_, std::move(tier0_), "fill")) {
        inc(e_->tiers[0]->c.fills);
        inc(e_->tiers[0]->c.bytes_written, total_);
      } else if (e_->fence.generation(key_) != gen_) {
        return Status::exhausted("superseded by a concurrent remove");
      }
    }
    e_->fill_tiers_behind(key_, gen_, meta_, std::move(kept_), std::move(lower));
    return Status::ok();
  }

  std::shared_ptr<Engine> e_;
  std::string key_;
  Metadata meta_;
  uint64_t gen_;
  SetMode mode_;
  std::unique_ptr<WriteSink> tier0_;
  std::vector<SharedBytes> kept_;
  uint64_t total_ = 0;
  bool done_ = false;
};

}  // namespace

CacheImpl::CacheImpl(CacheOptions options) : e_(std::make_shared<Engine>(std::move(options))) {
  for (auto& t : e_->tiers)
    e_->log->debug("tier ready index={} tier={} ttl_ms={} negative_ttl_ms={}",
                   &t - &e_->tiers[0], t->name, t->ttl.count(), t->negative_ttl.count());
}

CacheImpl::~CacheImpl() { ignore_error(close()); }

Result<std::unique_ptr<Cache>> Cache::open(CacheOptions options) {
  if (auto s = options.validate(); !s) return s;
  return std::unique_ptr<Cache>(new CacheImpl(std::move(options)));
}

Result<GetResult> CacheImpl::get(std::string_view key, const std::shared_ptr<Fetcher>& fetcher) {
  Engine& e = *e_;
  if (e.closed.load(std::memory_order_acquire)) return Status::cache_closed();
  const uint64_t gen = e.fence.generation(key);  // before reading any tier
  const auto now = Clock::now();
  uint64_t failed = 0;  // bit i: tier i errored during this get
  // Below tier 0 a get is led by one caller per key (see the essay, step 3).
  std::shared_ptr<Flight> flight;
  std::optional<LeaderGuard> guard;

  for (size_t i = 0; i < e.tiers.size(); ++i) {
    if (i == 1) {
      auto [f, leader] = e.flights->join_or_lead(key);
      if (!leader) return follow(*f);
      flight = std::move(f);
      guard.emplace(flight);
      if ((failed & 1) == 0) {
        if (auto hit = recheck_tier0(key, *flight)) return std::move(*hit);
      }
    }
    Tier& t = *e.tiers[i];
    auto r = t.store->get(key);
    if (!r) {
      failed |= 1ull << i;
      inc(t.c.errors);
      DJ_WARN_LIMITED(e.log, "lookup failed, treating tier as failed tier={} key={} op=get error=\"{}\"",
                      t.name, key, r.error().to_string());
      continue;
    }
    if (!r->has_value()) {
      inc(t.c.misses);
      e.log->debug("miss tier={} key={}", t.name, key);
      continue;
    }
    StoreEntry entry = std::move(**r);
    const bool fresh = e.is_fresh(t, entry.metadata, now);
    if (entry.metadata.negative) {
      if (!fresh) {
        inc(t.c.misses);
        e.log->debug("stale negative entry, refetching tier={} key={}", t.name, key);
        break;  // lower tiers cannot know better than this one
      }
      inc(t.c.negative_hits);
      e.log->debug("negative hit tier={} key={}", t.name, key);
      if (i > 0 && (failed & ((1ull << i) - 1)) == 0) promote_negative(key, gen, i, entry.metadata);
      if (flight) flight->not_found();
      return Status::not_found();
    }
    inc(t.c.hits);
    inc(t.c.bytes_read, entry.metadata.size);
    GetResult out;
    out.metadata = entry.metadata;
    out.source.tier = static_cast<int>(i);
    out.stale = !fresh;
    e.log->debug("hit tier={} key={} size={} stale={}", t.name, key, entry.metadata.size, !fresh);
    if (!fresh) {
      inc(t.c.stale_hits);
      ignore_error(schedule_refresh(key, fetcher));  // outcome counted inside
    }
    out.body = i > 0 ? promote(key, gen, i, failed, entry.metadata, std::move(entry.body), flight)
                     : std::move(entry.body);
    return out;
  }
  return fetch_from_origin(key, gen, failed, fetcher, std::move(flight));
}

std::optional<GetResult> CacheImpl::recheck_tier0(std::string_view key, Flight& flight) {
  Engine& e = *e_;
  auto r = e.tiers[0]->store->get(key);
  if (!r || !r->has_value()) return std::nullopt;
  StoreEntry entry = std::move(**r);
  if (entry.metadata.negative || !e.is_fresh(*e.tiers[0], entry.metadata, Clock::now())) return std::nullopt;
  inc(e.tiers[0]->c.hits);
  GetResult out;
  out.metadata = entry.metadata;
  out.source.tier = 0;
  flight.start(entry.metadata, std::move(entry.body), nullptr, nullptr, nullptr, 0);
  out.body = flight.reader();
  return out;
}

Result<GetResult> CacheImpl::follow(Flight& flight) {
  Engine& e = *e_;
  inc(e.origin.coalesced);
  e.log->debug("joined in-flight get key={}", flight.key());
  if (auto s = flight.wait(); !s) return s;
  GetResult out;
  out.metadata = flight.metadata();
  out.source.tier = flight.source_tier();
  out.body = flight.reader();
  return out;
}

std::unique_ptr<Reader> CacheImpl::promote(std::string_view key, uint64_t gen, size_t hit,
                                           uint64_t failed, const Metadata& meta,
                                           std::unique_ptr<Reader> body,
                                           const std::shared_ptr<Flight>& flight) {
  Engine& e = *e_;
  const int from = static_cast<int>(hit);
  // Waiters on the flight read what this caller reads.
  auto share = [&](std::unique_ptr<Reader> r) {
    flight->start(meta, std::move(r), nullptr, nullptr, nullptr, from);
    return flight->reader();
  };
  if (failed & ((1ull << hit) - 1)) {
    e.log->debug("not promoting past a failed tier key={} hit_tier={}", key, e.tiers[hit]->name);
    return share(std::move(body));
  }
  if (e.probation && !e.probation->admit(key)) {
    e.log->debug("promotion on probation key={} hit_tier={}", key, e.tiers[hit]->name);
    return share(std::move(body));
  }
  const bool whole = meta.size > 0 && meta.size <= kWholePromotionBytes;
  std::vector<std::unique_ptr<WriteSink>> sinks;
  std::vector<size_t> index;  // sinks[k] writes tier index[k]
  for (size_t j = 0; j < hit; ++j) {
    Tier& t = *e.tiers[j];
    auto sink = t.store->begin_set(key, meta);
    if (!sink) {
      if (!sink.error().is(StatusCode::kResourceExhausted)) {
        inc(t.c.failed_promotions);
        DJ_WARN_LIMITED(e.log, "promotion failed tier={} key={} op=begin_set error=\"{}\"", t.name,
                        key, sink.error().to_string());
      }
      continue;
    }
    sinks.push_back(std::move(*sink));
    index.push_back(j);
  }
  if (sinks.empty()) return share(std::move(body));
  auto self = e_;
  std::string k(key);
  TeeHooks hooks;
  hooks.on_sink_error = [self, k, index](size_t n, const Status& s) {
    Tier& t = *self->tiers[index[n]];
    if (s.is(StatusCode::kResourceExhausted)) return;  // not cacheable there
    inc(t.c.failed_promotions);
    DJ_WARN_LIMITED(self->log, "promotion failed tier={} key={} op=write error=\"{}\"", t.name, k,
                    s.to_string());
  };
  hooks.on_complete = [self, k, index, gen, size = meta.size](size_t n,
                                                              std::unique_ptr<WriteSink> sink) {
    Tier& t = *self->tiers[index[n]];
    if (self->commit_fenced(index[n], k, gen, std::move(sink), "promotion")) {
      inc(t.c.promotions);
      inc(t.c.bytes_written, size);
      self->log->debug("promoted tier={} key={}", t.name, k);
    } else if (self->fence.generation(k) == gen) {
      inc(t.c.failed_promotions);
    }
  };
  if (!whole) return share(make_tee_reader(std::move(body), std::move(sinks), std::move(hooks)));
  // Small enough to hold: read it once, publish that buffer upward as is
  // (the memory tier adopts it) and serve it from memory, so the caller
  // gets a view() instead of copying through a tee.
  SharedBytes shared = body->shared_bytes();  // a disk entry verified in memory at open
  if (!shared) {
    auto all = read_all(*body, meta.size);
    if (!all) {
      for (auto& s : sinks) s->abort();
      flight->fail(all.error());
      return make_failed_reader(all.error());
    }
    shared = std::make_shared<const Bytes>(std::move(*all));
  }
  for (size_t n = 0; n < sinks.size(); ++n) {
    if (auto s = sinks[n]->write_shared(shared); !s) {
      sinks[n]->abort();
      hooks.on_sink_error(n, s);
      continue;
    }
    hooks.on_complete(n, std::move(sinks[n]));
  }
  // Published above; the flight only hands the same buffer to waiters and
  // ends (unregisters) once its first reader takes it.
  return share(make_bytes_reader(std::move(shared)));
}

void CacheImpl::promote_negative(std::string_view key, uint64_t gen, size_t hit,
                                 const Metadata& meta) {
  Engine& e = *e_;
  for (size_t j = 0; j < hit; ++j) {
    auto sink = e.tiers[j]->store->begin_set(key, meta);
    if (!sink) continue;
    if (e.commit_fenced(j, key, gen, std::move(*sink), "promotion")) inc(e.tiers[j]->c.promotions);
  }
}

Result<GetResult> CacheImpl::fetch_from_origin(std::string_view key, uint64_t gen, uint64_t failed,
                                               const std::shared_ptr<Fetcher>& fetcher,
                                               std::shared_ptr<Flight> led) {
  Engine& e = *e_;
  std::shared_ptr<Flight> flight = std::move(led);
  const bool rechecked = flight != nullptr;  // get() re-checked tier 0 when it joined
  if (!flight) {
    auto [f, leader] = e.flights->join_or_lead(key);
    if (!leader) return follow(*f);
    flight = std::move(f);
  }
  LeaderGuard guard(flight);
  if (!rechecked && (failed & 1) == 0) {
    if (auto hit = recheck_tier0(key, *flight)) return std::move(*hit);
  }
  inc(e.origin.fetches);
  Result<FetchOutcome> fetched = guarded_fetch(*fetcher, key, nullptr);
  if (!fetched) {
    inc(e.origin.errors);
    DJ_WARN_LIMITED(e.log, "origin fetch failed key={} error=\"{}\"", key, fetched.error().to_string());
    flight->fail(fetched.error());
    return fetched.error();
  }
  const auto now = Clock::now();
  if (std::holds_alternative<NotFoundAtOrigin>(*fetched)) {
    inc(e.origin.not_found);
    e.log->debug("origin not found, caching negative key={}", key);
    Metadata neg;
    neg.negative = true;
    neg.cached_at = now;
    publish_negative(std::string(key), gen, failed, neg);
    flight->not_found();
    return Status::not_found();
  }
  if (std::holds_alternative<NotModified>(*fetched)) {
    inc(e.origin.errors);
    Status s = Status::internal("fetcher answered not-modified to an unconditional fetch");
    flight->fail(s);
    return s;
  }
  auto& body = std::get<FetchedBody>(*fetched);
  Metadata meta = body.metadata;
  meta.negative = false;
  meta.cached_at = now;

  std::unique_ptr<WriteSink> sink0;
  std::vector<size_t> behind;
  for (size_t i = 0; i < e.tiers.size(); ++i) {
    if (failed & (1ull << i)) continue;
    if (!sink0 && i == 0) {
      auto s = e.tiers[0]->store->begin_set(key, meta);
      if (s) {
        sink0 = std::move(*s);
        continue;
      }
      if (!s.error().is(StatusCode::kResourceExhausted)) {
        inc(e.tiers[0]->c.failed_fills);
        DJ_WARN_LIMITED(e.log, "fill failed tier={} key={} op=begin_set error=\"{}\"",
                        e.tiers[0]->name, key, s.error().to_string());
      }
      continue;
    }
    behind.push_back(i);
  }
  auto self = e_;
  std::string k(key);
  Flight::Completion done = [self, k, gen, meta, behind = std::move(behind)](
                                std::unique_ptr<WriteSink> sink,
                                const std::vector<SharedBytes>& segments, uint64_t total) mutable {
    inc(self->origin.bytes, total);
    Metadata m = meta;
    m.size = total;
    if (sink) {
      if (self->commit_fenced(0, k, gen, std::move(sink), "fill")) {
        inc(self->tiers[0]->c.fills);
        inc(self->tiers[0]->c.bytes_written, total);
      } else if (self->fence.generation(k) != gen) {
        return;  // removed meanwhile: no tier may get it
      }
    }
    self->fill_tiers_behind(k, gen, m, segments, std::move(behind));
  };
  Flight::SinkError sink_error = [self, k](const Status& s) {
    if (s.is(StatusCode::kResourceExhausted)) return;
    inc(self->tiers[0]->c.failed_fills);
    DJ_WARN_LIMITED(self->log, "fill failed tier={} key={} op=write error=\"{}\"",
                    self->tiers[0]->name, k, s.to_string());
  };
  flight->start(meta, std::move(body.body), std::move(sink0), std::move(done), std::move(sink_error));
  e.log->debug("fetching from origin key={} size={}", key, meta.size);
  GetResult out;
  out.metadata = meta;
  out.body = flight->reader();
  return out;
}

void CacheImpl::publish_negative(std::string key, uint64_t gen, uint64_t failed, const Metadata& neg) {
  Engine& e = *e_;
  std::vector<size_t> behind;
  for (size_t i = 0; i < e.tiers.size(); ++i) {
    if (failed & (1ull << i)) continue;
    if (i > 0) {
      behind.push_back(i);
      continue;
    }
    auto sink = e.tiers[0]->store->begin_set(key, neg);
    if (sink && e.commit_fenced(0, key, gen, std::move(*sink), "negative fill"))
      inc(e.tiers[0]->c.fills);
  }
  e.fill_tiers_behind(std::move(key), gen, neg, {}, std::move(behind));
}

Result<std::unique_ptr<WriteSink>> CacheImpl::set(std::string_view key, const Metadata& metadata,
                                                  SetMode mode) {
  Engine& e = *e_;
  if (e.closed.load(std::memory_order_acquire)) return Status::cache_closed();
  const uint64_t gen = e.fence.generation(key);
  Metadata meta = metadata;
  if (meta.cached_at == Clock::time_point{}) meta.cached_at = Clock::now();
  auto sink = e.tiers[0]->store->begin_set(key, meta);
  std::unique_ptr<WriteSink> tier0;
  if (sink) {
    tier0 = std::move(*sink);
  } else if (mode == SetMode::kReplace || !sink.error().is(StatusCode::kResourceExhausted)) {
    if (mode == SetMode::kReplace) return sink.error().with_tier(e.tiers[0]->name, "begin_set");
    DJ_WARN_LIMITED(e.log, "fill failed tier={} key={} op=begin_set error=\"{}\"", e.tiers[0]->name,
                    key, sink.error().to_string());
  }
  return std::unique_ptr<WriteSink>(
      new CacheSink(e_, std::string(key), std::move(meta), gen, mode, std::move(tier0)));
}

Status CacheImpl::remove(std::string_view key) {
  Engine& e = *e_;
  if (e.closed.load(std::memory_order_acquire)) return Status::cache_closed();
  std::vector<Status> failures;
  e.fence.exclusive(key, nullptr, [&] {
    for (size_t i = e.tiers.size(); i-- > 0;) {  // bottom-up
      if (auto s = e.tiers[i]->store->remove(key); !s) {
        DJ_WARN_LIMITED(e.log, "remove failed tier={} key={} op=remove error=\"{}\"", e.tiers[i]->name,
                        key, s.to_string());
        failures.push_back(Status::tier_error(e.tiers[i]->name, "remove", s.to_string()));
      }
    }
  });
  e.log->debug("removed key={} failed_tiers={}", key, failures.size());
  return Status::aggregate(fmt::format("remove of {} failed in {} tier(s)", key, failures.size()),
                           std::move(failures));
}

Status CacheImpl::schedule_refresh(std::string_view key, std::shared_ptr<Fetcher> fetcher) {
  Engine& e = *e_;
  if (e.closed.load(std::memory_order_acquire)) return Status::cache_closed();
  {
    std::lock_guard lock(e.refresh_mu);
    if (!e.refresh_queued.emplace(key).second) {
      inc(e.refresh.deduplicated);
      return Status::ok();
    }
  }
  inc(e.refresh.scheduled);
  auto mark = std::make_shared<RefreshMark>(e_, std::string(key));
  auto self = e_;
  bool queued = e.pool->submit([self, mark, k = std::string(key), fetcher](std::stop_token) {
    refresh_now(*self, k, *fetcher);
  });
  if (!queued) {
    DJ_WARN_LIMITED(e.log, "refresh dropped (queue full or closing) key={}", key);
    return Status::exhausted("worker queue full");
  }
  return Status::ok();
}

void CacheImpl::refresh_now(Engine& e, const std::string& key, Fetcher& fetcher) {
  const uint64_t gen = e.fence.generation(key);
  std::optional<Metadata> old;
  for (auto& t : e.tiers) {
    auto m = t->store->stat(key);
    if (m && m->has_value()) {
      old = **m;
      break;
    }
  }
  inc(e.origin.fetches);
  Result<FetchOutcome> fetched = guarded_fetch(fetcher, key, old && !old->negative ? &*old : nullptr);
  if (!fetched) {
    inc(e.origin.errors);
    inc(e.refresh.failed);
    DJ_WARN_LIMITED(e.log, "refresh failed, serving stale key={} error=\"{}\"", key,
                    fetched.error().to_string());
    return;
  }
  const auto now = Clock::now();
  if (auto* nm = std::get_if<NotModified>(&*fetched)) {
    inc(e.origin.not_modified);
    inc(e.refresh.not_modified);
    if (!old) return;
    Metadata m = *old;
    m.cached_at = now;
    if (!nm->metadata.etag.empty()) m.etag = nm->metadata.etag;
    e.fence.publish_if(key, gen, [&] {
      for (auto& t : e.tiers) {
        auto r = t->store->update_metadata(key, m);
        if (!r)
          DJ_WARN_LIMITED(e.log, "revalidation update failed tier={} key={} error=\"{}\"", t->name,
                          key, r.error().to_string());
      }
    });
    e.log->debug("revalidated, not modified key={}", key);
    return;
  }
  if (std::holds_alternative<NotFoundAtOrigin>(*fetched)) {
    inc(e.origin.not_found);
    inc(e.refresh.became_negative);
    Metadata neg;
    neg.negative = true;
    neg.cached_at = now;
    replace_everywhere(e, key, gen, neg, {});
    return;
  }
  auto& body = std::get<FetchedBody>(*fetched);
  std::vector<SharedBytes> segments;
  uint64_t total = 0;
  for (;;) {
    Bytes seg(256 << 10);
    auto n = body.body->read(std::span(seg.data(), seg.capacity()));
    if (!n) {
      inc(e.origin.errors);
      inc(e.refresh.failed);
      DJ_WARN_LIMITED(e.log, "refresh body failed, serving stale key={} error=\"{}\"", key,
                      n.error().to_string());
      return;
    }
    if (*n == 0) break;
    seg.resize(*n);
    total += *n;
    segments.push_back(std::make_shared<const Bytes>(std::move(seg)));
  }
  inc(e.origin.bytes, total);
  inc(e.refresh.updated);
  Metadata m = body.metadata;
  m.negative = false;
  m.cached_at = now;
  m.size = total;
  replace_everywhere(e, key, gen, m, std::move(segments));
  e.log->debug("refreshed with new content key={} size={}", key, total);
}

// A refresh found new content (or not-found): tier 0 gets it now under the
// exclusive fence (lower tiers cleared first, as set() does), then the lower
// tiers are refilled write-behind with the new generation.
void CacheImpl::replace_everywhere(Engine& e, const std::string& key, uint64_t gen,
                                   const Metadata& meta, std::vector<SharedBytes> segments) {
  uint64_t new_gen = 0;
  bool ran = e.fence.exclusive(key, &gen, [&] {
    e.invalidate_lower(key);
    auto sink = e.tiers[0]->store->begin_set(key, meta);
    Status st = sink ? Status() : sink.error();
    for (const auto& seg : segments) {
      if (!st) break;
      st = (*sink)->write_shared(seg);
    }
    if (st) st = (*sink)->commit();
    if (!st) {
      ignore_error(e.tiers[0]->store->remove(key));  // never leave the stale copy behind
      if (!st.is(StatusCode::kResourceExhausted))
        DJ_WARN_LIMITED(e.log, "refresh write failed tier={} key={} error=\"{}\"", e.tiers[0]->name,
                        key, st.to_string());
    } else {
      inc(e.tiers[0]->c.fills);
    }
    new_gen = e.fence.generation(key);
  });
  if (!ran) {
    inc(e.fence_rejections);
    return;
  }
  std::vector<size_t> lower;
  for (size_t i = 1; i < e.tiers.size(); ++i) lower.push_back(i);
  e.fill_tiers_behind(key, new_gen, meta, std::move(segments), std::move(lower));
}

Result<std::vector<TierPresence>> CacheImpl::locate(std::string_view key) {
  if (e_->closed.load(std::memory_order_acquire)) return Status::cache_closed();
  std::vector<TierPresence> out;
  for (auto& t : e_->tiers) {
    auto m = t->store->stat(key);
    if (m && m->has_value()) out.push_back(TierPresence{t->name, **m});
  }
  return out;
}

Status CacheImpl::close() {
  std::unique_lock lock(close_mu_);
  if (close_state_ == CloseState::kDone) return close_status_;
  if (close_state_ == CloseState::kRunning) {
    close_cv_.wait(lock, [&] { return close_state_ == CloseState::kDone; });
    return close_status_;
  }
  close_state_ = CloseState::kRunning;
  lock.unlock();

  Engine& e = *e_;
  e.closed.store(true, std::memory_order_release);
  std::vector<Status> failures;
  if (auto s = e.pool->shutdown(std::chrono::steady_clock::now() + e.shutdown_timeout); !s)
    failures.push_back(s);
  for (auto& t : e.tiers) {
    if (auto s = t->store->flush(); !s)
      failures.push_back(Status::tier_error(t->name, "flush", s.to_string()));
  }
  Status result = Status::aggregate("close", std::move(failures));
  e.log->debug("cache closed status=\"{}\"", result.to_string());

  lock.lock();
  close_status_ = result;
  close_state_ = CloseState::kDone;
  close_cv_.notify_all();
  return result;
}

CacheStats CacheImpl::stats() const {
  const Engine& e = *e_;
  CacheStats s;
  for (auto& t : e.tiers) {
    TierStats ts;
    ts.name = t->name;
    ts.hits = load(t->c.hits);
    ts.misses = load(t->c.misses);
    ts.errors = load(t->c.errors);
    ts.stale_hits = load(t->c.stale_hits);
    ts.negative_hits = load(t->c.negative_hits);
    ts.promotions = load(t->c.promotions);
    ts.failed_promotions = load(t->c.failed_promotions);
    ts.fills = load(t->c.fills);
    ts.failed_fills = load(t->c.failed_fills);
    ts.dropped_fills = load(t->c.dropped_fills);
    ts.bytes_read = load(t->c.bytes_read);
    ts.bytes_written = load(t->c.bytes_written);
    ts.store = t->store->stats();
    s.tiers.push_back(std::move(ts));
  }
  s.origin.fetches = load(e.origin.fetches);
  s.origin.not_modified = load(e.origin.not_modified);
  s.origin.not_found = load(e.origin.not_found);
  s.origin.errors = load(e.origin.errors);
  s.origin.bytes = load(e.origin.bytes);
  s.origin.coalesced = load(e.origin.coalesced);
  s.workers = e.pool->stats();
  s.refresh.scheduled = load(e.refresh.scheduled);
  s.refresh.deduplicated = load(e.refresh.deduplicated);
  s.refresh.not_modified = load(e.refresh.not_modified);
  s.refresh.updated = load(e.refresh.updated);
  s.refresh.became_negative = load(e.refresh.became_negative);
  s.refresh.failed = load(e.refresh.failed);
  s.fence_rejections = load(e.fence_rejections);
  return s;
}

std::vector<std::string> CacheImpl::tier_names() const {
  std::vector<std::string> out;
  for (auto& t : e_->tiers) out.push_back(t->name);
  return out;
}

}  // namespace daramjwee
