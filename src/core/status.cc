#include "core/status.h"

#include <fmt/format.h>

namespace daramjwee {

namespace {
const std::string& empty_string() {
  static const std::string* s = new std::string();
  return *s;
}
const std::vector<Status>& empty_children() {
  static const std::vector<Status>* v = new std::vector<Status>();
  return *v;
}
}  // namespace

std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kNotModified: return "not modified";
    case StatusCode::kCacheClosed: return "cache closed";
    case StatusCode::kConfigError: return "configuration error";
    case StatusCode::kTierError: return "tier error";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kChangedAtOrigin: return "changed at origin";
    case StatusCode::kPermissionDenied: return "permission denied";
    case StatusCode::kTimeout: return "timeout";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kResourceExhausted: return "resource exhausted";
    case StatusCode::kAggregate: return "multiple errors";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

Status::Status(StatusCode code, std::string message, bool retryable) {
  if (code == StatusCode::kOk) return;
  auto rep = std::make_shared<Rep>();
  rep->code = code;
  rep->message = std::move(message);
  rep->retryable = retryable;
  rep_ = std::move(rep);
}

Status Status::config_error(std::string field, std::string reason) {
  auto rep = std::make_shared<Rep>();
  rep->code = StatusCode::kConfigError;
  rep->message = std::move(reason);
  rep->field = std::move(field);
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

Status Status::tier_error(std::string tier, std::string operation, std::string cause) {
  auto rep = std::make_shared<Rep>();
  rep->code = StatusCode::kTierError;
  rep->message = std::move(cause);
  rep->tier = std::move(tier);
  rep->operation = std::move(operation);
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

Status Status::io_error(std::string msg, bool retryable) {
  return Status(StatusCode::kIoError, std::move(msg), retryable);
}

Status Status::aggregate(std::string msg, std::vector<Status> children) {
  if (children.empty()) return Status();
  auto rep = std::make_shared<Rep>();
  rep->code = StatusCode::kAggregate;
  rep->message = std::move(msg);
  rep->children = std::move(children);
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

const std::string& Status::message() const { return rep_ ? rep_->message : empty_string(); }
const std::string& Status::tier() const { return rep_ ? rep_->tier : empty_string(); }
const std::string& Status::operation() const { return rep_ ? rep_->operation : empty_string(); }
const std::string& Status::field() const { return rep_ ? rep_->field : empty_string(); }
const std::vector<Status>& Status::children() const {
  return rep_ ? rep_->children : empty_children();
}

Status Status::with_tier(std::string tier, std::string operation) const {
  if (!rep_) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->tier = std::move(tier);
  rep->operation = std::move(operation);
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

std::string Status::to_string() const {
  if (!rep_) return "ok";
  std::string out(daramjwee::to_string(rep_->code));
  if (!rep_->field.empty()) out += fmt::format(": {}", rep_->field);
  if (!rep_->tier.empty()) out += fmt::format(": tier={} op={}", rep_->tier, rep_->operation);
  if (!rep_->message.empty()) out += ": " + rep_->message;
  if (!rep_->children.empty()) {
    out += " [";
    for (size_t i = 0; i < rep_->children.size(); ++i) {
      if (i) out += "; ";
      out += rep_->children[i].to_string();
    }
    out += "]";
  }
  return out;
}

}  // namespace daramjwee
