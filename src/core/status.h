// Status: the outcome of an operation that may fail, with enough context
// (tier, operation) to be logged or shown to an operator without guessing.
//
// A Status is a value: cheap to copy when OK (no allocation), immutable.
// Aggregate statuses (multi-tier removal) carry one child per failure.
// Thread-safety: a const Status may be read from any number of threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace daramjwee {

enum class StatusCode {
  kOk = 0,
  kNotFound,           // cacheable not-found (a negative answer), not a miss
  kNotModified,        // conditional fetch: the version tag still matches
  kCacheClosed,        // the cache was closed; no further work accepted
  kConfigError,        // invalid configuration; field() names the field
  kTierError,          // a tier failed; tier() and operation() say where
  kIoError,            // an I/O or network failure
  kCorruption,         // data failed verification (checksum, framing)
  kChangedAtOrigin,    // a pinned version is no longer what the origin has
  kPermissionDenied,   // the origin refused access (never cached)
  kTimeout,            // a bounded wait ran out
  kInvalidArgument,    // the caller broke a documented precondition
  kResourceExhausted,  // a bound was hit (queue full, disk full, too large)
  kAggregate,          // several failures; children() lists them
  kInternal,           // a broken invariant
};

std::string_view to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status ok() { return Status(); }
  static Status not_found(std::string msg = {}) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status not_modified() { return {StatusCode::kNotModified, {}}; }
  static Status cache_closed() { return {StatusCode::kCacheClosed, "cache is closed"}; }
  // `field` is the dotted configuration path (e.g. "tiers[1].ttl").
  static Status config_error(std::string field, std::string reason);
  static Status tier_error(std::string tier, std::string operation, std::string cause);
  static Status io_error(std::string msg, bool retryable = false);
  static Status corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status changed_at_origin(std::string msg) { return {StatusCode::kChangedAtOrigin, std::move(msg)}; }
  static Status permission_denied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
  static Status timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg), true}; }
  static Status invalid_argument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status exhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
  static Status internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  // Requires: every child is non-OK. An empty list yields OK; a single child
  // is kept inside an aggregate so callers can always iterate children().
  static Status aggregate(std::string msg, std::vector<Status> children);

  Status(StatusCode code, std::string message, bool retryable = false);

  bool is_ok() const { return rep_ == nullptr; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  bool is(StatusCode c) const { return code() == c; }
  bool retryable() const { return rep_ && rep_->retryable; }
  const std::string& message() const;
  const std::string& tier() const;       // empty unless a tier error
  const std::string& operation() const;  // empty unless a tier error
  const std::string& field() const;      // empty unless a config error
  const std::vector<Status>& children() const;

  // Returns a copy annotated with the tier and operation (keeps the code).
  Status with_tier(std::string tier, std::string operation) const;

  // "tier error: tier=disk op=commit: no space left on device" style text.
  std::string to_string() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    bool retryable = false;
    std::string tier, operation, field;
    std::vector<Status> children;
  };
  std::shared_ptr<const Rep> rep_;  // null == OK; shared: copies are cheap
};

// A deliberately ignored Status, spelled so grep finds every one.
inline void ignore_error(const Status&) {}

}  // namespace daramjwee
