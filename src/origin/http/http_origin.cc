#include "origin/http/http_origin.h"

#include <curl/curl.h>

#include <algorithm>
#include <fstream>

#include "net/http_parse.h"
#include "origin/http/http_reader.h"
#include "util/deadline.h"
#include "util/log.h"

namespace daramjwee::origin {
namespace {

std::shared_ptr<spdlog::logger> log() {
  static auto l = util::logger("origin.http");
  return l;
}

Status from_net(const net::NetError& e, std::string_view what) {
  std::string msg = std::string(what) + ": " + e.message;
  switch (e.kind) {
    case net::ErrorKind::kTimeout: return Status::timeout(msg);
    case net::ErrorKind::kTooLarge: return Status::exhausted(msg);
    default: return Status::io_error(msg, e.retryable);
  }
}

bool retryable_status(long s) { return s >= 500 || s == 429 || s == 408; }

// A header line we accept: "Name: value", name a token, no CR/LF anywhere.
bool valid_header(std::string_view h) {
  size_t colon = h.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(h[i]);
    if (c <= 0x20 || c >= 0x7F || std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) !=
                                      std::string_view::npos)
      return false;
  }
  return h.find_first_of("\r\n") == std::string_view::npos && h.find('\0') == std::string_view::npos;
}

std::string header_name(std::string_view h) { return std::string(h.substr(0, h.find(':'))); }

