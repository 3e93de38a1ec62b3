// Races the engine must win. Run under ThreadSanitizer in CI. Catch2
// assertions stay on the main thread; workers only record outcomes.
#include <atomic>
#include <latch>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "engine_fixture.h"

using namespace daramjwee;
using namespace daramjwee::testing;
using namespace std::chrono_literals;

namespace {
bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}
}  // namespace

TEST_CASE("coalescing: 32 concurrent gets of a missing key make one fetch", "[core][concurrency]") {
  Chain c(2);
  std::string value(3 << 20, 'q');
  for (size_t i = 0; i < value.size(); i += 977) value[i] = static_cast<char>(i);
  c.origin->put("k", value);
  c.origin->close_gate();
  constexpr int kThreads = 32;
  std::vector<std::string> got(kThreads);
  std::vector<std::jthread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back([&, i] { got[i] = c.read("k"); });
  REQUIRE(c.origin->wait_fetches(1));
  REQUIRE(wait_for([&] { return c.cache->stats().origin.coalesced == kThreads - 1; }));
  c.origin->open_gate();
  threads.clear();
  CHECK(c.origin->fetches == 1);
  for (int i = 0; i < kThreads; ++i) CHECK(got[i] == value);
  c.settle();
  CHECK(c.stores[0]->value("k") == value);
  CHECK(c.stores[1]->value("k") == value);
}

TEST_CASE("coalescing: a caller that missed just before a fill published does not refetch",
          "[core][concurrency]") {
  // The window: the late caller misses tier 0, then the running flight
  // commits tier 0 and unregisters, then the late caller reaches
  // join_or_lead() and leads a flight of its own. It must find tier 0 again.
  Chain c(1);
  c.origin->put("k", "value");
  std::latch missed(1), go(1);
  std::atomic<bool> armed{true};
  c.stores[0]->after_miss = [&](std::string_view) {
    if (armed.exchange(false)) {
      missed.count_down();
      go.wait();
    }
  };
  std::string late;
  std::jthread t([&] { late = c.read("k"); });
  missed.wait();
  CHECK(c.read("k") == "value");  // a whole fetch: lead, fetch, publish, unregister
  go.count_down();
  t.join();
  CHECK(late == "value");
  CHECK(c.origin->fetches == 1);
}

TEST_CASE("coalescing: the leader's failure is shared, not refetched", "[core][concurrency]") {
  Chain c(1);
  c.origin->fail = true;
  c.origin->close_gate();
  constexpr int kThreads = 16;
  std::vector<std::string> got(kThreads);
  std::vector<std::jthread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back([&, i] { got[i] = c.read("k"); });
  REQUIRE(c.origin->wait_fetches(1));
  REQUIRE(wait_for([&] { return c.cache->stats().origin.coalesced == kThreads - 1; }));
  c.origin->open_gate();
  threads.clear();
  CHECK(c.origin->fetches == 1);
  for (auto& g : got) CHECK(g == "<I/O error>");
  // The leader role was released: the next get fetches again.
  c.origin->fail = false;
  c.origin->put("k", "back");
  CHECK(c.read("k") == "back");
}

TEST_CASE("coalescing: a leader that throws releases its followers", "[core][concurrency]") {
  Chain c(1);
  c.origin->throw_ = true;
  c.origin->close_gate();
  std::vector<std::string> got(8);
  std::vector<std::jthread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&, i] { got[i] = c.read("k"); });
  REQUIRE(c.origin->wait_fetches(1));
  REQUIRE(wait_for([&] { return c.cache->stats().origin.coalesced == 7; }));
  c.origin->open_gate();
  threads.clear();
  for (auto& g : got) CHECK(g == "<internal error>");
}

TEST_CASE("coalescing: a follower finishes the fill when the leader walks away",
          "[core][concurrency]") {
  Chain c(1);
  c.origin->streaming = true;
  std::string value(2 << 20, 'z');
  c.origin->put("k", value);
  auto leader = c.cache->get("k", c.origin);
  REQUIRE(leader.has_value());
  auto follower = c.cache->get("k", c.origin);
  REQUIRE(follower.has_value());
  std::byte one[1];
  REQUIRE(leader->body->read(one).has_value());
  leader->body.reset();  // abandons mid-stream
  CHECK(drain(*follower->body) == value);
  CHECK(c.origin->fetches == 1);
  CHECK(c.stores[0]->value("k") == value);
}

