// PrometheusText: builds the Prometheus text exposition format (version
// 0.0.4) from metric definitions (names.h) and samples.
//
// Samples may be added in any order; take() groups them by family so every
// family has its HELP and TYPE lines once, followed by all its samples, as
// the format requires. Label values and help text are escaped here
// (backslash, double quote, newline), so callers pass raw strings (tier names
// and paths come from configuration).
// Thread-safety: none; build one per scrape.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/histogram.h"
#include "metrics/names.h"

namespace daramjwee::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // A counter or gauge sample.
  void add(const MetricDef& def, const Labels& labels, double value);
  // A histogram's _bucket (cumulative, with le), _sum and _count samples.
  void add_histogram(const MetricDef& def, const Labels& labels, const HistogramSnapshot& h);
  // The exposition text; the builder is empty afterwards.
  std::string take();

  static std::string escape_label_value(std::string_view v);
  static std::string escape_help(std::string_view v);
  static std::string format_value(double v);

 private:
  struct Family {
    const MetricDef* def = nullptr;
    std::vector<std::string> lines;
  };
  Family& family(const MetricDef& def);
  static std::string sample_line(std::string_view name, const Labels& labels, double value);

  std::vector<Family> families_;            // first-seen order
  std::map<std::string_view, size_t> index_;  // name -> families_ index
};

}  // namespace daramjwee::metrics
