// engine_bench: the cost of the engine itself, over in-memory tiers so that
// no I/O hides it. Not a test: prints figures, never fails on them.
//
//   hot get       Cache::get of a tier-0 (memory) hit, body consumed through
//                 view() (zero-copy) or read() into a buffer (one copy);
//                 1 and 2 threads; 4 KiB and 1 MiB values.
//   promotion     a tier-1 hit streamed through the tee into tier 0 (the key
//                 is dropped from tier 0 before each get).
//   coalesced     16 threads ask for the same missing key at once; one
//                 fetch serves all (a new key each round).
#include <barrier>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "core/cache.h"
#include "tiers/memory/memory_store.h"
#include "util/log.h"

using namespace daramjwee;
using Clock2 = std::chrono::steady_clock;

namespace {

class ConstOrigin final : public Fetcher {
 public:
  explicit ConstOrigin(size_t size) : bytes_(std::make_shared<const Bytes>(make(size))) {}
  std::atomic<uint64_t> fetches{0};
  Result<FetchOutcome> fetch(std::string_view, const Metadata*) override {
    fetches++;
    Metadata m;
    m.etag = "v1";
    m.size = bytes_->size();
    return FetchOutcome(FetchedBody{m, make_bytes_reader(bytes_)});
  }

 private:
  static Bytes make(size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b.data()[i] = static_cast<std::byte>(i * 7);
    b.resize(n);
    return b;
  }
  SharedBytes bytes_;
};

struct Rig {
  std::shared_ptr<tiers::MemoryStore> t0, t1;
  std::unique_ptr<Cache> cache;
  explicit Rig(uint64_t cap = 1ull << 30) {
    t0 = *tiers::MemoryStore::open({.capacity_bytes = cap});
    t1 = *tiers::MemoryStore::open({.capacity_bytes = cap});
    CacheOptions o;
    o.tiers = {TierConfig{t0, "ram", {}, {}}, TierConfig{t1, "ram2", {}, {}}};
    o.ttl = std::chrono::hours(1);
    cache = std::move(*Cache::open(o));
  }
};

double seconds_since(Clock2::time_point t0) {
  return std::chrono::duration<double>(Clock2::now() - t0).count();
}

void hot_get(size_t size, int threads, bool copy) {
  Rig rig;
  auto origin = std::make_shared<ConstOrigin>(size);
  constexpr int kKeys = 64;
  for (int k = 0; k < kKeys; ++k) {
    auto r = rig.cache->get("k" + std::to_string(k), origin);
    ignore_error(read_all(*r->body).status());
  }
  const uint64_t iters = size <= 4096 ? 2'000'000 / threads : 20'000 / threads;
  std::vector<std::string> keys;
  for (int k = 0; k < kKeys; ++k) keys.push_back("k" + std::to_string(k));
  std::atomic<uint64_t> sink{0};
  auto t0 = Clock2::now();
  {
    std::vector<std::jthread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        Bytes buf(size);
        uint64_t local = 0;
        for (uint64_t i = 0; i < iters; ++i) {
          auto r = rig.cache->get(keys[(i + t * 13) % kKeys], origin);
          if (copy) {
            auto n = r->body->read(std::span(buf.data(), size));
            local += *n;
          } else {
            auto v = r->body->view();
            local += v->bytes.size() + static_cast<uint64_t>(v->bytes[0]);
          }
        }
        sink += local;
      });
  }
  double s = seconds_since(t0);
  double ops = static_cast<double>(iters) * threads;
  std::printf("| hot get %-7s | %7zu B | %d thr | %9.0f ns/get | %8.2f GB/s | %10.0f gets/s |\n",
              copy ? "read()" : "view()", size, threads, s * 1e9 / (static_cast<double>(iters)),
              ops * static_cast<double>(size) / s / 1e9, ops / s);
}

void promotion(size_t size) {
  Rig rig;
  auto origin = std::make_shared<ConstOrigin>(size);
  auto r = rig.cache->get("p", origin);
  ignore_error(read_all(*r->body).status());
  // Wait for the write-behind into tier 1.
  for (int i = 0; i < 1000 && !rig.t1->stat("p")->has_value(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int iters = size <= 4096 ? 200'000 : 5'000;
  Bytes buf(256 << 10);
  auto t0 = Clock2::now();
  for (int i = 0; i < iters; ++i) {
    ignore_error(rig.t0->remove("p"));
    auto g = rig.cache->get("p", origin);
    for (;;) {
      auto n = g->body->read(std::span(buf.data(), buf.capacity()));
      if (!n || *n == 0) break;
    }
  }
  double s = seconds_since(t0);
  auto st = rig.cache->stats();
  std::printf("| tier-1 hit + promotion | %7zu B | 1 thr | %9.0f ns/get | %8.2f GB/s | promotions %lu |\n",
              size, s * 1e9 / iters, static_cast<double>(iters) * size / s / 1e9,
              static_cast<unsigned long>(st.tiers[0].promotions));
}

void coalesced(size_t size, int waiters) {
  Rig rig(4ull << 30);
  auto origin = std::make_shared<ConstOrigin>(size);
  const int rounds = 2000;
  std::barrier sync(waiters);
  auto t0 = Clock2::now();
  {
    std::vector<std::jthread> ts;
    for (int t = 0; t < waiters; ++t)
      ts.emplace_back([&] {
        Bytes buf(size);
        for (int r = 0; r < rounds; ++r) {
          sync.arrive_and_wait();
          auto g = rig.cache->get("c" + std::to_string(r), origin);
          for (;;) {
            auto n = g->body->read(std::span(buf.data(), size));
            if (!n || *n == 0) break;
          }
        }
      });
  }
  double s = seconds_since(t0);
  std::printf("| coalesced miss, %d waiters | %7zu B | %d thr | %9.0f ns/round | %lu fetches in %d rounds |\n",
              waiters, size, waiters, s * 1e9 / rounds,
              static_cast<unsigned long>(origin->fetches.load()), rounds);
}

}  // namespace

int main() {
  util::set_log_level(spdlog::level::err);
  std::printf("engine_bench (%u hardware threads)\n\n", std::thread::hardware_concurrency());
  std::printf("| case | size | threads | latency | throughput | |\n|---|---|---|---|---|---|\n");
  for (size_t size : {size_t{4096}, size_t{1} << 20})
    for (int threads : {1, 2})
      for (bool copy : {false, true}) hot_get(size, threads, copy);
  promotion(4096);
  promotion(1 << 20);
  coalesced(4096, 16);
  coalesced(1 << 20, 16);
  return 0;
}
