// daramjwee-fs: parse options, check the mount point and the origin, build
// the cache and the filesystem, mount, serve until unmounted or signalled,
// then shut down in order: stop the FUSE loop and unmount, stop prefetch,
// close the engine (fills finish or abort within shutdown_timeout, tiers
// flush their indexes), exit 0.
//
// Daemonizing: without -f we fork BEFORE creating anything that starts
// threads (RocksDB, the engine's workers, libcurl), because threads do not
// survive fork(). The parent waits on a pipe: the child writes "ok" once the
// mount is live, or its one-line error, so `daramjwee-fs ...` (and mount(8))
// still exits non-zero with a clear message when anything fails.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "config/options.h"
#include "control/metrics_http.h"
#include "control/exposition.h"
#include "control/server.h"
#include "daemon/assembly.h"
#include "daemon/control_glue.h"
#include "daemon/service.h"
#include "fs/fuse_adapter.h"
#include "util/log.h"

extern char** environ;

namespace daramjwee::daemon {
namespace {

constexpr const char* kVersion = "0.1.0";

int report_fd = -1;  // write end of the readiness pipe (daemon mode only)

void say_error(const std::string& what) {
  std::string line = fmt::format("daramjwee-fs: error: {}\n", what);
  if (report_fd >= 0) {
    ssize_t n = write(report_fd, line.data(), line.size());
    (void)n;
    close(report_fd);
    report_fd = -1;
  } else {
    std::fputs(line.c_str(), stderr);
  }
}

void say_ready() {
  if (report_fd < 0) return;
  ssize_t n = write(report_fd, "ok\n", 3);
  (void)n;
  close(report_fd);
  report_fd = -1;
  // Detach from the terminal as fuse_daemonize() does.
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
}

// An empty directory we may mount on. Returns "" or the problem.
std::string check_mountpoint(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return fmt::format("mount point {}: {}", path, std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return fmt::format("mount point {} is not a directory", path);
  DIR* d = opendir(path.c_str());
  if (!d) return fmt::format("mount point {}: {}", path, std::strerror(errno));
  bool empty = true;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  if (!empty) return fmt::format("mount point {} is not an empty directory", path);
  return "";
}

// Parent side of the fork: relay the child's verdict.
int wait_for_child(int fd, pid_t child) {
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fd);
  if (msg.starts_with("ok")) return 0;
  int status = 0;
  waitpid(child, &status, 0);
  if (msg.empty()) msg = "daramjwee-fs: error: the daemon exited before mounting\n";
  std::fputs(msg.c_str(), stderr);
  return 1;
}

std::string fsname_of(const std::string& origin) {
  std::string out;
  for (char c : origin) out.push_back(c == ',' ? '_' : c);  // commas split -o lists
  return out;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; e++) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto cmd = config::parse_command_line(args, geteuid() == 0, env);
  if (!cmd) {
    say_error(cmd.error().message());
    return 1;
  }
  if (cmd->help) {
    std::fputs(config::help_text().c_str(), stdout);
    return 0;
  }
  if (cmd->version) {
    std::printf("daramjwee-fs %s\n", kVersion);
    return 0;
  }
  const config::DaemonOptions& o = cmd->options;
  spdlog::level::level_enum level = spdlog::level::info;
  util::parse_log_level(o.log_level, &level);
  // Until the mount is live, a failure must read as one line on stderr:
  // components' progress and retry logs stay quiet unless asked for (-d or
  // log_level=debug/trace).
  util::set_log_level(level <= spdlog::level::debug || o.debug ? level : spdlog::level::critical);
  auto log = util::logger("fs");
  for (const auto& ignored : o.ignored_options) log->debug("ignoring mount option option={}", ignored);

  if (std::string problem = check_mountpoint(o.mountpoint); !problem.empty()) {
    say_error(problem);
    return 1;
  }
  // Absolute from here on: the daemon changes to / before it mounts, and a
  // relative mount point would then name another directory.
  if (char* real = realpath(o.mountpoint.c_str(), nullptr)) {
    cmd->options.mountpoint = real;
    std::free(real);
  }
  // The control socket: -o control=PATH, else the per-mount-point default
  // (computed now: canonicalizing the mount point after mounting would ask
  // our own FUSE loop). An explicit path that cannot be served is fatal.
  const bool control_explicit = !o.control.empty();
  cmd->options.control = control_socket_path(o);

  if (!o.foreground) {
    int fds[2];
    if (pipe(fds) != 0) {
      say_error(fmt::format("pipe: {}", std::strerror(errno)));
      return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
      say_error(fmt::format("fork: {}", std::strerror(errno)));
      return 1;
    }
    if (pid > 0) {
      close(fds[1]);
      return wait_for_child(fds[0], pid);
    }
    close(fds[0]);
    report_fd = fds[1];
    setsid();
    if (chdir("/") != 0) {
      // Not fatal: every path we use is absolute.
    }
  }