TEST_CASE("coalescing: a fill abandoned by every reader publishes nothing", "[core][concurrency]") {
  Chain c(1);
  c.origin->streaming = true;  // a body whole in memory is never partial
  c.origin->put("k", std::string(1 << 20, 'a'));
  {
    auto r = c.cache->get("k", c.origin);
    REQUIRE(r.has_value());
    std::byte buf[100];
    REQUIRE(r->body->read(buf).has_value());
  }
  CHECK_FALSE(c.stores[0]->contains("k"));
  CHECK(c.read("k") == std::string(1 << 20, 'a'));  // a new flight, not a stuck one
  CHECK(c.origin->fetches == 2);
}

TEST_CASE("fence: a remove racing a fill wins", "[core][concurrency]") {
  Chain c(2);
  c.origin->put("k", "old value");
  c.origin->close_gate();
  std::string got;
  std::jthread reader([&] { got = c.read("k"); });
  REQUIRE(c.origin->wait_fetches(1));
  REQUIRE(c.cache->remove("k").is_ok());  // while the fetch is in flight
  c.origin->open_gate();
  reader.join();
  c.settle();
  CHECK(got == "old value");  // the caller is served...
  CHECK_FALSE(c.stores[0]->contains("k"));  // ...but nothing older than the remove is cached
  CHECK_FALSE(c.stores[1]->contains("k"));
  CHECK(c.cache->stats().fence_rejections >= 1);
}

TEST_CASE("fence: a remove racing a promotion wins", "[core][concurrency]") {
  Chain c(2);
  c.stores[1]->put("k", std::string(1000, 'p'), aged(0s));
  auto r = c.cache->get("k", c.origin);
  REQUIRE(r.has_value());
  std::byte buf[10];
  REQUIRE(r->body->read(buf).has_value());
  REQUIRE(c.cache->remove("k").is_ok());
  auto rest = read_all(*r->body);
  REQUIRE(rest.has_value());
  CHECK(rest->size() == 990);
  CHECK_FALSE(c.stores[0]->contains("k"));
  CHECK_FALSE(c.stores[1]->contains("k"));
}

TEST_CASE("fence: a set loses to a remove that came after it began", "[core][concurrency]") {
  Chain c(1);
  auto sink = c.cache->set("k", {});
  REQUIRE(sink.has_value());
  REQUIRE((*sink)->write(as_bytes("v")).is_ok());
  REQUIRE(c.cache->remove("k").is_ok());
  CHECK((*sink)->commit().is(StatusCode::kResourceExhausted));
  CHECK_FALSE(c.stores[0]->contains("k"));
}

TEST_CASE("stress: gets, sets and removes never tear a value", "[core][concurrency]") {
  Chain c(3, [](CacheOptions& o) { o.worker_queue = 100000; });
  const std::vector<std::string> values = {std::string(5000, 'a'), std::string(7000, 'b'),
                                           std::string(3000, 'c')};
  for (int k = 0; k < 8; ++k) c.origin->put("k" + std::to_string(k), values[k % 3]);
  std::atomic<int> torn{0}, errors{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400; ++i) {
        std::string key = "k" + std::to_string((i * 7 + t) % 8);
        switch ((i + t) % 5) {
          case 0:
            if (!c.cache->remove(key).is_ok()) ++errors;
            break;
          case 1: {
            auto s = c.cache->set(key, Metadata{.etag = "s"});
            if (s) {
              ignore_error((*s)->write(as_bytes(values[(i + t) % 3])));
              ignore_error((*s)->commit());
            }
            break;
          }
          default: {
            auto r = c.cache->get(key, c.origin);
            if (!r) {
              ++errors;
              break;
            }
            auto all = read_all(*r->body);
            if (!all) {
              ++errors;
              break;
            }
            std::string v(all->view());
            if (v != values[0] && v != values[1] && v != values[2]) ++torn;
          }
        }
      }
    });
  }
  threads.clear();
  c.settle();
  CHECK(torn == 0);
  CHECK(errors == 0);
  for (auto& s : c.stores)
    for (int k = 0; k < 8; ++k) {
      std::string key = "k" + std::to_string(k);
      if (!s->contains(key)) continue;
      std::string v = s->value(key);
      CHECK((v == values[0] || v == values[1] || v == values[2]));
    }
}

