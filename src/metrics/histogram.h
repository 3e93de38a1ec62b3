// LatencyHistogram: a fixed set of log-scale buckets counting durations, for
// percentiles in daramjwee-ctl and histograms in the Prometheus text.
//
// Bucket i counts durations up to 2^i microseconds (1 us ... 2^26 us = 67 s);
// one more bucket takes everything slower. Fixed buckets keep record() to
// two relaxed atomic adds with no lock and no allocation, so it can sit on
// the FUSE read path; percentiles are then estimates within a factor of two,
// interpolated inside the bucket, which is what an operator needs to tell a
// RAM hit (microseconds) from an origin fetch (milliseconds).
// Thread-safety: record() and snapshot() may run concurrently; a snapshot
// taken during records may be off by the records in flight.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace daramjwee::metrics {

inline constexpr size_t kLatencyBuckets = 27;  // finite upper bounds

struct HistogramSnapshot {
  std::vector<uint64_t> counts;  // per bucket (not cumulative), kLatencyBuckets + 1
  uint64_t count = 0;
  double sum_seconds = 0;

  // Upper bound of bucket i in seconds (+inf for the last).
  static double upper_bound(size_t i);
  // The q-quantile (0 < q <= 1) in seconds, 0 when empty. Interpolates
  // linearly inside the bucket; the overflow bucket answers its lower bound.
  double quantile(double q) const;
};

class LatencyHistogram {
 public:
  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  void record(std::chrono::nanoseconds d);
  HistogramSnapshot snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace daramjwee::metrics
