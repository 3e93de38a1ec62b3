// DaemonOptions: everything daramjwee-fs can be told, with its default, and
// the parsers that fill it: the command line (ORIGIN MOUNTPOINT [-f] [-d]
// [-o OPT,...]) and a TOML file (config=FILE). Precedence: defaults < TOML
// file < -o options. Every error names the option and the reason, in one line
// ("option ram_size: invalid size 'lots'"); docs/CONFIG.md lists every option.
//
// The daemon maps these plain values onto each component's Options struct
// (daemon/assembly.cc), so this layer depends on no component.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace daramjwee::config {

struct DaemonOptions {
  // Positional arguments.
  std::string origin;      // http://, https:// or file:/// URL
  std::string mountpoint;  // an existing empty directory

  // Flags.
  bool foreground = false;     // -f
  bool debug = false;          // -d (libfuse debug; implies -f)
  bool single_thread = false;  // -s

  std::string config_file;                   // config=FILE; Default: none
  std::string cache_dir;                     // Default: see default_cache_dir()
  uint64_t ram_size = 256ull << 20;          // Default: 256M
  uint64_t disk_size = 10ull << 30;          // Default: 10G
  uint64_t disk_free_min = 256ull << 20;     // Default: 256M (0: no floor)
  uint64_t chunk_size = 1ull << 20;          // Default: 1M
  double ttl = 60;                           // Default: 60 s
  double negative_ttl = 30;                  // Default: 30 s
  double origin_timeout = 10;                // Default: 10 s
  // Refuse to mount when the origin's root does not answer at start, instead
  // of mounting from what the cache holds. Default: false.
  bool require_origin = false;
  double shutdown_timeout = 10;              // Default: 10 s
  uint64_t readahead = 64ull << 20;          // Default: 64M
  int prefetch_threads = 4;                  // Default: 4
  int workers = 4;                           // Default: 4
  int max_threads = 32;                      // Default: 32
  uint64_t kernel_readahead = 4ull << 20;    // Default: 4M (0: leave the kernel's)
  uint64_t random_fill = 256ull << 20;       // Default: 256M (capped at ram_size/4; 0: off)
  bool xattrs = false;                       // Default: false
  int attr_concurrency = 16;                 // Default: 16 HEADs at once (1..1024)
  bool exact_mtime = false;                  // Default: false
  std::string ram_policy = "s3fifo";         // Default: s3fifo
  std::string disk_policy = "lru";           // Default: lru
  std::string fsync = "none";                // Default: none
  bool compress = true;                      // Default: true
  std::string cache_mismatch = "refuse";     // Default: refuse (or reset)
  std::string control;                       // Default: none (a per-mount-point socket)
  std::string metrics_listen;                // Default: none (HOST:PORT serves /metrics)
  std::string log_level = "info";            // Default: info
  bool allow_other = false;                  // Default: false
  // HTTP origin.
  std::string http_proxy;                    // Default: "" (environment)
  std::string http_ca_file;                  // Default: "" (system store)
  bool http_tls_verify = true;               // Default: true
  std::string http_headers_file;             // Default: ""
  std::vector<std::string> http_headers;     // Default: none (TOML only)
  int http_max_connections = 16;             // Default: 16

  // Options handed to FUSE as-is (default_permissions, fsname=...).
  std::vector<std::string> fuse_options;
  // fstab/mount options that mean nothing to a FUSE daemon (noauto, _netdev).
  std::vector<std::string> ignored_options;

  // Cross-field checks after parsing (sizes in range, known policy names,
  // absolute paths). Errors: kConfigError naming the option.
  Status validate() const;
};

struct Command {
  DaemonOptions options;
  bool help = false;
  bool version = false;
};

// Parses argv (argv[0] is the program). Reads config=FILE when given.
// `env` supplies HOME/XDG_CACHE_HOME and the effective uid decides the
// default cache_dir. Errors: kConfigError with the option in field().
Result<Command> parse_command_line(const std::vector<std::string>& args, bool is_root,
                                   const std::map<std::string, std::string>& env);

// Applies a TOML document (flat keys; [http] table) to `options`.
// `source` names the file in errors.
Status apply_toml(std::string_view toml, std::string_view source, DaemonOptions& options);

// Applies one "-o" item ("name=value" or "name").
Status apply_option(std::string_view item, DaemonOptions& options);

// "64K", "1M", "10G", "4096" -> bytes (binary multiples).
std::optional<uint64_t> parse_size(std::string_view text);
// "30", "1.5", "500ms", "2m", "1h" -> seconds.
std::optional<double> parse_seconds(std::string_view text);

// /var/cache/daramjwee-fs/<slug> for root, else $XDG_CACHE_HOME (or
// ~/.cache)/daramjwee-fs/<slug>; the slug is derived from the origin URL.
std::string default_cache_dir(std::string_view origin, bool is_root,
                              const std::map<std::string, std::string>& env);

// The text of `daramjwee-fs --help`: usage and every option with its default.
std::string help_text();

}  // namespace daramjwee::config
