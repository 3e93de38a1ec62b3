#include <catch2/catch.hpp>

#include "engine_fixture.h"

using namespace daramjwee;
using namespace daramjwee::testing;
using namespace std::chrono_literals;

TEST_CASE("tier_chain: a miss fetches once, fills tier 0 and the lower tiers", "[core]") {
  Chain c(3);
  c.origin->put("k", "hello");
  Source src;
  CHECK(c.read("k", &src) == "hello");
  CHECK(src.is_origin());
  CHECK(c.stores[0]->value("k") == "hello");
  c.settle();
  CHECK(c.stores[1]->value("k") == "hello");
  CHECK(c.stores[2]->value("k") == "hello");
  CHECK(c.stores[0]->meta("k").etag == "v1");
  CHECK(c.read("k", &src) == "hello");
  CHECK(src.tier == 0);
  CHECK(c.origin->fetches == 1);
  auto s = c.cache->stats();
  CHECK(s.origin.fetches == 1);
  CHECK(s.tiers[0].hits == 1);
  CHECK(s.tiers[0].misses == 1);
  CHECK(s.tiers[1].fills == 1);
}

TEST_CASE("tier_chain: a tier-1 hit streams and is promoted", "[core]") {
  Chain c(2);
  c.stores[1]->put("k", "from disk", aged(0s));
  Source src;
  CHECK(c.read("k", &src) == "from disk");
  CHECK(src.tier == 1);
  CHECK(c.stores[0]->value("k") == "from disk");
  CHECK(c.cache->stats().tiers[0].promotions == 1);
  CHECK(c.read("k", &src) == "from disk");
  CHECK(src.tier == 0);
  CHECK(c.origin->fetches == 0);
}

TEST_CASE("tier_chain: a failed promotion never fails the read", "[core]") {
  Chain c(2);
  c.stores[1]->put("k", "data", aged(0s));
  c.stores[0]->fail_commit = true;
  CHECK(c.read("k") == "data");
  CHECK_FALSE(c.stores[0]->contains("k"));
  CHECK(c.cache->stats().tiers[0].failed_promotions == 1);
  c.stores[0]->fail_commit = false;
  c.stores[0]->fail_begin = true;
  CHECK(c.read("k") == "data");
  CHECK(c.cache->stats().tiers[0].failed_promotions == 2);
}

TEST_CASE("tier_chain: an object too large for tier 0 is not a failure", "[core]") {
  Chain c(2);
  c.stores[0]->max_object = 4;
  c.origin->put("big", "0123456789");
  CHECK(c.read("big") == "0123456789");
  c.settle();
  CHECK_FALSE(c.stores[0]->contains("big"));
  CHECK(c.stores[1]->value("big") == "0123456789");
  auto s = c.cache->stats();
  CHECK(s.tiers[0].failed_fills == 0);
}

TEST_CASE("tier_chain: an erroring tier is failed, not missed", "[core]") {
  Chain c(3);
  c.stores[2]->put("k", "deep", aged(0s));
  SECTION("no promotion into the failed tier nor past it") {
    c.stores[1]->fail_get = true;
    Source src;
    CHECK(c.read("k", &src) == "deep");
    CHECK(src.tier == 2);
    CHECK_FALSE(c.stores[1]->contains("k"));
    CHECK_FALSE(c.stores[0]->contains("k"));
    CHECK(c.cache->stats().tiers[1].errors == 1);
  }
  SECTION("an origin fill skips the failed tier") {
    c.origin->put("n", "new");
    c.stores[0]->fail_get = true;
    CHECK(c.read("n") == "new");
    c.settle();
    CHECK_FALSE(c.stores[0]->contains("n"));
    CHECK(c.stores[1]->value("n") == "new");
    CHECK(c.stores[2]->value("n") == "new");
  }
}

TEST_CASE("tier_chain: probation promotes on the second hit only", "[core]") {
  Chain c(2, [](CacheOptions& o) {
    o.promotion_probation = true;
    o.probation_slots = 64;
  });
  c.stores[1]->put("k", "x", aged(0s));
  CHECK(c.read("k") == "x");
  CHECK_FALSE(c.stores[0]->contains("k"));
  CHECK(c.read("k") == "x");
  CHECK(c.stores[0]->contains("k"));
}

