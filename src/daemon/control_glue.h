// Control glue: the daemon's side of the control socket and of the metrics
// listener. DaemonControl implements control::Handler over the assembled
// filesystem and engine; ReadLatencies holds the read-latency histograms the
// filesystem feeds through FilesystemOptions::on_read (created before the
// filesystem, so it is a separate object).
// Thread-safety: every method may be called from the server's threads while
// FUSE serves; the pieces it uses are themselves thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "config/options.h"
#include "control/handler.h"
#include "daemon/assembly.h"
#include "metrics/histogram.h"

namespace daramjwee::daemon {

class ReadLatencies {
 public:
  static constexpr size_t kMaxTiers = 8;
  // The hook for FilesystemOptions::on_read.
  std::function<void(int, std::chrono::nanoseconds)> hook();
  void record(int source, std::chrono::nanoseconds d);
  // One series per tier name (in chain order) and "origin".
  std::vector<control::LatencySeries> snapshot(const std::vector<std::string>& tier_names) const;

 private:
  std::array<metrics::LatencyHistogram, kMaxTiers + 1> by_source_;  // [kMaxTiers] is the origin
};

class DaemonControl : public control::Handler {
 public:
  // `parts` must outlive this object (the daemon stops the server first).
  DaemonControl(config::DaemonOptions options, const Assembled& parts, std::shared_ptr<ReadLatencies> latencies,
                std::string version);

  control::DaemonInfo info() override;
  control::DaemonStats stats() override;
  Result<control::OpReport> invalidate(const std::string& path, bool recursive) override;
  Result<control::OpReport> refresh(const std::string& path, bool recursive) override;
  Result<control::OpReport> warm(const std::string& path, bool recursive,
                                 const std::function<bool(const control::OpReport&)>& progress) override;
  std::vector<std::pair<std::string, std::string>> config() override;

  // The systemd STATUS= text: origin and the cache hit ratio.
  std::string status_line();

 private:
  const config::DaemonOptions options_;
  const Assembled& parts_;
  const std::shared_ptr<ReadLatencies> latencies_;
  const std::string version_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// The socket path: -o control=PATH, else control::default_socket_path for
// the canonical mount point and the effective uid.
std::string control_socket_path(const config::DaemonOptions& options);

}  // namespace daramjwee::daemon
