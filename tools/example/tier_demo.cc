// tier_demo: libdaramjwee on its own, no filesystem. Builds a two-tier cache
// (a small RAM tier over a larger RAM tier standing in for disk) in front of
// a slow in-process origin, runs a scripted sequence of gets and prints what
// each one did: which tier hit, what was promoted, what was fetched, what
// was served stale and refreshed, what was negative-cached, what coalesced.
// It reads the engine's own counters, so what it prints is what happened.
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/cache.h"
#include "tiers/memory/memory_store.h"
#include "util/log.h"

using namespace daramjwee;
using namespace std::chrono_literals;

namespace {

// An origin 50 ms away that counts its requests.
class SlowOrigin final : public Fetcher {
 public:
  void put(const std::string& key, std::string value, std::string etag) {
    std::lock_guard lock(mu_);
    data_[key] = {std::move(value), std::move(etag)};
  }
  void set_down(bool down) { down_ = down; }

  Result<FetchOutcome> fetch(std::string_view key, const Metadata* cached) override {
    std::this_thread::sleep_for(50ms);
    if (down_) return Status::io_error("origin unreachable (demo)", true);
    std::lock_guard lock(mu_);
    auto it = data_.find(std::string(key));
    if (it == data_.end()) return FetchOutcome(NotFoundAtOrigin{});
    if (cached && cached->etag == it->second.second)
      return FetchOutcome(NotModified{Metadata{.etag = it->second.second}});
    Metadata m;
    m.etag = it->second.second;
    m.size = it->second.first.size();
    auto bytes = std::make_shared<const Bytes>(Bytes::copy_of(it->second.first));
    return FetchOutcome(FetchedBody{m, make_bytes_reader(bytes)});
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> data_;
  std::atomic<bool> down_{false};
};

struct Demo {
  std::shared_ptr<tiers::MemoryStore> hot, cold;
  std::shared_ptr<SlowOrigin> origin = std::make_shared<SlowOrigin>();
  std::unique_ptr<Cache> cache;
  CacheStats last;

  void settle() {
    for (int i = 0; i < 1000; ++i) {
      auto w = cache->stats().workers;
      if (w.depth == 0 && w.running == 0) return;
      std::this_thread::sleep_for(1ms);
    }
  }

  // What changed in the counters since the last report, in words.
  std::string what_happened() {
    settle();
    CacheStats now = cache->stats();
    std::vector<std::string> parts;
    for (size_t i = 0; i < now.tiers.size(); ++i) {
      const auto &a = now.tiers[i], &b = last.tiers[i];
      if (a.hits > b.hits) parts.push_back(fmt::format("hit in {}", a.name));
      if (a.stale_hits > b.stale_hits) parts.push_back(fmt::format("served STALE from {}", a.name));
      if (a.negative_hits > b.negative_hits)
        parts.push_back(fmt::format("negative hit in {}", a.name));
      if (a.misses > b.misses) parts.push_back(fmt::format("miss in {}", a.name));
      if (a.promotions > b.promotions) parts.push_back(fmt::format("promoted into {}", a.name));
      if (a.fills > b.fills) parts.push_back(fmt::format("filled {}", a.name));
    }
    const auto &o = now.origin, &p = last.origin;
    if (o.fetches > p.fetches) parts.push_back(fmt::format("origin fetches +{}", o.fetches - p.fetches));
    if (o.coalesced > p.coalesced)
      parts.push_back(fmt::format("{} callers coalesced onto one fetch", o.coalesced - p.coalesced));
    if (o.not_found > p.not_found) parts.push_back("origin said not-found (negative-cached)");
    if (now.refresh.scheduled > last.refresh.scheduled) parts.push_back("refresh queued");
    if (now.refresh.updated > last.refresh.updated) parts.push_back("refresh stored new content");
    if (now.refresh.not_modified > last.refresh.not_modified) parts.push_back("refresh: not modified");
    if (now.refresh.failed > last.refresh.failed) parts.push_back("refresh failed (kept stale copy)");
    last = now;
    std::string out;
    for (auto& s : parts) out += (out.empty() ? "" : ", ") + s;
    return out.empty() ? "(nothing)" : out;
  }

