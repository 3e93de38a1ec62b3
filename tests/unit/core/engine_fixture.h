// A cache over FakeStores with a FakeOrigin, for engine tests.
#pragma once

#include <thread>

#include <catch2/catch.hpp>

#include "core/cache.h"
#include "support/fake_origin.h"
#include "support/fake_store.h"

namespace daramjwee::testing {

struct Chain {
  std::vector<std::shared_ptr<FakeStore>> stores;
  std::shared_ptr<FakeOrigin> origin = std::make_shared<FakeOrigin>();
  std::unique_ptr<Cache> cache;

  explicit Chain(size_t n = 2, std::function<void(CacheOptions&)> tweak = {}) {
    CacheOptions o;
    for (size_t i = 0; i < n; ++i) {
      stores.push_back(std::make_shared<FakeStore>(i == 0 ? "ram" : "disk" + std::to_string(i)));
      o.tiers.push_back(TierConfig{stores.back(), {}, {}, {}});
    }
    o.workers = 2;
    if (tweak) tweak(o);
    auto c = Cache::open(std::move(o));
    REQUIRE(c.has_value());
    cache = std::move(*c);
  }

  // get + read to the end.
  std::string read(const std::string& key, Source* src = nullptr, bool* stale = nullptr) {
    auto r = cache->get(key, origin);
    if (!r) return "<" + std::string(to_string(r.error().code())) + ">";
    if (src) *src = r->source;
    if (stale) *stale = r->stale;
    return drain(*r->body);
  }

  // Waits (bounded) for the background pool to go idle.
  void settle() {
    for (int i = 0; i < 2000; ++i) {
      auto w = cache->stats().workers;
      if (w.depth == 0 && w.running == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    FAIL("background work did not settle");
  }
};

inline Metadata aged(std::chrono::seconds age, std::string etag = "v1") {
  Metadata m;
  m.etag = std::move(etag);
  m.cached_at = Clock::now() - age;
  return m;
}

}  // namespace daramjwee::testing
