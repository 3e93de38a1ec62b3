#include "metrics/histogram.h"

#include <bit>
#include <cmath>
#include <limits>

namespace daramjwee::metrics {

double HistogramSnapshot::upper_bound(size_t i) {
  if (i >= kLatencyBuckets) return std::numeric_limits<double>::infinity();
  return std::ldexp(1e-6, static_cast<int>(i));
}

double HistogramSnapshot::quantile(double q) const {
  if (count == 0 || counts.empty()) return 0;
  if (q <= 0) q = std::numeric_limits<double>::min();
  if (q > 1) q = 1;
  const double rank = q * static_cast<double>(count);
  double seen = 0;
  for (size_t i = 0; i < counts.size(); i++) {
    const double c = static_cast<double>(counts[i]);
    if (c == 0) continue;
    if (seen + c >= rank) {
      const double lo = i == 0 ? 0 : upper_bound(i - 1);
      if (i >= kLatencyBuckets) return lo;
      const double hi = upper_bound(i);
      return lo + (hi - lo) * ((rank - seen) / c);
    }
    seen += c;
  }
  return upper_bound(kLatencyBuckets - 1);
}

void LatencyHistogram::record(std::chrono::nanoseconds d) {
  const uint64_t ns = d.count() < 0 ? 0 : static_cast<uint64_t>(d.count());
  const uint64_t us = (ns + 999) / 1000;  // round up: a bucket is "at most"
  // Smallest i with us <= 2^i.
  size_t i = us <= 1 ? 0 : static_cast<size_t>(std::bit_width(us - 1));
  if (i > kLatencyBuckets) i = kLatencyBuckets;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

HistogramSnapshot LatencyHistogram::snapshot() const {
  HistogramSnapshot s;
  s.counts.resize(counts_.size());
  for (size_t i = 0; i < counts_.size(); i++) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];
  }
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace daramjwee::metrics
