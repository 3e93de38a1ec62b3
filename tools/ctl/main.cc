// daramjwee-ctl: talks to a running daramjwee-fs over its control socket
// (control/protocol.h): status, stats, metrics, invalidate, refresh, warm,
// config. The socket is named with --socket PATH, or found from the mount
// point with -m MOUNTPOINT (the daemon's default path for it).
// Exit codes: 0 done; 1 the daemon reported an error (or some items of an
// operation failed); 2 usage; 3 the daemon could not be reached.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/protocol.h"

extern char** environ;

namespace {

using nlohmann::json;
namespace control = daramjwee::control;

constexpr const char* kUsage =
    "usage: daramjwee-ctl (--socket PATH | -m MOUNTPOINT) COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  status              origin and its state, uptime, each tier's used and capacity\n"
    "  stats [--json]      per tier hits, misses, hit ratio, promotions, evictions,\n"
    "                      bytes; origin requests; refreshes; read latency p50/p99\n"
    "  metrics             all counters in the Prometheus text format\n"
    "  invalidate PATH [-r]  remove PATH's cached data from every tier\n"
    "  refresh PATH [-r]   re-read PATH's metadata from the origin now\n"
    "  warm PATH [-r]      read PATH into the cache (progress on a terminal)\n"
    "  config [--json]     the daemon's effective configuration (secrets hidden)\n"
    "\n"
    "options:\n"
    "  -s, --socket PATH   the daemon's control socket\n"
    "  -m, --mountpoint DIR  find the socket from the mount point\n"
    "  -r, --recursive     descend into directories\n"
    "      --json          machine-readable output (status, stats, config, ops)\n"
    "      --timeout SEC   give up waiting for an answer (default 120; warm: none)\n"
    "  -h, --help          this text\n"
    "PATH is relative to the mount's root, or an absolute path under -m's mount point.\n";

struct Args {
  std::string socket, mountpoint, command, path;
  bool recursive = false, json_out = false, have_path = false;
  double timeout = 120;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "daramjwee-ctl: %s\n\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (std::fabs(b) >= 1024 && u < 5) {
    b /= 1024;
    u++;
  }
  return u == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, units[u]);
}

std::string human_duration(double s) {
  auto t = static_cast<uint64_t>(s);
  if (t >= 86400) return fmt::format("{}d{:02}h{:02}m", t / 86400, t % 86400 / 3600, t % 3600 / 60);
  if (t >= 3600) return fmt::format("{}h{:02}m{:02}s", t / 3600, t % 3600 / 60, t % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{:.1f}s", s);
}

std::string human_latency(double s) {
  if (s <= 0) return "-";
  if (s < 1e-3) return fmt::format("{:.0f} us", s * 1e6);
  if (s < 1) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.2f} s", s);
}

uint64_t u(const json& j, const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<uint64_t>() : 0; }

Args parse(int argc, char** argv) {
  Args a;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; i++) {
    std::string s = argv[i];
    auto value = [&](const char* what) {
      if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", what));
      return std::string(argv[++i]);
    };
    if (s == "-h" || s == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (s == "-s" || s == "--socket") {
      a.socket = value("--socket");
    } else if (s.starts_with("--socket=")) {
      a.socket = s.substr(9);
    } else if (s == "-m" || s == "--mountpoint") {
      a.mountpoint = value("-m");
    } else if (s == "-r" || s == "--recursive") {
      a.recursive = true;
    } else if (s == "--json") {
      a.json_out = true;
    } else if (s == "--timeout") {
      char* end = nullptr;
      std::string v = value("--timeout");
      a.timeout = std::strtod(v.c_str(), &end);
      if (!end || *end || a.timeout <= 0) usage_error("--timeout needs a positive number of seconds");
    } else if (s.size() > 1 && s[0] == '-' && s != "-") {
      usage_error(fmt::format("unknown option {}", s));
    } else {
      pos.push_back(s);
    }
  }
  if (pos.empty()) usage_error("missing COMMAND");
  a.command = pos[0];
  bool known = false;
  for (auto c : control::kCommands) known = known || c == a.command;
  if (!known) usage_error(fmt::format("unknown command '{}'", a.command));
  const bool needs_path = a.command == "invalidate" || a.command == "refresh" || a.command == "warm";
  if (needs_path && pos.size() != 2) usage_error(fmt::format("{} needs exactly one PATH", a.command));
  if (!needs_path && pos.size() != 1) usage_error(fmt::format("{} takes no arguments", a.command));
  if (needs_path) {
    a.path = pos[1];
    a.have_path = true;
  }
  if (a.socket.empty() == a.mountpoint.empty()) usage_error("give exactly one of --socket PATH or -m MOUNTPOINT");
  return a;
}

