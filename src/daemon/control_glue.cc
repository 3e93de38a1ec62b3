#include "daemon/control_glue.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "control/exposition.h"
#include "control/protocol.h"

extern char** environ;

namespace daramjwee::daemon {
namespace {

control::OpReport convert(const fs::PathOpReport& r) {
  control::OpReport o;
  o.files = r.files;
  o.dirs = r.dirs;
  o.files_total = r.files_total;
  o.bytes = r.bytes;
  o.bytes_total = r.bytes_total;
  o.chunks = r.chunks;
  o.changed = r.changed;
  o.errors = r.errors;
  return o;
}

Result<control::OpReport> convert(const Result<fs::PathOpReport>& r) {
  if (!r) return r.error();
  return convert(*r);
}

std::string seconds_text(double s) { return fmt::format("{}", s); }

}  // namespace

std::function<void(int, std::chrono::nanoseconds)> ReadLatencies::hook() {
  return [this](int source, std::chrono::nanoseconds d) { record(source, d); };
}

void ReadLatencies::record(int source, std::chrono::nanoseconds d) {
  size_t i = source < 0 ? kMaxTiers : std::min<size_t>(static_cast<size_t>(source), kMaxTiers - 1);
  by_source_[i].record(d);
}

std::vector<control::LatencySeries> ReadLatencies::snapshot(const std::vector<std::string>& tier_names) const {
  std::vector<control::LatencySeries> out;
  for (size_t i = 0; i < tier_names.size() && i < kMaxTiers; i++) {
    out.push_back({tier_names[i], by_source_[i].snapshot()});
  }
  out.push_back({"origin", by_source_[kMaxTiers].snapshot()});
  return out;
}

DaemonControl::DaemonControl(config::DaemonOptions options, const Assembled& parts,
                             std::shared_ptr<ReadLatencies> latencies, std::string version)
    : options_(std::move(options)), parts_(parts), latencies_(std::move(latencies)), version_(std::move(version)) {}

control::DaemonInfo DaemonControl::info() {
  control::DaemonInfo i;
  i.origin = options_.origin;
  i.mountpoint = options_.mountpoint;
  i.version = version_;
  i.cache_dir = options_.cache_dir;
  if (parts_.monitor) {
    const origin::OriginHealth h = parts_.monitor->health();
    i.origin_state = std::string(origin::to_string(h.state));
    i.origin_state_seconds = h.seconds_in_state;
    i.origin_last_error = h.last_error;
    i.origin_failures = h.failures;
  }
  i.pid = getpid();
  i.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return i;
}

control::DaemonStats DaemonControl::stats() {
  control::DaemonStats s;
  s.cache = parts_.cache->stats();
  s.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const fs::FsStats f = parts_.fs->stats();
  s.fs_ops = {{"lookup", f.lookups}, {"negative_lookup", f.negative_lookups}, {"open", f.opens}, {"read", f.reads}};
  s.fs_read_bytes = f.read_bytes;
  s.fs_eio = f.eio;
  s.chunk_origin_requests = f.chunk_origin_requests;
  s.read_latency = latencies_->snapshot(parts_.cache->tier_names());
  return s;
}

Result<control::OpReport> DaemonControl::invalidate(const std::string& path, bool recursive) {
  return convert(parts_.fs->invalidate(path, recursive));
}

Result<control::OpReport> DaemonControl::refresh(const std::string& path, bool recursive) {
  return convert(parts_.fs->refresh(path, recursive));
}

Result<control::OpReport> DaemonControl::warm(const std::string& path, bool recursive,
                                              const std::function<bool(const control::OpReport&)>& progress) {
  return convert(parts_.fs->warm(path, recursive, [&](const fs::PathOpReport& r) { return progress(convert(r)); }));
}

std::vector<std::pair<std::string, std::string>> DaemonControl::config() {
  const auto& o = options_;
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  std::vector<std::pair<std::string, std::string>> out = {
      {"origin", o.origin},
      {"mountpoint", o.mountpoint},
      {"config", o.config_file},
      {"cache_dir", o.cache_dir},
      {"ram_size", std::to_string(o.ram_size)},
      {"disk_size", std::to_string(o.disk_size)},
      {"disk_free_min", std::to_string(o.disk_free_min)},
      {"chunk_size", std::to_string(o.chunk_size)},
      {"ttl", seconds_text(o.ttl)},
      {"negative_ttl", seconds_text(o.negative_ttl)},
      {"origin_timeout", seconds_text(o.origin_timeout)},
      {"require_origin", b(o.require_origin)},
      {"shutdown_timeout", seconds_text(o.shutdown_timeout)},
      {"readahead", std::to_string(o.readahead)},
      {"prefetch_threads", std::to_string(o.prefetch_threads)},
      {"workers", std::to_string(o.workers)},
      {"max_threads", std::to_string(o.max_threads)},
      {"random_fill", std::to_string(o.random_fill)},
      {"kernel_readahead", std::to_string(o.kernel_readahead)},
      {"xattrs", b(o.xattrs)},
      {"attr_concurrency", std::to_string(o.attr_concurrency)},
      {"exact_mtime", b(o.exact_mtime)},
      {"ram_policy", o.ram_policy},
      {"disk_policy", o.disk_policy},
      {"fsync", o.fsync},
      {"compress", b(o.compress)},
      {"cache_mismatch", o.cache_mismatch},
      {"control", o.control},
      {"metrics_listen", o.metrics_listen},
      {"log_level", o.log_level},
      {"allow_other", b(o.allow_other)},
      {"http.proxy", o.http_proxy},
      {"http.ca_file", o.http_ca_file},
      {"http.tls_verify", b(o.http_tls_verify)},
      {"http.headers_file", o.http_headers_file},
      {"http.max_connections", std::to_string(o.http_max_connections)},
  };
  for (size_t i = 0; i < o.http_headers.size(); i++) {
    // "Name: value": the name is shown, the value is a secret (auth tokens).
    const std::string& h = o.http_headers[i];
    auto colon = h.find(':');
    out.emplace_back(fmt::format("http.headers[{}]", i), colon == std::string::npos ? h : h.substr(0, colon + 1) + " <value>");
  }
  std::string fuse;
  for (const auto& f : o.fuse_options) fuse += (fuse.empty() ? "" : ",") + f;
  out.emplace_back("fuse_options", fuse);
  return out;
}

std::string DaemonControl::status_line() {
  const CacheStats s = parts_.cache->stats();
  // Of every lookup tier 0 saw, those the last tier also missed went to the origin.
  uint64_t lookups = 0, to_origin = 0;
  if (!s.tiers.empty()) {
    lookups = s.tiers.front().hits + s.tiers.front().misses;
    to_origin = s.tiers.back().misses;
  }
  std::string ratio = lookups == 0 ? "n/a" : fmt::format("{:.1f}%", 100.0 * double(lookups - std::min(lookups, to_origin)) / double(lookups));
  const std::string state = parts_.monitor ? std::string(origin::to_string(parts_.monitor->health().state)) : "unknown";
  return fmt::format("origin={} origin_state={} hit_ratio={} origin_fetches={}", options_.origin, state, ratio,
                     s.origin.fetches);
}

std::string control_socket_path(const config::DaemonOptions& o) {
  if (!o.control.empty()) return o.control;
  std::error_code ec;
  std::string mp = std::filesystem::weakly_canonical(o.mountpoint, ec).string();
  if (ec || mp.empty()) mp = o.mountpoint;
  std::map<std::string, std::string> env;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR")) env["XDG_RUNTIME_DIR"] = x;
  return control::default_socket_path(mp, static_cast<uint32_t>(geteuid()), env);
}

}  // namespace daramjwee::daemon
