// How a flight streams to several readers at once.
//
// Readers hold their own position. read_at(pos) serves from the retained
// segments when pos is behind the frontier; a reader at the frontier becomes
// the pump: it marks pumping_, drops the lock, reads one segment from the
// origin stream and writes it into the tier-0 sink (I/O without locks), then
// appends the segment and wakes everyone. A reader that finds another pump
// running waits on cv_. So the origin is pulled at the pace of the fastest
// reader, and a slow reader never holds up a fast one nor owns the key.
//
// At the end of the stream the pump calls the completion (commit under the
// fence, schedule the lower tiers) BEFORE unregistering and marking eof, so a
// get that arrives in between joins this flight instead of missing tier 0.
//
// Zero copy. Chunk fetchers return bodies already whole in memory
// (Reader::shared_bytes). The pump then takes that buffer as the flight's
// only segment instead of copying it, hands the same buffer to tier 0
// (write_shared: the memory tier adopts it) and to the lower tiers, and
// readers get it through view(). A cold 1 MiB chunk thus costs no copy in
// user space after the origin's own; streaming bodies keep the copy path.
#include "core/single_flight.h"

#include <algorithm>
#include <cstring>

namespace daramjwee {

namespace {
constexpr size_t kMinSegment = 64 << 10;
constexpr size_t kMaxSegment = 4 << 20;
}  // namespace

class FlightReader final : public Reader {
 public:
  explicit FlightReader(std::shared_ptr<Flight> f) : flight_(std::move(f)) {}
  Result<size_t> read(std::span<std::byte> out) override {
    auto n = flight_->read_at(pos_, out);
    if (n) pos_ += *n;
    return n;
  }
  Result<uint64_t> skip(uint64_t n) override { return Reader::skip(n); }
  std::optional<SharedView> view() override { return flight_->view_at(pos_); }
  std::optional<FileRegion> file_region() override { return flight_->region_at(pos_); }
  std::optional<uint64_t> size_hint() const override {
    const auto& m = flight_->metadata();
    if (m.size >= pos_ && m.size > 0) return m.size - pos_;
    return std::nullopt;
  }

 private:
  std::shared_ptr<Flight> flight_;
  uint64_t pos_ = 0;
};

Flight::Flight(std::string key, std::shared_ptr<FlightRegistry> registry)
    : key_(std::move(key)), registry_(std::move(registry)) {}

Flight::~Flight() {
  // Abandoned mid-stream: sink_ aborts in its destructor (nothing published).
  if (sink_) sink_->abort();
  unregister();
}

void Flight::unregister() {
  bool was;
  {
    std::lock_guard lock(mu_);
    was = std::exchange(registered_, false);
  }
  if (was) registry_->release(key_, this);
}

void Flight::start(Metadata metadata, std::unique_ptr<Reader> source,
                   std::unique_ptr<WriteSink> sink, Completion on_complete,
                   SinkError on_sink_error, int from) {
  std::lock_guard lock(mu_);
  metadata_ = std::move(metadata);
  from_ = from;
  source_ = std::move(source);
  sink_ = std::move(sink);
  on_complete_ = std::move(on_complete);
  on_sink_error_ = std::move(on_sink_error);
  state_ = State::kStreaming;
  cv_.notify_all();
}

void Flight::not_found() {
  {
    std::lock_guard lock(mu_);
    state_ = State::kNotFound;
    cv_.notify_all();
  }
  unregister();
}

void Flight::fail(Status error) {
  {
    std::lock_guard lock(mu_);
    state_ = State::kFailed;
    error_ = std::move(error);
    cv_.notify_all();
  }
  unregister();
}

Status Flight::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return state_ != State::kPending; });
  switch (state_) {
    case State::kStreaming: return Status::ok();
    case State::kNotFound: return Status::not_found();
    default: return error_;
  }
}

Flight::State Flight::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::unique_ptr<Reader> Flight::reader() { return std::make_unique<FlightReader>(shared_from_this()); }

Result<size_t> Flight::read_at(uint64_t pos, std::span<std::byte> out) {
  if (out.empty()) return size_t{0};
  for (;;) {
    std::unique_lock lock(mu_);
    for (;;) {
      if (pos < total_) {
        auto it = std::upper_bound(starts_.begin(), starts_.end(), pos);
        size_t i = static_cast<size_t>(it - starts_.begin()) - 1;
        SharedBytes seg = segments_[i];
        uint64_t off = pos - starts_[i];
        lock.unlock();  // segments are immutable: copy without the lock
        size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), seg->size() - off));
        std::memcpy(out.data(), seg->data() + off, n);
        return n;
      }
      if (state_ == State::kFailed) return error_;
      if (eof_) return size_t{0};
      if (!pumping_) break;
      cv_.wait(lock);
    }
    pumping_ = true;
    lock.unlock();
    pump();
  }
}