TEST_CASE("tier_chain: set writes tier 0 and invalidates the lower tiers", "[core]") {
  Chain c(3);
  c.stores[1]->put("k", "old", aged(0s));
  c.stores[2]->put("k", "older", aged(0s));
  auto sink = c.cache->set("k", Metadata{.etag = "v2"});
  REQUIRE(sink.has_value());
  REQUIRE((*sink)->write(as_bytes("new")).is_ok());
  CHECK_FALSE(c.stores[0]->contains("k"));  // nothing before commit
  REQUIRE((*sink)->commit().is_ok());
  CHECK(c.stores[0]->value("k") == "new");
  CHECK_FALSE(c.stores[1]->contains("k"));
  CHECK_FALSE(c.stores[2]->contains("k"));
  CHECK((*sink)->write(as_bytes("x")).is(StatusCode::kInvalidArgument));
}

TEST_CASE("tier_chain: set in fill mode fills every tier", "[core]") {
  Chain c(2);
  auto sink = c.cache->set("chunk", Metadata{.etag = "v1"}, SetMode::kFill);
  REQUIRE(sink.has_value());
  REQUIRE((*sink)->write(as_bytes("abc")).is_ok());
  REQUIRE((*sink)->commit().is_ok());
  c.settle();
  CHECK(c.stores[0]->value("chunk") == "abc");
  CHECK(c.stores[1]->value("chunk") == "abc");
}

TEST_CASE("tier_chain: remove goes bottom-up and aggregates failures", "[core]") {
  Chain c(3);
  for (auto& s : c.stores) s->put("k", "v", aged(0s));
  SECTION("all succeed") {
    CHECK(c.cache->remove("k").is_ok());
    for (auto& s : c.stores) CHECK_FALSE(s->contains("k"));
  }
  SECTION("failures are named and the rest still removed") {
    c.stores[0]->fail_remove = true;
    c.stores[2]->fail_remove = true;
    Status s = c.cache->remove("k");
    REQUIRE(s.is(StatusCode::kAggregate));
    REQUIRE(s.children().size() == 2);
    CHECK(s.children()[0].tier() == "disk2");  // bottom-up order
    CHECK(s.children()[1].tier() == "ram");
    CHECK(s.children()[0].operation() == "remove");
    CHECK_FALSE(c.stores[1]->contains("k"));
  }
}

TEST_CASE("tier_chain: negative answers are cached for negative_ttl", "[core]") {
  Chain c(2, [](CacheOptions& o) { o.negative_ttl = 200ms; });
  for (int i = 0; i < 5; ++i) CHECK(c.read("missing") == "<not found>");
  CHECK(c.origin->fetches == 1);
  c.settle();
  CHECK(c.stores[1]->meta("missing").negative);  // persisted below too
  std::this_thread::sleep_for(250ms);
  c.origin->put("missing", "now here");
  CHECK(c.read("missing") == "now here");
  CHECK(c.origin->fetches == 2);
}

TEST_CASE("tier_chain: a fresh negative in a lower tier answers too", "[core]") {
  Chain c(2);
  Metadata neg = aged(0s);
  neg.negative = true;
  c.stores[1]->put("gone", "", neg);
  CHECK(c.read("gone") == "<not found>");
  CHECK(c.origin->fetches == 0);
  CHECK(c.stores[0]->contains("gone"));
}

TEST_CASE("tier_chain: per-tier ttl overrides the default", "[core]") {
  Chain c(2, [](CacheOptions& o) {
    o.ttl = 1h;
    o.tiers[1].ttl = 1s;
  });
  c.origin->put("k", "fresh", "v1");
  c.stores[1]->put("k", "old", aged(10s, "v0"));
  bool stale = false;
  CHECK(c.read("k", nullptr, &stale) == "old");
  CHECK(stale);  // tier 1's own ttl (1 s) says stale
  c.stores[0]->put("j", "j0", aged(10s));
  CHECK(c.read("j", nullptr, &stale) == "j0");
  CHECK_FALSE(stale);  // tier 0 uses the default hour
}

TEST_CASE("tier_chain: stale-while-revalidate with one refresh per key", "[core]") {
  Chain c(1, [](CacheOptions& o) { o.ttl = 1s; });
  c.stores[0]->put("k", "old", aged(5s, "v0"));
  c.origin->put("k", "new", "v1");
  c.origin->close_gate();
  bool stale = false;
  for (int i = 0; i < 5; ++i) {
    CHECK(c.read("k", nullptr, &stale) == "old");
    CHECK(stale);
  }
  REQUIRE(c.origin->wait_fetches(1));
  auto s = c.cache->stats();
  CHECK(s.refresh.scheduled == 1);
  CHECK(s.refresh.deduplicated == 4);
  c.origin->open_gate();
  c.settle();
  CHECK(c.read("k", nullptr, &stale) == "new");
  CHECK_FALSE(stale);
  CHECK(c.origin->conditional == 1);
}

