#include "core/worker_pool.h"

#include <atomic>
#include <latch>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

using namespace daramjwee;
using namespace std::chrono_literals;

namespace {
struct Guard {
  explicit Guard(std::atomic<int>* r) : released(r) {}
  Guard(const Guard&) = delete;
  ~Guard() { ++*released; }
  std::atomic<int>* released;
};
}  // namespace

TEST_CASE("worker_pool: runs queued jobs and drains on shutdown", "[core][concurrency]") {
  WorkerPool pool(2, 100);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) REQUIRE(pool.submit([&](std::stop_token) { ++ran; }));
  CHECK(pool.shutdown(std::chrono::steady_clock::now() + 5s).is_ok());
  CHECK(ran == 50);
  auto s = pool.stats();
  CHECK(s.completed == 50);
  CHECK(s.dropped == 0);
}

TEST_CASE("worker_pool: a full queue drops the job, counts it and releases its guard",
          "[core][concurrency]") {
  WorkerPool pool(1, 1);
  std::latch started(1), release(1);
  REQUIRE(pool.submit([&](std::stop_token) {
    started.count_down();
    release.wait();
  }));
  started.wait();
  std::atomic<int> released{0};
  auto g1 = std::make_shared<Guard>(&released);
  REQUIRE(pool.submit([g1](std::stop_token) {}));  // fills the queue
  g1.reset();
  auto g2 = std::make_shared<Guard>(&released);
  CHECK_FALSE(pool.submit([g2](std::stop_token) {}));
  g2.reset();
  CHECK(released == 1);  // the dropped job's guard ran at once
  CHECK(pool.stats().dropped == 1);
  release.count_down();
  CHECK(pool.shutdown(std::chrono::steady_clock::now() + 5s).is_ok());
  CHECK(released == 2);
}

TEST_CASE("worker_pool: a throwing job does not kill the pool", "[core][concurrency]") {
  WorkerPool pool(1, 10);
  std::atomic<int> ran{0};
  REQUIRE(pool.submit([](std::stop_token) { throw std::runtime_error("boom"); }));
  REQUIRE(pool.submit([](std::stop_token) { throw 42; }));
  REQUIRE(pool.submit([&](std::stop_token) { ++ran; }));
  CHECK(pool.shutdown(std::chrono::steady_clock::now() + 5s).is_ok());
  CHECK(ran == 1);
  CHECK(pool.stats().failed == 2);
}

TEST_CASE("worker_pool: shutdown discards what the deadline leaves queued",
          "[core][concurrency]") {
  WorkerPool pool(1, 10);
  std::latch started(1);
  std::atomic<int> released{0};
  REQUIRE(pool.submit([&](std::stop_token st) {
    started.count_down();
    while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
  }));
  started.wait();
  for (int i = 0; i < 3; ++i) {
    auto g = std::make_shared<Guard>(&released);
    REQUIRE(pool.submit([g](std::stop_token) {}));
  }
  Status s = pool.shutdown(std::chrono::steady_clock::now() + 50ms);
  CHECK(s.is(StatusCode::kTimeout));
  CHECK(released == 3);
  CHECK(pool.stats().dropped == 3);
  CHECK_FALSE(pool.submit([](std::stop_token) {}));
  CHECK(pool.shutdown(std::chrono::steady_clock::now()).is_ok());  // idempotent
}

TEST_CASE("worker_pool: submit_wait waits for room instead of dropping (issue 15)", "[core][concurrency]") {
  WorkerPool pool(1, 1);
  std::latch started(1);
  std::atomic<bool> release{false};
  REQUIRE(pool.submit([&](std::stop_token) {
    started.count_down();
    while (!release) std::this_thread::sleep_for(1ms);
  }));
  started.wait();
  std::atomic<int> ran{0};
  REQUIRE(pool.submit([&](std::stop_token) { ++ran; }));  // the queue is full now
  // A deadline that passes with the queue still full drops, counted.
  CHECK_FALSE(pool.submit_wait([&](std::stop_token) { ++ran; }, std::chrono::steady_clock::now() + 20ms));
  CHECK(pool.stats().dropped == 1);
  // With room made meanwhile, the submitter waits and nothing is dropped.
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    release = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(pool.submit_wait([&](std::stop_token) { ++ran; }, std::chrono::steady_clock::now() + 10s));
  CHECK(std::chrono::steady_clock::now() - t0 >= 40ms);
  releaser.join();
  CHECK(pool.shutdown(std::chrono::steady_clock::now() + 5s).is_ok());
  CHECK(ran == 2);
  CHECK(pool.stats().dropped == 1);
}

TEST_CASE("worker_pool: a job that submit_waits to its own full pool runs the job itself", "[core][concurrency]") {
  WorkerPool pool(1, 1);
  std::atomic<int> ran{0};
  // Catch's assertions are not thread-safe: the job records, the test checks.
  std::atomic<bool> queued{false}, waited{false};
  std::atomic<int> ran_when_waited{-1};
  std::latch done(1);
  REQUIRE(pool.submit([&](std::stop_token) {
    queued = pool.submit([&](std::stop_token) { ++ran; });  // fills the queue
    // Waiting here for a slot only this thread can free would never end.
    waited = pool.submit_wait([&](std::stop_token) { ++ran; }, std::chrono::steady_clock::now() + 60s);
    ran_when_waited = ran.load();
    done.count_down();
  }));
  done.wait();
  CHECK(queued);
  CHECK(waited);
  CHECK(ran_when_waited == 1);  // ran inline, before the queued one
  CHECK(pool.shutdown(std::chrono::steady_clock::now() + 5s).is_ok());
  CHECK(ran == 2);
  CHECK(pool.stats().dropped == 0);
}