  // SIGHUP is taken by the HangupWatcher thread (log reopen and level
  // reload), so it is blocked before any thread exists.
  block_hangup();
  const std::string log_path = stderr_log_path();

  auto origin = build_origin(o);
  if (!origin) {
    say_error(origin.error().message());
    return 1;
  }
  auto latencies = std::make_shared<ReadLatencies>();
  auto parts = assemble(o, *origin, latencies->hook());
  if (!parts) {
    say_error(parts.error().message());
    return 1;
  }
  auto handler = std::make_shared<DaemonControl>(o, *parts, latencies, kVersion);
  std::unique_ptr<control::Server> control_server;
  std::unique_ptr<control::MetricsListener> metrics_listener;
  {
    std::string problem;
    if (auto srv = control::Server::start(control::ServerOptions{.path = o.control}, handler)) {
      control_server = std::move(*srv);
    } else if (control_explicit) {
      problem = srv.error().message();
    } else {
      log->warn("control socket unavailable path={} error={}", o.control, srv.error().to_string());
    }
    if (problem.empty() && !o.metrics_listen.empty()) {
      auto ml = control::MetricsListener::start(o.metrics_listen,
                                                [handler] { return control::render_prometheus(handler->stats()); });
      if (ml) metrics_listener = std::move(*ml);
      else problem = ml.error().message();
    }
    if (!problem.empty()) {
      control_server.reset();
      parts->fs->shutdown();
      ignore_error(parts->cache->close());
      say_error(problem);
      return 1;
    }
  }
  fs::MountOptions mo;
  mo.mountpoint = o.mountpoint;
  mo.debug = o.debug;
  mo.single_thread = o.single_thread;
  mo.max_threads = static_cast<unsigned>(o.max_threads);
  mo.kernel_readahead = o.kernel_readahead;
  mo.fuse_options = {"ro", "subtype=daramjwee-fs", "default_permissions"};
  bool has_fsname = false;
  for (const auto& f : o.fuse_options) has_fsname = has_fsname || f.starts_with("fsname=");
  if (!has_fsname) mo.fuse_options.push_back("fsname=" + fsname_of(o.origin));
  if (o.allow_other) mo.fuse_options.push_back("allow_other");
  for (const auto& f : o.fuse_options) mo.fuse_options.push_back(f);

  auto session = fs::FuseSession::mount(*parts->fs, mo);
  if (!session) {
    if (metrics_listener) metrics_listener->stop();
    control_server.reset();
    parts->fs->shutdown();
    ignore_error(parts->cache->close());
    say_error(session.error().message());
    return 1;
  }
  util::set_log_level(level);
  log->info("mounted origin={} mountpoint={} cache_dir={} ram_size={} disk_size={} chunk_size={}", o.origin,
            o.mountpoint, o.cache_dir, o.ram_size, o.disk_size, o.chunk_size);
  // The monitor logged the outage while start-up logs were quiet: say it now,
  // once; its recovery is logged when it happens.
  if (const auto h = parts->monitor->health(); h.state == origin::Reachability::kDown) {
    log->warn("origin unreachable at mount origin={} error=\"{}\": serving what the cache holds, EIO for the rest, "
              "until it answers again", o.origin, h.last_error);
  }
  say_ready();
  Readiness readiness;
  readiness.start(o.mountpoint, [handler] { return handler->status_line(); });
  HangupWatcher hangup;
  hangup.start([&] {
    if (!log_path.empty() && !reopen_stderr(log_path)) log->warn("cannot reopen log path={}", log_path);
    // The log level may have changed in the configuration file.
    auto again = config::parse_command_line(args, geteuid() == 0, env);
    spdlog::level::level_enum lvl = level;
    if (again && util::parse_log_level(again->options.log_level, &lvl)) {
      util::set_log_level(lvl);
      log->info("SIGHUP: logs reopened log_level={}", again->options.log_level);
    } else {
      log->warn("SIGHUP: configuration not reloaded error={}", again ? "bad log_level" : again.error().message());
    }
  });

  Status loop = (*session)->run();
  readiness.stopping();
  (*session)->unmount();
  log->info("unmounted mountpoint={}", o.mountpoint);
  readiness.stop();
  hangup.stop();
  if (metrics_listener) metrics_listener->stop();
  control_server.reset();
  parts->fs->shutdown();
  auto st = parts->fs->stats();
  Status closed = parts->cache->close();
  if (!closed) log->warn("cache close incomplete error={}", closed.to_string());
  log->info("stopped lookups={} opens={} reads={} read_bytes={} eio={} chunk_origin_requests={} prefetch_requests={}",
            st.lookups, st.opens, st.reads, st.read_bytes, st.eio, st.chunk_origin_requests, st.prefetch.requests);
  session->reset();
  if (!loop) {
    log->error("FUSE loop failed error={}", loop.to_string());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace daramjwee::daemon

int main(int argc, char** argv) {
  try {
    return daramjwee::daemon::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "daramjwee-fs: error: %s\n", e.what());
    return 1;
  }
}
