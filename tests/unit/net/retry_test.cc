#include "net/retry.h"

#include <catch2/catch.hpp>

using namespace daramjwee::net;
using std::chrono::milliseconds;

TEST_CASE("retry: delays grow exponentially with jitter, capped", "[net]") {
  RetryPolicy p{10, milliseconds(60000), milliseconds(100), milliseconds(1000)};
  CHECK(RetryLoop::delay_for(p, 0, 0.0) == milliseconds(50));
  CHECK(RetryLoop::delay_for(p, 0, 0.999) == milliseconds(99));
  CHECK(RetryLoop::delay_for(p, 1, 0.0) == milliseconds(100));
  CHECK(RetryLoop::delay_for(p, 3, 0.0) == milliseconds(400));
  CHECK(RetryLoop::delay_for(p, 4, 0.0) == milliseconds(500));   // capped at 1000
  CHECK(RetryLoop::delay_for(p, 40, 0.5) == milliseconds(750));  // no overflow
}

TEST_CASE("retry: stops after max_retries", "[net]") {
  RetryLoop loop(RetryPolicy{2, milliseconds(10000), milliseconds(1), milliseconds(2)});
  CHECK(loop.backoff());
  CHECK(loop.backoff());
  CHECK_FALSE(loop.backoff());
  CHECK(loop.retries() == 2);
}

TEST_CASE("retry: stops when the budget would be exceeded", "[net]") {
  RetryLoop loop(RetryPolicy{100, milliseconds(50), milliseconds(40), milliseconds(40)});
  auto t0 = std::chrono::steady_clock::now();
  int n = 0;
  while (loop.backoff()) ++n;
  auto spent = std::chrono::steady_clock::now() - t0;
  CHECK(n >= 1);
  CHECK(spent < milliseconds(200));
}
