#include "control/exposition.h"

#include <algorithm>
#include <cctype>

#include "metrics/names.h"
#include "metrics/prometheus.h"

namespace daramjwee::control {

using nlohmann::json;

double hit_ratio(uint64_t hits, uint64_t misses) {
  return hits + misses == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
}

json status_json(const DaemonInfo& info, const DaemonStats& stats) {
  json tiers = json::array();
  for (const auto& t : stats.cache.tiers) {
    tiers.push_back({{"name", t.name},
                     {"used_bytes", t.store.used_bytes},
                     {"capacity_bytes", t.store.capacity_bytes},
                     {"entries", t.store.entries}});
  }
  return {{"origin", info.origin},         {"mountpoint", info.mountpoint}, {"version", info.version},
          {"pid", info.pid},               {"cache_dir", info.cache_dir},   {"uptime_seconds", info.uptime_seconds},
          {"origin_state", info.origin_state}, {"origin_state_seconds", info.origin_state_seconds},
          {"origin_last_error", info.origin_last_error}, {"origin_failures", info.origin_failures},
          {"tiers", std::move(tiers)}};
}

json stats_json(const DaemonStats& s) {
  json tiers = json::array();
  for (const auto& t : s.cache.tiers) {
    tiers.push_back({{"name", t.name},
                     {"hits", t.hits},
                     {"misses", t.misses},
                     {"hit_ratio", hit_ratio(t.hits, t.misses)},
                     {"errors", t.errors},
                     {"stale_hits", t.stale_hits},
                     {"promotions", t.promotions},
                     {"fills", t.fills},
                     {"failed_fills", t.failed_fills + t.failed_promotions},
                     {"dropped_fills", t.dropped_fills},
                     {"evictions", t.store.evictions},
                     {"corruptions", t.store.corruptions},
                     {"store_errors", t.store.errors},
                     {"index_rebuilds", t.store.index_rebuilds},
                     {"full_refusals", t.store.full_refusals},
                     {"bytes_read", t.bytes_read},
                     {"bytes_written", t.bytes_written},
                     {"used_bytes", t.store.used_bytes},
                     {"capacity_bytes", t.store.capacity_bytes},
                     {"entries", t.store.entries}});
  }
  const auto& o = s.cache.origin;
  const auto& r = s.cache.refresh;
  const auto& w = s.cache.workers;
  json fs = json::object();
  for (const auto& [k, v] : s.fs_ops) fs[k] = v;
  fs["read_bytes"] = s.fs_read_bytes;
  fs["eio"] = s.fs_eio;
  fs["chunk_origin_requests"] = s.chunk_origin_requests;
  json latency = json::array();
  for (const auto& l : s.read_latency) {
    latency.push_back({{"served_from", l.served_from},
                       {"count", l.histogram.count},
                       {"p50_seconds", l.histogram.quantile(0.5)},
                       {"p99_seconds", l.histogram.quantile(0.99)}});
  }
  return {{"uptime_seconds", s.uptime_seconds},
          {"tiers", std::move(tiers)},
          {"origin",
           {{"requests", {{"fetch", o.fetches}, {"not_modified", o.not_modified}, {"not_found", o.not_found}}},
            {"errors", o.errors},
            {"bytes", o.bytes},
            {"coalesced", o.coalesced}}},
          {"refresh",
           {{"scheduled", r.scheduled},
            {"deduplicated", r.deduplicated},
            {"not_modified", r.not_modified},
            {"updated", r.updated},
            {"became_negative", r.became_negative},
            {"failed", r.failed}}},
          {"workers",
           {{"queued", w.queued},
            {"dropped", w.dropped},
            {"failed", w.failed},
            {"completed", w.completed},
            {"depth", w.depth},
            {"running", w.running}}},
          {"fs", std::move(fs)},
          {"read_latency", std::move(latency)}};
}

std::string render_prometheus(const DaemonStats& s) {
  namespace m = metrics;
  m::PrometheusText t;
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  t.add(m::kUptime, {}, s.uptime_seconds);
  for (const auto& tier : s.cache.tiers) {
    const m::Labels l{{"tier", tier.name}};
    t.add(m::kTierHits, l, d(tier.hits));
    t.add(m::kTierMisses, l, d(tier.misses));
    t.add(m::kTierErrors, l, d(tier.errors));
    t.add(m::kTierStaleHits, l, d(tier.stale_hits));
    t.add(m::kTierPromotions, l, d(tier.promotions));
    t.add(m::kTierFills, l, d(tier.fills));
    t.add(m::kTierFailedFills, l, d(tier.failed_fills + tier.failed_promotions));
    t.add(m::kTierDroppedFills, l, d(tier.dropped_fills));
    t.add(m::kTierEvictions, l, d(tier.store.evictions));
    t.add(m::kTierReadBytes, l, d(tier.bytes_read));
    t.add(m::kTierWrittenBytes, l, d(tier.bytes_written));
    t.add(m::kTierUsed, l, d(tier.store.used_bytes));
    t.add(m::kTierCapacity, l, d(tier.store.capacity_bytes));
    t.add(m::kTierEntries, l, d(tier.store.entries));
    t.add(m::kTierCorruptions, l, d(tier.store.corruptions));
    t.add(m::kTierStoreErrors, l, d(tier.store.errors));
    t.add(m::kTierIndexRebuilds, l, d(tier.store.index_rebuilds));
    t.add(m::kTierFullRefusals, l, d(tier.store.full_refusals));
  }
  const auto& o = s.cache.origin;
  t.add(m::kOriginRequests, {{"kind", "fetch"}}, d(o.fetches));
  t.add(m::kOriginRequests, {{"kind", "not_modified"}}, d(o.not_modified));
  t.add(m::kOriginRequests, {{"kind", "not_found"}}, d(o.not_found));
  t.add(m::kOriginErrors, {}, d(o.errors));
  t.add(m::kOriginBytes, {}, d(o.bytes));
  t.add(m::kOriginCoalesced, {}, d(o.coalesced));
  const auto& w = s.cache.workers;
  t.add(m::kWorkerQueued, {}, d(w.queued));
  t.add(m::kWorkerDropped, {}, d(w.dropped));
  t.add(m::kWorkerFailed, {}, d(w.failed));
  t.add(m::kWorkerDepth, {}, d(w.depth));
  const auto& r = s.cache.refresh;
  for (const auto& [k, v] : {std::pair<const char*, uint64_t>{"scheduled", r.scheduled},
                             {"deduplicated", r.deduplicated},
                             {"not_modified", r.not_modified},
                             {"updated", r.updated},
                             {"became_negative", r.became_negative},
                             {"failed", r.failed}}) {
    t.add(m::kRefreshes, {{"outcome", k}}, d(v));
  }
  for (const auto& [k, v] : s.fs_ops) t.add(m::kFsOps, {{"op", k}}, d(v));
  t.add(m::kFsReadBytes, {}, d(s.fs_read_bytes));
  t.add(m::kFsEio, {}, d(s.fs_eio));
  t.add(m::kFsChunkOriginRequests, {}, d(s.chunk_origin_requests));
  for (const auto& l : s.read_latency) t.add_histogram(m::kReadLatency, {{"served_from", l.served_from}}, l.histogram);
  return t.take();
}

json report_json(const OpReport& r) {
  return {{"files", r.files},     {"dirs", r.dirs},   {"files_total", r.files_total}, {"bytes", r.bytes},
          {"bytes_total", r.bytes_total}, {"chunks", r.chunks}, {"changed", r.changed}, {"errors", r.errors}};
}

std::string redact_option(std::string_view name, std::string_view value) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  // A file *name* is not a secret (its content may be; it is not shown).
  const bool names_file = lower.ends_with("_file") || lower.ends_with("_dir");
  for (std::string_view secret : {"header", "password", "secret", "token", "auth", "credential", "key"}) {
    if (!names_file && lower.find(secret) != std::string::npos && !value.empty()) return "<redacted>";
  }
  // scheme://user:password@host -> scheme://user:<redacted>@host
  std::string v(value);
  auto scheme = v.find("://");
  if (scheme != std::string::npos) {
    auto at = v.find('@', scheme + 3);
    auto slash = v.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      auto colon = v.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) v = v.substr(0, colon + 1) + "<redacted>" + v.substr(at);
    }
  }
  return v;
}

}  // namespace daramjwee::control
