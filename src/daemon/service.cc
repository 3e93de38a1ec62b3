#include "daemon/service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

#include "util/log.h"

namespace daramjwee::daemon {

void Readiness::start(std::string mountpoint, std::function<std::string()> status,
                      std::chrono::milliseconds interval) {
  thread_ = std::thread([this, mp = std::move(mountpoint), st = std::move(status), interval]() mutable {
    run(std::move(mp), std::move(st), interval);
  });
}

void Readiness::run(std::string mountpoint, std::function<std::string()> status, std::chrono::milliseconds interval) {
  auto log = util::logger("fs");
  const std::string parent = std::filesystem::path(mountpoint).parent_path().string();
  struct stat parent_st {};
  stat(parent.empty() ? "/" : parent.c_str(), &parent_st);
  // Until the mount answers. Each stat blocks until our loop serves it; a
  // failed one (the loop is not up yet on some kernels) is retried briefly.
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    struct stat st {};
    if (stat(mountpoint.c_str(), &st) == 0 && st.st_dev != parent_st.st_dev) break;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(20), [&] { return stop_; });
  }
  std::string line = status();
  sd_notifyf(0, "READY=1\nSTATUS=%s", line.c_str());
  log->info("ready mountpoint={} {}", mountpoint, line);
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval, [&] { return stop_; })) {
    lock.unlock();
    line = status();
    sd_notifyf(0, "STATUS=%s", line.c_str());
    lock.lock();
  }
}

void Readiness::stopping() { sd_notify(0, "STOPPING=1\nSTATUS=stopping: unmounting and flushing the cache"); }

void Readiness::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void block_hangup() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void HangupWatcher::start(std::function<void()> on_hangup) {
  thread_ = std::thread([this, fn = std::move(on_hangup)] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    const timespec tick{0, 200'000'000};
    while (!stop_.load()) {
      if (sigtimedwait(&set, nullptr, &tick) == SIGHUP) {
        try {
          fn();
        } catch (const std::exception& e) {
          util::logger("fs")->error("SIGHUP handling failed error={}", e.what());
        }
      }
    }
  });
}

void HangupWatcher::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string stderr_log_path() {
  struct stat st {};
  if (fstat(2, &st) != 0 || !S_ISREG(st.st_mode)) return "";
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/fd/2", ec);
  if (ec || p.empty() || p.string().front() != '/') return "";
  return p.string();
}

bool reopen_stderr(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  bool ok = dup2(fd, 2) == 2;
  close(fd);
  return ok;
}

}  // namespace daramjwee::daemon
