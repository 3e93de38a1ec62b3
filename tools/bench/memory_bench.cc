// memory_bench: MemoryStore throughput. get() + view() (zero copy: the
// bytes are not copied, so GB/s is the logical rate the RAM tier can hand
// data to FUSE) and begin_set + write + commit (one copy of the payload into
// the staging buffer), for 4 KiB and 1 MiB values, on 1 and 2 threads.
// A benchmark, not a test: it prints a Markdown table and never fails.
//
//   memory_bench [--seconds S]     (per cell; default 0.5)
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/stream.h"
#include "tiers/memory/memory_store.h"

using daramjwee::as_bytes;
using daramjwee::tiers::MemoryStore;
using Clock = std::chrono::steady_clock;

namespace {

struct Cell {
  double cpu_ns_per_op;  // thread CPU time: robust when the machine is shared
  double ns_per_op;
  double gb_per_s;
  uint64_t ops;
};

std::shared_ptr<MemoryStore> open_store() {
  daramjwee::tiers::MemoryStoreOptions o;
  o.capacity_bytes = 512ull << 20;  // 16 shards of 32 MiB
  auto s = MemoryStore::open(o);
  if (!s) {
    std::fprintf(stderr, "open: %s\n", s.error().to_string().c_str());
    std::exit(1);
  }
  return *s;
}

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

std::string key_of(size_t i) { return "bench/object-" + std::to_string(i) + "#chunk=0"; }

// Runs body(thread, i) on `threads` threads for about `seconds`; each
// thread checks the clock every 64 operations.
template <typename Body>
Cell run(int threads, double seconds, size_t value_size, Body body) {
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> cpu_ns{0};
  std::atomic<bool> failed{false};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      uint64_t n = 0;
      double cpu0 = thread_cpu_ns();
      while (Clock::now() < deadline) {
        for (int j = 0; j < 64; ++j, ++n) {
          if (!body(t, n)) failed = true;
        }
      }
      total += n;
      cpu_ns += static_cast<uint64_t>(thread_cpu_ns() - cpu0);
    });
  }
  for (auto& th : ts) th.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) std::fprintf(stderr, "warning: some operations failed\n");
  uint64_t ops = total.load();
  // ns/op is per thread (latency of one op); GB/s is aggregate.
  return Cell{static_cast<double>(cpu_ns.load()) / static_cast<double>(ops), secs * 1e9 * threads / static_cast<double>(ops),
              static_cast<double>(ops) * static_cast<double>(value_size) / secs / 1e9, ops};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  std::printf("| operation | value | threads | CPU ns/op | wall ns/op (per thread) | GB/s (total, wall) | ops |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (size_t value_size : {size_t{4} << 10, size_t{1} << 20}) {
    const char* vname = value_size == 4096 ? "4 KiB" : "1 MiB";
    // Working sets well inside the capacity for get (64 MiB), and twice the
    // capacity for set so that evictions are part of the cost.
    size_t get_keys = (64u << 20) / value_size;
    size_t set_keys = (1024u << 20) / value_size;
    std::string value(value_size, 'x');
    for (int threads : {1, 2}) {
      auto store = open_store();
      daramjwee::Metadata md;
      md.etag = "\"bench\"";
      md.size = value_size;
      std::vector<std::string> keys;
      for (size_t i = 0; i < set_keys; ++i) keys.push_back(key_of(i));
      for (size_t i = 0; i < get_keys; ++i) {
        auto sink = store->begin_set(keys[i], md);
        if (!sink || !(*sink)->write(as_bytes(value)) || !(*sink)->commit()) return 1;
      }
      std::atomic<uint64_t> sink_hole{0};
      // Two read working sets: all of get_keys (64 MiB: mostly CPU-cache
      // misses on the map, entry and payload) and 64 hot keys (the code path
      // itself).
      std::vector<size_t> working_sets = {get_keys};
      if (get_keys > 64) working_sets.push_back(64);
      for (size_t working_set : working_sets) {
        Cell g = run(threads, seconds, value_size, [&](int t, uint64_t n) {
          auto e = store->get(keys[(n * 7919 + static_cast<uint64_t>(t) * 104729) % working_set]);
          if (!e || !e->has_value()) return false;
          auto v = (*e)->body->view();
          if (!v) return false;
          sink_hole.fetch_add(static_cast<uint64_t>(v->bytes[v->bytes.size() - 1]), std::memory_order_relaxed);
          return true;
        });
        std::printf("| get+view (%zu keys) | %s | %d | %.0f | %.0f | %.2f | %llu |\n", working_set, vname, threads,
                    g.cpu_ns_per_op, g.ns_per_op, g.gb_per_s, static_cast<unsigned long long>(g.ops));
      }
      Cell s = run(threads, seconds, value_size, [&](int t, uint64_t n) {
        auto sink = store->begin_set(keys[(n * 2 + static_cast<uint64_t>(t)) % set_keys], md);
        if (!sink) return false;
        return (*sink)->write(as_bytes(value)).is_ok() && (*sink)->commit().is_ok();
      });
      std::printf("| begin_set+write+commit | %s | %d | %.0f | %.0f | %.2f | %llu |\n", vname, threads,
                  s.cpu_ns_per_op, s.ns_per_op, s.gb_per_s, static_cast<unsigned long long>(s.ops));
      if (sink_hole.load() == 1) std::printf(" ");  // keeps the reads observable
    }
  }
  return 0;
}
