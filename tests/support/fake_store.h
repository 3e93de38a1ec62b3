// FakeStore: a map-backed Store whose faults tests switch on at will (a real
// tier cannot fail on demand). Committed values are immutable SharedBytes,
// so readers opened before a remove keep their bytes, as the contract wants.
// Thread-safety: all methods are thread-safe; fault switches are atomics.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/store.h"

namespace daramjwee::testing {

// A body in a memfd: read() by pread, file_region() for splicing.
class FileBackedReader final : public Reader {
 public:
  explicit FileBackedReader(const Bytes& data) : len_(data.size()) {
    int fd = static_cast<int>(::syscall(SYS_memfd_create, "fake-store", 0));
    if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
      throw std::runtime_error("memfd for a fake file-backed body");
    fd_ = std::shared_ptr<int>(new int(fd), [](int* p) { ::close(*p); delete p; });
  }
  Result<size_t> read(std::span<std::byte> out) override {
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), len_ - pos_));
    if (n == 0) return size_t{0};
    if (::pread(*fd_, out.data(), n, static_cast<off_t>(pos_)) != static_cast<ssize_t>(n))
      return Status::io_error("pread of a fake file-backed body");
    pos_ += n;
    return n;
  }
  std::optional<FileRegion> file_region() override { return FileRegion{*fd_, pos_, len_ - pos_, fd_}; }
  std::optional<uint64_t> size_hint() const override { return len_ - pos_; }

 private:
  std::shared_ptr<int> fd_;
  uint64_t len_;
  uint64_t pos_ = 0;
};
inline std::unique_ptr<Reader> make_file_backed_reader(const Bytes& data) {
  return std::make_unique<FileBackedReader>(data);
}

class FakeStore final : public Store {
 public:
  explicit FakeStore(std::string kind = "fake") : kind_(std::move(kind)) {}

  std::atomic<bool> fail_get{false}, fail_begin{false}, fail_write{false}, fail_commit{false},
      fail_remove{false}, fail_stat{false};
  std::atomic<uint64_t> max_object{UINT64_MAX};  // larger objects: kResourceExhausted
  std::atomic<int> commit_delay_ms{0};
  std::atomic<uint64_t> gets{0}, commits{0}, removes{0}, updates{0};
  // Bodies are served from a memfd (file_region() works, like the disk tier).
  std::atomic<bool> file_backed{false};
  // Called after a get() that missed, outside the lock (set before use).
  std::function<void(std::string_view key)> after_miss;

  std::string_view kind() const override { return kind_; }

  Result<std::optional<StoreEntry>> get(std::string_view key) override {
    gets++;
    if (fail_get) return Status::io_error("injected get failure");
    std::unique_lock lock(mu_);
    auto it = map_.find(std::string(key));
    if (it == map_.end()) {
      lock.unlock();
      if (after_miss) after_miss(key);
      return std::optional<StoreEntry>();
    }
    if (file_backed) {
      return std::optional<StoreEntry>(StoreEntry{it->second.meta, make_file_backed_reader(*it->second.data)});
    }
    return std::optional<StoreEntry>(StoreEntry{it->second.meta, make_bytes_reader(it->second.data)});
  }

  Result<std::unique_ptr<WriteSink>> begin_set(std::string_view key, const Metadata& m) override {
    if (fail_begin) return Status::io_error("injected begin_set failure");
    if (m.size > max_object) return Status::exhausted("object too large for fake tier");
    return std::unique_ptr<WriteSink>(new Sink(this, std::string(key), m));
  }

  Status remove(std::string_view key) override {
    removes++;
    if (fail_remove) return Status::io_error("injected remove failure");
    std::lock_guard lock(mu_);
    map_.erase(std::string(key));
    return Status::ok();
  }

  Result<std::optional<Metadata>> stat(std::string_view key) override {
    if (fail_stat) return Status::io_error("injected stat failure");
    std::lock_guard lock(mu_);
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return std::optional<Metadata>();
    return std::optional<Metadata>(it->second.meta);
  }

  Result<bool> update_metadata(std::string_view key, const Metadata& m) override {
    updates++;
    std::lock_guard lock(mu_);
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return false;
    uint64_t size = it->second.meta.size;
    it->second.meta = m;
    it->second.meta.size = size;
    return true;
  }

  StoreStats stats() const override {
    std::lock_guard lock(mu_);
    StoreStats s;
    s.entries = map_.size();
    return s;
  }

  // Test helpers.
  bool contains(const std::string& key) const {
    std::lock_guard lock(mu_);
    return map_.count(key) > 0;
  }
  std::string value(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    return it == map_.end() ? std::string() : std::string(it->second.data->view());
  }
  Metadata meta(const std::string& key) const {
    std::lock_guard lock(mu_);
    return map_.at(key).meta;
  }
  void put(const std::string& key, std::string_view value, Metadata m) {
    m.size = value.size();
    std::lock_guard lock(mu_);
    map_[key] = Entry{m, std::make_shared<const Bytes>(Bytes::copy_of(value))};
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  struct Entry {
    Metadata meta;
    SharedBytes data;
  };
  class Sink final : public WriteSink {
   public:
    Sink(FakeStore* s, std::string key, Metadata m) : s_(s), key_(std::move(key)), m_(std::move(m)) {}
    ~Sink() override { abort(); }
    Status write(std::span<const std::byte> d) override {
      if (done_) return Status::invalid_argument("write after terminal call");
      if (s_->fail_write) return Status::io_error("injected write failure");
      if (buf_.size() + d.size() > s_->max_object) return Status::exhausted("too large");
      buf_.append(d);
      return Status::ok();
    }
    Status commit() override {
      if (done_) return Status::invalid_argument("commit after terminal call");
      done_ = true;
      if (int ms = s_->commit_delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      if (s_->fail_commit) return Status::io_error("injected commit failure");
      m_.size = buf_.size();
      std::lock_guard lock(s_->mu_);
      s_->map_[key_] = Entry{m_, std::make_shared<const Bytes>(std::move(buf_))};
      s_->commits++;
      return Status::ok();
    }
    void abort() noexcept override { done_ = true; }

   private:
    FakeStore* s_;
    std::string key_;
    Metadata m_;
    Bytes buf_;
    bool done_ = false;
  };

  const std::string kind_;
  mutable std::mutex mu_;  // guards map_
  std::map<std::string, Entry> map_;
};

}  // namespace daramjwee::testing
