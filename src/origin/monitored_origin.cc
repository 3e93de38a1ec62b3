#include "origin/monitored_origin.h"

#include "util/log.h"

namespace daramjwee::origin {
namespace {

bool unreachable(const Status& s) { return s.is(StatusCode::kIoError) || s.is(StatusCode::kTimeout); }

}  // namespace

std::string_view to_string(Reachability r) {
  switch (r) {
    case Reachability::kUnknown: return "unknown";
    case Reachability::kUp: return "up";
    case Reachability::kDown: return "down";
  }
  return "unknown";
}

MonitoredOrigin::MonitoredOrigin(std::shared_ptr<Origin> inner) : inner_(std::move(inner)) {}

std::string MonitoredOrigin::describe() const { return inner_->describe(); }

void MonitoredOrigin::note(const Status& outcome) {
  const Reachability now = !outcome.is_ok() && unreachable(outcome) ? Reachability::kDown : Reachability::kUp;
  if (now == Reachability::kDown) failures_.fetch_add(1, std::memory_order_relaxed);
  // The common case, no change, costs one atomic load.
  if (state_.load(std::memory_order_relaxed) == static_cast<int>(now)) return;
  std::lock_guard lock(mu_);
  const int before = state_.exchange(static_cast<int>(now), std::memory_order_relaxed);
  if (before == static_cast<int>(now)) return;  // another thread logged it
  const auto t = std::chrono::steady_clock::now();
  const double was = std::chrono::duration<double>(t - since_).count();
  since_ = t;
  if (before != static_cast<int>(Reachability::kUnknown)) changes_.fetch_add(1, std::memory_order_relaxed);
  auto log = util::logger("origin");
  if (now == Reachability::kDown) {
    last_error_ = outcome.to_string();
    log->warn("origin unreachable origin={} error=\"{}\": serving what is cached, EIO for the rest", inner_->describe(),
              last_error_);
  } else if (before == static_cast<int>(Reachability::kDown)) {
    log->info("origin reachable again origin={} after={:.1f}s", inner_->describe(), was);
  }
}

template <typename T>
T MonitoredOrigin::observed(T result) {
  note(result ? Status::ok() : result.error());
  return result;
}

Result<FileAttr> MonitoredOrigin::stat(std::string_view path) { return observed(inner_->stat(path)); }

Result<std::vector<DirEntry>> MonitoredOrigin::list(std::string_view path) { return observed(inner_->list(path)); }

Result<std::unique_ptr<Reader>> MonitoredOrigin::read(std::string_view path, std::string_view etag, ByteRange range) {
  return observed(inner_->read(path, etag, range));
}

Result<FileAttr> MonitoredOrigin::revalidate(std::string_view path, std::string_view etag) {
  auto r = inner_->revalidate(path, etag);
  note(r || r.error().is(StatusCode::kNotModified) ? Status::ok() : r.error());
  return r;
}

OriginHealth MonitoredOrigin::health() const {
  OriginHealth h;
  std::lock_guard lock(mu_);
  h.state = static_cast<Reachability>(state_.load(std::memory_order_relaxed));
  h.seconds_in_state = std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
  h.changes = changes_.load(std::memory_order_relaxed);
  h.failures = failures_.load(std::memory_order_relaxed);
  h.last_error = last_error_;
  return h;
}

}  // namespace daramjwee::origin
