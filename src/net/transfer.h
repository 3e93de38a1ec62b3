// Transfer: one HTTP request whose response body is pulled by the caller.
//
// open() starts the request on a pooled slot and drives it until the
// response head is known (the first body byte arrived, or the transfer
// ended); the caller then inspects head() and pulls the body with read().
// Memory is bounded: libcurl writes into the caller's buffer, and what does
// not fit is kept up to kHighWater bytes, past which the transfer is paused
// (CURL_WRITEFUNC_PAUSE) until the caller catches up. Nothing runs in the
// background: the transfer advances only inside open()/read().
//
// Timeouts: connect_timeout on the connection, request.total_timeout on the
// whole request when non-zero, and a low-speed abort that counts only the
// time spent waiting inside open()/read() — a reader that stops pulling for
// a while is not punished for its own slowness.
//
// Destroying a Transfer mid-body is safe and bounded: the easy handle is
// detached (libcurl closes that connection, it cannot be reused) and the
// slot returns to the pool. Thread-safety: one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/curl_pool.h"

namespace daramjwee::net {

enum class ErrorKind { kNone, kConnect, kTimeout, kTls, kTransport, kTooLarge, kInternal };

struct NetError {
  ErrorKind kind = ErrorKind::kNone;
  std::string message;  // never contains URL credentials or header values
  bool retryable = false;
  bool failed() const { return kind != ErrorKind::kNone; }
};

enum class Method { kGet, kHead };

struct Request {
  Method method = Method::kGet;
  std::string url;                    // may carry userinfo; never logged by net
  std::vector<std::string> headers;   // "Name: value"
  std::chrono::milliseconds total_timeout{0};  // 0: none (streaming bodies)
  size_t max_body = 0;                // 0: unbounded; else kTooLarge past it
};

struct ResponseHead {
  long status = 0;
  // Fields of the final response: names lower-cased, values trimmed.
  std::vector<std::pair<std::string, std::string>> fields;
  std::string effective_url;  // after redirects; may carry userinfo
  int http_version = 0;       // 10, 11, 20 or 30 (HTTP/1.0 ... HTTP/3)

  // The value of field `lower_name`: nullptr when absent. When the field
  // appears several times with different values, *conflict is set.
  const std::string* find(std::string_view lower_name, bool* conflict = nullptr) const;
};

class Transfer {
 public:
  static constexpr size_t kHighWater = size_t{1} << 20;

  // Starts `request` and waits for the response head. On failure returns
  // nullptr and fills *err (retryable for connection errors and timeouts).
  static std::unique_ptr<Transfer> open(std::shared_ptr<CurlPool> pool, const Request& request,
                                        NetError* err);
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  const ResponseHead& head() const { return head_; }

  // Copies body bytes into `out`; returns 0 only at the end of the body.
  // On failure returns 0 and fills *err; the transfer is then finished.
  size_t read(std::span<std::byte> out, NetError* err);

  // Reads the rest of the body into *out (appending).
  bool read_all(std::string* out, NetError* err);

  // Bytes received but not yet read (bounded by kHighWater + one write).
  size_t buffered() const { return pending(); }
  // Body bytes handed to the caller so far.
  uint64_t delivered() const { return delivered_; }
  // True once the transfer ended successfully and every byte was read.
  bool at_end() const { return done_ && !failed_ && pending() == 0; }

 private:
  Transfer(std::shared_ptr<CurlPool> pool, CurlPool::SlotPtr slot);
  static size_t on_write(char* p, size_t size, size_t n, void* self);
  static size_t on_header(char* p, size_t size, size_t n, void* self);
  size_t pending() const { return buf_.size() - buf_pos_; }
  size_t take_pending(std::span<std::byte> out);
  // Advances libcurl until `ready()` or the end; false with *err on error.
  template <typename Ready>
  bool drive(Ready ready, NetError* err);
  void finish(int curl_code, NetError* err);
  void detach();
  void mark_head_ready();

  std::shared_ptr<CurlPool> pool_;
  CurlPool::SlotPtr slot_;
  bool attached_ = false;
  void* headers_ = nullptr;  // curl_slist*, freed when detached
  char errbuf_[256] = {};

  ResponseHead head_;
  bool head_ready_ = false;   // first body byte or end seen
  bool done_ = false;         // libcurl finished the transfer
  bool failed_ = false;
  NetError error_;            // sticky once failed_
  bool paused_ = false;
  bool too_large_ = false;
  size_t max_body_ = 0;

  std::span<std::byte> target_;   // caller's buffer during read()
  size_t target_filled_ = 0;
  std::string buf_;               // overflow, bounded by kHighWater + one write
  size_t buf_pos_ = 0;
  uint64_t received_ = 0;         // body bytes accepted from libcurl
  uint64_t delivered_ = 0;
  uint64_t wire_bytes_ = 0;       // header + body bytes, for the low-speed check

  long low_speed_bytes_;
  std::chrono::milliseconds low_speed_time_;
  std::chrono::milliseconds waited_{0};  // waiting time in the current window
  uint64_t window_bytes_ = 0;            // wire_bytes_ at window start
};

}  // namespace daramjwee::net
