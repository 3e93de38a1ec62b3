// HttpOrigin: an Origin over an HTTP(S) server that serves files at
// <base>/<path> and directory listings at <base>/<path>/ (nginx autoindex
// JSON or HTML, Apache mod_autoindex, any page of links).
//
// Requests: HEAD for stat() and revalidate() (If-None-Match /
// If-Modified-Since), GET <dir>/ for list(), ranged or open-ended GET for
// read(). Connections come from a CurlPool (keep-alive, HTTP/2 over TLS).
// Idempotent requests are retried after connection errors, timeouts, 5xx
// and 429 with backoff and jitter, only before any body byte reached the
// caller. Status mapping: 404/410 -> kNotFound (cacheable), 401/403/407 ->
// kPermissionDenied, 412 -> kChangedAtOrigin, 5xx -> kIoError(retryable).
//
// Version tags: the server's ETag when it sends a valid one; otherwise
// "lm:<Last-Modified seconds>:<size>" when it sends Last-Modified; else "".
// A read pinned to a strong ETag carries If-Match; to a weak ETag or an lm:
// tag, the response's validators are compared (lm: also sends
// If-Unmodified-Since), and a mismatch is kChangedAtOrigin.
//
// Secrets: URL userinfo and header values never appear in logs, errors or
// describe(). Thread-safety: all methods may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/origin.h"
#include "net/curl_pool.h"
#include "net/retry.h"
#include "net/transfer.h"
#include "origin/listing/listing.h"
#include "origin/origin_factory.h"

namespace daramjwee::origin {

class HttpOrigin final : public Origin {
 public:
  // Errors: kConfigError (URL, headers, headers_file).
  static Result<std::shared_ptr<HttpOrigin>> create(const OriginOptions& options);

  std::string describe() const override;
  Result<FileAttr> stat(std::string_view path) override;
  Result<std::vector<DirEntry>> list(std::string_view path) override;
  Result<std::unique_ptr<Reader>> read(std::string_view path, std::string_view etag,
                                       ByteRange range) override;
  Result<FileAttr> revalidate(std::string_view path, std::string_view etag) override;

  // list() with the detected format and skip count (tests, diagnostics).
  Result<Listing> list_detailed(std::string_view path);

  net::PoolCounters counters() const { return pool_->counters(); }

  // URL of a file or directory (userinfo kept: for requests only).
  std::string file_url(std::string_view path) const;
  std::string dir_url(std::string_view path) const;

 private:
  HttpOrigin() = default;
  // Opens `req` with retries; answers the transfer for any final status
  // that is not retryable (5xx/429 exhaust the budget into an error).
  Result<std::unique_ptr<net::Transfer>> open(net::Request req, std::string_view what);
  Result<FileAttr> head(std::string_view path, const std::vector<std::string>& extra,
                        long* status);

  std::string base_;           // scheme://[userinfo@]host[:port]/path/ (ends in '/')
  std::string redacted_base_;  // without userinfo
  std::vector<std::string> headers_;  // extra request headers (secret values)
  HttpOptions http_;
  net::RetryPolicy retry_;
  ListingLimits limits_;
  std::shared_ptr<net::CurlPool> pool_;
};

// Parses "lm:<seconds>:<size>" (size may be empty). False when not an lm tag.
bool parse_lm_tag(std::string_view tag, int64_t* seconds, std::optional<uint64_t>* size);

}  // namespace daramjwee::origin
