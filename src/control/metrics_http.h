// MetricsListener: the optional HTTP endpoint (metrics_listen=HOST:PORT)
// serving GET /metrics in the Prometheus text format, with cpp-httplib
// (Debian's libcpp-httplib-dev) rather than a hand-written HTTP server.
// Anything but GET /metrics is 404. Read/write timeouts and a small thread
// pool bound what a scraper (or anyone else on that address) can cost.
// Thread-safety: start() then stop() from one thread; render runs on the
// listener's threads and must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/result.h"

namespace httplib {
class Server;
}

namespace daramjwee::control {

class MetricsListener {
 public:
  // `listen` is "HOST:PORT" (IPv4 or a name; "[v6]:PORT" too); port 0 picks
  // a free port (see port()). Errors: kConfigError for a malformed address,
  // kIoError when the address cannot be bound.
  static Result<std::unique_ptr<MetricsListener>> start(const std::string& listen,
                                                        std::function<std::string()> render);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  void stop();  // idempotent
  int port() const { return port_; }

 private:
  MetricsListener() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// Splits "HOST:PORT" / "[V6]:PORT". False when malformed.
bool parse_listen_address(const std::string& listen, std::string* host, int* port);

}  // namespace daramjwee::control
