// Chunk fetching and sequential prefetch.
//
// The problem. FUSE hands us reads of at most 128 KiB (often less), and a
// chunk is 1 MiB. Fetching chunk by chunk on demand makes a cold sequential
// read of a 256 MiB file cost 256 origin round trips, each paid while the
// reader waits. What we want instead (mountpoint-s3's prefetch.rs does the
// same for S3): notice that a handle reads sequentially, and keep a growing
// window of chunks in flight ahead of it with ONE ranged request per window
// extension, publishing each chunk to the cache the moment its bytes are in.
//
// Detecting sequential access. Each handle keeps ReadaheadState. A read that
// starts near where the previous one ended (within reorder_bytes: the
// kernel's read-ahead has several requests in flight, up to its window
// ahead, and our worker threads take them in any order) is sequential; anything else resets the window to zero, so a random reader
// fetches exactly the chunks it touches and nothing more. The window doubles
// each time the reader enters a new chunk, from 1 chunk up to
// max_window_bytes, and a new job is queued only when less than half a window
// is left ahead, so the steady state is one request per half window.
//
// Who fetches a chunk. Two paths can want the same chunk: the reader's own
// Cache::get (the engine calls ChunkFetcher on a miss, single-flighted per
// key) and a prefetch job. The FillTable arbitrates: whoever registers first
// fetches; the other waits for the bytes (bounded by fill_wait, so a reader
// never hangs). A prefetch registers its chunks when it is QUEUED, in the
// reader's thread, not when a prefetch thread picks it up: otherwise a fast
// reader (or a loaded machine) overtakes the queued job and fetches every
// chunk on its own, one request each. When the job runs it checks the tiers
// (Cache::locate) chunk by chunk, in order: a chunk in tier 0 is finished as
// "skipped" (a waiter then gets it for itself, a RAM hit); a chunk only in a
// lower tier (after a remount: on disk) is promoted into tier 0 now, so the
// reader finds RAM hits instead of paying a disk read per chunk on its own
// path, and the remount case costs no origin request; each run of chunks
// cached nowhere is one ranged request.

// Publishing. A prefetched chunk is put into the engine through Cache::get
// with a fetcher that returns the bytes already in hand, so it takes the
// engine's normal fill path: tier 0 at once, lower tiers write-behind (a plain
// Cache::set would write only tier 0, and a remount would find nothing).
// The race that dictates the order: a reader's get may already be the
// engine's leader for chunk k, waiting in ChunkFetcher on our fill. If we
// called Cache::get(k) before finishing the fill, we would join the reader's
// flight and wait for it while it waits for us. So the fill is finished
// (waiters wake with the bytes) first, published second, and erased from the
// table last, which also lets a reader that misses in between find the bytes.
//
// Shutdown. Jobs are dropped when the queue is full (counted) and abandoned
// between chunks when the prefetcher stops; every fill a job registered is
// finished on every exit path, so nobody waits for a job that is gone.
#include "fs/readahead.h"


#include <fmt/format.h>

#include "util/deadline.h"
#include "util/log.h"

namespace daramjwee::fs {
namespace {

class BytesFetcher final : public Fetcher {
 public:
  BytesFetcher(Metadata meta, SharedBytes data) : meta_(std::move(meta)), data_(std::move(data)) {}
  Result<FetchOutcome> fetch(std::string_view, const Metadata*) override {
    return FetchOutcome(FetchedBody{meta_, make_bytes_reader(data_)});
  }

