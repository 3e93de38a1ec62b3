#include "metrics/histogram.h"

#include <catch2/catch.hpp>

#include "metrics/prometheus.h"

using namespace daramjwee::metrics;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("histogram: an empty histogram answers 0", "[metrics]") {
  LatencyHistogram h;
  auto s = h.snapshot();
  CHECK(s.count == 0);
  CHECK(s.quantile(0.5) == 0);
}

TEST_CASE("histogram: percentiles fall in the right power-of-two bucket", "[metrics]") {
  LatencyHistogram h;
  for (int i = 0; i < 90; i++) h.record(microseconds(3));   // bucket (2us, 4us]
  for (int i = 0; i < 10; i++) h.record(milliseconds(5));   // bucket (4.096ms, 8.192ms]
  auto s = h.snapshot();
  CHECK(s.count == 100);
  CHECK(s.sum_seconds == Approx(90 * 3e-6 + 10 * 5e-3));
  const double p50 = s.quantile(0.5);
  CHECK(p50 > 2e-6);
  CHECK(p50 <= 4e-6);
  const double p99 = s.quantile(0.99);
  CHECK(p99 > 4.096e-3);
  CHECK(p99 <= 8.192e-3);
}

TEST_CASE("histogram: extremes land in the first and overflow buckets", "[metrics]") {
  LatencyHistogram h;
  h.record(std::chrono::nanoseconds(0));
  h.record(std::chrono::nanoseconds(-5));
  h.record(std::chrono::hours(1));
  auto s = h.snapshot();
  REQUIRE(s.counts.size() == kLatencyBuckets + 1);
  CHECK(s.counts.front() == 2);
  CHECK(s.counts.back() == 1);
  CHECK(s.quantile(1.0) == Approx(HistogramSnapshot::upper_bound(kLatencyBuckets - 1)));
}

TEST_CASE("prometheus: families are grouped with HELP and TYPE once, labels escaped", "[metrics]") {
  static constexpr MetricDef kA{"test_a_total", "counter", "", "Help with \\ and\nnewline."};
  static constexpr MetricDef kB{"test_b", "gauge", "bytes", "B."};
  PrometheusText t;
  t.add(kA, {{"tier", "mem\"o\\ry\n"}}, 1);
  t.add(kB, {}, 2.5);
  t.add(kA, {{"tier", "disk"}}, 3);
  const std::string text = t.take();
  CHECK(text ==
        "# HELP test_a_total Help with \\\\ and\\nnewline.\n"
        "# TYPE test_a_total counter\n"
        "test_a_total{tier=\"mem\\\"o\\\\ry\\n\"} 1\n"
        "test_a_total{tier=\"disk\"} 3\n"
        "# HELP test_b B.\n"
        "# TYPE test_b gauge\n"
        "test_b 2.5\n");
  CHECK(t.take().empty());
}

TEST_CASE("prometheus: a histogram has cumulative buckets ending in +Inf, _sum and _count", "[metrics]") {
  static constexpr MetricDef kH{"test_latency_seconds", "histogram", "seconds", "L."};
  LatencyHistogram h;
  h.record(microseconds(1));
  h.record(milliseconds(1));
  PrometheusText t;
  t.add_histogram(kH, {{"served_from", "origin"}}, h.snapshot());
  const std::string text = t.take();
  CHECK(text.find("test_latency_seconds_bucket{served_from=\"origin\",le=\"1e-06\"} 1\n") != std::string::npos);
  CHECK(text.find("test_latency_seconds_bucket{served_from=\"origin\",le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("test_latency_seconds_count{served_from=\"origin\"} 2\n") != std::string::npos);
  CHECK(text.find("test_latency_seconds_sum{served_from=\"origin\"} 0.001001\n") != std::string::npos);
  CHECK(PrometheusText::format_value(1e300 * 1e300) == "+Inf");
}
