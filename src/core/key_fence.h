// KeyFence: per-key generations that let a removal (or a set) beat a
// concurrent fill or promotion of an older value.
//
// Every writer that publishes data it read earlier (origin fill, promotion,
// write-behind) snapshots the key's generation BEFORE reading, then publishes
// through publish_if(), which holds the key's stripe in shared mode and
// publishes only if the generation is unchanged. remove() and set() run their
// tier operations through exclusive(), which bumps the generation under the
// stripe held exclusively. So either the fill published before the removal
// started (and the removal deletes it), or it sees the new generation and
// gives up. Nothing older can appear after a removal returns.
//
// Keys map onto striped locks and counters (no per-key memory): unrelated
// keys sharing a counter only cause a harmless, counted extra rejection.
// Lock order: a stripe lock is the innermost engine lock; store locks may be
// taken under it (the publish itself), nothing else.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>

namespace daramjwee {

class KeyFence {
 public:
  uint64_t generation(std::string_view key) const {
    return counters_[counter_of(key)].load(std::memory_order_acquire);
  }

  // Runs f() only if key's generation still equals `expected`. Returns false
  // (f not run) when it changed.
  template <typename F>
  bool publish_if(std::string_view key, uint64_t expected, F&& f) {
    size_t c = counter_of(key);
    std::shared_lock lock(locks_[c % kLockStripes].mu);
    if (counters_[c].load(std::memory_order_acquire) != expected) return false;
    f();
    return true;
  }

  // Bumps key's generation and runs f() with the stripe held exclusively.
  // If `expected` is given and the generation moved meanwhile, f is not run
  // and false is returned.
  template <typename F>
  bool exclusive(std::string_view key, const uint64_t* expected, F&& f) {
    size_t c = counter_of(key);
    std::unique_lock lock(locks_[c % kLockStripes].mu);
    if (expected && counters_[c].load(std::memory_order_acquire) != *expected) return false;
    counters_[c].fetch_add(1, std::memory_order_acq_rel);
    f();
    return true;
  }

 private:
  static constexpr size_t kCounters = 1 << 16;
  static constexpr size_t kLockStripes = 1 << 10;
  static size_t counter_of(std::string_view key) {
    return std::hash<std::string_view>{}(key) & (kCounters - 1);
  }
  struct alignas(64) Stripe {
    std::shared_mutex mu;
  };
  std::unique_ptr<std::atomic<uint64_t>[]> counters_{new std::atomic<uint64_t>[kCounters]()};
  std::unique_ptr<Stripe[]> locks_{new Stripe[kLockStripes]};
};

}  // namespace daramjwee
