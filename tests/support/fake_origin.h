// FakeOrigin: a scripted Fetcher for engine tests — values with ETags,
// not-found keys, injected errors, latency, a gate that holds fetches until
// the test opens it, and a count of every fetch. Conditional fetches answer
// NotModified when the ETag matches.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/fetcher.h"

namespace daramjwee::testing {

// Hides a reader's zero-copy accessors: what an origin's network body is.
class StreamingReader final : public Reader {
 public:
  explicit StreamingReader(std::unique_ptr<Reader> inner) : inner_(std::move(inner)) {}
  Result<size_t> read(std::span<std::byte> out) override { return inner_->read(out); }
  std::optional<uint64_t> size_hint() const override { return inner_->size_hint(); }

 private:
  std::unique_ptr<Reader> inner_;
};

class FakeOrigin final : public Fetcher {
 public:
  void put(const std::string& key, std::string value, std::string etag = "v1") {
    std::lock_guard lock(mu_);
    data_[key] = {std::move(value), std::move(etag)};
    missing_.erase(key);
  }
  void erase(const std::string& key) {
    std::lock_guard lock(mu_);
    data_.erase(key);
    missing_.insert(key);
  }
  std::atomic<bool> fail{false};       // every fetch errors
  std::atomic<bool> throw_{false};     // every fetch throws
  std::atomic<int> delay_ms{0};
  std::atomic<int> fetches{0}, conditional{0};
  // Bodies stream like an HTTP response (no view(), no shared_bytes()), so
  // the engine must copy them through a flight instead of adopting them.
  std::atomic<bool> streaming{false};

  // While closed, fetch() blocks (after counting itself) until open_gate().
  void close_gate() {
    std::lock_guard lock(mu_);
    gate_open_ = false;
  }
  void open_gate() {
    std::lock_guard lock(mu_);
    gate_open_ = true;
    cv_.notify_all();
  }
  // Waits until at least n fetches have started.
  bool wait_fetches(int n, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (fetches.load() < n) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  Result<FetchOutcome> fetch(std::string_view key, const Metadata* cached) override {
    fetches++;
    if (cached) conditional++;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return gate_open_; });
    }
    if (int ms = delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (throw_) throw std::runtime_error("injected exception");
    if (fail) return Status::io_error("injected origin failure", true);
    std::lock_guard lock(mu_);
    auto it = data_.find(std::string(key));
    if (it == data_.end()) return FetchOutcome(NotFoundAtOrigin{});
    if (cached && !cached->etag.empty() && cached->etag == it->second.etag)
      return FetchOutcome(NotModified{Metadata{.etag = it->second.etag}});
    Metadata m;
    m.etag = it->second.etag;
    m.size = it->second.value.size();
    auto bytes = std::make_shared<const Bytes>(Bytes::copy_of(it->second.value));
    if (streaming) return FetchOutcome(FetchedBody{m, std::make_unique<StreamingReader>(make_bytes_reader(bytes))});
    return FetchOutcome(FetchedBody{m, make_bytes_reader(bytes)});
  }

 private:
  struct Value {
    std::string value, etag;
  };
  std::mutex mu_;  // guards data_, missing_, gate_open_
  std::condition_variable cv_;
  std::map<std::string, Value> data_;
  std::set<std::string> missing_;
  bool gate_open_ = true;
};

// Reads a body to the end as a string (test helper).
inline std::string drain(Reader& r) {
  auto all = read_all(r);
  if (!all) throw std::runtime_error("drain failed: " + all.error().to_string());
  return std::string(all->view());
}

}  // namespace daramjwee::testing