 private:
  Metadata meta_;
  SharedBytes data_;
};

Metadata chunk_metadata(const FileRef& file, uint64_t length) {
  Metadata m;
  m.etag = file.version;
  m.size = length;
  m.origin_mtime_ns = file.mtime_ns;
  m.cached_at = Clock::now();
  return m;
}

// Reads exactly `length` bytes; a short body is an error (never a short chunk):
// kIoError (retryable) for a ranged body the origin cut, or, with
// `short_is_change`, kChangedAtOrigin (an unranged body that ended cleanly
// before the pinned size: the file is another version now).
Result<SharedBytes> read_exactly(Reader& reader, uint64_t length, bool short_is_change = false) {
  Bytes buf(length);
  // A cold chunk lands in memory nobody has touched yet (the RAM tier keeps
  // every chunk); its page faults inside the socket copy were a tenth of the
  // daemon's CPU on a cold sequential read.
  prefault(std::span(buf.data(), buf.capacity()));
  uint64_t got = 0;
  while (got < length) {
    auto n = reader.read(std::span<std::byte>(buf.data() + got, length - got));
    if (!n) return n.error();
    if (*n == 0) {
      const std::string what = fmt::format("origin body ended at {} of {} bytes", got, length);
      if (short_is_change) return Status::changed_at_origin(what);
      return Status::io_error(what, true);
    }
    got += *n;
  }
  buf.resize(length);
  return SharedBytes(std::make_shared<const Bytes>(std::move(buf)));
}

class ChunkFetcher final : public Fetcher {
 public:
  ChunkFetcher(std::shared_ptr<ChunkSource> source, std::shared_ptr<const FileRef> file, uint64_t index,
               std::chrono::steady_clock::time_point deadline)
      : source_(std::move(source)), file_(std::move(file)), index_(index), deadline_(deadline) {}

  Result<FetchOutcome> fetch(std::string_view key, const Metadata* cached) override {
    // A chunk key names one version, so a cached chunk can never be out of
    // date: the engine's background refresh of a stale chunk is answered
    // here without asking the origin (the version check happens on the
    // file's metadata, not on its chunks).
    if (cached && !cached->negative && cached->etag == file_->version) return FetchOutcome(NotModified{*cached});
    const uint64_t length = file_->chunk_length(index_);
    std::string k(key);
    std::shared_ptr<FillTable::Fill> fill;
    // Join a fill in flight (usually a prefetch stream that registered this
    // chunk when it was queued); if its owner skipped it, fetch ourselves.
    // The wait takes at most half of what is left of the reader's time, so a
    // prefetch that is queued behind others or stalled at the origin leaves
    // the other half for a fetch of our own.
    for (int attempt = 0;; attempt++) {
      auto [f, leader] = source_->fills->join_or_lead(k);
      if (leader) {
        fill = std::move(f);
        break;
      }
      source_->joined_fills.fetch_add(1, std::memory_order_relaxed);
      const auto left = deadline_ - std::chrono::steady_clock::now();
      auto data = FillTable::wait(*f, std::min<Duration>(source_->fill_wait,
                                                         std::max<Duration>(Duration::zero(),
                                                                            std::chrono::duration_cast<Duration>(left / 2))));
      if (data) return FetchOutcome(FetchedBody{chunk_metadata(*file_, length), make_bytes_reader(*data)});
      // A prefetch still queued behind others after fill_wait: fetch the chunk
      // directly (unregistered) rather than fail a reader that only waited.
      if (data.error().is(StatusCode::kTimeout)) break;
      if (!data.error().is(FillTable::skipped().code()) || attempt >= 2) return data.error();
      source_->fills->erase(k, f);  // finished and skipped: make room to lead
    }
    source_->origin_requests.fetch_add(1, std::memory_order_relaxed);
    Result<SharedBytes> data = Status::internal("unset");
    // The origin's retries and the body end by the reader's deadline.
    util::DeadlineScope scope(deadline_);
    if (std::chrono::steady_clock::now() >= deadline_) {
      data = Status::timeout("read_timeout passed before the chunk could be fetched");
    } else if (file_->etag.empty() && file_->chunk_count() == 1) {
      // No tag to pin (see Filesystem's resolve_file): fetch the whole file in
      // one request and insist on the size we pinned, so a replaced file is
      // an error rather than a chunk of the wrong version. Only a body that
      // ends cleanly at another length says so; a refused connection or a
      // cut body is the origin failing, and is reported as such.
      auto body = source_->origin->read(file_->path, "", ByteRange{0, std::nullopt});
      const auto stated = body ? (*body)->size_hint() : std::nullopt;
      if (stated && *stated != length && source_->on_length_mismatch) source_->on_length_mismatch(*file_, *stated);
      data = body ? read_exactly(**body, length, /*short_is_change=*/true) : Result<SharedBytes>(body.error());
      if (data) {
        std::byte extra[1];
        auto more = (*body)->read(std::span<std::byte>(extra, 1));
        if (!more) data = more.error();
        else if (*more != 0) data = Status::changed_at_origin(file_->path + ": size changed at the origin");
      }
    } else {
      auto body = source_->origin->read(file_->path, file_->etag, ByteRange{index_ * file_->chunk_size, length});
      data = body ? read_exactly(**body, length) : Result<SharedBytes>(body.error());
    }
    if (fill) {
      FillTable::finish(*fill, data.status(), data ? *data : nullptr);
      source_->fills->erase(k, fill);
    }
    if (!data) return data.error();
    return FetchOutcome(FetchedBody{chunk_metadata(*file_, length), make_bytes_reader(*data)});
  }

