#include "daemon/assembly.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "core/eviction_policy.h"
#include "origin/origin_factory.h"
#include "tiers/disk/disk_store.h"
#include "tiers/memory/memory_store.h"

namespace daramjwee::daemon {
namespace {

Duration ms(double seconds) { return Duration(static_cast<int64_t>(seconds * 1000)); }

EvictionKind policy(const std::string& name) {
  return parse_eviction_kind(name).value_or(EvictionKind::kLru);
}

Status named(std::string_view what, const Status& s) {
  return Status(s.code() == StatusCode::kOk ? StatusCode::kInternal : s.code(),
                fmt::format("{}: {}", what, s.message().empty() ? s.to_string() : s.message()));
}

}  // namespace

Result<std::shared_ptr<Origin>> build_origin(const config::DaemonOptions& o) {
  origin::OriginOptions opts;
  opts.url = o.origin;
  // origin_timeout bounds one origin operation, retries included, so a
  // reader of an uncached file gets EIO in about that time when the origin
  // is down (never a hang).
  const Duration t = ms(o.origin_timeout);
  opts.http.connect_timeout = std::min<Duration>(t, std::chrono::seconds(10));
  opts.http.request_timeout = t;
  opts.http.low_speed_bytes = 1;
  opts.http.low_speed_time = std::max<Duration>(t, std::chrono::seconds(1));
  opts.http.retry_budget = t;
  opts.http.proxy = o.http_proxy;
  opts.http.ca_file = o.http_ca_file;
  opts.http.tls_verify = o.http_tls_verify;
  opts.http.headers = o.http_headers;
  opts.http.headers_file = o.http_headers_file;
  opts.http.max_connections = static_cast<size_t>(o.http_max_connections);
  auto made = origin::make_origin(opts);
  if (!made) return named(fmt::format("origin {}", o.origin), made.error());
  return *made;
}

Result<Assembled> assemble(const config::DaemonOptions& o, std::shared_ptr<Origin> origin,
                           std::function<void(int, std::chrono::nanoseconds)> on_read) {
  Assembled out;
  out.monitor = std::make_shared<origin::MonitoredOrigin>(std::move(origin));
  out.origin = out.monitor;

  // The disk tier creates cache_dir itself: owner-only (0700), which a
  // create_directories here would not be.
  tiers::MemoryStoreOptions mem;
  mem.capacity_bytes = o.ram_size;
  mem.policy = policy(o.ram_policy);
  auto ram = tiers::MemoryStore::open(mem);
  if (!ram) return named("ram tier", ram.error());

  tiers::DiskStoreOptions disk;
  disk.dir = o.cache_dir;
  disk.capacity_bytes = o.disk_size;
  disk.free_min_bytes = o.disk_free_min;
  disk.policy = policy(o.disk_policy);
  disk.fsync = o.fsync == "commit" ? tiers::FsyncPolicy::kOnCommit : tiers::FsyncPolicy::kNone;
  disk.compress = o.compress;
  // Keys name paths and versions, not origins: tie the directory to its origin.
  disk.owner = out.origin->describe();
  disk.reset_foreign = o.cache_mismatch == "reset";
  auto dsk = tiers::DiskStore::open(disk);
  if (!dsk) return named(fmt::format("cache_dir {}", o.cache_dir), dsk.error());

  CacheOptions copts;
  copts.tiers.push_back(TierConfig{*ram, "memory", std::nullopt, std::nullopt});
  copts.tiers.push_back(TierConfig{*dsk, "disk", std::nullopt, std::nullopt});
  copts.ttl = ms(o.ttl);
  copts.negative_ttl = ms(o.negative_ttl);
  copts.workers = o.workers;
  copts.shutdown_timeout = ms(o.shutdown_timeout);
  auto cache = Cache::open(std::move(copts));
  if (!cache) return named("cache", cache.error());
  out.cache = std::shared_ptr<Cache>(std::move(*cache));

  fs::FilesystemOptions fopts;
  fopts.chunk_size = o.chunk_size;
  fopts.ttl = ms(o.ttl);
  fopts.negative_ttl = ms(o.negative_ttl);
  // A reader waiting for someone else's fill waits at most as long as that
  // fill may take (one origin operation), plus slack.
  fopts.fill_wait = ms(o.origin_timeout * 3 + 5);
  // What a reader waits for one read(), retries included (issue 14).
  fopts.read_timeout = ms(o.origin_timeout);
  fopts.prefetch.threads = o.readahead == 0 ? 0 : o.prefetch_threads;
  fopts.prefetch.max_window_bytes = std::max<uint64_t>(o.readahead, o.chunk_size);
  fopts.prefetch.reorder_bytes = std::max<uint64_t>(8ull << 20, 2 * o.kernel_readahead);
  // A whole-file fill lands in the RAM tier first: keep it to a quarter of it.
  fopts.prefetch.random_fill_max = std::min<uint64_t>(o.random_fill, o.ram_size / 4);
  // Read-ahead must fit the RAM tier with room for what readers just read.
  fopts.prefetch.budget_bytes = o.ram_size / 2;
  fopts.uid = static_cast<uint32_t>(getuid());
  fopts.gid = static_cast<uint32_t>(getgid());
  fopts.capacity_bytes = o.ram_size + o.disk_size;
  fopts.xattrs = o.xattrs;
  fopts.require_origin = o.require_origin;
  fopts.attr_concurrency = o.attr_concurrency;
  fopts.exact_mtime = o.exact_mtime;
  fopts.on_read = std::move(on_read);
  auto filesystem = fs::Filesystem::open(fopts, out.cache, out.origin);
  if (!filesystem) {
    ignore_error(out.cache->close());
    const Status& s = filesystem.error();
    if (s.is(StatusCode::kConfigError)) return s;
    return named(fmt::format("origin {} is unreachable or unusable", o.origin), s);
  }
  out.fs = std::move(*filesystem);
  return out;
}

}  // namespace daramjwee::daemon
