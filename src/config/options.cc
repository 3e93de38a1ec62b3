// Option parsing. One table (kOptions) drives the -o parser, the TOML
// parser and --help, so an option cannot be accepted in one place and
// forgotten in another. Errors are thrown internally as OptionError (this is
// the one layer allowed to throw) and leave as a kConfigError Status.
#include "config/options.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace daramjwee::config {
namespace {

struct OptionError : std::runtime_error {
  OptionError(std::string f, std::string why) : std::runtime_error(why), field(std::move(f)) {}
  std::string field;
};

[[noreturn]] void bad(std::string_view field, std::string why) { throw OptionError(std::string(field), std::move(why)); }

uint64_t size_value(std::string_view name, std::string_view v) {
  auto s = parse_size(v);
  if (!s) bad(name, fmt::format("invalid size '{}' (expected a number with an optional K, M, G or T suffix)", v));
  return *s;
}
double seconds_value(std::string_view name, std::string_view v) {
  auto s = parse_seconds(v);
  if (!s) bad(name, fmt::format("invalid duration '{}' (expected seconds, or a number with ms, s, m or h)", v));
  return *s;
}
int int_value(std::string_view name, std::string_view v, int lo, int hi) {
  int out = 0;
  size_t pos = 0;
  try {
    out = std::stoi(std::string(v), &pos);
  } catch (...) {
    pos = 0;
  }
  if (v.empty() || pos != v.size()) bad(name, fmt::format("invalid number '{}'", v));
  if (out < lo || out > hi) bad(name, fmt::format("{} is out of range {}..{}", out, lo, hi));
  return out;
}
bool bool_value(std::string_view name, std::string_view v) {
  if (v == "" || v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  bad(name, fmt::format("invalid boolean '{}' (expected true or false)", v));
}
std::string oneof(std::string_view name, std::string_view v, std::initializer_list<std::string_view> ok) {
  for (auto o : ok) {
    if (v == o) return std::string(v);
  }
  std::string list;
  for (auto o : ok) list += (list.empty() ? "" : ", ") + std::string(o);
  bad(name, fmt::format("'{}' is not one of: {}", v, list));
}

struct OptionDef {
  std::string_view name;
  std::string_view value_hint;  // "" for a flag
  std::string_view default_text;
  std::string_view help;
  std::function<void(DaemonOptions&, std::string_view)> apply;
};

const std::vector<OptionDef>& options_table() {
  static const std::vector<OptionDef> table = {
      {"config", "FILE", "none", "TOML configuration file; -o options override it",
       [](DaemonOptions& o, std::string_view v) { o.config_file = v; }},
      {"cache_dir", "DIR", "/var/cache/daramjwee-fs/<origin> (root), else $XDG_CACHE_HOME/daramjwee-fs/<origin>",
       "where the disk tier keeps its index and chunks",
       [](DaemonOptions& o, std::string_view v) { o.cache_dir = v; }},
      {"ram_size", "SIZE", "256M", "capacity of the RAM tier",
       [](DaemonOptions& o, std::string_view v) { o.ram_size = size_value("ram_size", v); }},
      {"disk_size", "SIZE", "10G", "capacity of the disk tier, its index and directories included",
       [](DaemonOptions& o, std::string_view v) { o.disk_size = size_value("disk_size", v); }},
      {"disk_free_min", "SIZE", "256M",
       "free space the disk tier leaves on its filesystem: below it the tier evicts, then refuses fills (0: off)",
       [](DaemonOptions& o, std::string_view v) { o.disk_free_min = size_value("disk_free_min", v); }},
      {"chunk_size", "SIZE", "1M", "files are cached in chunks of this size (4K..64M)",
       [](DaemonOptions& o, std::string_view v) { o.chunk_size = size_value("chunk_size", v); }},
      {"ttl", "SECONDS", "60", "freshness of cached metadata and listings; also the kernel's entry/attr timeout",
       [](DaemonOptions& o, std::string_view v) { o.ttl = seconds_value("ttl", v); }},
      {"negative_ttl", "SECONDS", "30", "how long a 'not found' is cached (kernel negative dentries too)",
       [](DaemonOptions& o, std::string_view v) { o.negative_ttl = seconds_value("negative_ttl", v); }},
      {"origin_timeout", "SECONDS", "10",
       "bound on one origin request including retries: an uncached read fails with EIO after about this long",
       [](DaemonOptions& o, std::string_view v) { o.origin_timeout = seconds_value("origin_timeout", v); }},
      {"require_origin", "BOOL", "false",
       "refuse to mount when the origin's root does not answer (default: mount from the cache and reconnect)",
       [](DaemonOptions& o, std::string_view v) { o.require_origin = bool_value("require_origin", v); }},
      {"shutdown_timeout", "SECONDS", "10", "time given to in-flight fills at unmount",
       [](DaemonOptions& o, std::string_view v) { o.shutdown_timeout = seconds_value("shutdown_timeout", v); }},
      {"readahead", "SIZE", "64M", "largest prefetch window of a sequential reader (0 disables prefetch)",
       [](DaemonOptions& o, std::string_view v) { o.readahead = size_value("readahead", v); }},
      {"prefetch_threads", "N", "4", "threads streaming prefetch ranges from the origin",
       [](DaemonOptions& o, std::string_view v) { o.prefetch_threads = int_value("prefetch_threads", v, 0, 256); }},
      {"workers", "N", "4", "engine background workers (write-behind, refreshes)",
       [](DaemonOptions& o, std::string_view v) { o.workers = int_value("workers", v, 1, 1024); }},
      {"max_threads", "N", "32", "most FUSE worker threads",
       [](DaemonOptions& o, std::string_view v) { o.max_threads = int_value("max_threads", v, 1, 1024); }},
      {"random_fill", "SIZE", "256M",
       "a file read at random and at most this large (and a quarter of ram_size) is fetched whole in the background; 0 disables",
       [](DaemonOptions& o, std::string_view v) { o.random_fill = size_value("random_fill", v); }},
      {"kernel_readahead", "SIZE", "4M",
       "the kernel's read-ahead on this mount (needs root to set; 0 keeps the kernel's 128K)",
       [](DaemonOptions& o, std::string_view v) { o.kernel_readahead = size_value("kernel_readahead", v); }},
      {"xattrs", "BOOL", "false",
       "serve user.daramjwee.* attributes (where a file's chunks are); costs every ls -l two requests per file",
       [](DaemonOptions& o, std::string_view v) { o.xattrs = bool_value("xattrs", v); }},
      // Listing entries without exact attributes (issue 14): HEADs.
      {"attr_concurrency", "N", "16",
       "HEADs at once that resolve a directory's rounded or missing listing sizes when it is opened (1..1024)",
       [](DaemonOptions& o, std::string_view v) { o.attr_concurrency = int_value("attr_concurrency", v, 1, 1024); }},
      {"exact_mtime", "BOOL", "false",
       "HEAD every file of an HTTP listing once per ttl for mtimes to the second (HTML listings give minutes)",
       [](DaemonOptions& o, std::string_view v) { o.exact_mtime = bool_value("exact_mtime", v); }},
      {"ram_policy", "NAME", "s3fifo", "eviction policy of the RAM tier: lru, s3fifo or sieve",
       [](DaemonOptions& o, std::string_view v) { o.ram_policy = oneof("ram_policy", v, {"lru", "s3fifo", "sieve"}); }},
      {"disk_policy", "NAME", "lru", "eviction policy of the disk tier: lru, s3fifo or sieve",
       [](DaemonOptions& o, std::string_view v) { o.disk_policy = oneof("disk_policy", v, {"lru", "s3fifo", "sieve"}); }},
      {"fsync", "MODE", "none", "disk tier durability: none or commit (fsync every chunk)",
       [](DaemonOptions& o, std::string_view v) { o.fsync = oneof("fsync", v, {"none", "commit"}); }},
      {"compress", "BOOL", "true", "lz4-compress disk chunks when it saves space",
       [](DaemonOptions& o, std::string_view v) { o.compress = bool_value("compress", v); }},
      {"cache_mismatch", "MODE", "refuse",
       "a cache_dir filled from another origin: refuse (exit with an error naming both) or reset (empty it)",
       [](DaemonOptions& o, std::string_view v) { o.cache_mismatch = oneof("cache_mismatch", v, {"refuse", "reset"}); }},
      {"control", "PATH", "per mount point", "UNIX socket for daramjwee-ctl (default /run/daramjwee-fs/<mountpoint>.sock for root)",
       [](DaemonOptions& o, std::string_view v) { o.control = v; }},
      {"metrics_listen", "HOST:PORT", "none", "serve Prometheus /metrics over HTTP on this address (e.g. 127.0.0.1:9464)",
       [](DaemonOptions& o, std::string_view v) { o.metrics_listen = v; }},
      {"log_level", "LEVEL", "info", "trace, debug, info, warn, error, critical or off",
       [](DaemonOptions& o, std::string_view v) {
         o.log_level = oneof("log_level", v, {"trace", "debug", "info", "warn", "error", "critical", "off"});
       }},
      {"allow_other", "", "off", "let users other than the mounting one read the mount",
       [](DaemonOptions& o, std::string_view v) { o.allow_other = bool_value("allow_other", v); }},
      {"http.proxy", "URL", "\"\" (http_proxy environment)", "HTTP proxy for the origin",
       [](DaemonOptions& o, std::string_view v) { o.http_proxy = v; }},
      {"http.ca_file", "FILE", "\"\" (system store)", "CA bundle for https origins",
       [](DaemonOptions& o, std::string_view v) { o.http_ca_file = v; }},
      {"http.tls_verify", "BOOL", "true", "verify the origin's TLS certificate",
       [](DaemonOptions& o, std::string_view v) { o.http_tls_verify = bool_value("http.tls_verify", v); }},
      {"http.headers_file", "FILE", "\"\"", "file of extra request headers, one 'Name: value' per line",
       [](DaemonOptions& o, std::string_view v) { o.http_headers_file = v; }},
      {"http.max_connections", "N", "16", "idle keep-alive connections kept to the origin",
       [](DaemonOptions& o, std::string_view v) {
         o.http_max_connections = int_value("http.max_connections", v, 1, 1024);
       }},
  };
  return table;
}

const OptionDef* find_option(std::string_view name) {
  for (const auto& d : options_table()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

// Options that FUSE itself understands and that we pass through.
bool is_fuse_option(std::string_view name) {
  static const std::set<std::string_view> kFuse = {
      "default_permissions", "auto_unmount", "fsname", "subtype", "max_read", "blkdev", "ro",
      "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime", "nodiratime",
      "relatime", "norelatime", "strictatime", "sync", "async", "dirsync", "context",
      "fscontext", "defcontext", "rootcontext"};
  return kFuse.count(name) != 0;
}

// Options mount(8) and fstab pass that have no meaning for the daemon.
bool is_ignored_option(std::string_view name) {
  static const std::set<std::string_view> kIgnored = {"rw", "defaults", "auto", "noauto", "user", "nouser",
                                                      "users", "_netdev", "nofail", "owner", "group",
                                                      "comment", "loop"};
  return kIgnored.count(name) != 0 || name.starts_with("x-");
}

void apply_item(std::string_view item, DaemonOptions& o) {
  auto eq = item.find('=');
  std::string_view name = item.substr(0, eq);
  std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
  if (const OptionDef* d = find_option(name)) {
    if (eq == std::string_view::npos && !d->value_hint.empty() && d->value_hint != "BOOL") {
      bad(name, "needs a value (" + std::string(name) + "=" + std::string(d->value_hint) + ")");
    }
    d->apply(o, value);
  } else if (is_fuse_option(name)) {
    o.fuse_options.emplace_back(item);
  } else if (is_ignored_option(name)) {
    o.ignored_options.emplace_back(item);
  } else {
    bad(name, "unknown option (see daramjwee-fs --help)");
  }
}

std::string toml_scalar(const toml::node& node, std::string_view key) {
  if (auto s = node.value<std::string>(); s && node.is_string()) return *s;
  if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
  if (node.is_integer()) return std::to_string(*node.value<int64_t>());
  if (node.is_floating_point()) return fmt::format("{}", *node.value<double>());
  bad(key, "expected a string, number or boolean");
}

void apply_table(const toml::table& table, const std::string& prefix, DaemonOptions& o) {
  for (const auto& [k, node] : table) {
    std::string key = prefix + std::string(k.str());
    if (key == "http.headers") {
      const toml::array* arr = node.as_array();
      if (!arr) bad(key, "expected an array of \"Name: value\" strings");
      o.http_headers.clear();
      for (const auto& h : *arr) {
        auto s = h.value<std::string>();
        if (!s || !h.is_string()) bad(key, "expected an array of \"Name: value\" strings");
        o.http_headers.push_back(*s);
      }
      continue;
    }
    if (const toml::table* sub = node.as_table()) {
      if (key != "http") bad(key, "unknown section");
      apply_table(*sub, key + ".", o);
      continue;
    }
    if (key == "origin") {
      o.origin = toml_scalar(node, key);
      continue;
    }
    if (key == "mountpoint") {  // lets a systemd unit name only the file
      o.mountpoint = toml_scalar(node, key);
      continue;
    }
    if (key == "config") bad(key, "cannot be set inside a configuration file");
    if (key == "fuse_options") bad(key, "use -o on the command line for FUSE options");
    const OptionDef* d = find_option(key);
    if (!d) bad(key, "unknown option");
    d->apply(o, toml_scalar(node, key));
  }
}

std::string slug(std::string_view origin) {
  std::string_view rest = origin;
  if (auto p = rest.find("://"); p != std::string_view::npos) rest = rest.substr(p + 3);
  std::string out;
  for (char c : rest) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
    if (out.size() >= 48) break;
  }
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : origin) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{}-{:08x}", out, static_cast<uint32_t>(h ^ (h >> 32)));
}

Status as_status(const OptionError& e, std::string_view source) {
  std::string field = source == "option" ? fmt::format("option {}", e.field) : fmt::format("{}: {}", source, e.field);
  return Status::config_error(e.field, fmt::format("{}: {}", field, e.what()));
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text) {
  if (text.empty()) return std::nullopt;
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    i++;
  }
  if (i == 0) return std::nullopt;
  std::string unit;
  for (; i < text.size(); i++) unit.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(text[i]))));
  int shift = 0;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "K" || unit == "KB" || unit == "KIB") shift = 10;
  else if (unit == "M" || unit == "MB" || unit == "MIB") shift = 20;
  else if (unit == "G" || unit == "GB" || unit == "GIB") shift = 30;
  else if (unit == "T" || unit == "TB" || unit == "TIB") shift = 40;
  else return std::nullopt;
  if (shift && n > (UINT64_MAX >> shift)) return std::nullopt;
  return n << shift;
}

