#include "net/retry.h"

#include <algorithm>
#include <random>
#include <thread>

namespace daramjwee::net {

RetryLoop::RetryLoop(RetryPolicy policy)
    : policy_(policy), start_(std::chrono::steady_clock::now()) {}

std::chrono::milliseconds RetryLoop::delay_for(const RetryPolicy& p, int n, double random) {
  int64_t d = p.base.count();
  for (int i = 0; i < n && d < p.max_delay.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, p.max_delay.count());
  return std::chrono::milliseconds(d / 2 + static_cast<int64_t>(random * static_cast<double>(d - d / 2)));
}

bool RetryLoop::backoff() {
  if (retries_ >= policy_.max_retries) return false;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  auto delay = delay_for(policy_, retries_, r);
  auto now = std::chrono::steady_clock::now();
  if (now + delay - start_ > policy_.budget) return false;
  std::this_thread::sleep_for(delay);
  ++retries_;
  return true;
}

}  // namespace daramjwee::net
