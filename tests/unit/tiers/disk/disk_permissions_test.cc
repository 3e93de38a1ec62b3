// The cache is owner-only whatever the umask: every directory under the
// tier's directory is 0700 and every file 0600, RocksDB's own files
// included, and a directory that others can read is reported at open.
#include <sys/stat.h>

#include <algorithm>
#include <thread>

#include <spdlog/sinks/ringbuffer_sink.h>

#include "tests/unit/tiers/disk/disk_test_util.h"
#include "util/log.h"

using namespace daramjwee;
using namespace daramjwee::tiers;
using namespace daramjwee::tiers::testing;

namespace {

// Sets the process umask for the scope of a test (the test is the only
// thread that creates files while it runs).
struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Every path under `dir` (and `dir` itself) whose mode is not 0700 for a
// directory or 0600 for anything else, as "path mode" lines.
std::vector<std::string> wrong_modes(const std::string& dir) {
  std::vector<std::string> bad;
  auto check = [&](const std::filesystem::path& p, bool is_dir) {
    mode_t m = mode_of(p.string());
    if (m != (is_dir ? 0700u : 0600u)) bad.push_back(fmt::format("{} {:o}", p.string(), m));
  };
  check(dir, true);
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) check(e.path(), e.is_directory());
  return bad;
}

void fill(DiskStore& store) {
  REQUIRE(put(store, "inline", pattern(1000, 1)));
  REQUIRE(put(store, "file", pattern(100 << 10, 2)));
  REQUIRE(put(store, "lz4", compressible(300 << 10)));
  REQUIRE(put(store, "spilled", pattern(5 << 20, 3)));  // staged in DIR/tmp first
  REQUIRE(store.flush());                                 // an SST, a new WAL
}

}  // namespace

TEST_CASE("disk_permissions: with umask 0 every directory is 0700 and every file 0600", "[disk]") {
  TempDir tmp;
  Umask um(0);
  auto o = options_for(tmp.path() + "/cache");  // created by the store
  {
    auto store = open_store(o);
    fill(*store);
    std::vector<std::string> bad = wrong_modes(o.dir);
    INFO(fmt::format("{}", fmt::join(bad, "\n")));
    CHECK(bad.empty());
  }
  // Reopened (a WAL replay, new MANIFEST and OPTIONS files) and written again.
  auto store = open_store(o);
  REQUIRE(put(*store, "again", pattern(50 << 10, 4)));
  REQUIRE(store->flush());
  std::vector<std::string> bad = wrong_modes(o.dir);
  INFO(fmt::format("{}", fmt::join(bad, "\n")));
  CHECK(bad.empty());
  CHECK(get_string(*store, "spilled") == pattern(5 << 20, 3));
}

TEST_CASE("disk_permissions: open repairs modes an older version left and warns once about a readable dir",
          "[disk]") {
  TempDir tmp;
  std::string dir = tmp.path() + "/cache";
  {
    Umask um(022);  // what older versions produced: 0755 directories, 0644 files
    auto store = open_store(options_for(dir));
    fill(*store);
  }
  // Simulate a cache written by an older build: everything readable by all.
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    REQUIRE(::chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644) == 0);
  REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  LogCapture logs;
  auto store = open_store(options_for(dir));
  // The directory itself may be the operator's (e.g. made by systemd's
  // CacheDirectory=): named in a warning, left as it is.
  CHECK(logs.count(fmt::format("path={} mode=755", dir)) == 1);
  CHECK(mode_of(dir) == 0755);
  // What the store made inside it is fixed.
  std::vector<std::string> bad;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    mode_t m = mode_of(e.path().string());
    if (m != (e.is_directory() ? 0700u : 0600u)) bad.push_back(fmt::format("{} {:o}", e.path().string(), m));
  }
  INFO(fmt::format("{}", fmt::join(bad, "\n")));
  CHECK(bad.empty());
  CHECK(get_string(*store, "file") == pattern(100 << 10, 2));
}
