// The control server's threads and their limits.
//
// The accept thread polls the listening socket and a wake pipe (written by
// stop()). Each accepted connection runs on its own thread, so a slow
// handler call (a recursive warm of a large tree) never blocks another
// client, and the number of such threads is bounded: past max_connections
// the newcomer gets "busy" from the accept thread itself and is closed.
//
// A connection's request must arrive whole within request_deadline (one
// deadline for the whole line, so a client trickling a byte a second gets no
// extra time) and within max_request_bytes; writes carry SO_SNDTIMEO and
// MSG_NOSIGNAL, so a client that stops reading or vanishes costs one bounded
// wait and no SIGPIPE. stop() shuts every connection's socket down (under
// the connection's mutex, so a descriptor closed and reused meanwhile is
// never touched), which wakes poll() and fails pending writes; the warm
// progress callback also checks stopping_.
#include "control/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/exposition.h"
#include "util/log.h"

namespace daramjwee::control {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string errno_text(int e) { return std::strerror(e); }

bool fill_addr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// True when something accepts connections on `path`.
bool socket_alive(const std::string& path) {
  sockaddr_un addr;
  if (!fill_addr(path, &addr)) return false;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool alive = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return alive;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool send_json(int fd, const json& j) {
  // Invalid UTF-8 (a path from a hostile listing) is replaced, not thrown on.
  return send_all(fd, j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

json failure(std::string_view message) { return {{"ok", false}, {"error", message}}; }

}  // namespace

struct Server::Conn {
  std::mutex mu;
  int fd = -1;  // guarded by mu; -1 once closed
  std::atomic<bool> done{false};
  std::thread thread;
};

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, std::shared_ptr<Handler> handler) {
  const std::string& path = options.path;
  if (!handler) return Status::invalid_argument("control server needs a handler");
  if (path.empty() || path.front() != '/') return Status::config_error("control", "must be an absolute path");
  sockaddr_un addr;
  if (!fill_addr(path, &addr)) return Status::config_error("control", fmt::format("path too long: {}", path));
  if (options.max_connections < 1 || options.max_request_bytes < 16) {
    return Status::invalid_argument("control server limits must be positive");
  }

  // The directory: created owner-only when missing; an existing one is the
  // operator's choice and left as is.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::io_error(fmt::format("control socket directory {}: {}", dir, errno_text(errno)));
    }
    if (stat(dir.c_str(), &st) != 0) {
      return Status::io_error(fmt::format("control socket directory {}: {}", dir, errno_text(errno)));
    }
  }
  // Someone else's directory (say a /tmp/daramjwee-fs-UID made in advance by
  // another user) could swap our socket for theirs: refuse it.
  if (!S_ISDIR(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) ||
      ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX))) {
    return Status::io_error(fmt::format("control socket directory {} is not safe (owner uid {}, mode {:o})", dir,
                                        st.st_uid, st.st_mode & 07777));
  }
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::io_error(fmt::format("control path {} exists and is not a socket", path));
    if (socket_alive(path)) return Status::io_error(fmt::format("another daemon listens on control socket {}", path));
    unlink(path.c_str());  // stale, left by a daemon that died
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error(fmt::format("control socket: {}", errno_text(errno)));
  // bind() creates the file with mode 0777 & ~umask; the usual 022 already
  // keeps others from connecting (connect needs write permission), and the
  // chmod below narrows it to the owner before anyone is accepted.
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    return Status::io_error(fmt::format("control socket {}: bind: {}", path, errno_text(e)));
  }
  if (chmod(path.c_str(), 0600) != 0 || listen(fd, 16) != 0) {
    int e = errno;
    close(fd);
    unlink(path.c_str());
    return Status::io_error(fmt::format("control socket {}: {}", path, errno_text(e)));
  }
  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    int e = errno;
    close(fd);
    unlink(path.c_str());
    return Status::io_error(fmt::format("control socket: pipe: {}", errno_text(e)));
  }
  std::unique_ptr<Server> server(new Server(std::move(options), std::move(handler), fd, wake[0], wake[1]));
  server->accept_thread_ = std::thread([s = server.get()] { s->accept_loop(); });
  return server;
}

Server::Server(ServerOptions options, std::shared_ptr<Handler> handler, int listen_fd, int wake_read,
               int wake_write)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      listen_fd_(listen_fd),
      wake_read_(wake_read),
      wake_write_(wake_write) {}