  void get(const std::string& key) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = cache->get(key, origin);
    std::string shown;
    if (!r) {
      shown = fmt::format("<{}>", to_string(r.error().code()));
    } else {
      auto all = read_all(*r->body);
      shown = all ? fmt::format("\"{}\"", all->view()) : "<read error>";
    }
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  get %-8s -> %-22s %6.1f ms  | %s\n", key.c_str(), shown.c_str(), ms,
                what_happened().c_str());
  }
};

}  // namespace

int main() {
  util::set_log_level(spdlog::level::err);
  Demo d;
  d.hot = *tiers::MemoryStore::open({.capacity_bytes = 1 << 20, .policy = EvictionKind::kS3Fifo});
  d.cold = *tiers::MemoryStore::open({.capacity_bytes = 8 << 20, .policy = EvictionKind::kLru});
  CacheOptions opts;
  opts.tiers = {TierConfig{d.hot, "ram", {}, {}}, TierConfig{d.cold, "slow-ram", {}, {}}};
  opts.ttl = 1s;
  opts.negative_ttl = 10s;
  auto cache = Cache::open(opts);
  if (!cache) {
    std::fprintf(stderr, "tier_demo: %s\n", cache.error().to_string().c_str());
    return 1;
  }
  d.cache = std::move(*cache);
  d.last = d.cache->stats();
  d.origin->put("acorn", "acorn v1", "\"v1\"");
  d.origin->put("walnut", "walnut v1", "\"w1\"");

  std::puts("daramjwee tier demo: tiers ram -> slow-ram -> origin (50 ms away), ttl 1 s\n");
  std::puts("1. First read: both tiers miss, the origin is fetched, ram is filled now and");
  std::puts("   slow-ram write-behind.");
  d.get("acorn");
  std::puts("2. Second read: served from ram.");
  d.get("acorn");
  std::puts("3. ram loses the entry (as an eviction would): slow-ram hits and promotes it.");
  ignore_error(d.hot->remove("acorn"));
  d.get("acorn");
  d.get("acorn");
  std::puts("4. A name the origin does not have: fetched once, then negative-cached.");
  d.get("chestnut");
  d.get("chestnut");
  std::puts("5. Eight readers ask for an uncached key at once: one origin fetch.");
  {
    std::vector<std::jthread> readers;
    for (int i = 0; i < 8; ++i)
      readers.emplace_back([&] {
        auto r = d.cache->get("walnut", d.origin);
        if (r) ignore_error(read_all(*r->body).status());
      });
  }
  std::printf("  8 x get walnut          | %s\n", d.what_happened().c_str());
  std::puts("6. The origin publishes a new acorn; after the 1 s ttl the old one is served");
  std::puts("   stale at once and refreshed in the background; the next read is fresh.");
  d.origin->put("acorn", "acorn v2", "\"v2\"");
  std::this_thread::sleep_for(1100ms);
  d.get("acorn");
  d.get("acorn");
  std::puts("7. The origin goes down: stale entries keep being served (stale-if-error).");
  d.origin->set_down(true);
  std::this_thread::sleep_for(1100ms);
  d.get("walnut");
  d.get("walnut");
  std::puts("   ...and an uncached key fails cleanly instead of hanging.");
  d.get("hazelnut");

  Status closed = d.cache->close();
  auto s = d.cache->stats();
  std::printf("\nclosed: %s; origin fetches %lu, coalesced %lu, refreshes %lu\n",
              closed.to_string().c_str(), static_cast<unsigned long>(s.origin.fetches),
              static_cast<unsigned long>(s.origin.coalesced),
              static_cast<unsigned long>(s.refresh.scheduled));
  return 0;
}