// The path as the daemon names it: relative to the mount's root.
std::string relative_path(const Args& a) {
  std::string p = a.path;
  if (!a.mountpoint.empty() && p.starts_with("/")) {
    std::string mp = a.mountpoint;
    while (mp.size() > 1 && mp.back() == '/') mp.pop_back();
    if (p == mp) return "";
    if (p.starts_with(mp + "/")) return p.substr(mp.size() + 1);
  }
  while (p.starts_with("/")) p.erase(0, 1);
  return p;
}

int connect_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "daramjwee-ctl: socket path too long: %s\n", path.c_str());
    std::exit(3);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  int e = errno;
  std::string hint;
  if (e == EACCES || e == EPERM) hint = " (the socket is owner-only: run as the daemon's user or root)";
  else if (e == ENOENT) hint = " (is the filesystem mounted? was it started with -o control=PATH?)";
  else if (e == ECONNREFUSED) hint = " (no daemon is listening: it may have exited)";
  std::fprintf(stderr, "daramjwee-ctl: cannot connect to %s: %s%s\n", path.c_str(), std::strerror(e), hint.c_str());
  std::exit(3);
}

// Reads lines until the final answer; progress lines go to `on_progress`.
json exchange(int fd, const json& request, double timeout, const std::function<void(const json&)>& on_progress) {
  std::string line = request.dump() + "\n";
  for (size_t off = 0; off < line.size();) {
    ssize_t n = send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The daemon may have answered and closed before reading (a refusal):
      // its answer is still ours to read.
      if (errno == EPIPE || errno == ECONNRESET) break;
      std::fprintf(stderr, "daramjwee-ctl: sending the request failed: %s\n", std::strerror(errno));
      std::exit(3);
    }
    off += static_cast<size_t>(n);
  }
  std::string buf;
  char chunk[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  while (true) {
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      json j = json::parse(buf.substr(0, nl), nullptr, false);
      buf.erase(0, nl + 1);
      if (j.is_discarded() || !j.is_object()) {
        std::fprintf(stderr, "daramjwee-ctl: the daemon sent something that is not JSON\n");
        std::exit(3);
      }
      if (j.contains("progress")) {
        on_progress(j["progress"]);
        continue;
      }
      return j;
    }
    int wait_ms = -1;
    if (timeout > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        std::fprintf(stderr, "daramjwee-ctl: no answer within %.0f s\n", timeout);
        std::exit(3);
      }
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, wait_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) continue;
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "daramjwee-ctl: the daemon closed the connection without an answer\n");
      std::exit(3);
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
}

void print_status(const json& r) {
  fmt::print("origin      {}\n", r.value("origin", ""));
  const std::string state = r.value("origin_state", "unknown");
  fmt::print("  state     {} for {}{}\n", state, human_duration(r.value("origin_state_seconds", 0.0)),
             state == "down" ? " (" + r.value("origin_last_error", "") + ")" : "");
  fmt::print("mountpoint  {}\n", r.value("mountpoint", ""));
  fmt::print("version     {} (pid {})\n", r.value("version", ""), u(r, "pid"));
  fmt::print("uptime      {}\n", human_duration(r.value("uptime_seconds", 0.0)));
  fmt::print("cache_dir   {}\n\n", r.value("cache_dir", ""));
  fmt::print("{:<10} {:>12} {:>12} {:>7} {:>10}\n", "TIER", "USED", "CAPACITY", "USE%", "ENTRIES");
  for (const auto& t : r.value("tiers", json::array())) {
    const double used = static_cast<double>(u(t, "used_bytes")), cap = static_cast<double>(u(t, "capacity_bytes"));
    fmt::print("{:<10} {:>12} {:>12} {:>7} {:>10}\n", t.value("name", "?"), human_bytes(used),
               cap > 0 ? human_bytes(cap) : "unbounded", cap > 0 ? fmt::format("{:.1f}%", 100 * used / cap) : "-",
               u(t, "entries"));
  }
}