std::optional<double> parse_seconds(std::string_view text) {
  if (text.empty()) return std::nullopt;
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) i++;
  if (i == 0) return std::nullopt;
  double v = 0;
  try {
    size_t pos = 0;
    v = std::stod(std::string(text.substr(0, i)), &pos);
    if (pos != i) return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  std::string_view unit = text.substr(i);
  if (unit.empty() || unit == "s") return v;
  if (unit == "ms") return v / 1000;
  if (unit == "m" || unit == "min") return v * 60;
  if (unit == "h") return v * 3600;
  return std::nullopt;
}

Status DaemonOptions::validate() const {
  auto err = [](std::string_view f, std::string why) {
    return Status::config_error(std::string(f), fmt::format("{}: {}", f, why));
  };
  if (origin.empty()) return err("ORIGIN", "missing (usage: daramjwee-fs ORIGIN MOUNTPOINT [-o OPT,...])");
  if (!(origin.starts_with("http://") || origin.starts_with("https://") || origin.starts_with("file:///"))) {
    return err("ORIGIN", fmt::format("'{}' must start with http://, https:// or file:///", origin));
  }
  if (mountpoint.empty()) return err("MOUNTPOINT", "missing (usage: daramjwee-fs ORIGIN MOUNTPOINT [-o OPT,...])");
  if (ram_size < (1u << 20)) return err("ram_size", "must be at least 1M");
  // The index's reserve and the directories take about 3M of any disk tier.
  if (disk_size < (8u << 20)) return err("disk_size", "must be at least 8M");
  if (chunk_size < (4u << 10) || chunk_size > (64u << 20)) return err("chunk_size", "must be between 4K and 64M");
  if (chunk_size > ram_size) return err("chunk_size", "must not exceed ram_size");
  if (!std::isfinite(ttl) || ttl > 365.0 * 86400) return err("ttl", "must be at most a year");
  if (!std::isfinite(negative_ttl) || negative_ttl > 365.0 * 86400) return err("negative_ttl", "must be at most a year");
  if (!(origin_timeout >= 0.1 && origin_timeout <= 3600)) return err("origin_timeout", "must be between 0.1 and 3600 seconds");
  if (!(shutdown_timeout > 0 && shutdown_timeout <= 3600)) return err("shutdown_timeout", "must be between 0 and 3600 seconds");
  if (cache_dir.empty() || cache_dir[0] != '/') return err("cache_dir", fmt::format("'{}' must be an absolute path", cache_dir));
  if (!control.empty() && control[0] != '/') return err("control", "must be an absolute path");
  return Status::ok();
}