Server::~Server() { stop(); }

void Server::stop() {
  if (stopping_.exchange(true)) {
    if (accept_thread_.joinable() && accept_thread_.get_id() != std::this_thread::get_id()) accept_thread_.join();
    return;
  }
  ssize_t n = write(wake_write_, "x", 1);
  (void)n;
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard lock(mu_);
    for (auto& c : conns_) {
      std::lock_guard cl(c->mu);
      if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
    }
  }
  reap(true);
  close(listen_fd_);
  close(wake_read_);
  close(wake_write_);
  unlink(options_.path.c_str());
}

ServerStats Server::stats() const {
  ServerStats s;
  s.accepted = accepted_.load();
  s.refused_peer = refused_peer_.load();
  s.refused_busy = refused_busy_.load();
  s.bad_requests = bad_requests_.load();
  s.requests = requests_.load();
  return s;
}

void Server::reap(bool all) {
  std::list<std::shared_ptr<Conn>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (all || (*it)->done.load()) {
        finished.push_back(std::move(*it));
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) {
    if (c->thread.joinable()) c->thread.join();
  }
}

void Server::accept_loop() {
  auto log = util::logger("control");
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    // Wake up now and then to join finished connection threads.
    int rc = poll(fds, 2, 1000);
    reap(false);
    if (rc < 0 && errno != EINTR) {
      log->error("control poll failed error={}", errno_text(errno));
      return;
    }
    if (stopping_.load() || rc <= 0 || !(fds[0].revents & POLLIN)) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // EAGAIN, ECONNABORTED, EMFILE: try again later
    accepted_.fetch_add(1, std::memory_order_relaxed);
    timeval tv{};
    tv.tv_sec = options_.send_timeout.count() / 1000;
    tv.tv_usec = (options_.send_timeout.count() % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::lock_guard lock(mu_);
    int active = 0;
    for (const auto& c : conns_) active += c->done.load() ? 0 : 1;
    if (active >= options_.max_connections) {
      refused_busy_.fetch_add(1, std::memory_order_relaxed);
      // The socket buffer takes one short line without blocking.
      send_json(fd, failure("busy: too many control connections, try again"));
      close(fd);
      continue;
    }
    auto conn = std::make_shared<Conn>();
    conn->fd = fd;
    conns_.push_back(conn);
    try {
      conn->thread = std::thread([this, conn] { serve(conn); });
    } catch (const std::system_error& e) {
      // No thread for it: answer here and forget it.
      send_json(fd, failure("busy: cannot start a thread"));
      std::lock_guard cl(conn->mu);
      close(conn->fd);
      conn->fd = -1;
      conn->done = true;
    }
  }
}

