#include "core/worker_pool.h"

#include <exception>

#include "util/log.h"

namespace daramjwee {
namespace {
// The pool whose job this thread runs, and that job's stop token.
thread_local const WorkerPool* current_pool = nullptr;
thread_local std::stop_token current_stop;
}  // namespace

WorkerPool::WorkerPool(int threads, size_t queue_capacity) : capacity_(queue_capacity) {
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i)
    threads_.emplace_back([this](std::stop_token st) { run(st); });
}

WorkerPool::~WorkerPool() { ignore_error(shutdown(std::chrono::steady_clock::now())); }

bool WorkerPool::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (!accepting_ || queue_.size() >= capacity_) {
      ++dropped_;
      // `job` is destroyed when we return, after the lock is released, so its
      // guards may take other locks.
    } else {
      queue_.push_back(std::move(job));
      ++queued_;
      work_cv_.notify_one();
      return true;
    }
  }
  return false;
}

bool WorkerPool::submit_wait(Job job, std::chrono::steady_clock::time_point deadline) {
  if (current_pool == this) {
    {
      std::lock_guard lock(mu_);
      if (!accepting_) {
        ++dropped_;
        return false;
      }
      ++queued_;
    }
    // A job of ours waiting for a slot that only jobs of ours free could
    // wait forever when every thread does it: run it here instead.
    bool ok = true;
    try {
      job(current_stop);
    } catch (...) {
      ok = false;
    }
    std::lock_guard lock(mu_);
    ok ? ++completed_ : ++failed_;
    return true;
  }
  {
    std::unique_lock lock(mu_);
    room_cv_.wait_until(lock, deadline, [&] { return !accepting_ || queue_.size() < capacity_; });
    if (accepting_ && queue_.size() < capacity_) {
      queue_.push_back(std::move(job));
      ++queued_;
      work_cv_.notify_one();
      return true;
    }
    ++dropped_;
  }
  return false;  // `job` is destroyed after the lock is released
}

void WorkerPool::run(std::stop_token st) {
  static util::RateLimit limit;
  current_pool = this;
  current_stop = st;
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || !accepting_; });
      if (queue_.empty()) return;  // shutting down and drained
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    room_cv_.notify_one();
    bool ok = true;
    try {
      job(st);
    } catch (const std::exception& e) {
      ok = false;
      uint64_t suppressed = 0;
      if (limit.allow(&suppressed))
        util::logger("core")->error("background job threw what=\"{}\" suppressed={}", e.what(),
                                    suppressed);
    } catch (...) {
      ok = false;
      uint64_t suppressed = 0;
      if (limit.allow(&suppressed))
        util::logger("core")->error("background job threw a non-exception suppressed={}",
                                    suppressed);
    }
    job = nullptr;  // release the job's resources before reporting idle
    std::lock_guard lock(mu_);
    --running_;
    ok ? ++completed_ : ++failed_;
    if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

Status WorkerPool::shutdown(std::chrono::steady_clock::time_point deadline) {
  std::deque<Job> discarded;
  Status result;
  {
    std::unique_lock lock(mu_);
    if (threads_.empty()) return Status::ok();  // already shut down
    accepting_ = false;
    work_cv_.notify_all();
    room_cv_.notify_all();
    idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && running_ == 0; });
    if (!queue_.empty()) {
      result = Status::timeout("worker queue not drained within the shutdown timeout; " +
                               std::to_string(queue_.size()) + " jobs discarded");
      dropped_ += queue_.size();
      discarded.swap(queue_);
    }
  }
  discarded.clear();  // run guards outside the lock
  for (auto& t : threads_) t.request_stop();
  for (auto& t : threads_) t.join();  // running jobs are bounded by their own timeouts
  std::lock_guard lock(mu_);
  threads_.clear();
  return result;
}

WorkerStats WorkerPool::stats() const {
  std::lock_guard lock(mu_);
  WorkerStats s;
  s.queued = queued_;
  s.dropped = dropped_;
  s.failed = failed_;
  s.completed = completed_;
  s.depth = queue_.size();
  s.running = static_cast<uint64_t>(running_);
  return s;
}

}  // namespace daramjwee
