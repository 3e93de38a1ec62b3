// CurlPool: reusable libcurl transfer slots with keep-alive connections.
//
// A slot is one multi handle driving one easy handle. The multi handle owns
// the connection cache, so a slot returned to the pool keeps its open
// connections (HTTP/1.1 keep-alive or an HTTP/2 session) for the next
// request, whichever thread makes it. DNS results and TLS sessions are
// shared by all slots (a CURLSH with locks), so even a new connection skips
// resolution and a full TLS handshake.
//
// Up to max_idle slots are kept idle (LIFO: the warmest connection first);
// acquire() never blocks: under more concurrency it creates a slot, and a
// release beyond max_idle destroys it (closing its connections). A transfer
// abandoned mid-body has its connection closed by libcurl (it cannot be
// reused); the slot itself goes back to the pool.
//
// Thread-safety: acquire/release and the counters are thread-safe; a slot
// is used by one thread at a time. Transfers keep the pool alive through a
// shared_ptr, so a reader may outlive the origin that made it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

typedef void CURL;
typedef void CURLM;
typedef void CURLSH;

namespace daramjwee::net {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};  // Default: 10 s
  // Abort when fewer than low_speed_bytes/s arrive for low_speed_time of
  // waiting. Default: 1024 B/s over 30 s.
  long low_speed_bytes = 1024;
  std::chrono::milliseconds low_speed_time{30000};
  std::string proxy;    // "" = libcurl's environment handling (http_proxy, no_proxy)
  std::string ca_file;  // "" = system store
  bool tls_verify = true;
  size_t max_idle = 16;  // idle slots kept
};

struct PoolCounters {
  uint64_t requests = 0;             // transfers started
  uint64_t connections_opened = 0;   // new TCP connections (CURLINFO_NUM_CONNECTS)
  uint64_t slots_created = 0;
};

class CurlPool : public std::enable_shared_from_this<CurlPool> {
 public:
  struct Slot;
  struct SlotDeleter {
    void operator()(Slot* s) const;
  };
  using SlotPtr = std::unique_ptr<Slot, SlotDeleter>;

  // Initialises libcurl once per process (thread-safe).
  static std::shared_ptr<CurlPool> create(ClientOptions options);
  ~CurlPool();
  CurlPool(const CurlPool&) = delete;
  CurlPool& operator=(const CurlPool&) = delete;

  // A slot with a reset easy handle (no options set) attached to nothing.
  SlotPtr acquire();
  // Returns a slot; its easy handle must not be attached to its multi.
  void release(SlotPtr slot);

  const ClientOptions& options() const { return options_; }
  CURLSH* share() const { return share_; }
  PoolCounters counters() const;
  void count_request(long new_connections);

 private:
  explicit CurlPool(ClientOptions options);
  static void lock_cb(CURL*, int data, int access, void* user);
  static void unlock_cb(CURL*, int data, void* user);

  const ClientOptions options_;
  CURLSH* share_ = nullptr;
  std::mutex share_mu_[8];  // one per curl_lock_data value we share

  std::mutex mu_;                 // guards idle_
  std::vector<SlotPtr> idle_;     // LIFO
  std::atomic<uint64_t> requests_{0}, connections_{0}, slots_{0};
};

struct CurlPool::Slot {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
  ~Slot();
};

// Removes credentials from a URL-ish string for logs and errors:
// "scheme://user:pass@host/x" -> "scheme://host/x"; the query is kept.
std::string redact_url(const std::string& url);

}  // namespace daramjwee::net
