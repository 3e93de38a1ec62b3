// Exposition: DaemonStats and friends as the JSON daramjwee-ctl reads and as
// Prometheus text (metrics/names.h names every series). Pure functions.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/handler.h"

namespace daramjwee::control {

// {"origin", "mountpoint", "version", "pid", "uptime_seconds", "cache_dir",
//  "tiers": [{"name", "used_bytes", "capacity_bytes", "entries"}]}
nlohmann::json status_json(const DaemonInfo& info, const DaemonStats& stats);

// {"uptime_seconds", "tiers": [{"name", "hits", "misses", "hit_ratio",
//  "promotions", "evictions", "bytes_read", "bytes_written", ...}],
//  "origin": {"requests": {"fetch", "not_modified", "not_found"}, "errors",
//  "bytes", "coalesced"}, "refresh": {...}, "workers": {...},
//  "fs": {...}, "read_latency": [{"served_from", "count", "p50_seconds",
//  "p99_seconds"}]}
nlohmann::json stats_json(const DaemonStats& stats);

// The Prometheus text exposition of `stats`.
std::string render_prometheus(const DaemonStats& stats);

nlohmann::json report_json(const OpReport& report);

// `value` with secrets hidden: options naming headers, passwords, tokens or
// keys become "<redacted>"; a URL's password ("user:pw@") is hidden.
std::string redact_option(std::string_view name, std::string_view value);

// hits / (hits + misses), 0 when there were no lookups.
double hit_ratio(uint64_t hits, uint64_t misses);

}  // namespace daramjwee::control
