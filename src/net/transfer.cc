// How a pull-based body works on top of libcurl's push callbacks.
//
// libcurl delivers body bytes by calling on_write() from inside
// curl_multi_perform(). We call perform only from open()/read(), so the
// callback always runs on the caller's thread with the caller's buffer in
// target_: bytes go straight there (one copy, as with curl(1)), and only
// the part of a chunk that does not fit spills into buf_. When the caller's
// buffer is full and buf_ holds a spilled chunk, the callback returns
// CURL_WRITEFUNC_PAUSE; libcurl then keeps that chunk itself and re-delivers
// it after curl_easy_pause(CONT), which read() calls once buf_ is drained.
// So memory per transfer is bounded by one write (CURLOPT_BUFFERSIZE),
// kHighWater being a second guard.
//
// Headers: the header callback sees every response of a redirect chain; a
// status line starts a new head. The head is final once the first body byte
// arrives or the transfer ends (a HEAD, an empty body, an error).
//
// Low-speed abort: libcurl's own LOW_SPEED check measures wall time, which
// would charge a slow reader's pauses to the server. We measure only the
// time spent blocked in curl_multi_poll() for this transfer, in windows of
// low_speed_time, and fail with kTimeout when a window saw fewer than
// low_speed_bytes per second.
#include "net/transfer.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>

namespace daramjwee::net {
namespace {

constexpr long kBufferSize = 256 * 1024;

NetError classify(CURLcode code, const char* errbuf, bool too_large) {
  NetError e;
  std::string detail = curl_easy_strerror(code);
  if (errbuf && *errbuf) detail += std::string(": ") + errbuf;
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
  e.message = redact_url(detail);
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      e.kind = ErrorKind::kConnect;
      e.retryable = true;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      e.kind = ErrorKind::kTimeout;
      e.retryable = true;
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
      e.kind = ErrorKind::kTls;
      break;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      e.kind = ErrorKind::kTransport;
      e.retryable = true;
      break;
    case CURLE_WRITE_ERROR:
      if (too_large) {
        e.kind = ErrorKind::kTooLarge;
        e.message = "response body larger than the configured bound";
        break;
      }
      [[fallthrough]];
    default:
      e.kind = ErrorKind::kTransport;
      break;
  }
  return e;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

const std::string* ResponseHead::find(std::string_view name, bool* conflict) const {
  const std::string* found = nullptr;
  for (const auto& [n, v] : fields) {
    if (n != name) continue;
    if (found && *found != v && conflict) *conflict = true;
    if (!found) found = &v;
  }
  return found;
}

Transfer::Transfer(std::shared_ptr<CurlPool> pool, CurlPool::SlotPtr slot)
    : pool_(std::move(pool)),
      slot_(std::move(slot)),
      low_speed_bytes_(pool_->options().low_speed_bytes),
      low_speed_time_(pool_->options().low_speed_time) {}

Transfer::~Transfer() {
  detach();
  pool_->release(std::move(slot_));
}

void Transfer::detach() {
  if (!attached_) return;
  if (!done_) {
    long conns = 0;
    curl_easy_getinfo(slot_->easy, CURLINFO_NUM_CONNECTS, &conns);
    pool_->count_request(conns);
  }
  // Mid-body this makes libcurl close the connection (HTTP/1.1) or reset
  // the stream (HTTP/2); a finished transfer leaves it in the cache.
  curl_multi_remove_handle(slot_->multi, slot_->easy);
  attached_ = false;
  // The header list must outlive the transfer's use of it: free it now.
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
  headers_ = nullptr;
}

std::unique_ptr<Transfer> Transfer::open(std::shared_ptr<CurlPool> pool, const Request& req,
                                         NetError* err) {
  *err = NetError{};
  auto slot = pool->acquire();
  std::unique_ptr<Transfer> t(new Transfer(pool, std::move(slot)));
  const ClientOptions& o = pool->options();
  CURL* e = t->slot_->easy;
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SHARE, pool->share());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf_);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  if (req.method == Method::kHead) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  if (req.total_timeout.count() > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout.count()));
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kBufferSize);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!o.proxy.empty()) curl_easy_setopt(e, CURLOPT_PROXY, o.proxy.c_str());
  if (!o.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, o.ca_file.c_str());
  if (!o.tls_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_slist* list = nullptr;
  for (const auto& h : req.headers) {
    curl_slist* next = curl_slist_append(list, h.c_str());
    if (!next) {
      curl_slist_free_all(list);
      *err = {ErrorKind::kInternal, "out of memory building request headers", false};
      return nullptr;
    }
    list = next;
  }
  t->headers_ = list;
  if (list) curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  t->max_body_ = req.max_body;

  if (curl_multi_add_handle(t->slot_->multi, e) != CURLM_OK) {
    *err = {ErrorKind::kInternal, "curl_multi_add_handle failed", false};
    return nullptr;
  }
  t->attached_ = true;
  if (!t->drive([&] { return t->head_ready_; }, err)) return nullptr;
  return t;
}

