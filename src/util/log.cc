#include "util/log.h"

#include <mutex>
#include <unordered_map>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace daramjwee::util {
namespace {

struct Registry {
  std::mutex mu;  // guards everything below
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  spdlog::level::level_enum level = spdlog::level::info;
};

Registry& registry() {
  static Registry* r = new Registry();  // leaked: loggers outlive static dtors
  return *r;
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(std::string_view component) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.loggers.find(std::string(component));
  if (it != r.loggers.end()) return it->second;
  auto l = std::make_shared<spdlog::logger>(std::string(component), r.sink);
  l->set_level(r.level);
  l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  r.loggers.emplace(std::string(component), l);
  return l;
}

void set_log_level(spdlog::level::level_enum level) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.level = level;
  for (auto& [_, l] : r.loggers) l->set_level(level);
}

bool parse_log_level(std::string_view name, spdlog::level::level_enum* out) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (auto& [n, l] : kLevels) {
    if (n == name) {
      *out = l;
      return true;
    }
  }
  return false;
}

bool RateLimit::allow(uint64_t* suppressed) {
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t next = next_ns_.load(std::memory_order_relaxed);
  if (now >= next &&
      next_ns_.compare_exchange_strong(next, now + interval_ns_, std::memory_order_relaxed)) {
    *suppressed = dropped_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace daramjwee::util
