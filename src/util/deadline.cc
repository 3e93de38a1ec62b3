#include "util/deadline.h"

#include <algorithm>

namespace daramjwee::util {
namespace {
thread_local std::optional<DeadlineClock::time_point> current;
}  // namespace

DeadlineScope::DeadlineScope(DeadlineClock::time_point deadline) : saved_(current) {
  current = current ? std::min(*current, deadline) : deadline;
}

DeadlineScope::~DeadlineScope() { current = saved_; }

std::optional<std::chrono::milliseconds> remaining() {
  if (!current) return std::nullopt;
  const auto left = *current - DeadlineClock::now();
  if (left <= DeadlineClock::duration::zero()) return std::chrono::milliseconds(0);
  // Rounded up: 0 means "passed", never "less than a millisecond left".
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

}  // namespace daramjwee::util
