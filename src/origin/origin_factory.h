// Origin factory: turns an origin URL plus options into an Origin.
//
//   http://host[:port]/prefix/   HTTP(S) server with autoindex listings
//   https://...                   (nginx JSON, nginx HTML, Apache HTML)
//   file:///abs/dir               a local (or NFS) directory
//
// The returned Origin is thread-safe and self-contained (it owns its
// connection pool); keep it in a shared_ptr for as long as readers created
// by it are alive (they hold a reference to what they need).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/cache.h"
#include "core/origin.h"
#include "core/result.h"

namespace daramjwee::origin {

struct HttpOptions {
  // Time to establish a TCP (and TLS) connection. Default: 10 s.
  Duration connect_timeout = std::chrono::seconds(10);
  // Total time for one non-streaming request (HEAD, listing GET). Streaming
  // reads are bounded by the low-speed abort instead. Default: 60 s.
  Duration request_timeout = std::chrono::seconds(60);
  // Abort a transfer slower than low_speed_bytes per second for
  // low_speed_time (only time spent waiting for the origin counts, not time
  // the reader spends elsewhere). Default: 1024 B/s over 30 s.
  long low_speed_bytes = 1024;
  Duration low_speed_time = std::chrono::seconds(30);
  // Retries of idempotent requests after connection errors, timeouts, 5xx
  // and 429, with exponential backoff (base * 2^n, full jitter), within
  // retry_budget of total elapsed time. Default: 4 retries, 30 s, 100 ms.
  int max_retries = 4;
  Duration retry_budget = std::chrono::seconds(30);
  Duration backoff_base = std::chrono::milliseconds(100);
  // Explicit proxy URL ("http://proxy:3128"). Empty: libcurl honours the
  // http_proxy / https_proxy / no_proxy environment variables. Default: "".
  std::string proxy;
  // CA bundle for TLS verification. Empty: the system store. Default: "".
  std::string ca_file;
  // Verify the server's certificate and host name. Default: true.
  bool tls_verify = true;
  // Extra request headers, "Name: value". Values are never logged.
  std::vector<std::string> headers;
  // A file of extra headers, one "Name: value" per line (e.g. a secret
  // "Authorization: Bearer ..."), read once by make_origin(). Default: "".
  std::string headers_file;
  // A directory listing larger than this is an error (kResourceExhausted).
  size_t max_listing_bytes = size_t{64} << 20;      // Default: 64 MiB
  size_t max_listing_entries = 1'000'000;          // Default: 1e6
  // Idle keep-alive connections kept for reuse; more concurrent requests
  // are served by extra connections closed after use. Default: 16.
  size_t max_connections = 16;
};

struct OriginOptions {
  // http://, https:// or file:/// URL of the origin's root.
  std::string url;
  HttpOptions http;
  // Checks every field; the Status names the field ("origin.url",
  // "origin.http.connect_timeout", ...). Does not touch the network.
  Status validate() const;
};

// Builds the origin for options.url. Errors: kConfigError (bad URL or
// option, unreadable headers_file, missing root directory). Does not
// contact an HTTP origin (the first request does).
Result<std::shared_ptr<Origin>> make_origin(const OriginOptions& options);

}  // namespace daramjwee::origin