Status apply_option(std::string_view item, DaemonOptions& options) {
  try {
    apply_item(item, options);
  } catch (const OptionError& e) {
    return as_status(e, "option");
  }
  return Status::ok();
}

Status apply_toml(std::string_view text, std::string_view source, DaemonOptions& options) {
  try {
    toml::table table = toml::parse(text, source);
    apply_table(table, "", options);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::config_error("config", fmt::format("config {}:{}:{}: {}", source, where.line, where.column,
                                                      e.description()));
  } catch (const OptionError& e) {
    return as_status(e, fmt::format("config {}", source));
  }
  return Status::ok();
}

std::string default_cache_dir(std::string_view origin, bool is_root, const std::map<std::string, std::string>& env) {
  std::string base;
  if (is_root) {
    base = "/var/cache/daramjwee-fs";
  } else if (auto x = env.find("XDG_CACHE_HOME"); x != env.end() && !x->second.empty() && x->second[0] == '/') {
    base = x->second + "/daramjwee-fs";
  } else if (auto h = env.find("HOME"); h != env.end() && !h->second.empty()) {
    base = h->second + "/.cache/daramjwee-fs";
  } else {
    base = "/tmp/daramjwee-fs";
  }
  return base + "/" + slug(origin);
}

Result<Command> parse_command_line(const std::vector<std::string>& args, bool is_root,
                                   const std::map<std::string, std::string>& env) {
  Command cmd;
  std::vector<std::string> items;
  std::vector<std::string> positional;
  for (size_t i = 1; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      cmd.help = true;
    } else if (a == "-V" || a == "--version") {
      cmd.version = true;
    } else if (a == "-f") {
      cmd.options.foreground = true;
    } else if (a == "-d" || a == "--debug") {
      cmd.options.debug = true;
      cmd.options.foreground = true;
    } else if (a == "-s") {
      cmd.options.single_thread = true;
    } else if (a == "-o" || (a.starts_with("-o") && a.size() > 2)) {
      std::string list = a.size() > 2 ? a.substr(2) : (i + 1 < args.size() ? args[++i] : "");
      if (list.empty()) return Status::config_error("-o", "-o: needs a list of options");
      std::stringstream ss(list);
      for (std::string item; std::getline(ss, item, ',');) {
        if (!item.empty()) items.push_back(item);
      }
    } else if (!a.empty() && a[0] == '-') {
      return Status::config_error(a, fmt::format("{}: unknown flag (see daramjwee-fs --help)", a));
    } else {
      positional.push_back(a);
    }
  }
  if (cmd.help || cmd.version) return cmd;
  if (positional.size() > 2) {
    return Status::config_error("arguments", fmt::format("unexpected argument '{}'", positional[2]));
  }
  DaemonOptions& o = cmd.options;
  if (positional.size() > 0) o.origin = positional[0];
  if (positional.size() > 1) o.mountpoint = positional[1];
  // config=FILE first, whatever its position, so -o always wins over it.
  for (const auto& item : items) {
    if (item.starts_with("config=")) o.config_file = item.substr(7);
  }
  if (!o.config_file.empty()) {
    std::ifstream in(o.config_file);
    if (!in) return Status::config_error("config", fmt::format("config: cannot read '{}'", o.config_file));
    std::stringstream text;
    text << in.rdbuf();
    std::string from_cli_origin = o.origin, from_cli_mountpoint = o.mountpoint;
    if (Status s = apply_toml(text.str(), o.config_file, o); !s) return s;
    if (!from_cli_origin.empty()) o.origin = from_cli_origin;
    if (!from_cli_mountpoint.empty()) o.mountpoint = from_cli_mountpoint;
  }
  for (const auto& item : items) {
    if (item.starts_with("config=")) continue;
    if (Status s = apply_option(item, o); !s) return s;
  }
  if (o.cache_dir.empty() && !o.origin.empty()) o.cache_dir = default_cache_dir(o.origin, is_root, env);
  if (Status s = o.validate(); !s) return s;
  return cmd;
}