void print_stats(const json& r) {
  fmt::print("{:<10} {:>10} {:>10} {:>7} {:>11} {:>10} {:>12} {:>12} {:>7} {:>8}\n", "TIER", "HITS", "MISSES", "HIT%",
             "PROMOTIONS", "EVICTIONS", "READ", "WRITTEN", "ERRORS", "DROPPED");
  for (const auto& t : r.value("tiers", json::array())) {
    fmt::print("{:<10} {:>10} {:>10} {:>6.1f}% {:>11} {:>10} {:>12} {:>12} {:>7} {:>8}\n", t.value("name", "?"), u(t, "hits"),
               u(t, "misses"), 100 * t.value("hit_ratio", 0.0), u(t, "promotions"), u(t, "evictions"),
               human_bytes(static_cast<double>(u(t, "bytes_read"))),
               human_bytes(static_cast<double>(u(t, "bytes_written"))), u(t, "store_errors"), u(t, "dropped_fills"));
  }
  for (const auto& t : r.value("tiers", json::array())) {
    // Only what an operator must act on; the rest is in --json.
    if (u(t, "index_rebuilds") || u(t, "full_refusals") || u(t, "corruptions"))
      fmt::print("{:<10} index rebuilds {}, writes refused for space {}, corrupt entries dropped {}\n",
                 t.value("name", "?"), u(t, "index_rebuilds"), u(t, "full_refusals"), u(t, "corruptions"));
  }
  const json o = r.value("origin", json::object());
  const json req = o.value("requests", json::object());
  fmt::print("\norigin      requests: fetch {}, not_modified {}, not_found {}; errors {}; {} received; {} coalesced\n",
             u(req, "fetch"), u(req, "not_modified"), u(req, "not_found"), u(o, "errors"),
             human_bytes(static_cast<double>(u(o, "bytes"))), u(o, "coalesced"));
  const json rf = r.value("refresh", json::object());
  const json w = r.value("workers", json::object());
  fmt::print("refresh     scheduled {}, deduplicated {}, updated {}, not_modified {}, failed {}\n", u(rf, "scheduled"),
             u(rf, "deduplicated"), u(rf, "updated"), u(rf, "not_modified"), u(rf, "failed"));
  fmt::print("background  queued {}, dropped {}, failed {}, waiting {}\n", u(w, "queued"), u(w, "dropped"),
             u(w, "failed"), u(w, "depth"));
  const json f = r.value("fs", json::object());
  fmt::print("filesystem  lookups {}, opens {}, reads {} ({}), eio {}\n\n", u(f, "lookup"), u(f, "open"), u(f, "read"),
             human_bytes(static_cast<double>(u(f, "read_bytes"))), u(f, "eio"));
  fmt::print("{:<12} {:>10} {:>10} {:>10}\n", "SERVED FROM", "READS", "P50", "P99");
  for (const auto& l : r.value("read_latency", json::array())) {
    fmt::print("{:<12} {:>10} {:>10} {:>10}\n", l.value("served_from", "?"), u(l, "count"),
               human_latency(l.value("p50_seconds", 0.0)), human_latency(l.value("p99_seconds", 0.0)));
  }
}

int print_op(const std::string& cmd, const json& r) {
  if (cmd == "invalidate") {
    fmt::print("invalidated {} files, {} directories, {} chunks\n", u(r, "files"), u(r, "dirs"), u(r, "chunks"));
  } else if (cmd == "refresh") {
    fmt::print("refreshed {} files, {} directories; {} changed at the origin\n", u(r, "files"), u(r, "dirs"),
               u(r, "changed"));
  } else {
    fmt::print("warmed {} of {} files, {} of {}\n", u(r, "files"), u(r, "files_total"),
               human_bytes(static_cast<double>(u(r, "bytes"))), human_bytes(static_cast<double>(u(r, "bytes_total"))));
  }
  const json errors = r.value("errors", json::array());
  for (const auto& e : errors) fmt::print(stderr, "error: {}\n", e.is_string() ? e.get<std::string>() : e.dump());
  return errors.empty() ? 0 : 1;
}

