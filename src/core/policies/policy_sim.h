// Offline miss-ratio simulation of an EvictionPolicy over synthetic traces,
// shared by tools/bench/policy_missratio and tests/unit/policies. Not used
// by the engine.
//
// A trace is a list of integer object ids. make_zipf_trace draws ids from a
// Zipf(alpha) popularity over `distinct` objects (rank r has weight
// 1/r^alpha; ranks are scattered over ids by a fixed permutation so hashing
// sees no pattern) with a seeded generator of our own (std::mt19937_64 plus
// our own uniform mapping: same trace on every platform). With
// scan_fraction > 0 the trace is cut into segments of `segment` requests
// whose last scan_fraction part is a sequential run of fresh ids that never
// repeat (a one-pass scan, e.g. a backup or a grep -r).
// Every object has the same size, so a byte capacity equals an object count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/eviction_policy.h"

namespace daramjwee::policies {

struct TraceSpec {
  uint64_t distinct = 100000;
  uint64_t requests = 1000000;
  double alpha = 1.0;
  double scan_fraction = 0.0;  // 0..1 of every segment
  uint64_t segment = 10000;
  uint64_t seed = 42;
};

inline std::vector<uint64_t> make_zipf_trace(const TraceSpec& spec) {
  std::vector<double> cdf(spec.distinct);
  double sum = 0;
  for (uint64_t r = 0; r < spec.distinct; ++r) {
    sum += 1.0 / std::pow(static_cast<double>(r + 1), spec.alpha);
    cdf[r] = sum;
  }
  std::mt19937_64 rng(spec.seed);
  std::vector<uint64_t> perm(spec.distinct);
  for (uint64_t i = 0; i < spec.distinct; ++i) perm[i] = i;
  for (uint64_t i = spec.distinct; i > 1; --i) std::swap(perm[i - 1], perm[rng() % i]);

  std::vector<uint64_t> trace;
  trace.reserve(spec.requests);
  uint64_t scan_len = static_cast<uint64_t>(static_cast<double>(spec.segment) * spec.scan_fraction);
  uint64_t next_scan = spec.distinct;  // scan ids never collide with Zipf ids
  while (trace.size() < spec.requests) {
    for (uint64_t i = 0; i < spec.segment && trace.size() < spec.requests; ++i) {
      if (i >= spec.segment - scan_len) {
        trace.push_back(next_scan++);
        continue;
      }
      double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * sum;
      uint64_t rank = static_cast<uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
      trace.push_back(perm[std::min(rank, spec.distinct - 1)]);
    }
  }
  return trace;
}

// Replays the trace through a cache of `capacity` unit-size objects managed
// by a fresh policy of `kind`; returns misses / requests.
inline double simulate_miss_ratio(EvictionKind kind, const std::vector<uint64_t>& trace,
                                  uint64_t capacity) {
  auto policy = make_eviction_policy(kind, capacity);
  std::unordered_set<std::string> cached;
  cached.reserve(capacity * 2);
  uint64_t misses = 0;
  std::string key;
  for (uint64_t id : trace) {
    key = "obj-" + std::to_string(id);
    if (cached.count(key)) {
      policy->touch(key);
      continue;
    }
    ++misses;
    policy->add(key, 1);
    cached.insert(key);
    while (cached.size() > capacity) {
      auto victim = policy->evict();
      if (!victim) break;  // cannot happen while cached is non-empty
      cached.erase(*victim);
    }
  }
  return trace.empty() ? 0.0 : static_cast<double>(misses) / static_cast<double>(trace.size());
}

}  // namespace daramjwee::policies
