#include "control/metrics_http.h"

#include <charconv>

#include <fmt/format.h>
#include <httplib.h>

#include "util/log.h"

namespace daramjwee::control {

bool parse_listen_address(const std::string& listen, std::string* host, int* port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= listen.size()) return false;
  std::string h = listen.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']' || h.size() < 3) return false;
    h = h.substr(1, h.size() - 2);
  }
  int p = -1;
  const char* b = listen.data() + colon + 1;
  const char* e = listen.data() + listen.size();
  auto [ptr, ec] = std::from_chars(b, e, p);
  if (ec != std::errc() || ptr != e || p < 0 || p > 65535) return false;
  *host = h;
  *port = p;
  return true;
}

Result<std::unique_ptr<MetricsListener>> MetricsListener::start(const std::string& listen,
                                                                 std::function<std::string()> render) {
  std::string host;
  int port = 0;
  if (!parse_listen_address(listen, &host, &port)) {
    return Status::config_error("metrics_listen", fmt::format("expected HOST:PORT, got '{}'", listen));
  }
  std::unique_ptr<MetricsListener> l(new MetricsListener());
  l->server_ = std::make_unique<httplib::Server>();
  auto& srv = *l->server_;
  // A scrape is small; a client that holds a connection open costs one
  // pool thread for at most these timeouts.
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.set_keep_alive_timeout(5);
  srv.set_payload_max_length(64 * 1024);
  srv.new_task_queue = [] { return new httplib::ThreadPool(2); };
  srv.Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(fmt::format("error: {}\n", e.what()), "text/plain");
    }
  });
  if (port == 0) {
    l->port_ = srv.bind_to_any_port(host);
    if (l->port_ < 0) return Status::io_error(fmt::format("metrics_listen {}: cannot bind", listen));
  } else {
    if (!srv.bind_to_port(host, port)) {
      return Status::io_error(fmt::format("metrics_listen {}: cannot bind (in use or not a local address)", listen));
    }
    l->port_ = port;
  }
  l->thread_ = std::thread([s = l->server_.get()] {
    if (!s->listen_after_bind()) util::logger("control")->warn("metrics listener stopped unexpectedly");
  });
  util::logger("control")->info("serving metrics address={}:{}", host, l->port_);
  return l;
}

MetricsListener::~MetricsListener() { stop(); }

void MetricsListener::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace daramjwee::control