 private:
  std::shared_ptr<ChunkSource> source_;
  std::shared_ptr<const FileRef> file_;
  uint64_t index_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace

std::string chunk_key(std::string_view path, std::string_view version, uint64_t index) {
  std::string k;
  k.reserve(2 + path.size() + version.size() + 24);
  k.append("c:").append(path).push_back('\0');
  k.append(version).push_back('\0');
  k.append(std::to_string(index));
  return k;
}

std::pair<std::shared_ptr<FillTable::Fill>, bool> FillTable::join_or_lead(const std::string& key) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = fills_.try_emplace(key);
  if (inserted) it->second = std::make_shared<Fill>();
  return {it->second, inserted};
}

bool FillTable::contains(const std::string& key) const {
  std::lock_guard lock(mu_);
  return fills_.count(key) != 0;
}

void FillTable::finish(Fill& fill, Status status, SharedBytes data) {
  {
    std::lock_guard lock(fill.mu);
    if (fill.done) return;
    fill.done = true;
    fill.status = std::move(status);
    fill.data = std::move(data);
  }
  fill.cv.notify_all();
}

void FillTable::erase(const std::string& key, const std::shared_ptr<Fill>& fill) {
  std::lock_guard lock(mu_);
  auto it = fills_.find(key);
  if (it != fills_.end() && it->second == fill) fills_.erase(it);
}

Result<SharedBytes> FillTable::wait(Fill& fill, Duration timeout) {
  std::unique_lock lock(fill.mu);
  if (!fill.cv.wait_for(lock, timeout, [&] { return fill.done; })) {
    return Status::timeout("waited too long for a chunk another request is fetching");
  }
  if (!fill.status.is_ok()) return fill.status;
  return fill.data;
}

std::shared_ptr<Fetcher> make_chunk_fetcher(std::shared_ptr<ChunkSource> source,
                                            std::shared_ptr<const FileRef> file, uint64_t index,
                                            std::chrono::steady_clock::time_point deadline) {
  return std::make_shared<ChunkFetcher>(std::move(source), std::move(file), index, deadline);
}

Prefetcher::Prefetcher(PrefetchOptions options, std::shared_ptr<Cache> cache,
                       std::shared_ptr<ChunkSource> source)
    : options_(options), cache_(std::move(cache)), source_(std::move(source)) {
  if (auto names = cache_->tier_names(); !names.empty()) top_tier_ = names.front();
  for (int i = 0; i < options_.threads; i++) {
    threads_.emplace_back([this](std::stop_token st) { run(st); });
  }
}

Prefetcher::~Prefetcher() { shutdown(); }

void Prefetcher::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
    for (auto& job : queue_) give_up(job, 0, FillTable::skipped());
    queue_.clear();
  }
  for (auto& t : threads_) t.request_stop();
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Prefetcher::on_read(ReadaheadState& st, const std::shared_ptr<const FileRef>& file, uint64_t off,
                         uint64_t end) {
  if (options_.threads <= 0 || end <= off) return;
  const uint64_t cs = file->chunk_size;
  const uint64_t tolerance = std::max(2 * cs, options_.reorder_bytes);
  bool sequential = st.started ? (off + tolerance >= st.next_offset && off <= st.next_offset + tolerance)
                               : off == 0;
  const uint64_t chunk = (end - 1) / cs;
  if (!sequential) {
    const uint32_t random_reads = st.random_reads + 1;
    const bool filled = st.filled;
    on_close(st);
    st = ReadaheadState{true, end, chunk, 0, 0, random_reads, filled, false};
    if (!filled && random_reads >= kRandomReadsBeforeFill && options_.random_fill_max > 0 &&
        file->size <= options_.random_fill_max && file->chunk_count() > 1) {
      st.filled = true;
      fill_file(file);
    }
    return;
  }
  const bool new_chunk = !st.started || chunk > st.last_chunk;
  st.started = true;
  st.next_offset = std::max(st.next_offset, end);
  if (!new_chunk) return;
  st.last_chunk = chunk;
  if (!st.counted) {
    st.counted = true;
    streams_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t max_window = std::max<uint64_t>(1, options_.max_window_bytes / cs);
  if (options_.budget_bytes > 0) {
    const uint64_t share = options_.budget_bytes / std::max<uint64_t>(1, streams_.load(std::memory_order_relaxed));
    max_window = std::max<uint64_t>(1, std::min(max_window, share / cs));
  }
  st.window = st.window == 0 ? 1 : std::min(st.window * 2, max_window);
  const uint64_t total = file->chunk_count();
  const uint64_t want = std::min(total, chunk + 1 + st.window);
  const uint64_t start = std::max(st.planned_until, chunk + 1);
  if (start >= want) return;
  const uint64_t lead = st.planned_until > chunk + 1 ? st.planned_until - chunk - 1 : 0;
  if (lead * 2 > st.window) return;  // more than half a window still ahead
  // Register the fills now, in the reader's thread: a reader that reaches
  // one of these chunks before the job runs waits for the stream instead of
  // fetching the chunk on its own.
  Job job;
  job.file = file;
  job.first = start;
  for (uint64_t i = start; i < want; i++) {
    std::string key = chunk_key(file->path, file->version, i);
    auto [fill, leader] = source_->fills->join_or_lead(key);
    if (!leader) break;  // someone is fetching it: plan again from here later
    job.fills.emplace_back(std::move(key), std::move(fill));
  }
  st.planned_until = start + job.fills.size();
  if (job.fills.empty()) return;
  if (!enqueue(job)) give_up(job, 0, FillTable::skipped());
}

void Prefetcher::on_close(ReadaheadState& st) {
  if (!st.counted) return;
  st.counted = false;
  streams_.fetch_sub(1, std::memory_order_relaxed);
}

bool Prefetcher::enqueue(Job& job) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.queue) {
      queue_.push_back(std::move(job));
      jobs_.fetch_add(1, std::memory_order_relaxed);
      cv_.notify_one();
      return true;
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Prefetcher::prefetch_file(std::shared_ptr<const FileRef> file) {
  if (options_.threads <= 0 || !file || file->chunk_count() != 1) return;
  Job job;
  job.file = std::move(file);
  job.whole_file = true;
  enqueue(job);  // dropped (counted) when full
}

void Prefetcher::fill_file(const std::shared_ptr<const FileRef>& file) {
  const uint64_t per_job = std::max<uint64_t>(1, options_.max_window_bytes / 2 / file->chunk_size);
  const uint64_t total = file->chunk_count();
  fills_.fetch_add(1, std::memory_order_relaxed);
  for (uint64_t first = 0; first < total; first += per_job) {
    Job job;
    job.file = file;
    job.first = first;
    for (uint64_t i = first; i < std::min(total, first + per_job); i++) {
      job.fills.emplace_back(chunk_key(file->path, file->version, i), nullptr);
    }
    enqueue(job);  // dropped (counted) when full: that part is fetched on demand
  }
}

void Prefetcher::give_up(Job& job, size_t from, const Status& why) {
  for (size_t j = from; j < job.fills.size(); j++) {
    if (!job.fills[j].second) continue;  // a background fill registers nothing
    FillTable::finish(*job.fills[j].second, why, nullptr);
    source_->fills->erase(job.fills[j].first, job.fills[j].second);
  }
}

void Prefetcher::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, stop, [&] { return !queue_.empty(); });
      if (stop.stop_requested() || queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    execute(job, stop);
  }
}