std::string help_text() {
  std::string out =
      "usage: daramjwee-fs ORIGIN MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
      "\n"
      "Mounts ORIGIN (http://..., https://... or file:///...) read-only on MOUNTPOINT\n"
      "(an existing empty directory), caching through RAM and a local disk tier.\n"
      "\n"
      "flags:\n"
      "  -f                 stay in the foreground\n"
      "  -d                 FUSE debug output (implies -f)\n"
      "  -s                 single-threaded FUSE loop\n"
      "  -h, --help         this text\n"
      "  -V, --version      print the version\n"
      "\n"
      "options (-o NAME=VALUE; also as NAME = VALUE in the config file; [http] table\n"
      "for http.*). Sizes take K, M, G, T suffixes (binary); durations are seconds or\n"
      "take ms, s, m, h suffixes:\n";
  for (const auto& d : options_table()) {
    std::string lhs = d.value_hint.empty() ? std::string(d.name) : fmt::format("{}={}", d.name, d.value_hint);
    out += fmt::format("  {:<24} {}\n  {:<24}   default: {}\n", lhs, d.help, "", d.default_text);
  }
  out +=
      "\n"
      "FUSE options passed through: default_permissions, auto_unmount, fsname=, subtype=,\n"
      "max_read=, and the mount flags (nodev, nosuid, noexec, noatime, ...). The mount is\n"
      "always read-only; fstab-only options (rw, noauto, _netdev, nofail, x-*) are ignored.\n";
  return out;
}

}  // namespace daramjwee::config