TEST_CASE("tier_chain: not modified updates metadata only", "[core]") {
  Chain c(2, [](CacheOptions& o) { o.ttl = 1s; });
  c.stores[0]->put("k", "same", aged(5s, "v1"));
  c.stores[1]->put("k", "same", aged(5s, "v1"));
  c.origin->put("k", "same", "v1");
  REQUIRE(c.cache->schedule_refresh("k", c.origin).is_ok());
  c.settle();
  CHECK(c.cache->stats().refresh.not_modified == 1);
  CHECK(c.stores[0]->commits == 0);  // no data rewritten
  CHECK(c.stores[0]->updates == 1);
  CHECK(c.stores[1]->updates == 1);
  CHECK(Clock::now() - c.stores[0]->meta("k").cached_at < 2s);
  bool stale = true;
  CHECK(c.read("k", nullptr, &stale) == "same");
  CHECK_FALSE(stale);
}

TEST_CASE("tier_chain: a refresh that finds not-found turns the entry negative", "[core]") {
  Chain c(2);
  c.stores[0]->put("k", "was here", aged(0s));
  c.stores[1]->put("k", "was here", aged(0s));
  c.origin->erase("k");
  REQUIRE(c.cache->schedule_refresh("k", c.origin).is_ok());
  c.settle();
  CHECK(c.read("k") == "<not found>");
  CHECK(c.stores[1]->meta("k").negative);
}

TEST_CASE("tier_chain: stale-if-error keeps serving when the origin fails", "[core]") {
  Chain c(1, [](CacheOptions& o) { o.ttl = 1s; });
  c.stores[0]->put("k", "stale but good", aged(5s));
  c.origin->fail = true;
  for (int i = 0; i < 3; ++i) {
    CHECK(c.read("k") == "stale but good");
    c.settle();
  }
  auto s = c.cache->stats();
  CHECK(s.refresh.failed == 3);
  CHECK(s.origin.errors == 3);
}

TEST_CASE("tier_chain: origin errors are returned and not cached", "[core]") {
  Chain c(2);
  c.origin->fail = true;
  CHECK(c.read("k") == "<I/O error>");
  c.origin->fail = false;
  c.origin->put("k", "ok");
  CHECK(c.read("k") == "ok");
  CHECK(c.origin->fetches == 2);
}

TEST_CASE("tier_chain: a fetcher that throws is contained", "[core]") {
  Chain c(1);
  c.origin->throw_ = true;
  CHECK(c.read("k") == "<internal error>");
  c.origin->throw_ = false;
  c.origin->put("k", "fine");
  CHECK(c.read("k") == "fine");
}

TEST_CASE("tier_chain: legacy hot/cold becomes a two-tier chain", "[core]") {
  CacheOptions o;
  auto hot = std::make_shared<FakeStore>("memory");
  auto cold = std::make_shared<FakeStore>("disk");
  o.hot = hot;
  o.cold = cold;
  auto c = Cache::open(o);
  REQUIRE(c.has_value());
  CHECK((*c)->tier_names() == std::vector<std::string>{"memory", "disk"});
}

TEST_CASE("tier_chain: repeated kinds get distinct names", "[core]") {
  CacheOptions o;
  o.tiers = {TierConfig{std::make_shared<FakeStore>("memory"), {}, {}, {}},
             TierConfig{std::make_shared<FakeStore>("memory"), {}, {}, {}},
             TierConfig{std::make_shared<FakeStore>("disk"), "local-ssd", {}, {}}};
  auto c = Cache::open(o);
  REQUIRE(c.has_value());
  CHECK((*c)->tier_names() == std::vector<std::string>{"memory.0", "memory.1", "local-ssd"});
}

TEST_CASE("tier_chain: locate reports where a key lives", "[core]") {
  Chain c(2);
  c.stores[1]->put("k", "v", aged(0s));
  auto where = c.cache->locate("k");
  REQUIRE(where.has_value());
  REQUIRE(where->size() == 1);
  CHECK((*where)[0].tier == "disk1");
}

