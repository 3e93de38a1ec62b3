// Assembly: DaemonOptions -> origin -> tiers -> engine -> filesystem.
// The only place that knows every concrete component (STYLE.md: a new tier
// or origin is one folder plus one registration line here).
// Thread-safety: called once, from main, before the FUSE loop starts.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "config/options.h"
#include "core/cache.h"
#include "core/origin.h"
#include "fs/filesystem.h"
#include "origin/monitored_origin.h"

namespace daramjwee::daemon {

struct Assembled {
  std::shared_ptr<Origin> origin;  // the monitored origin
  // Whether the origin answers (daramjwee-ctl status); the same object as
  // `origin` when assemble() wrapped it.
  std::shared_ptr<origin::MonitoredOrigin> monitor;
  std::shared_ptr<Cache> cache;
  std::unique_ptr<fs::Filesystem> fs;
};

// Builds the origin (no network access yet). Errors: kConfigError.
Result<std::shared_ptr<Origin>> build_origin(const config::DaemonOptions& options);

// Opens the tiers and the engine, then the filesystem, which asks the origin
// for its root. An origin that does not answer is mounted from the cache
// (logged; daramjwee-ctl status shows it) unless options.require_origin.
// Errors name what failed ("origin ... is unreachable: ...", "cache_dir
// ...: ..."). The origin is wrapped in an origin::MonitoredOrigin.
// `on_read` becomes FilesystemOptions::on_read (read latency metrics).
Result<Assembled> assemble(const config::DaemonOptions& options, std::shared_ptr<Origin> origin,
                           std::function<void(int, std::chrono::nanoseconds)> on_read = {});

}  // namespace daramjwee::daemon
