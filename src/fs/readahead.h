// Chunks, the in-flight fill table, and sequential prefetch.
//
// A file version is cut into chunks of `chunk_size` bytes; chunk i of version
// V of path P lives in the engine under "c:P\0V\0i", so chunks of different
// versions never mix and every chunk is immutable.
//
// FillTable: the chunks being fetched right now, by whom. Both the engine's
// miss path (ChunkFetcher) and the prefetcher register here, so a reader that
// misses on a chunk a prefetch stream is about to deliver waits for it instead
// of asking the origin again, and a prefetch never re-fetches a chunk a reader
// is already fetching. readahead.cc has the essay.
// Thread-safety: every class here is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/cache.h"
#include "core/origin.h"

namespace daramjwee::fs {

// One pinned version of one file: what a handle reads.
struct FileRef {
  std::string path;
  std::string version;  // chunk-key version (etag, or size+mtime)
  std::string etag;     // sent to the origin as If-Match; "" if unknown
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t chunk_size = 1 << 20;

  uint64_t chunk_count() const { return (size + chunk_size - 1) / chunk_size; }
  uint64_t chunk_length(uint64_t index) const {
    uint64_t off = index * chunk_size;
    return off >= size ? 0 : std::min<uint64_t>(chunk_size, size - off);
  }
};

std::string chunk_key(std::string_view path, std::string_view version, uint64_t index);

class FillTable {
 public:
  struct Fill {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;   // guarded by mu
    Status status;       // guarded by mu; valid when done
    SharedBytes data;    // guarded by mu; valid when done and status OK
  };

  // The fill for `key`: an existing one (leader=false) or a new one this
  // caller now owns and must complete (leader=true).
  std::pair<std::shared_ptr<Fill>, bool> join_or_lead(const std::string& key);
  bool contains(const std::string& key) const;
  // Marks the fill done and wakes its waiters; the entry stays visible (so a
  // late reader still finds the bytes) until erase().
  static void finish(Fill& fill, Status status, SharedBytes data);
  // Removes `key` if it still maps to `fill`.
  void erase(const std::string& key, const std::shared_ptr<Fill>& fill);
  // The status a fill finishes with when its owner decided not to fetch it
  // after all (the chunk turned out to be cached, or the job was dropped):
  // a waiter then fetches the chunk itself.
  static Status skipped() { return Status::not_modified(); }
  // Waits until the fill is done or `timeout` passes (kTimeout).
  static Result<SharedBytes> wait(Fill& fill, Duration timeout);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Fill>> fills_;  // guarded by mu_
};

// What chunk fetches need, shared by fetchers that outlive their requests.
struct ChunkSource {
  std::shared_ptr<Origin> origin;
  std::shared_ptr<FillTable> fills;
  Duration fill_wait = std::chrono::seconds(60);  // bound on waiting for another fill
  // What a fetch made for a prefetch or a promotion gets to finish (a reader
  // passes its own deadline): a reader that joins it waits no longer.
  Duration read_timeout = std::chrono::seconds(10);
  std::atomic<uint64_t> origin_requests{0};        // ranged reads issued
  std::atomic<uint64_t> joined_fills{0};           // misses served by another's fill
  // Called when a file fetched whole (one chunk, no tag) turns out to have
  // another length than the size it was pinned with, which then came from a
  // wrong listing: `real` is the length the origin's response states. The
  // read fails (kChangedAtOrigin); this lets the next open pin the real one.
  // Runs on the fetching thread: must be cheap and not block. Default: none.
  std::function<void(const FileRef& file, uint64_t real)> on_length_mismatch;
};

// The engine's fetcher for one chunk (one ranged origin request, or the
// bytes of a fill already in flight). Its work ends by `deadline`: it waits
// for a fill in flight at most half the time left, and the origin's retries
// and body get the rest (util/deadline.h); past it the fetch fails with
// kTimeout. A body of the wrong length is an error, never a short chunk:
// kChangedAtOrigin when an unpinned one-chunk file ended at another size,
// kIoError when a ranged body was cut.
std::shared_ptr<Fetcher> make_chunk_fetcher(std::shared_ptr<ChunkSource> source,
                                            std::shared_ptr<const FileRef> file, uint64_t index,
                                            std::chrono::steady_clock::time_point deadline);

// Per-handle access pattern; guarded by the handle's mutex.
struct ReadaheadState {
  bool started = false;
  uint64_t next_offset = 0;    // where a sequential reader reads next
  uint64_t last_chunk = 0;     // chunk of the last read's end
  uint64_t window = 0;         // chunks to keep ahead; 0 = not sequential
  uint64_t planned_until = 0;  // chunks [.., planned_until) already queued
  uint32_t random_reads = 0;   // reads that were not sequential
  bool filled = false;         // the whole file was queued for a background fill
  bool counted = false;        // counted in the prefetcher's active streams
};

struct PrefetchOptions {
  int threads = 4;                       // Default: 4 prefetch threads
  size_t queue = 64;                     // Default: 64 queued jobs (then dropped)
  uint64_t max_window_bytes = 64 << 20;  // Default: 64 MiB ahead at most
  // How far from where a sequential reader should be a read may land and
  // still count as sequential. The kernel's read-ahead sends several reads
  // at once from different threads, up to its window ahead of the reader,
  // so they reach us reordered by about that much. Default: 8 MiB.
  uint64_t reorder_bytes = 8 << 20;
  // A file read at random (kRandomReadsBeforeFill non-sequential reads on
  // one handle) and no larger than this is fetched whole in the background,
  // in large ranged requests, so the rest of its random reads are hits
  // instead of a 1-chunk origin round trip each. 0 disables. Default: 0 here;
  // the daemon sets min(random_fill, ram_size / 4).
  uint64_t random_fill_max = 0;
  // What the read-ahead windows of all sequential readers together may hold
  // ahead of their readers: each of N active streams gets at most a 1/N
  // share (at least one chunk). A window larger than what the RAM tier keeps
  // gets its chunks evicted before the reader reaches them, and then fetched
  // again (issue 15: 1.1-1.4x the origin's bytes with 4 readers and a small
  // RAM tier). 0: no cap. Default: 0 here; the daemon sets ram_size / 2.
  uint64_t budget_bytes = 0;
};

struct PrefetchStats {
  uint64_t jobs = 0, dropped = 0, chunks = 0, requests = 0, failures = 0;
  uint64_t promoted = 0;  // chunks moved up from a lower tier ahead of the reader
  uint64_t files = 0;     // one-chunk files read ahead of a directory scan
  uint64_t fills = 0;     // randomly read files queued to be fetched whole
};

class Prefetcher {
 public:
  Prefetcher(PrefetchOptions options, std::shared_ptr<Cache> cache,
             std::shared_ptr<ChunkSource> source);
  ~Prefetcher();  // shutdown()