TEST_CASE("tier_chain: a large object streams in several segments", "[core]") {
  Chain c(2);
  c.origin->streaming = true;
  std::string big(9 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) >> 7);
  c.origin->put("big", big);
  CHECK(c.read("big") == big);
  c.settle();
  CHECK(c.stores[1]->value("big") == big);
}

TEST_CASE("tier_chain: a body fetched whole is adopted, not copied through the flight", "[core]") {
  Chain c(2);
  std::string value(3 << 20, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7);
  c.origin->put("k", value);
  auto r = c.cache->get("k", c.origin);
  REQUIRE(r.has_value());
  CHECK(r->source.is_origin());
  // No read() first: the flight took the fetcher's buffer as its only segment.
  auto v = r->body->view();
  REQUIRE(v.has_value());
  CHECK(std::string_view(reinterpret_cast<const char*>(v->bytes.data()), v->bytes.size()) == value);
  // A follower that joins later sees the same buffer.
  auto again = c.cache->get("k", c.origin);
  REQUIRE(again.has_value());
  auto v2 = again->body->view();
  REQUIRE(v2.has_value());
  CHECK(v2->bytes.size() == value.size());
  CHECK(c.stores[0]->value("k") == value);
  c.settle();
  CHECK(c.stores[1]->value("k") == value);
  CHECK(c.origin->fetches == 1);
  CHECK(c.cache->stats().origin.bytes == value.size());
}

TEST_CASE("tier_chain: a streamed body offers a view only once it has ended", "[core]") {
  Chain c(1);
  c.origin->streaming = true;
  c.origin->put("k", std::string(100, 'x'));
  auto r = c.cache->get("k", c.origin);
  REQUIRE(r.has_value());
  CHECK_FALSE(r->body->view().has_value());  // nothing pumped yet: no I/O in view()
  CHECK(drain(*r->body) == std::string(100, 'x'));
}

TEST_CASE("tier_chain: a small lower-tier hit is promoted whole before it is read", "[core]") {
  Chain c(3);
  c.stores[2]->put("k", "from the bottom", aged(0s));
  auto r = c.cache->get("k", c.origin);
  REQUIRE(r.has_value());
  CHECK(r->source.tier == 2);
  // Already in both upper tiers, and served as one shared buffer.
  CHECK(c.stores[0]->value("k") == "from the bottom");
  CHECK(c.stores[1]->value("k") == "from the bottom");
  auto v = r->body->view();
  REQUIRE(v.has_value());
  CHECK(std::string_view(reinterpret_cast<const char*>(v->bytes.data()), v->bytes.size()) == "from the bottom");
  CHECK(c.cache->stats().tiers[0].promotions == 1);
  CHECK(c.cache->stats().tiers[1].promotions == 1);
}

TEST_CASE("tier_chain: a large lower-tier hit streams through a tee and is promoted at its end", "[core]") {
  Chain c(2);
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 13);
  c.stores[1]->put("big", big, aged(0s));
  auto r = c.cache->get("big", c.origin);
  REQUIRE(r.has_value());
  CHECK(r->source.tier == 1);
  CHECK_FALSE(c.stores[0]->contains("big"));  // not before the stream ends
  CHECK(drain(*r->body) == big);
  CHECK(c.stores[0]->value("big") == big);
  CHECK(c.cache->stats().tiers[0].promotions == 1);
}

TEST_CASE("tier_chain: a body shared through a flight keeps its file range", "[core]") {
  // Probation keeps a first lower-tier hit out of tier 0; its body still
  // reaches the caller through the key's flight, and a file-backed body must
  // stay spliceable there.
  Chain c(2, [](CacheOptions& o) { o.promotion_probation = true; });
  c.stores[1]->put("k", "on disk", aged(0s));
  c.stores[1]->file_backed = true;
  auto r = c.cache->get("k", c.origin);
  REQUIRE(r.has_value());
  CHECK(r->source.tier == 1);
  auto region = r->body->file_region();
  REQUIRE(region.has_value());
  CHECK(region->length == 7);
  std::string got(7, '\0');
  CHECK(pread(region->fd, got.data(), 7, static_cast<off_t>(region->offset)) == 7);
  CHECK(got == "on disk");
  CHECK(drain(*r->body) == "on disk");
  CHECK_FALSE(c.stores[0]->contains("k"));
}