TEST_CASE("close: idempotent, concurrent callers wait, then everything is closed",
          "[core][concurrency]") {
  Chain c(2, [](CacheOptions& o) {
    o.workers = 1;
    o.worker_queue = 16;
    o.shutdown_timeout = 100ms;
    o.ttl = 1s;
  });
  for (int i = 0; i < 5; ++i) {
    std::string k = "s" + std::to_string(i);
    c.stores[0]->put(k, "old", aged(5s));
    c.origin->put(k, "new", "v2");
  }
  c.origin->close_gate();
  for (int i = 0; i < 5; ++i) CHECK(c.read("s" + std::to_string(i)) == "old");  // 5 refreshes
  REQUIRE(c.origin->wait_fetches(1));  // one running (blocked), four queued
  std::vector<Status> results(3);
  {
    std::vector<std::jthread> closers;
    for (int i = 0; i < 3; ++i) closers.emplace_back([&, i] { results[i] = c.cache->close(); });
    std::this_thread::sleep_for(200ms);  // past the shutdown timeout
    c.origin->open_gate();               // let the running job end
  }
  for (auto& r : results) {
    CHECK(r.is(StatusCode::kAggregate));
    REQUIRE(r.children().size() == 1);
    CHECK(r.children()[0].is(StatusCode::kTimeout));
  }
  auto w = c.cache->stats().workers;
  // Four queued refreshes discarded, plus the write-behind that the running
  // refresh tried to queue after intake had stopped.
  CHECK(w.dropped == 5);
  CHECK(c.cache->close().children().size() == 1);  // same result again
  CHECK(c.cache->get("s0", c.origin).error().is(StatusCode::kCacheClosed));
  CHECK(c.cache->set("x", {}).error().is(StatusCode::kCacheClosed));
  CHECK(c.cache->remove("x").is(StatusCode::kCacheClosed));
  CHECK(c.cache->schedule_refresh("x", c.origin).is(StatusCode::kCacheClosed));
  CHECK(c.cache->locate("x").error().is(StatusCode::kCacheClosed));
}

TEST_CASE("close: drains queued write-behind within the timeout", "[core][concurrency]") {
  Chain c(2, [](CacheOptions& o) { o.shutdown_timeout = 5s; });
  for (int i = 0; i < 50; ++i) c.origin->put("f" + std::to_string(i), "v");
  for (int i = 0; i < 50; ++i) CHECK(c.read("f" + std::to_string(i)) == "v");
  CHECK(c.cache->close().is_ok());
  for (int i = 0; i < 50; ++i) CHECK(c.stores[1]->contains("f" + std::to_string(i)));
}

TEST_CASE("refresh: a full queue drops and counts, and the key is not stuck",
          "[core][concurrency]") {
  Chain c(1, [](CacheOptions& o) {
    o.workers = 1;
    o.worker_queue = 1;
  });
  c.origin->put("a", "A");
  c.origin->put("b", "B");
  c.origin->put("c", "C");
  c.origin->close_gate();
  REQUIRE(c.cache->schedule_refresh("a", c.origin).is_ok());  // runs, blocks
  REQUIRE(c.origin->wait_fetches(1));
  REQUIRE(c.cache->schedule_refresh("b", c.origin).is_ok());  // queued
  CHECK(c.cache->schedule_refresh("c", c.origin).is(StatusCode::kResourceExhausted));
  CHECK(c.cache->stats().workers.dropped == 1);
  c.origin->open_gate();
  c.settle();
  CHECK(c.cache->schedule_refresh("c", c.origin).is_ok());  // not stuck as "queued"
  c.settle();
  CHECK(c.stores[0]->value("c") == "C");
}

TEST_CASE("coalescing: concurrent hits in a lower tier promote once and share the buffer",
          "[core][concurrency]") {
  Chain c(2);
  const std::string value(256 << 10, 'p');
  c.stores[1]->put("k", value, aged(0s));
  c.stores[0]->commit_delay_ms = 300;  // the leader's promotion stays in flight meanwhile
  std::vector<std::string> got(8);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < 8; ++i) threads.emplace_back([&, i] { got[i] = c.read("k"); });
  }
  for (const auto& g : got) CHECK(g == value);
  auto s = c.cache->stats();
  CHECK(s.tiers[0].promotions == 1);
  CHECK(c.stores[0]->value("k") == value);
  CHECK(c.origin->fetches == 0);
}
