#include "metrics/prometheus.h"

#include <cmath>

#include <fmt/format.h>

namespace daramjwee::metrics {

std::string PrometheusText::escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string PrometheusText::escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string PrometheusText::format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integers (counters) print exactly; others with enough digits to round-trip.
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

PrometheusText::Family& PrometheusText::family(const MetricDef& def) {
  auto it = index_.find(def.name);
  if (it != index_.end()) return families_[it->second];
  index_.emplace(def.name, families_.size());
  families_.push_back(Family{&def, {}});
  return families_.back();
}

std::string PrometheusText::sample_line(std::string_view name, const Labels& labels, double value) {
  std::string line(name);
  if (!labels.empty()) {
    line.push_back('{');
    for (size_t i = 0; i < labels.size(); i++) {
      if (i) line.push_back(',');
      line += fmt::format("{}=\"{}\"", labels[i].first, escape_label_value(labels[i].second));
    }
    line.push_back('}');
  }
  line.push_back(' ');
  line += format_value(value);
  return line;
}

void PrometheusText::add(const MetricDef& def, const Labels& labels, double value) {
  family(def).lines.push_back(sample_line(def.name, labels, value));
}

void PrometheusText::add_histogram(const MetricDef& def, const Labels& labels, const HistogramSnapshot& h) {
  Family& f = family(def);
  const std::string name(def.name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.counts.size(); i++) {
    cumulative += h.counts[i];
    Labels with_le = labels;
    const double ub = HistogramSnapshot::upper_bound(i);
    with_le.emplace_back("le", std::isinf(ub) ? std::string("+Inf") : fmt::format("{}", ub));
    f.lines.push_back(sample_line(name + "_bucket", with_le, static_cast<double>(cumulative)));
  }
  f.lines.push_back(sample_line(name + "_sum", labels, h.sum_seconds));
  f.lines.push_back(sample_line(name + "_count", labels, static_cast<double>(h.count)));
}

std::string PrometheusText::take() {
  std::string out;
  for (const auto& f : families_) {
    out += fmt::format("# HELP {} {}\n", f.def->name, escape_help(f.def->help));
    out += fmt::format("# TYPE {} {}\n", f.def->name, f.def->type);
    for (const auto& l : f.lines) {
      out += l;
      out.push_back('\n');
    }
  }
  families_.clear();
  index_.clear();
  return out;
}

}  // namespace daramjwee::metrics
