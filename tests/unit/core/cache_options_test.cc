#include <catch2/catch.hpp>

#include "core/cache.h"
#include "support/fake_store.h"

using namespace daramjwee;
using testing::FakeStore;

namespace {
CacheOptions two_tiers() {
  CacheOptions o;
  o.tiers = {TierConfig{std::make_shared<FakeStore>("a"), {}, {}, {}},
             TierConfig{std::make_shared<FakeStore>("b"), {}, {}, {}}};
  return o;
}
std::string field_of(const CacheOptions& o) {
  Status s = o.validate();
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.is(StatusCode::kConfigError));
  CHECK_FALSE(s.message().empty());
  return s.field();
}
}  // namespace

TEST_CASE("cache_options: valid configurations pass", "[core]") {
  CHECK(two_tiers().validate().is_ok());
  CacheOptions legacy;
  legacy.hot = std::make_shared<FakeStore>();
  legacy.cold = std::make_shared<FakeStore>();
  CHECK(legacy.validate().is_ok());
}

TEST_CASE("cache_options: every invalid value is rejected with its field", "[core]") {
  CacheOptions o = two_tiers();
  SECTION("empty tier list") { CHECK(field_of(CacheOptions{}) == "tiers"); }
  SECTION("null tier") {
    o.tiers[1].store = nullptr;
    CHECK(field_of(o) == "tiers[1].store");
  }
  SECTION("the same tier twice") {
    o.tiers[1].store = o.tiers[0].store;
    CHECK(field_of(o) == "tiers[1].store");
  }
  SECTION("tiers and hot/cold both") {
    o.hot = std::make_shared<FakeStore>();
    CHECK(field_of(o) == "tiers");
  }
  SECTION("cold without hot") {
    CacheOptions l;
    l.cold = std::make_shared<FakeStore>();
    CHECK(field_of(l) == "hot");
  }
  SECTION("hot == cold") {
    CacheOptions l;
    l.hot = l.cold = std::make_shared<FakeStore>();
    CHECK(field_of(l) == "cold");
  }
  SECTION("zero workers") {
    o.workers = 0;
    CHECK(field_of(o) == "workers");
  }
  SECTION("zero queue") {
    o.worker_queue = 0;
    CHECK(field_of(o) == "worker_queue");
  }
  SECTION("negative ttl") {
    o.ttl = Duration(-1);
    CHECK(field_of(o) == "ttl");
  }
  SECTION("negative negative_ttl") {
    o.negative_ttl = Duration(-5);
    CHECK(field_of(o) == "negative_ttl");
  }
  SECTION("per-tier override out of range") {
    o.tiers[0].ttl = Duration(-1);
    CHECK(field_of(o) == "tiers[0].ttl");
    o.tiers[0].ttl.reset();
    o.tiers[1].negative_ttl = Duration(-1);
    CHECK(field_of(o) == "tiers[1].negative_ttl");
  }
  SECTION("buffer min > max") {
    o.buffers.min_size = 1 << 20;
    o.buffers.max_size = 1 << 12;
    CHECK(field_of(o) == "buffers.min_size");
  }
  SECTION("probation without slots") {
    o.promotion_probation = true;
    o.probation_slots = 0;
    CHECK(field_of(o) == "probation_slots");
  }
  SECTION("open() refuses too") {
    o.workers = -3;
    auto c = Cache::open(o);
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error().field() == "workers");
  }
}
