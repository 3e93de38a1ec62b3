// AttrResolver: exact attributes for the listing entries that lack them.
//
// HTTP listings round sizes ("1.3K"), leave them out, or give times to the
// minute. No stat may show such a value, so an entry that needs_head() is
// answered from the origin's own stat (a HEAD) instead. The answers are
// engine entries under resolved_key(path, listed): cached, persisted in the
// lower tiers and refreshed like every other entry (fresh for ttl, then
// served stale while one background HEAD revalidates it), so each such file
// costs one HEAD per ttl, and a remount within ttl costs none. The key
// carries the listing's own description of the file, so when a listing
// changes what it says about a file, the file gets a new key and a new HEAD:
// an older HEAD's answer can never be paired with a newer listing.
//
// prefetch() resolves a directory's entries in the background when it is
// opened, at most `concurrency` HEADs at a time, so `ls -l` of 200 inexact
// entries costs 200/concurrency round trips, not 200. resolve() answers one
// entry now, joining a prefetch of the same key in flight (the engine runs
// one fetch per key) or fetching it itself.
//
// A listing that states sizes and times exactly (nginx JSON with sizes,
// file://) pays nothing: needs_head() is false for every entry, no request is
// made and no thread is started.
//
// Thread-safety: every method is thread-safe. No lock is held across a cache
// or origin call. Workers are started on the first prefetch and stopped by
// shutdown() (or the destructor).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/cache.h"
#include "core/origin.h"

namespace daramjwee::fs {

struct Listing;

struct AttrResolverOptions {
  // Most HEADs the background resolution runs at once (1..1024). Default: 16.
  int concurrency = 16;
  // HEAD every file entry that carries no version tag (every HTTP listing
  // entry), for mtimes to the second instead of the listing's minute.
  // Default: false (only rounded or missing sizes are HEADed).
  bool exact_mtime = false;
  // How long a directory counts as queued: opening it again within this
  // time queues nothing. Default: 60 s (the filesystem passes its ttl).
  Duration ttl = std::chrono::seconds(60);
  // Most directories waiting for background resolution; more are resolved
  // on demand only (counted as dropped). Default: 1024.
  size_t max_queued_dirs = 1024;
};

// The engine key of `path`'s resolved attributes, for the listing entry
// `listed` ("m:<path>\0<what the listing said>").
std::string resolved_key(std::string_view path, const FileAttr& listed);

class AttrResolver {
 public:
  AttrResolver(std::shared_ptr<Cache> cache, std::shared_ptr<Origin> origin, AttrResolverOptions options);
  ~AttrResolver();
  AttrResolver(const AttrResolver&) = delete;
  AttrResolver& operator=(const AttrResolver&) = delete;

  // True when a listing entry cannot be answered as listed: a file whose
  // size is rounded or missing, or that has neither a version tag nor a
  // time; with exact_mtime, any file without a version tag.
  bool needs_head(const FileAttr& listed) const;
  // True when some entry of `listing` needs_head() (cheap: a count kept in
  // the listing; exact listings answer false without looking at entries).
  bool any_needs_head(const Listing& listing) const;
  // True when resolve() may answer anything but the listed attributes for
  // some entry of `listing`: any_needs_head(), or a correction is on record.
  // False costs nothing per entry, which keeps exact listings free.
  bool may_change(const Listing& listing) const;

  // The attributes to answer for `path`, which its listing describes as
  // `listed`. Outcomes:
  // - `listed` itself when !needs_head(listed), unless the file's own stat
  //   contradicted it since (correct()): then the stat's attributes;
  // - otherwise the origin's stat of `path` through the engine (a cache hit,
  //   or one HEAD joined by every concurrent caller), type as listed;
  // - kNotFound when the origin says the file is gone (cached for
  //   negative_ttl by the engine);
  // - kIoError when the origin's answer states no exact size either;
  // - the origin's error otherwise (kIoError, kTimeout, kPermissionDenied):
  //   not cached, so the next call asks again. Never a guessed size.
  Result<FileAttr> resolve(std::string_view path, const FileAttr& listed);

  // Queues background resolution of every entry of `listing` (the listing
  // of `dir`) that needs_head(), unless the same listing was queued within
  // ttl. Returns at once. A full queue drops the directory (counted); its
  // entries are then resolved on demand by resolve().
  void prefetch(std::string_view dir, std::shared_ptr<const Listing> listing);

  // Records that the origin's stat of `path` says `exact` although its
  // listing says `listed` (a stale or wrong exact size): resolve() answers
  // `exact` for as long as the listing says `listed`. Kept in memory only
  // and bounded (past 4096 files the record starts over; the next open's
  // stat records the file again); when they agree, the record is dropped.
  void correct(std::string_view path, const FileAttr& listed, const FileAttr& exact);

  // Stops the workers after the HEAD each one is running; queued work is
  // dropped. Idempotent.
  void shutdown();

  struct Stats {
    uint64_t heads = 0;         // origin stats issued by resolve() misses
    uint64_t prefetched = 0;    // entries resolved in the background
    uint64_t dropped_dirs = 0;  // directories the full queue refused
  };
  Stats stats() const;

 private:
  struct DirJob;
  void work(std::stop_token stop);
  void start_workers();  // requires mu_

  const std::shared_ptr<Cache> cache_;
  const std::shared_ptr<Origin> origin_;
  const AttrResolverOptions options_;

  // Lock order: mu_, then corrections_mu_ (never held together today).
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::shared_ptr<DirJob>> queue_;                 // guarded by mu_
  std::unordered_map<std::string, std::pair<std::string, Clock::time_point>> queued_;  // guarded by mu_: dir -> listing hash, when
  std::vector<std::jthread> workers_;                         // guarded by mu_
  bool stopped_ = false;                                      // guarded by mu_

  std::mutex corrections_mu_;
  std::unordered_map<std::string, std::pair<std::string, FileAttr>> corrections_;  // guarded by corrections_mu_: path -> listed key, exact
  std::atomic<size_t> n_corrections_{0};  // lets resolve() skip the lock when there are none

  std::shared_ptr<std::atomic<uint64_t>> heads_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::atomic<uint64_t> prefetched_{0}, dropped_dirs_{0};
};

}  // namespace daramjwee::fs
