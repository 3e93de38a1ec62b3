// Component loggers: one spdlog logger per component ("core", "tier.disk",
// "origin.http", "fs", "control"), all writing to the same stderr sink so
// journald gets one stream. Messages are a verb phrase plus key=value fields.
// Thread-safety: logger() and set_level() are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace daramjwee::util {

// The logger for `component`, created on first use at the global level.
std::shared_ptr<spdlog::logger> logger(std::string_view component);

// Sets the level of every component logger (and of those created later).
void set_log_level(spdlog::level::level_enum level);

// Parses "trace|debug|info|warn|error|critical|off".
bool parse_log_level(std::string_view name, spdlog::level::level_enum* out);

// Lets one message through per `interval` per call site; counts the rest,
// so a failing disk or origin cannot flood the journal. Use one static
// RateLimit per call site.
class RateLimit {
 public:
  explicit RateLimit(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_ns_(std::chrono::nanoseconds(interval).count()) {}
  // True when the caller may log now; *suppressed gets the number of
  // messages dropped since the last one let through.
  bool allow(uint64_t* suppressed);

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace daramjwee::util
