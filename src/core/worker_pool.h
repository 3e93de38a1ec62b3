// WorkerPool: bounded background threads with a bounded queue, for
// write-behind fills, promotions and refreshes.
//
// submit() never blocks: a full queue drops the job and counts it (for work
// that may be lost, such as a refresh). submit_wait() is backpressure for
// work that must not be lost (write-behind fills): it waits for room until a
// deadline, and a pool thread that submits to its own pool runs the job
// itself instead of waiting for a slot only it could free. A job that throws is logged and
// counted; the thread survives. Jobs own their resources: a dropped or
// discarded job is destroyed without running, so RAII guards inside it
// (e.g. a refresh's "queued" mark) are released either way.
// shutdown() stops intake, lets the queue drain until a deadline, discards
// what is left (counted as dropped), and joins the threads; running jobs are
// asked to stop through their stop_token and are waited for.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "core/cache_stats.h"
#include "core/status.h"

namespace daramjwee {

class WorkerPool {
 public:
  using Job = std::function<void(std::stop_token)>;

  // Requires: threads >= 1, queue_capacity >= 1.
  WorkerPool(int threads, size_t queue_capacity);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();  // shutdown() with a zero deadline if not done yet

  // Queues `job`. False (job destroyed, counted as dropped) when the queue is
  // full or the pool is shutting down.
  bool submit(Job job);

  // Queues `job`, waiting while the queue is full until `deadline`. Called
  // from one of this pool's threads, runs `job` at once on that thread. False
  // (job destroyed, counted as dropped) when the deadline passed with the
  // queue still full, or the pool is shutting down.
  bool submit_wait(Job job, std::chrono::steady_clock::time_point deadline);

  // Idempotent. kTimeout when jobs were still queued at the deadline (they
  // were discarded); OK otherwise.
  Status shutdown(std::chrono::steady_clock::time_point deadline);

  WorkerStats stats() const;

 private:
  void run(std::stop_token st);

  const size_t capacity_;
  mutable std::mutex mu_;            // guards queue_, accepting_, running_
  std::condition_variable work_cv_;  // a job arrived or shutdown began
  std::condition_variable idle_cv_;  // queue drained and nothing running
  std::condition_variable room_cv_;  // a job left the queue or shutdown began
  std::deque<Job> queue_;
  bool accepting_ = true;
  int running_ = 0;
  uint64_t queued_ = 0, dropped_ = 0, failed_ = 0, completed_ = 0;
  std::vector<std::jthread> threads_;  // last: started after the rest exists
};

}  // namespace daramjwee
