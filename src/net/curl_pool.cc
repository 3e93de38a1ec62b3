#include "net/curl_pool.h"

#include <curl/curl.h>

#include <cstdlib>

namespace daramjwee::net {
namespace {

void global_init() {
  static const bool done = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) abort();
    return true;
  }();
  (void)done;
}

}  // namespace

CurlPool::Slot::~Slot() {
  if (easy) curl_easy_cleanup(easy);
  if (multi) curl_multi_cleanup(multi);
}

void CurlPool::SlotDeleter::operator()(Slot* s) const { delete s; }

std::shared_ptr<CurlPool> CurlPool::create(ClientOptions options) {
  global_init();
  return std::shared_ptr<CurlPool>(new CurlPool(std::move(options)));
}

CurlPool::CurlPool(ClientOptions options) : options_(std::move(options)) {
  share_ = curl_share_init();
  if (!share_) abort();
  curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlPool::lock_cb);
  curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlPool::unlock_cb);
  curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

CurlPool::~CurlPool() {
  idle_.clear();  // easy handles referencing share_ go first
  curl_share_cleanup(share_);
}

void CurlPool::lock_cb(CURL*, int data, int, void* user) {
  auto* self = static_cast<CurlPool*>(user);
  self->share_mu_[static_cast<unsigned>(data) % 8].lock();
}

void CurlPool::unlock_cb(CURL*, int data, void* user) {
  auto* self = static_cast<CurlPool*>(user);
  self->share_mu_[static_cast<unsigned>(data) % 8].unlock();
}

CurlPool::SlotPtr CurlPool::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      SlotPtr s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
  }
  SlotPtr s(new Slot);
  s->multi = curl_multi_init();
  s->easy = curl_easy_init();
  if (!s->multi || !s->easy) abort();  // out of memory inside libcurl
  // A slot talks to one origin (and maybe its proxy): a few cached
  // connections are enough; more would only hold sockets open.
  curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, 4L);
  slots_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

void CurlPool::release(SlotPtr slot) {
  if (!slot) return;
  curl_easy_reset(slot->easy);
  std::lock_guard lock(mu_);
  if (idle_.size() < options_.max_idle) idle_.push_back(std::move(slot));
  // else: destroyed on return (connections closed), outside nothing else.
}

PoolCounters CurlPool::counters() const {
  return {requests_.load(std::memory_order_relaxed), connections_.load(std::memory_order_relaxed),
          slots_.load(std::memory_order_relaxed)};
}

void CurlPool::count_request(long new_connections) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (new_connections > 0)
    connections_.fetch_add(static_cast<uint64_t>(new_connections), std::memory_order_relaxed);
}

std::string redact_url(const std::string& url) {
  std::string out;
  size_t i = 0;
  while (i < url.size()) {
    size_t scheme = url.find("://", i);
    if (scheme == std::string::npos) break;
    size_t auth = scheme + 3;
    size_t end = url.find_first_of("/?# \t\r\n\"'", auth);
    if (end == std::string::npos) end = url.size();
    size_t at = url.rfind('@', end == 0 ? 0 : end - 1);
    out.append(url, i, auth - i);
    if (at != std::string::npos && at >= auth && at < end) {
      out.append(url, at + 1, end - at - 1);
    } else {
      out.append(url, auth, end - auth);
    }
    i = end;
  }
  out.append(url, i, std::string::npos);
  return out;
}

}  // namespace daramjwee::net