void Server::serve(const std::shared_ptr<Conn>& conn) {
  auto log = util::logger("control");
  const int fd = conn->fd;  // stays open until the end of this function
  auto finish = [&] {
    std::lock_guard cl(conn->mu);
    close(conn->fd);
    conn->fd = -1;
    conn->done = true;
  };
  try {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != geteuid() && cred.uid != 0)) {
      refused_peer_.fetch_add(1, std::memory_order_relaxed);
      static util::RateLimit limit;
      uint64_t suppressed = 0;
      if (limit.allow(&suppressed)) {
        log->warn("control connection refused peer_uid={} peer_pid={} suppressed={}", cred.uid, cred.pid, suppressed);
      }
      send_json(fd, failure(fmt::format("permission denied: uid {} may not control this daemon (owner uid {})",
                                        cred.uid, geteuid())));
      finish();
      return;
    }

    // Read one line within the deadline and the size limit.
    std::string line;
    const auto deadline = Clock::now() + options_.request_deadline;
    std::string refusal;
    char buf[4096];
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        refusal = "request timed out";
        break;
      }
      pollfd p{fd, POLLIN, 0};
      int rc = poll(&p, 1, static_cast<int>(left));
      if (rc < 0 && errno == EINTR) continue;
      if (stopping_.load()) break;
      if (rc == 0) continue;  // the deadline check above answers
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // end of the request (a last line without '\n' still counts)
      line.append(buf, static_cast<size_t>(n));
      if (auto nl = line.find('\n'); nl != std::string::npos) {
        line.resize(nl);
        break;
      }
      if (line.size() > options_.max_request_bytes) break;
    }
    if (refusal.empty() && line.size() > options_.max_request_bytes) {
      refusal = fmt::format("request too large (limit {} bytes)", options_.max_request_bytes);
    }
    if (!refusal.empty()) {
      bad_requests_.fetch_add(1, std::memory_order_relaxed);
      send_json(fd, failure(refusal));
      finish();
      return;
    }
    if (line.empty() || stopping_.load()) {
      finish();
      return;
    }
    json req = json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string cmd;
    if (req.is_object() && req.contains("cmd") && req["cmd"].is_string()) cmd = req["cmd"].get<std::string>();
    bool known = false;
    for (auto c : kCommands) known = known || c == cmd;
    std::string path;
    bool recursive = false;
    std::string malformed;
    if (req.is_discarded()) {
      malformed = "malformed request: not JSON";
    } else if (!req.is_object() || cmd.empty()) {
      malformed = "malformed request: expected an object with a \"cmd\" string";
    } else if (!known) {
      malformed = fmt::format("unknown command \"{}\"", cmd.substr(0, 64));
    } else if (req.contains("path") && !req["path"].is_string()) {
      malformed = "malformed request: \"path\" must be a string";
    } else if (req.contains("recursive") && !req["recursive"].is_boolean()) {
      malformed = "malformed request: \"recursive\" must be a boolean";
    } else {
      if (req.contains("path")) path = req["path"].get<std::string>();
      if (req.contains("recursive")) recursive = req["recursive"].get<bool>();
      if (path.find('\0') != std::string::npos) malformed = "malformed request: NUL in path";
      const bool needs_path = cmd == "invalidate" || cmd == "refresh" || cmd == "warm";
      if (needs_path && !req.contains("path")) malformed = fmt::format("{} needs a \"path\"", cmd);
    }
    if (!malformed.empty()) {
      bad_requests_.fetch_add(1, std::memory_order_relaxed);
      send_json(fd, failure(malformed));
      finish();
      return;
    }

    requests_.fetch_add(1, std::memory_order_relaxed);
    log->debug("control request cmd={} path={} recursive={}", cmd, path, recursive);
    json reply;
    auto op_reply = [&](const Result<OpReport>& r) {
      if (!r) return failure(r.error().to_string());
      json j = report_json(*r);
      j["ok"] = true;
      return j;
    };
    if (cmd == "status") {
      reply = status_json(handler_->info(), handler_->stats());
      reply["ok"] = true;
    } else if (cmd == "stats") {
      reply = stats_json(handler_->stats());
      reply["ok"] = true;
    } else if (cmd == "metrics") {
      reply = {{"ok", true}, {"text", render_prometheus(handler_->stats())}};
    } else if (cmd == "config") {
      json opts = json::object();
      for (const auto& [k, v] : handler_->config()) opts[k] = redact_option(k, v);
      reply = {{"ok", true}, {"options", std::move(opts)}};
    } else if (cmd == "invalidate") {
      reply = op_reply(handler_->invalidate(path, recursive));
    } else if (cmd == "refresh") {
      reply = op_reply(handler_->refresh(path, recursive));
    } else if (cmd == "warm") {
      auto last = Clock::now() - std::chrono::seconds(1);
      bool client_gone = false;
      auto progress = [&](const OpReport& r) {
        if (stopping_.load() || client_gone) return false;
        auto now = Clock::now();
        if (now - last < std::chrono::milliseconds(200)) return true;
        last = now;
        client_gone = !send_json(fd, {{"progress", report_json(r)}});
        return !client_gone;
      };
      reply = op_reply(handler_->warm(path, recursive, progress));
      if (client_gone) {
        log->info("control warm cancelled: client went away path={}", path);
      }
    }
    if (cmd == "invalidate" || cmd == "refresh" || cmd == "warm") {
      log->info("control {} path={} recursive={} ok={}", cmd, path, recursive, reply.value("ok", false));
    }
    send_json(fd, reply);
  } catch (const std::exception& e) {
    log->error("control request failed error={}", e.what());
    send_json(fd, failure(fmt::format("internal error: {}", e.what())));
  } catch (...) {
    send_json(fd, failure("internal error"));
  }
  finish();
}

}  // namespace daramjwee::control