  // Records a read of [off, end) and, for a sequential reader, queues the
  // next chunks (a growing window). Never blocks on I/O.
  void on_read(ReadaheadState& state, const std::shared_ptr<const FileRef>& file, uint64_t off,
               uint64_t end);
  // The handle that owns `state` is closing: its stream no longer shares the
  // budget. Call once per state, under the same guard as on_read.
  void on_close(ReadaheadState& state);
  // Queues a background read of a one-chunk file (chunk 0 through the
  // cache, so a reader that opens it meanwhile joins the same fetch). Used
  // for the next files of a directory read file by file. Never blocks;
  // dropped (counted) when the queue is full.
  void prefetch_file(std::shared_ptr<const FileRef> file);
  // Stops taking jobs, aborts running ones between chunks, joins the threads.
  void shutdown();
  PrefetchStats stats() const;

 private:
  struct Job {
    std::shared_ptr<const FileRef> file;
    bool whole_file = false;  // prefetch_file(): chunk 0 through the cache, no fills
    // A background fill: fills[i].second is null (nothing registered, so no
    // reader ever waits for this job; a chunk a reader fetches meanwhile is
    // at worst downloaded twice).
    uint64_t first = 0;  // chunk index of fills[0]
    // The fills this job leads, registered when it was queued, for chunks
    // first, first+1, ... Every one is finished on every path.
    std::vector<std::pair<std::string, std::shared_ptr<FillTable::Fill>>> fills;
  };
  void give_up(Job& job, size_t from, const Status& why);
  void run(std::stop_token stop);
  void execute(Job& job, const std::stop_token& stop);
  // One ranged request for chunks [lo, hi) of the job, publishing each as it
  // arrives. On failure every fill of the range is finished with the error
  // and false is returned.
  bool fetch_run(Job& job, size_t lo, size_t hi, const std::stop_token& stop);
  void give_up_range(Job& job, size_t from, size_t to, const Status& why);
  // Queues `job` (moved from) and returns true; when stopping or the queue
  // is full, counts it as dropped and returns false with `job` untouched.
  bool enqueue(Job& job);
  // Queues background fills of every chunk of `file` (random_fill_max).
  void fill_file(const std::shared_ptr<const FileRef>& file);
  static constexpr uint32_t kRandomReadsBeforeFill = 8;
  enum class Where { kNowhere, kTop, kLower };
  Where where(const std::string& key);

  const PrefetchOptions options_;
  std::shared_ptr<Cache> cache_;
  std::shared_ptr<ChunkSource> source_;
  std::string top_tier_;  // tier 0's name (tiers are fixed once the cache is open)

  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::jthread> threads_;

  std::atomic<uint64_t> jobs_{0}, dropped_{0}, chunks_{0}, requests_{0}, failures_{0}, promoted_{0}, files_{0}, fills_{0};
  std::atomic<uint64_t> streams_{0};  // states with counted == true
};

}  // namespace daramjwee::fs
