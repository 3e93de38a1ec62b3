// Handler: what the control server asks the daemon. The server owns the
// socket and the wire format; the daemon (daemon/control_glue.cc) implements
// this over the filesystem and the engine, so this layer sees neither.
// Thread-safety: methods are called from several connection threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/cache_stats.h"
#include "core/result.h"
#include "metrics/histogram.h"

namespace daramjwee::control {

struct DaemonInfo {
  std::string origin, mountpoint, version, cache_dir;
  // Whether the origin answers: "up", "down" or "unknown" (no request yet),
  // for how long, and the error that last made it "down".
  std::string origin_state = "unknown";
  double origin_state_seconds = 0;
  std::string origin_last_error;
  uint64_t origin_failures = 0;
  int64_t pid = 0;
  double uptime_seconds = 0;
};

struct LatencySeries {
  std::string served_from;  // a tier name or "origin"
  metrics::HistogramSnapshot histogram;
};

struct DaemonStats {
  CacheStats cache;
  double uptime_seconds = 0;
  // Filesystem counters by operation kind (lookup, open, read, ...).
  std::vector<std::pair<std::string, uint64_t>> fs_ops;
  uint64_t fs_read_bytes = 0, fs_eio = 0, chunk_origin_requests = 0;
  std::vector<LatencySeries> read_latency;
};

// What invalidate / refresh / warm did (and warm's progress so far).
struct OpReport {
  uint64_t files = 0, dirs = 0, files_total = 0, bytes = 0, bytes_total = 0, chunks = 0, changed = 0;
  std::vector<std::string> errors;
};

class Handler {
 public:
  Handler() = default;
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;
  virtual ~Handler() = default;

  virtual DaemonInfo info() = 0;
  virtual DaemonStats stats() = 0;
  // Errors: the path cannot be resolved (kNotFound, origin errors).
  virtual Result<OpReport> invalidate(const std::string& path, bool recursive) = 0;
  virtual Result<OpReport> refresh(const std::string& path, bool recursive) = 0;
  // `progress` returning false cancels (the client went away, or shutdown).
  virtual Result<OpReport> warm(const std::string& path, bool recursive,
                                const std::function<bool(const OpReport&)>& progress) = 0;
  // The effective configuration as (option, value) pairs, unredacted; the
  // server redacts secrets (redact_option in exposition.h).
  virtual std::vector<std::pair<std::string, std::string>> config() = 0;
};

}  // namespace daramjwee::control
