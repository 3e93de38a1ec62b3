// RetryLoop: exponential backoff with jitter inside a time budget, for
// idempotent requests that failed in a retryable way (connection errors,
// timeouts, 5xx). The caller decides what is retryable; the loop decides
// whether another attempt is allowed and sleeps before it.
//
//   RetryLoop loop(policy);
//   for (;;) { auto r = attempt(); if (ok(r) || !retryable(r) || !loop.backoff()) return r; }
//
// Delays: attempt n (0-based) waits d/2 + uniform[0, d/2] with
// d = min(max_delay, base * 2^n) ("equal jitter": never a thundering herd
// of zero delays, always growing). A sleep that would end past the budget
// is not taken. Thread-safety: one loop per request; not shared.
#pragma once

#include <chrono>
#include <cstdint>

namespace daramjwee::net {

struct RetryPolicy {
  int max_retries = 4;                                   // Default: 4
  std::chrono::milliseconds budget{30000};               // Default: 30 s total
  std::chrono::milliseconds base{100};                   // Default: 100 ms
  std::chrono::milliseconds max_delay{5000};             // Default: 5 s per sleep
};

class RetryLoop {
 public:
  explicit RetryLoop(RetryPolicy policy);

  // Sleeps before the next attempt and returns true, or returns false (at
  // once) when the retries or the budget are used up.
  bool backoff();

  // The delay backoff() would sleep for retry number `n` given `random`
  // in [0, 1); exposed for tests.
  static std::chrono::milliseconds delay_for(const RetryPolicy& policy, int n, double random);

  int retries() const { return retries_; }

 private:
  RetryPolicy policy_;
  std::chrono::steady_clock::time_point start_;
  int retries_ = 0;
};

}  // namespace daramjwee::net