bool valid_path(std::string_view path) {
  if (path.empty()) return true;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view c = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (!valid_name(c)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::string encode_path(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size() && !path.empty()) {
    size_t slash = path.find('/', start);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (!out.empty()) out.push_back('/');
    out += net::percent_encode_component(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

// Validators of a response head -> attributes. `total` overrides the size
// (a 206's complete length).
FileAttr attr_from_head(const net::ResponseHead& h, std::optional<uint64_t> total) {
  FileAttr a;
  a.type = FileType::kFile;
  bool conflict = false;
  if (total) {
    a.size = *total;
  } else if (const std::string* cl = h.find("content-length", &conflict); cl && !conflict) {
    if (auto n = net::parse_content_length(*cl)) a.size = *n;
    else a.size_exact = false;
  } else {
    a.size_exact = false;
  }
  std::optional<int64_t> lm;
  if (const std::string* v = h.find("last-modified")) lm = net::parse_http_date(*v);
  if (lm) a.mtime_ns = net::unix_seconds_to_ns(*lm);
  bool etag_conflict = false;
  const std::string* et = h.find("etag", &etag_conflict);
  std::optional<net::EntityTag> tag;
  if (et && !etag_conflict) tag = net::parse_etag(*et);
  if (et && !tag) {
    static util::RateLimit rl;
    uint64_t dropped;
    if (rl.allow(&dropped))
      log()->warn("ignore malformed ETag header length={} suppressed={}", et->size(), dropped);
  }
  if (tag) {
    a.etag = tag->text;
  } else if (lm) {
    a.etag = "lm:" + std::to_string(*lm) + ":" + (a.size_exact ? std::to_string(a.size) : "");
  }
  return a;
}

class EmptyReader final : public Reader {
 public:
  Result<size_t> read(std::span<std::byte>) override { return size_t{0}; }
  std::optional<uint64_t> size_hint() const override { return 0; }
};

}  // namespace

bool parse_lm_tag(std::string_view tag, int64_t* seconds, std::optional<uint64_t>* size) {
  if (!tag.starts_with("lm:")) return false;
  tag.remove_prefix(3);
  size_t colon = tag.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view secs = tag.substr(0, colon), sz = tag.substr(colon + 1);
  auto s = net::parse_content_length(secs);
  if (!s) return false;
  *seconds = static_cast<int64_t>(*s);
  size->reset();
  if (!sz.empty()) {
    auto n = net::parse_content_length(sz);
    if (!n) return false;
    *size = *n;
  }
  return true;
}

Result<std::shared_ptr<HttpOrigin>> HttpOrigin::create(const OriginOptions& o) {
  if (Status s = o.validate(); !s.is_ok()) return s;
  CURLU* u = curl_url();
  if (!u) return Status::internal("out of memory");
  std::unique_ptr<CURLU, void (*)(CURLU*)> guard(u, curl_url_cleanup);
  if (curl_url_set(u, CURLUPART_URL, o.url.c_str(), 0) != CURLUE_OK)
    return Status::config_error("origin.url", "not a valid URL");
  auto part = [&](CURLUPart p) -> std::string {
    char* v = nullptr;
    if (curl_url_get(u, p, &v, 0) != CURLUE_OK || !v) return {};
    std::string s(v);
    curl_free(v);
    return s;
  };
  std::string scheme = part(CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https")
    return Status::config_error("origin.url", "scheme must be http, https or file");
  if (!part(CURLUPART_QUERY).empty() || !part(CURLUPART_FRAGMENT).empty())
    return Status::config_error("origin.url", "must not have a query or fragment");
  std::string host = part(CURLUPART_HOST);
  if (host.empty()) return Status::config_error("origin.url", "has no host");
  std::string port = part(CURLUPART_PORT);
  std::string path = part(CURLUPART_PATH);
  if (path.empty() || path.back() != '/') path += '/';
  std::string user = part(CURLUPART_USER), password = part(CURLUPART_PASSWORD);

  auto origin = std::shared_ptr<HttpOrigin>(new HttpOrigin());
  std::string hostport = host + (port.empty() ? "" : ":" + port);
  origin->redacted_base_ = scheme + "://" + hostport + path;
  std::string userinfo;
  if (!user.empty() || !password.empty()) {
    char* eu = curl_easy_escape(nullptr, user.c_str(), static_cast<int>(user.size()));
    char* ep = curl_easy_escape(nullptr, password.c_str(), static_cast<int>(password.size()));
    userinfo = std::string(eu ? eu : "") + (password.empty() ? "" : ":" + std::string(ep ? ep : "")) + "@";
    curl_free(eu);
    curl_free(ep);
  }
  origin->base_ = scheme + "://" + userinfo + hostport + path;

  for (const auto& h : o.http.headers) {
    if (!valid_header(h))
      return Status::config_error("origin.http.headers", "not a \"Name: value\" header line");
    origin->headers_.push_back(h);
  }
  if (!o.http.headers_file.empty()) {
    std::ifstream in(o.http.headers_file);
    if (!in) return Status::config_error("origin.http.headers_file", "cannot be read");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      if (!valid_header(line))
        return Status::config_error("origin.http.headers_file",
                                    "line " + std::to_string(n) + " is not a \"Name: value\" header");
      origin->headers_.push_back(line);
    }
  }
  origin->http_ = o.http;
  origin->retry_ = net::RetryPolicy{o.http.max_retries, o.http.retry_budget, o.http.backoff_base,
                                    std::chrono::milliseconds(5000)};
  origin->limits_ = ListingLimits{o.http.max_listing_bytes, o.http.max_listing_entries};
  net::ClientOptions co;
  co.connect_timeout = o.http.connect_timeout;
  co.low_speed_bytes = o.http.low_speed_bytes;
  co.low_speed_time = o.http.low_speed_time;
  co.proxy = o.http.proxy;
  co.ca_file = o.http.ca_file;
  co.tls_verify = o.http.tls_verify;
  co.max_idle = o.http.max_connections;
  origin->pool_ = net::CurlPool::create(std::move(co));
  std::string names;
  for (const auto& h : origin->headers_) names += (names.empty() ? "" : ",") + header_name(h);
  log()->info("open origin url={} extra_headers=[{}] proxy={} tls_verify={}", origin->redacted_base_,
              names, o.http.proxy.empty() ? "env" : net::redact_url(o.http.proxy), o.http.tls_verify);
  return origin;
}

std::string HttpOrigin::describe() const { return redacted_base_; }

std::string HttpOrigin::file_url(std::string_view path) const { return base_ + encode_path(path); }

std::string HttpOrigin::dir_url(std::string_view path) const {
  return path.empty() ? base_ : base_ + encode_path(path) + "/";
}

Result<std::unique_ptr<net::Transfer>> HttpOrigin::open(net::Request req, std::string_view what) {
  req.headers.insert(req.headers.begin(), headers_.begin(), headers_.end());
  // Under a caller's deadline (a reader's read, util/deadline.h) the retries
  // stop, and each attempt (body included) is cut, when it passes: one
  // attempt started late must not add a whole request_timeout of its own.
  net::RetryPolicy policy = retry_;
  const auto left = util::remaining();
  if (left) policy.budget = std::min(policy.budget, *left);
  net::RetryLoop loop(policy);
  const std::chrono::milliseconds own_timeout = req.total_timeout;
  for (;;) {
    if (const auto now_left = util::remaining()) {
      if (now_left->count() == 0) return Status::timeout(std::string(what) + ": read_timeout passed");
      req.total_timeout = own_timeout.count() > 0 ? std::min(own_timeout, *now_left) : *now_left;
    }
    net::NetError err;
    auto t = net::Transfer::open(pool_, req, &err);
    Status failure;
    if (!t) {
      failure = from_net(err, what);
      if (!err.retryable) return failure;
    } else if (retryable_status(t->head().status)) {
      failure = Status::io_error(std::string(what) + ": HTTP " + std::to_string(t->head().status), true);
    } else {
      return t;
    }
    t.reset();  // drop the connection of a failed attempt before sleeping
    static util::RateLimit rl;
    uint64_t dropped;
    bool again = loop.backoff();
    if (rl.allow(&dropped))
      log()->warn("request failed what={} error=\"{}\" retry={} suppressed={}", what, failure.message(),
                  again ? loop.retries() : -1, dropped);
    if (!again) return failure;
  }
}

static Status status_error(long status, std::string_view what) {
  std::string msg = std::string(what) + ": HTTP " + std::to_string(status);
  if (status == 404 || status == 410) return Status::not_found(msg);
  if (status == 401 || status == 403 || status == 407) return Status::permission_denied(msg);
  if (status == 412) return Status::changed_at_origin(msg);
  return Status::io_error(msg, retryable_status(status));
}

Result<FileAttr> HttpOrigin::head(std::string_view path, const std::vector<std::string>& extra,
                                  long* status) {
  if (!valid_path(path)) return Status::invalid_argument("invalid path");
  std::string what = "HEAD " + redacted_base_ + encode_path(path);
  net::Request req{net::Method::kHead, file_url(path), extra, http_.request_timeout, 0};
  auto t = open(std::move(req), what);
  if (!t) return t.error();
  const net::ResponseHead& h = (*t)->head();
  *status = h.status;
  if (h.status == 304) return Status::not_modified();
  if (h.status < 200 || h.status > 299) return status_error(h.status, what);
  if (path.empty() || h.effective_url.ends_with('/')) {
    FileAttr a;
    a.type = FileType::kDirectory;
    if (const std::string* v = h.find("last-modified"))
      if (auto lm = net::parse_http_date(*v)) a.mtime_ns = net::unix_seconds_to_ns(*lm);
    return a;
  }
  return attr_from_head(h, std::nullopt);
}

Result<FileAttr> HttpOrigin::stat(std::string_view path) {
  long status = 0;
  return head(path, {}, &status);
}

Result<FileAttr> HttpOrigin::revalidate(std::string_view path, std::string_view etag) {
  std::vector<std::string> extra;
  int64_t secs;
  std::optional<uint64_t> size;
  bool lm = parse_lm_tag(etag, &secs, &size);
  if (lm) extra.push_back("If-Modified-Since: " + net::format_http_date(secs));
  else if (net::parse_etag(etag)) extra.push_back("If-None-Match: " + std::string(etag));
  long status = 0;
  auto a = head(path, extra, &status);
  if (!a) return a;
  // Some servers ignore conditions on HEAD: compare the validators too.
  if (!etag.empty() && !a->etag.empty() &&
      (lm ? a->etag == etag : net::etag_weak_equal(a->etag, etag)))
    return Status::not_modified();
  return a;
}

Result<Listing> HttpOrigin::list_detailed(std::string_view path) {
  if (!valid_path(path)) return Status::invalid_argument("invalid path");
  std::string redacted_dir = path.empty() ? redacted_base_ : redacted_base_ + encode_path(path) + "/";
  std::string what = "GET " + redacted_dir;
  net::Request req{net::Method::kGet, dir_url(path), {}, http_.request_timeout, limits_.max_bytes};
  auto t = open(std::move(req), what);
  if (!t) return t.error();
  long status = (*t)->head().status;
  if (status != 200) return status_error(status, what);
  std::string body;
  net::NetError err;
  if (!(*t)->read_all(&body, &err)) {
    if (err.kind == net::ErrorKind::kTooLarge)
      return Status::exhausted(what + ": listing larger than max_listing_bytes (" +
                               std::to_string(limits_.max_bytes) + ")");
    return from_net(err, what);
  }
  auto listing = parse_listing(body, redacted_dir, limits_);
  if (!listing) return Status(listing.error().code(), what + ": " + listing.error().message());
  if (listing->skipped) {
    static util::RateLimit rl;
    uint64_t dropped;
    if (rl.allow(&dropped)) {
      std::string names;
      for (const auto& n : listing->skipped_names) {
        std::string esc;
        for (unsigned char c : n) {
          if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') esc += fmt::format("\\x{:02x}", c);
          else esc.push_back(static_cast<char>(c));
        }
        names += (names.empty() ? "\"" : ", \"") + esc + "\"";
      }
      log()->warn("skip invalid names dir={} count={} names=[{}] suppressed={}", redacted_dir,
                  listing->skipped, names, dropped);
    }
  }
  return listing;
}

Result<std::vector<DirEntry>> HttpOrigin::list(std::string_view path) {
  auto l = list_detailed(path);
  if (!l) return l.error();
  return std::move(l->entries);
}

Result<std::unique_ptr<Reader>> HttpOrigin::read(std::string_view path, std::string_view etag,
                                                 ByteRange range) {
  if (!valid_path(path) || path.empty()) return Status::invalid_argument("invalid path");
  if (range.length && *range.length == 0) return std::unique_ptr<Reader>(new EmptyReader());
  if (range.length && range.offset > UINT64_MAX - *range.length)
    return Status::invalid_argument("range overflows");
  std::string what = "GET " + redacted_base_ + encode_path(path);
  Pin pin;
  pin.etag = std::string(etag);
  std::vector<std::string> extra;
  if (range.offset > 0 || range.length) {
    extra.push_back("Range: bytes=" + std::to_string(range.offset) + "-" +
                    (range.length ? std::to_string(range.offset + *range.length - 1) : ""));
  }
  if (!etag.empty()) {
    int64_t secs;
    std::optional<uint64_t> size;
    if (parse_lm_tag(etag, &secs, &size)) {
      pin.kind = Pin::kLastModified;
      pin.lm_seconds = secs;
      pin.lm_size = size;
      extra.push_back("If-Unmodified-Since: " + net::format_http_date(secs));
    } else if (auto tag = net::parse_etag(etag)) {
      pin.kind = tag->weak ? Pin::kWeakEtag : Pin::kStrongEtag;
      if (!tag->weak) extra.push_back("If-Match: " + std::string(etag));  // never a weak tag
    } else {
      return Status::invalid_argument("pinned version is not an ETag or lm: tag");
    }
  }
  net::Request req{net::Method::kGet, file_url(path), std::move(extra), std::chrono::milliseconds(0), 0};
  auto t = open(std::move(req), what);
  if (!t) return t.error();
  return open_http_reader(std::move(*t), range, pin, what);
}

}  // namespace daramjwee::origin