void Transfer::mark_head_ready() {
  head_ready_ = true;
  curl_easy_getinfo(slot_->easy, CURLINFO_RESPONSE_CODE, &head_.status);
  char* url = nullptr;
  if (curl_easy_getinfo(slot_->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url)
    head_.effective_url = url;
  long v = 0;
  curl_easy_getinfo(slot_->easy, CURLINFO_HTTP_VERSION, &v);
  head_.http_version = v == CURL_HTTP_VERSION_1_0   ? 10
                       : v == CURL_HTTP_VERSION_1_1 ? 11
                       : v == CURL_HTTP_VERSION_2_0 ? 20
                       : v == CURL_HTTP_VERSION_3   ? 30
                                                    : 0;
}

size_t Transfer::on_header(char* p, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  size_t len = size * n;
  t->wire_bytes_ += len;
  if (t->head_ready_) return len;  // trailers: not part of the head
  std::string_view line = trim(std::string_view(p, len));
  if (line.starts_with("HTTP/")) {
    t->head_.fields.clear();  // a new response in a redirect / 1xx chain
    return len;
  }
  size_t colon = line.find(':');
  if (line.empty() || colon == std::string_view::npos || colon == 0) return len;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  t->head_.fields.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
  return len;
}

size_t Transfer::on_write(char* p, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  size_t len = size * n;
  if (!t->head_ready_) t->mark_head_ready();
  if (t->max_body_ && t->received_ + len > t->max_body_) {
    t->too_large_ = true;
    return 0;  // makes libcurl fail with CURLE_WRITE_ERROR
  }
  // Once the caller's buffer is full and one chunk is already spilled, stop
  // libcurl (it would otherwise read up to ~100 more chunks in this
  // perform): it keeps this chunk until read() unpauses. So at most one
  // chunk is ever copied twice.
  bool room = t->target_filled_ < t->target_.size();
  if ((!room && t->pending() > 0) || t->pending() >= kHighWater) {
    t->paused_ = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  size_t k = std::min(len, t->target_.size() - t->target_filled_);
  if (k) std::memcpy(t->target_.data() + t->target_filled_, p, k);
  t->target_filled_ += k;
  if (k < len) {
    if (t->buf_pos_ == t->buf_.size()) {
      t->buf_.clear();
      t->buf_pos_ = 0;
    }
    t->buf_.append(p + k, len - k);
  }
  t->received_ += len;
  t->wire_bytes_ += len;
  return len;
}

void Transfer::finish(int code, NetError* err) {
  if (!head_ready_) mark_head_ready();
  detach();  // counts the request (done_ is still false) and releases the handle
  done_ = true;
  if (code != CURLE_OK) {
    failed_ = true;
    error_ = classify(static_cast<CURLcode>(code), errbuf_, too_large_);
    *err = error_;
  }
}

template <typename Ready>
bool Transfer::drive(Ready ready, NetError* err) {
  while (!ready()) {
    if (failed_) {
      *err = error_;
      return false;
    }
    if (done_) return true;
    int running = 0;
    CURLMcode mc = curl_multi_perform(slot_->multi, &running);
    if (mc != CURLM_OK) {
      failed_ = true;
      error_ = {ErrorKind::kInternal, std::string("curl_multi_perform: ") + curl_multi_strerror(mc),
                false};
      *err = error_;
      return false;
    }
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(slot_->multi, &queued)) {
      if (m->msg == CURLMSG_DONE && m->easy_handle == slot_->easy) {
        finish(m->data.result, err);
        break;
      }
    }
    if (failed_) return false;
    if (ready() || done_) return true;
    auto t0 = std::chrono::steady_clock::now();
    curl_multi_poll(slot_->multi, nullptr, 0, 100, nullptr);
    waited_ += std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    if (waited_ >= low_speed_time_ && low_speed_time_.count() > 0) {
      uint64_t need = static_cast<uint64_t>(low_speed_bytes_) *
                      static_cast<uint64_t>(std::max<int64_t>(1, waited_.count() / 1000));
      if (wire_bytes_ - window_bytes_ < need) {
        failed_ = true;
        error_ = {ErrorKind::kTimeout,
                  "transfer too slow: fewer than " + std::to_string(low_speed_bytes_) +
                      " bytes/s for " + std::to_string(low_speed_time_.count()) + " ms",
                  true};
        *err = error_;
        detach();
        done_ = true;
        return false;
      }
      waited_ = std::chrono::milliseconds(0);
      window_bytes_ = wire_bytes_;
    }
  }
  return true;
}

size_t Transfer::take_pending(std::span<std::byte> out) {
  size_t n = std::min(out.size(), pending());
  if (n) {
    std::memcpy(out.data(), buf_.data() + buf_pos_, n);
    buf_pos_ += n;
  }
  return n;
}

size_t Transfer::read(std::span<std::byte> out, NetError* err) {
  *err = NetError{};
  if (failed_) {
    *err = error_;
    return 0;
  }
  if (out.empty()) return 0;
  size_t n = take_pending(out);
  if (n || done_) {
    delivered_ += n;
    return n;
  }
  target_ = out;
  target_filled_ = 0;
  if (paused_) {
    paused_ = false;
    // May call on_write synchronously with the chunk libcurl held back.
    curl_easy_pause(slot_->easy, CURLPAUSE_CONT);
  }
  bool ok = drive([&] { return target_filled_ > 0 || pending() > 0; }, err);
  n = target_filled_;
  target_ = {};
  target_filled_ = 0;
  if (!ok) return 0;
  if (n == 0) n = take_pending(out);
  delivered_ += n;
  return n;
}

bool Transfer::read_all(std::string* out, NetError* err) {
  for (;;) {
    size_t old = out->size();
    out->resize(old + kBufferSize);
    size_t n = read(std::as_writable_bytes(std::span(out->data() + old, kBufferSize)), err);
    out->resize(old + n);
    if (err->failed()) return false;
    if (n == 0) return true;
  }
}

}  // namespace daramjwee::net
