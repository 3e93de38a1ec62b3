// AttrResolver: see attr_resolver.h for what is resolved and where it lives.
//
// The background resolution is a queue of directories, not of entries: an
// opendir of a 10,000-entry directory queues one job holding the listing it
// already has (shared, immutable), and the workers take its entries one by
// one. Nothing is allocated per entry until a worker is about to send a HEAD
// for it, and the queue stays small however large the directories are.
//
// Every resolution, background or not, goes through Cache::get on the
// entry's key: the engine makes one origin fetch per key however many ask, so
// a reader's lookup that races the worker for the same file joins the
// worker's HEAD instead of sending a second one. The engine also keeps the
// answer (RAM, then disk write-behind) and refreshes it when stale; an error
// is never cached, so a failed HEAD is asked again by the next stat.
#include "fs/attr_resolver.h"

#include <algorithm>

#include <fmt/format.h>

#include "fs/namespace.h"
#include "util/log.h"

namespace daramjwee::fs {
namespace {

constexpr size_t kMaxCorrections = 4096;
constexpr size_t kMaxRemembered = 4096;  // directories remembered as queued
constexpr int kMaxConcurrency = 1024;

}  // namespace

struct AttrResolver::DirJob {
  std::string dir;
  std::shared_ptr<const Listing> listing;
  size_t next = 0;  // guarded by AttrResolver::mu_
};

std::string resolved_key(std::string_view path, const FileAttr& listed) {
  std::string k = attr_key(path);
  k.push_back('\0');
  k += fmt::format("{}{}-{}-{}", listed.size, listed.size_exact ? "" : "~", listed.mtime_ns, listed.etag);
  return k;
}

AttrResolver::AttrResolver(std::shared_ptr<Cache> cache, std::shared_ptr<Origin> origin,
                           AttrResolverOptions options)
    : cache_(std::move(cache)), origin_(std::move(origin)), options_(options) {}

AttrResolver::~AttrResolver() { shutdown(); }

bool AttrResolver::needs_head(const FileAttr& listed) const {
  if (listed.type != FileType::kFile) return false;
  return !is_complete(listed) || (options_.exact_mtime && listed.etag.empty());
}

bool AttrResolver::any_needs_head(const Listing& listing) const {
  return options_.exact_mtime ? listing.untagged_files > 0 : listing.incomplete_files > 0;
}

bool AttrResolver::may_change(const Listing& listing) const {
  return any_needs_head(listing) || n_corrections_.load(std::memory_order_relaxed) > 0;
}

Result<FileAttr> AttrResolver::resolve(std::string_view path, const FileAttr& listed) {
  if (!needs_head(listed)) {
    if (n_corrections_.load(std::memory_order_relaxed) == 0) return listed;
    std::lock_guard lock(corrections_mu_);
    auto it = corrections_.find(std::string(path));
    if (it != corrections_.end() && it->second.first == resolved_key(path, listed)) return it->second.second;
    return listed;
  }
  auto got = cache_->get(resolved_key(path, listed), make_attr_fetcher(origin_, std::string(path), heads_));
  if (!got) return got.error();
  auto body = read_all(*got->body, 1 << 20);
  if (!body) return body.error();
  auto attr = decode_attr(body->view());
  if (!attr) return attr.error();
  // A HEAD without Content-Length: still no size we may show.
  if (!attr->size_exact) return Status::io_error(fmt::format("{}: the origin states no exact size", path));
  attr->type = listed.type;
  if (attr->mode == 0) attr->mode = listed.mode;
  return attr;
}

void AttrResolver::prefetch(std::string_view dir, std::shared_ptr<const Listing> listing) {
  if (!listing || !any_needs_head(*listing)) return;
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  if (stopped_) return;
  auto seen = queued_.find(std::string(dir));
  if (seen != queued_.end() && seen->second.first == listing->hash && now - seen->second.second < options_.ttl) {
    return;  // queued (or done) within ttl: the engine holds the answers
  }
  if (queue_.size() >= options_.max_queued_dirs) {
    dropped_dirs_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (queued_.size() >= kMaxRemembered) queued_.clear();  // only saves repeated queueing
  queued_[std::string(dir)] = {listing->hash, now};
  auto job = std::make_shared<DirJob>();
  job->dir = std::string(dir);
  job->listing = std::move(listing);
  queue_.push_back(std::move(job));
  start_workers();
  cv_.notify_all();  // every worker may take entries of this one directory
}

void AttrResolver::start_workers() {
  if (!workers_.empty()) return;
  const int n = std::clamp(options_.concurrency, 1, kMaxConcurrency);
  workers_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) workers_.emplace_back([this](std::stop_token st) { work(st); });
}

void AttrResolver::work(std::stop_token stop) {
  for (;;) {
    std::shared_ptr<const Listing> hold;
    const DirEntry* entry = nullptr;
    std::string path;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, stop, [&] { return !queue_.empty() || stopped_; });
      if (stop.stop_requested() || stopped_) return;
      DirJob& job = *queue_.front();
      const auto& entries = job.listing->entries;
      while (job.next < entries.size() && !needs_head(entries[job.next].attr)) job.next++;
      if (job.next >= entries.size()) {
        queue_.pop_front();
        continue;
      }
      hold = job.listing;
      entry = &entries[job.next++];
      path = join_path(job.dir, entry->name);
    }
    // The result lands in the engine; a failure is asked again by whoever
    // stats the file (resolve() on demand), so it is only logged there.
    ignore_error(resolve(path, entry->attr).status());
    prefetched_.fetch_add(1, std::memory_order_relaxed);
  }
}

void AttrResolver::correct(std::string_view path, const FileAttr& listed, const FileAttr& exact) {
  if (needs_head(listed)) return;  // resolve() asks the origin for these anyway
  const bool agree = exact.size_exact && exact.size == listed.size;
  std::lock_guard lock(corrections_mu_);
  if (agree) {
    if (corrections_.erase(std::string(path))) n_corrections_.store(corrections_.size(), std::memory_order_relaxed);
    return;
  }
  if (!exact.size_exact) return;
  if (corrections_.size() >= kMaxCorrections) corrections_.clear();
  FileAttr a = exact;
  a.type = listed.type;
  corrections_[std::string(path)] = {resolved_key(path, listed), std::move(a)};
  n_corrections_.store(corrections_.size(), std::memory_order_relaxed);
}

void AttrResolver::shutdown() {
  std::vector<std::jthread> workers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    queue_.clear();
    workers.swap(workers_);
  }
  cv_.notify_all();
  for (auto& w : workers) w.request_stop();
  workers.clear();  // joins
}

AttrResolver::Stats AttrResolver::stats() const {
  Stats s;
  s.heads = heads_->load(std::memory_order_relaxed);
  s.prefetched = prefetched_.load(std::memory_order_relaxed);
  s.dropped_dirs = dropped_dirs_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace daramjwee::fs
