// policy_missratio: miss ratios of LRU, S3-FIFO and SIEVE on seeded Zipf
// traces, with and without a one-pass scan, at several cache sizes; prints
// a Markdown table. A benchmark, not a test: it never fails on numbers.
//
//   policy_missratio [--distinct N] [--requests N] [--seed N]
//
// Defaults: 100000 distinct objects, 1000000 requests, seed 42. Objects are
// all the same size, so a byte capacity equals an object count; sizes are
// 0.1%, 1% and 10% of the distinct objects. "scan" traces spend the last 20%
// of every 10,000 requests on a sequential run of never-repeated keys.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/eviction_policy.h"
#include "core/policies/policy_sim.h"

using daramjwee::EvictionKind;
namespace pol = daramjwee::policies;

int main(int argc, char** argv) {
  pol::TraceSpec base;
  for (int i = 1; i + 1 < argc; i += 2) {
    uint64_t v = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--distinct")) base.distinct = v;
    else if (!std::strcmp(argv[i], "--requests")) base.requests = v;
    else if (!std::strcmp(argv[i], "--seed")) base.seed = v;
    else {
      std::fprintf(stderr, "usage: %s [--distinct N] [--requests N] [--seed N]\n", argv[0]);
      return 2;
    }
  }
  if (base.distinct < 1000) {
    std::fprintf(stderr, "--distinct must be >= 1000\n");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::printf("Miss ratios (lower is better): %llu distinct objects, %llu requests, seed %llu\n\n",
              static_cast<unsigned long long>(base.distinct), static_cast<unsigned long long>(base.requests),
              static_cast<unsigned long long>(base.seed));
  std::printf("| alpha | scan | cache size | LRU | S3-FIFO | SIEVE | best |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (double alpha : {0.8, 1.0, 1.2}) {
    for (double scan : {0.0, 0.2}) {
      pol::TraceSpec spec = base;
      spec.alpha = alpha;
      spec.scan_fraction = scan;
      auto trace = pol::make_zipf_trace(spec);
      for (double frac : {0.001, 0.01, 0.1}) {
        uint64_t size = static_cast<uint64_t>(static_cast<double>(base.distinct) * frac);
        double r[3];
        const EvictionKind kinds[3] = {EvictionKind::kLru, EvictionKind::kS3Fifo, EvictionKind::kSieve};
        const char* names[3] = {"LRU", "S3-FIFO", "SIEVE"};
        int best = 0;
        for (int k = 0; k < 3; ++k) {
          r[k] = pol::simulate_miss_ratio(kinds[k], trace, size);
          if (r[k] < r[best]) best = k;
        }
        std::printf("| %.1f | %s | %.1f%% (%llu) | %.4f | %.4f | %.4f | %s |\n", alpha, scan > 0 ? "20%" : "none",
                    frac * 100, static_cast<unsigned long long>(size), r[0], r[1], r[2], names[best]);
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n(%.1f s)\n", secs);
  return 0;
}
