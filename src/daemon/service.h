// Service: what the daemon does for its service manager while it runs.
//
// Readiness tells systemd (sd_notify; a no-op without NOTIFY_SOCKET) READY=1
// only once the mount answers: a thread stats the mount point, which the
// kernel passes to our FUSE loop, so the stat returns only when the loop
// serves; then it sends READY=1 with a STATUS= line and refreshes STATUS=
// every `interval`. stopping() sends STOPPING=1.
// HangupWatcher takes SIGHUP on a thread of its own (sigtimedwait), so
// SIGHUP must be blocked in every thread: block_hangup() before the first
// thread starts. libfuse's own handler would otherwise end the loop on it.
// Thread-safety: each object is started and stopped by one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace daramjwee::daemon {

class Readiness {
 public:
  Readiness() = default;
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;
  ~Readiness() { stop(); }

  // `status` is called on the thread for each STATUS= line.
  void start(std::string mountpoint, std::function<std::string()> status,
             std::chrono::milliseconds interval = std::chrono::seconds(10));
  void stopping();  // STOPPING=1
  void stop();      // joins; call after the unmount (a pending stat then returns)

 private:
  void run(std::string mountpoint, std::function<std::string()> status, std::chrono::milliseconds interval);
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// Blocks SIGHUP in the calling thread (and every thread it starts later).
void block_hangup();

class HangupWatcher {
 public:
  HangupWatcher() = default;
  HangupWatcher(const HangupWatcher&) = delete;
  HangupWatcher& operator=(const HangupWatcher&) = delete;
  ~HangupWatcher() { stop(); }
  void start(std::function<void()> on_hangup);
  void stop();

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Where stderr goes when it is a regular file (a log file to reopen after
// rotation), else "".
std::string stderr_log_path();
// Reopens `path` for appending onto stderr. False on failure (stderr kept).
bool reopen_stderr(const std::string& path);

}  // namespace daramjwee::daemon