Prefetcher::Where Prefetcher::where(const std::string& key) {
  auto found = cache_->locate(key);
  if (!found || found->empty()) return Where::kNowhere;
  for (const auto& p : *found) {
    if (p.tier == top_tier_) return Where::kTop;
  }
  return Where::kLower;
}

void Prefetcher::execute(Job& job, const std::stop_token& stop) {
  if (job.whole_file) {
    // Through the engine, like a reader: single-flighted with a reader that
    // opens the file meanwhile, promoted if it is on disk, fetched otherwise.
    const FileRef& f = *job.file;
    auto got = cache_->get(chunk_key(f.path, f.version, 0),
                           make_chunk_fetcher(source_, job.file, 0, std::chrono::steady_clock::now() + source_->read_timeout));
    if (got && !got->body->view()) ignore_error(got->body->skip(UINT64_MAX).status());
    if (got) files_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto& mine = job.fills;
  // In order, since the reader waits for the earliest chunk: a chunk in
  // tier 0 needs nothing; a chunk only in a lower tier (a remount: the disk
  // tier) is promoted now, ahead of the reader, so its reads are RAM hits
  // rather than a disk read each on the reader's path; a run of chunks
  // cached nowhere is one ranged origin request.
  size_t j = 0;
  while (j < mine.size()) {
    if (stop.stop_requested()) {
      give_up_range(job, j, mine.size(), Status::cache_closed());
      return;
    }
    const Where w = where(mine[j].first);
    if (w == Where::kNowhere) {
      size_t hi = j + 1;
      while (hi < mine.size() && where(mine[hi].first) == Where::kNowhere) hi++;
      if (!fetch_run(job, j, hi, stop)) {
        give_up_range(job, j, mine.size(), FillTable::skipped());
        return;
      }
      j = hi;
      continue;
    }
    // Release our claim first: the get below may miss after all (evicted
    // meanwhile) and then fetch through ChunkFetcher, which must not find
    // and wait for this very fill.
    if (mine[j].second) {
      FillTable::finish(*mine[j].second, FillTable::skipped(), nullptr);
      source_->fills->erase(mine[j].first, mine[j].second);
    }
    if (w == Where::kLower) {
      const uint64_t index = job.first + j;
      auto got = cache_->get(mine[j].first, make_chunk_fetcher(source_, job.file, index,
                                                               std::chrono::steady_clock::now() + source_->read_timeout));
      if (got && !got->body->view()) ignore_error(got->body->skip(UINT64_MAX).status());
      promoted_.fetch_add(1, std::memory_order_relaxed);
    }
    j++;
  }
}

bool Prefetcher::fetch_run(Job& job, size_t lo, size_t hi, const std::stop_token& stop) {
  const FileRef& f = *job.file;
  auto& mine = job.fills;
  const uint64_t first = job.first + lo;
  const uint64_t offset = first * f.chunk_size;
  uint64_t length = 0;
  for (size_t j = lo; j < hi; j++) length += f.chunk_length(job.first + j);
  requests_.fetch_add(1, std::memory_order_relaxed);
  source_->origin_requests.fetch_add(1, std::memory_order_relaxed);
  auto body = source_->origin->read(f.path, f.etag, ByteRange{offset, length});
  if (!body) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    static util::RateLimit limit;
    uint64_t suppressed = 0;
    if (limit.allow(&suppressed)) {
      util::logger("fs")->warn("prefetch failed path={} chunks={}..{} error={} suppressed={}", f.path, first,
                               job.first + hi, body.error().to_string(), suppressed);
    }
    give_up_range(job, lo, hi, body.error());
    return false;
  }
  for (size_t j = lo; j < hi; j++) {
    if (stop.stop_requested()) {
      give_up_range(job, j, hi, Status::cache_closed());
      return false;
    }
    const uint64_t index = job.first + j;
    const uint64_t len = f.chunk_length(index);
    auto data = read_exactly(**body, len);
    if (!data) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      give_up_range(job, j, hi, data.error());
      return false;
    }
    auto& [key, fill] = mine[j];
    if (fill) FillTable::finish(*fill, Status::ok(), *data);
    // Publish through the engine's fill path (tier 0 now, lower tiers
    // write-behind); the flight adopts the buffer, so no copy is made.
    auto got = cache_->get(key, std::make_shared<BytesFetcher>(chunk_metadata(f, len), *data));
    if (got && !got->body->view()) ignore_error(got->body->skip(UINT64_MAX).status());
    if (fill) source_->fills->erase(key, fill);
    chunks_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

void Prefetcher::give_up_range(Job& job, size_t from, size_t to, const Status& why) {
  for (size_t j = from; j < to; j++) {
    if (!job.fills[j].second) continue;
    FillTable::finish(*job.fills[j].second, why, nullptr);
    source_->fills->erase(job.fills[j].first, job.fills[j].second);
  }
}

PrefetchStats Prefetcher::stats() const {
  return PrefetchStats{jobs_.load(), dropped_.load(), chunks_.load(), requests_.load(), failures_.load(),
                       promoted_.load(), files_.load(), fills_.load()};
}

}  // namespace daramjwee::fs
