// Helpers shared by the disk tier's tests: a temporary directory, writing
// and reading whole values, listing the data files on disk, and counting the
// tier's log lines.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/stream.h"
#include "tiers/disk/disk_store.h"
#include "util/log.h"

namespace daramjwee::tiers::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dj-disk-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

inline std::string compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += "daramjwee caches bytes; ";
  s.resize(n);
  return s;
}

inline Metadata meta(std::string etag) {
  Metadata m;
  m.etag = std::move(etag);
  m.origin_mtime_ns = 1700000000123456789;
  m.cached_at = Clock::time_point(std::chrono::seconds(1800000000));
  return m;
}

inline Status put(Store& s, std::string_view key, std::string_view value, Metadata md = meta("e")) {
  auto sink = s.begin_set(key, md);
  if (!sink) return sink.error();
  if (auto st = (*sink)->write(as_bytes(value)); !st) return st;
  return (*sink)->commit();
}

// The value, nullopt on a miss; fails the test on an error.
inline std::optional<std::string> get_string(Store& s, std::string_view key) {
  auto r = s.get(key);
  REQUIRE(r.has_value());
  if (!r->has_value()) return std::nullopt;
  auto bytes = read_all(*(*r)->body);
  REQUIRE(bytes.has_value());
  return std::string(bytes->view());
}

inline std::vector<std::string> data_files(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir + "/data"))
    if (e.is_regular_file()) out.push_back(e.path().string());
  return out;
}

inline size_t count_files(const std::string& dir) {
  size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

inline std::shared_ptr<DiskStore> open_store(DiskStoreOptions o) {
  auto s = DiskStore::open(o);
  if (!s) FAIL("open: " << s.error().to_string());
  return std::move(*s);
}

inline DiskStoreOptions options_for(const std::string& dir) {
  DiskStoreOptions o;
  o.dir = dir;
  o.capacity_bytes = 256ull << 20;
  return o;
}

// What an empty tier of `capacity` is charged (directories, RocksDB's fixed
// files, its reserve), measured in `probe`, a fresh path that is removed
// after: add it to a test's capacity to leave room for exactly the entries
// the test counts.
inline uint64_t fixed_charge(const std::string& probe, uint64_t capacity) {
  uint64_t used = 0;
  {
    auto o = options_for(probe);
    o.capacity_bytes = capacity;
    auto s = DiskStore::open(o);
    REQUIRE(s.has_value());
    used = (*s)->stats().used_bytes;
  }
  std::filesystem::remove_all(probe);
  return used;
}

// Keeps the last `lines` lines the disk tier logs while it lives.
struct LogCapture {
  explicit LogCapture(size_t lines = 256) : sink(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(lines)) {
    util::logger("tier.disk")->sinks().push_back(sink);
  }
  ~LogCapture() {
    auto& v = util::logger("tier.disk")->sinks();
    v.erase(std::remove(v.begin(), v.end(), sink), v.end());
  }
  // Lines that contain `needle`.
  size_t count(const std::string& needle) {
    size_t n = 0;
    for (auto& l : sink->last_formatted()) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink;
};

}  // namespace daramjwee::tiers::testing
