#include "origin/origin_factory.h"

#include <unistd.h>

#include "net/http_parse.h"
#include "origin/file/file_origin.h"
#include "origin/http/http_origin.h"

namespace daramjwee::origin {

Status OriginOptions::validate() const {
  const std::string_view u = url;
  if (u.empty()) return Status::config_error("origin.url", "is empty");
  if (!u.starts_with("http://") && !u.starts_with("https://") && !u.starts_with("file://"))
    return Status::config_error("origin.url", "scheme must be http://, https:// or file://");
  const HttpOptions& h = http;
  if (h.connect_timeout.count() <= 0)
    return Status::config_error("origin.http.connect_timeout", "must be positive");
  if (h.request_timeout.count() <= 0)
    return Status::config_error("origin.http.request_timeout", "must be positive");
  if (h.low_speed_bytes < 0)
    return Status::config_error("origin.http.low_speed_bytes", "must not be negative");
  if (h.low_speed_time.count() < 0)
    return Status::config_error("origin.http.low_speed_time", "must not be negative");
  if (h.max_retries < 0 || h.max_retries > 100)
    return Status::config_error("origin.http.max_retries", "must be within 0..100");
  if (h.retry_budget.count() < 0)
    return Status::config_error("origin.http.retry_budget", "must not be negative");
  if (h.backoff_base.count() <= 0)
    return Status::config_error("origin.http.backoff_base", "must be positive");
  if (h.max_listing_bytes == 0)
    return Status::config_error("origin.http.max_listing_bytes", "must be positive");
  if (h.max_listing_entries == 0)
    return Status::config_error("origin.http.max_listing_entries", "must be positive");
  if (h.max_connections == 0)
    return Status::config_error("origin.http.max_connections", "must be at least 1");
  if (!h.ca_file.empty() && ::access(h.ca_file.c_str(), R_OK) != 0)
    return Status::config_error("origin.http.ca_file", "cannot be read");
  return Status::ok();
}

Result<std::shared_ptr<Origin>> make_origin(const OriginOptions& options) {
  if (Status s = options.validate(); !s.is_ok()) return s;
  std::string_view u = options.url;
  if (u.starts_with("file://")) {
    u.remove_prefix(7);
    if (u.starts_with("localhost/")) u.remove_prefix(9);
    if (!u.starts_with('/'))
      return Status::config_error("origin.url", "file:// URL must be file:///absolute/path");
    auto path = net::percent_decode(u);
    if (!path || path->find('\0') != std::string::npos)
      return Status::config_error("origin.url", "bad percent-encoding in file:// URL");
    while (path->size() > 1 && path->back() == '/') path->pop_back();
    auto o = FileOrigin::create(*path, options.http.max_listing_entries);
    if (!o) return o.error();
    return std::shared_ptr<Origin>(std::move(*o));
  }
  auto o = HttpOrigin::create(options);
  if (!o) return o.error();
  return std::shared_ptr<Origin>(std::move(*o));
}

}  // namespace daramjwee::origin
