// Server: the control socket's listener (protocol.h has the wire format).
//
// One accept thread; each accepted connection gets its own thread, at most
// max_connections at a time (the next one is answered "busy" and closed).
// A connection is refused when its peer's uid is neither the daemon's nor
// root (SO_PEERCRED), when its request is larger than max_request_bytes, is
// not complete within request_deadline, or is not a valid request; each gets
// one {"ok": false, "error": ...} line. Handler calls run on the connection's
// thread; nothing a client does reaches the daemon's other threads except
// through the Handler, and no exception escapes a connection thread.
// Ownership: the server owns the socket file (unlinked by stop()) and shares
// the Handler. Thread-safety: stop() may be called from any thread, once the
// server started; the destructor calls it.
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "control/handler.h"
#include "control/protocol.h"
#include "core/result.h"

namespace daramjwee::control {

struct ServerOptions {
  std::string path;                                 // required: the socket file
  size_t max_request_bytes = kMaxRequestBytes;      // Default: 64 KiB
  std::chrono::milliseconds request_deadline = kRequestDeadline;  // Default: 5 s
  int max_connections = kMaxConnections;            // Default: 8
  std::chrono::milliseconds send_timeout{5000};     // Default: 5 s per blocked write
};

struct ServerStats {
  uint64_t accepted = 0, refused_peer = 0, refused_busy = 0, bad_requests = 0, requests = 0;
};

class Server {
 public:
  // Creates the socket's directory (0700) when missing, removes a stale
  // socket file (one nobody answers on), binds the socket owner-only (0600)
  // and starts accepting. Errors: kIoError naming the path ("another daemon
  // listens on ...", "... is not a socket", bind/listen failures).
  static Result<std::unique_ptr<Server>> start(ServerOptions options, std::shared_ptr<Handler> handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting, interrupts open connections (a running warm is
  // cancelled), joins every thread and unlinks the socket. Idempotent.
  void stop();
  const std::string& path() const { return options_.path; }
  ServerStats stats() const;

 private:
  struct Conn;
  Server(ServerOptions options, std::shared_ptr<Handler> handler, int listen_fd, int wake_read, int wake_write);
  void accept_loop();
  void serve(const std::shared_ptr<Conn>& conn);
  void reap(bool all);

  const ServerOptions options_;
  const std::shared_ptr<Handler> handler_;
  int listen_fd_ = -1, wake_read_ = -1, wake_write_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable std::mutex mu_;                // guards conns_ (a Conn's fd has its own mutex)
  std::list<std::shared_ptr<Conn>> conns_;  // guarded by mu_

  std::atomic<uint64_t> accepted_{0}, refused_peer_{0}, refused_busy_{0}, bad_requests_{0}, requests_{0};
};

}  // namespace daramjwee::control