// Warm progress: a bar redrawn in place on a terminal, else a plain line
// at most every 2 s (logs, pipes).
class Progress {
 public:
  Progress() : tty_(isatty(STDOUT_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  void update(const json& p) {
    auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double bytes = static_cast<double>(u(p, "bytes")), total = static_cast<double>(u(p, "bytes_total"));
    const double rate = secs > 0 ? bytes / secs : 0;
    const std::string text = fmt::format("{} / {}  {}/{} files  {}/s", human_bytes(bytes), human_bytes(total),
                                         u(p, "files"), u(p, "files_total"), human_bytes(rate));
    if (tty_) {
      const double frac = total > 0 ? std::min(1.0, bytes / total) : 0;
      const int width = 30, filled = static_cast<int>(frac * width);
      fmt::print("\r[{}{}] {:5.1f}%  {}\x1b[K", std::string(static_cast<size_t>(filled), '#'),
                 std::string(static_cast<size_t>(width - filled), ' '), 100 * frac, text);
      std::fflush(stdout);
      drawn_ = true;
    } else if (now - last_ >= std::chrono::seconds(2)) {
      last_ = now;
      fmt::print("warm: {}\n", text);
      std::fflush(stdout);
    }
  }
  // The final answer: the bar ends at what was done (progress lines are
  // throttled, so the last one may be older).
  void done(const json& final_report) {
    if (tty_ && final_report.contains("bytes_total")) update(final_report);
    if (drawn_) fmt::print("\n");
  }

 private:
  bool tty_, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_{};
};

int run(int argc, char** argv) {
  Args a = parse(argc, argv);
  std::string socket_path = a.socket;
  if (socket_path.empty()) {
    std::error_code ec;
    std::string mp = std::filesystem::weakly_canonical(a.mountpoint, ec).string();
    if (ec || mp.empty()) mp = a.mountpoint;
    a.mountpoint = mp;
    std::map<std::string, std::string> env;
    if (const char* x = std::getenv("XDG_RUNTIME_DIR")) env["XDG_RUNTIME_DIR"] = x;
    socket_path = control::default_socket_path(mp, static_cast<uint32_t>(geteuid()), env);
  }
  json req = {{"cmd", a.command}};
  if (a.have_path) {
    req["path"] = relative_path(a);
    req["recursive"] = a.recursive;
  }
  Progress progress;
  const bool warm = a.command == "warm";
  json r;
  // "busy" (all connection slots taken) is worth a few retries.
  for (int attempt = 0;; attempt++) {
    int fd = connect_socket(socket_path);
    r = exchange(fd, req, warm ? 0 : a.timeout, [&](const json& p) {
      if (!a.json_out) progress.update(p);
    });
    close(fd);
    const bool busy = !r.value("ok", false) && r.value("error", std::string()).starts_with("busy");
    if (!busy || attempt >= 10) break;
    usleep(static_cast<useconds_t>(50'000 * (attempt + 1)));
  }
  if (warm && !a.json_out && r.value("ok", false)) progress.done(r);
  else progress.done(json::object());
  if (!r.value("ok", false)) {
    std::fprintf(stderr, "daramjwee-ctl: %s\n", r.value("error", std::string("the daemon reported an error")).c_str());
    return 1;
  }
  r.erase("ok");
  if (a.command == "metrics") {
    std::fputs(r.value("text", "").c_str(), stdout);
    return 0;
  }
  if (a.json_out) {
    fmt::print("{}\n", r.dump(2));
    if (r.contains("errors") && !r["errors"].empty()) return 1;
    return 0;
  }
  if (a.command == "status") print_status(r);
  else if (a.command == "stats") print_stats(r);
  else if (a.command == "config") {
    const json options = r.value("options", json::object());
    for (const auto& [k, v] : options.items()) {
      fmt::print("{} = {}\n", k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  } else {
    return print_op(a.command, r);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "daramjwee-ctl: %s\n", e.what());
    return 1;
  }
}