std::optional<SharedView> Flight::view_at(uint64_t pos) {
  std::unique_lock lock(mu_);
  // A source that is one buffer is adopted without I/O: do it now rather
  // than make the caller copy through read().
  if (state_ == State::kStreaming && total_ == 0 && !eof_ && !pumping_ && source_ &&
      source_->shared_bytes()) {
    pumping_ = true;
    lock.unlock();
    pump();
    lock.lock();
  }
  if (!eof_ || pos >= total_ || starts_.empty() || pos < starts_.back()) return std::nullopt;
  const SharedBytes& last = segments_.back();
  return SharedView{last->span().subspan(static_cast<size_t>(pos - starts_.back())), last};
}

std::optional<FileRegion> Flight::region_at(uint64_t pos) {
  std::lock_guard lock(mu_);
  // Not while pumping: source_ belongs to the pump then.
  if (state_ != State::kStreaming || pumping_ || total_ != 0 || eof_ || !source_) return std::nullopt;
  auto region = source_->file_region();
  if (!region || pos > region->length) return std::nullopt;
  region->offset += pos;
  region->length -= pos;
  return region;
}

void Flight::pump() {
  Status error;
  bool eof = false;
  SharedBytes shared = total_snapshot() == 0 ? source_->shared_bytes() : nullptr;
  if (shared) {
    eof = true;  // the whole body, adopted as is
    if (shared->empty()) shared = nullptr;
  } else {
    // Size the segment from what the origin promised, within bounds.
    size_t want = kMinSegment;
    if (metadata_.size > total_snapshot())
      want = static_cast<size_t>(
          std::clamp<uint64_t>(metadata_.size - total_snapshot(), kMinSegment, kMaxSegment));
    Bytes seg(want);
    while (seg.size() < want) {
      auto n = source_->read(std::span(seg.data() + seg.size(), want - seg.size()));
      if (!n) {
        error = n.error();
        break;
      }
      if (*n == 0) {
        eof = true;
        break;
      }
      seg.resize(seg.size() + *n);
    }
    if (!seg.empty()) shared = std::make_shared<const Bytes>(std::move(seg));
  }
  if (sink_ && shared && error.is_ok()) {
    if (auto s = sink_->write_shared(shared); !s) {
      sink_->abort();
      sink_.reset();
      if (on_sink_error_) on_sink_error_(s);
    }
  }

  std::unique_lock lock(mu_);
  if (shared) {
    starts_.push_back(total_);
    total_ += shared->size();
    segments_.push_back(std::move(shared));
  }
  if (eof && error.is_ok()) {
    // Publish before anyone can observe eof (see the essay above).
    std::vector<SharedBytes> all = segments_;
    uint64_t total = total_;
    lock.unlock();
    auto sink = std::move(sink_);
    if (on_complete_) {
      on_complete_(std::move(sink), all, total);
    } else if (sink) {
      sink->abort();
    }
    on_complete_ = nullptr;
    source_.reset();
    unregister();
    lock.lock();
    eof_ = true;
  } else if (!error.is_ok()) {
    state_ = State::kFailed;
    error_ = error;
  }
  pumping_ = false;
  cv_.notify_all();
  lock.unlock();
  if (!error.is_ok()) {
    if (sink_) sink_->abort();
    sink_.reset();
    source_.reset();
    unregister();
  }
}

uint64_t Flight::total_snapshot() {
  std::lock_guard lock(mu_);
  return total_;
}

std::pair<std::shared_ptr<Flight>, bool> FlightRegistry::join_or_lead(std::string_view key) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = map_.try_emplace(std::string(key));
  if (!inserted) {
    if (auto f = it->second.lock()) return {std::move(f), false};
  }
  auto f = std::make_shared<Flight>(it->first, shared_from_this());
  it->second = f;
  return {std::move(f), true};
}

void FlightRegistry::release(const std::string& key, const Flight* flight) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  auto cur = it->second.lock();
  if (!cur || cur.get() == flight) map_.erase(it);
}

size_t FlightRegistry::size() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace daramjwee
