// Deadline: the time by which the origin work of the calling thread must be
// done, so that origin_timeout bounds a reader's whole read() — its wait for
// another fetch of the chunk, the origin's retries and the body — and not
// each request separately (issue 14: reads took 20-34 s with a 5 s timeout).
//
// The filesystem sets one per chunk fetch with a DeadlineScope, on the thread
// that then calls the origin; the HTTP origin's retry loop and transfers
// shorten themselves to the time left (remaining()). It travels as
// thread-local state because the Origin interface is shared by every origin
// and carries no deadline; it never crosses threads: work handed to another
// thread sets its own.
// Thread-safety: each thread has its own deadline; a scope must end on the
// thread that began it (it is a stack object).
#pragma once

#include <chrono>
#include <optional>

namespace daramjwee::util {

using DeadlineClock = std::chrono::steady_clock;

class DeadlineScope {
 public:
  // Until the scope ends, remaining() counts down to `deadline` (or to an
  // earlier deadline already in force on this thread: scopes only shorten).
  explicit DeadlineScope(DeadlineClock::time_point deadline);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  std::optional<DeadlineClock::time_point> saved_;
};

// The time left before this thread's deadline (zero once it passed), or
// nullopt when no scope is active (the caller's own timeouts apply).
std::optional<std::chrono::milliseconds> remaining();

}  // namespace daramjwee::util
