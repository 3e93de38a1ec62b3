// MonitoredOrigin: an Origin decorator that knows whether the origin is
// reachable, from the outcome of every request made through it.
//
// A request that fails the way an unreachable or failing server does
// (kIoError or kTimeout: refused, reset, 5xx after retries, stalled) marks
// the origin down; any answer from the server (data, not-found, not-modified,
// access denied, a changed version) marks it up. Each change of state is
// logged once, with the error that caused it, not once per request — during
// an outage every uncached read fails, and the log must stay readable. The
// daemon shows health() in `daramjwee-ctl status` and its systemd STATUS=
// line.
//
// Ownership: owns the wrapped origin. Thread-safety: every method may be
// called concurrently; the state is a few atomics and a mutex-guarded error
// text, never held across a request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/origin.h"

namespace daramjwee::origin {

enum class Reachability { kUnknown, kUp, kDown };
std::string_view to_string(Reachability r);

struct OriginHealth {
  Reachability state = Reachability::kUnknown;
  double seconds_in_state = 0;  // since the last change (or since start)
  uint64_t changes = 0;         // transitions up <-> down so far
  uint64_t failures = 0;        // requests that failed as unreachable
  std::string last_error;       // the error that last marked it down ("" if never)
};

class MonitoredOrigin final : public Origin {
 public:
  // Requires: inner != nullptr.
  explicit MonitoredOrigin(std::shared_ptr<Origin> inner);

  std::string describe() const override;
  Result<FileAttr> stat(std::string_view path) override;
  Result<std::vector<DirEntry>> list(std::string_view path) override;
  // A failure while the body streams (a reset mid-body) is seen only by the
  // reader; it is not counted here, and the next request tells.
  Result<std::unique_ptr<Reader>> read(std::string_view path, std::string_view etag,
                                       ByteRange range) override;
  Result<FileAttr> revalidate(std::string_view path, std::string_view etag) override;

  OriginHealth health() const;
  // Records an outcome observed elsewhere (the mount's first contact).
  void note(const Status& outcome);

 private:
  template <typename T>
  T observed(T result);

  const std::shared_ptr<Origin> inner_;
  std::atomic<int> state_{static_cast<int>(Reachability::kUnknown)};
  std::atomic<uint64_t> changes_{0}, failures_{0};
  mutable std::mutex mu_;
  std::string last_error_;                                    // guarded by mu_
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();  // guarded by mu_
};

}  // namespace daramjwee::origin
