// Disk space: the tier stays within capacity_bytes counting what it really
// occupies (data files, RocksDB's files, its directories); a full
// filesystem is warned about once per transition and counted, fills fail
// cleanly and reads go on; below free_min_bytes of free space the tier
// evicts to make room instead of filling the filesystem.
// The filesystem cases mount a small tmpfs (root). Without mount(2) they
// fail under CI=true and are skipped loudly otherwise.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <spdlog/sinks/ringbuffer_sink.h>

#include "tests/unit/tiers/disk/disk_test_util.h"
#include "util/log.h"

using namespace daramjwee;
using namespace daramjwee::tiers;
using namespace daramjwee::tiers::testing;

namespace {

// Bytes allocated to everything under `dir`, itself included (st_blocks).
uint64_t allocated(const std::string& dir) {
  auto blocks = [](const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 ? uint64_t(st.st_blocks) * 512 : 0;
  };
  uint64_t n = blocks(dir);
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) n += blocks(e.path().string());
  return n;
}

uint64_t free_bytes(const std::string& dir) {
  struct statvfs v {};
  REQUIRE(::statvfs(dir.c_str(), &v) == 0);
  return uint64_t(v.f_bavail) * v.f_frsize;
}

struct Tmpfs {
  std::string path;
  bool mounted = false;
  Tmpfs(const std::string& at, const char* size) : path(at) {
    std::filesystem::create_directory(path);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, size) == 0) {
      mounted = true;
      return;
    }
    std::string why = std::string("cannot mount a tmpfs (") + std::strerror(errno) + "); needs root";
    if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true") FAIL(why);
    WARN("SKIPPED disk_space test: " << why);
  }
  ~Tmpfs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};

}  // namespace

TEST_CASE("disk_space: what the tier occupies, index included, stays within capacity", "[disk]") {
  TempDir tmp;
  auto o = options_for(tmp.path() + "/cache");
  o.capacity_bytes = 16ull << 20;
  o.compress = false;
  o.free_min_bytes = 0;  // the host's free space is not under test here
  auto store = open_store(o);
  uint64_t worst = 0;
  for (int i = 0; i < 4000; ++i) {
    // Inline values grow RocksDB (WAL, memtable flushes, compactions);
    // files grow data/.
    std::string v = i % 3 ? pattern(8 << 10, i) : pattern(64 << 10, i);
    REQUIRE(put(*store, "key-" + std::to_string(i), v));
    if (i % 25 == 0) worst = std::max(worst, allocated(o.dir));
    CHECK(store->stats().used_bytes <= o.capacity_bytes);
  }
  REQUIRE(store->flush());
  worst = std::max(worst, allocated(o.dir));
  INFO("most allocated: " << worst << " of " << o.capacity_bytes);
  if (std::getenv("DJ_SPACE_REPORT"))
    WARN("most allocated " << worst << " of " << o.capacity_bytes << "; at the end used_bytes "
                           << store->stats().used_bytes << ", entries " << store->stats().entries);
  CHECK(worst <= o.capacity_bytes);
  CHECK(store->stats().used_bytes <= o.capacity_bytes);
  // Not by keeping nothing: most of the capacity holds entries.
  CHECK(store->stats().used_bytes >= o.capacity_bytes / 2);
  CHECK(store->stats().entries > 100);
}

TEST_CASE("disk_space: a full filesystem is warned about once per transition, counted, and survived", "[disk]") {
  TempDir tmp;
  Tmpfs fs(tmp.path() + "/mnt", "size=8m");
  if (!fs.mounted) return;
  LogCapture logs;
  auto o = options_for(fs.path + "/cache");
  o.capacity_bytes = 1ull << 30;  // the filesystem, not the capacity, is the limit
  o.compress = false;
  o.free_min_bytes = 0;  // the raw ENOSPC path
  auto store = open_store(o);
  std::vector<int> committed;
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    Status s = put(*store, "k" + std::to_string(i), pattern(64 << 10, i));
    if (s) {
      committed.push_back(i);
      continue;
    }
    CHECK(s.is(StatusCode::kResourceExhausted));
    ++refused;
  }
  REQUIRE(refused > 50);
  CHECK(committed.size() > 20);
  CHECK(logs.count("filesystem is full") == 1);  // once, not once per refused fill
  CHECK(store->stats().full_refusals == static_cast<uint64_t>(refused));
  for (int i : committed) CHECK(get_string(*store, "k" + std::to_string(i)) == pattern(64 << 10, i));

  // Space comes back (entries removed): fills work again, and the next time
  // the filesystem fills there is one more warning.
  for (size_t j = 0; j < committed.size() / 2; ++j) REQUIRE(store->remove("k" + std::to_string(committed[j])));
  REQUIRE(put(*store, "after", pattern(64 << 10, 999)));
  CHECK(logs.count("free space is back") == 1);
  int refused_again = 0;
  for (int i = 200; i < 400; ++i) refused_again += put(*store, "k" + std::to_string(i), pattern(64 << 10, i)) ? 0 : 1;
  // Full again: warned again, once per transition (near the edge a fill may
  // squeeze in now and then, each one a transition back).
  const size_t warnings = logs.count("filesystem is full");
  CHECK(warnings >= 2);
  CHECK(warnings <= logs.count("free space is back") + 1);
  CHECK(warnings * 10 < static_cast<size_t>(refused_again));
  CHECK(get_string(*store, "after") == pattern(64 << 10, 999));
}

TEST_CASE("disk_space: below free_min_bytes the tier evicts to make room, and refuses when it cannot", "[disk]") {
  TempDir tmp;
  Tmpfs fs(tmp.path() + "/mnt", "size=16m");
  if (!fs.mounted) return;
  LogCapture logs;
  auto o = options_for(fs.path + "/cache");
  o.capacity_bytes = 1ull << 30;
  o.compress = false;
  o.free_min_bytes = 4ull << 20;
  {
    auto store = open_store(o);
    uint64_t least_free = UINT64_MAX;
    for (int i = 0; i < 300; ++i) {  // ~19 MiB into a 16 MiB filesystem
      REQUIRE(put(*store, "k" + std::to_string(i), pattern(64 << 10, i)));
      least_free = std::min(least_free, free_bytes(fs.path));
    }
    INFO("least free: " << least_free);
    CHECK(least_free + (256 << 10) >= o.free_min_bytes);  // one object's slack
    CHECK(store->stats().evictions > 0);
    CHECK(store->stats().full_refusals == 0);
    CHECK(get_string(*store, "k299") == pattern(64 << 10, 299));  // the newest stay
  }
  // Something else fills the filesystem: the tier cannot get above the
  // floor by evicting, so it refuses fills (counted, warned about once) and
  // keeps serving what it has.
  auto store = open_store(o);
  for (int i = 0; i < 300; ++i) REQUIRE(store->remove("k" + std::to_string(i)));  // nothing left to evict
  REQUIRE(store->flush());
  uint64_t ballast = free_bytes(fs.path) - (2ull << 20);
  {
    std::ofstream b(fs.path + "/ballast");
    b << std::string(ballast, 'b');
  }
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    Status s = put(*store, "late" + std::to_string(i), pattern(64 << 10, i));
    if (!s) {
      ++refused;
      CHECK_THAT(s.message(), Catch::Contains("free_min_bytes"));
    }
  }
  CHECK(refused == 20);
  CHECK(store->stats().full_refusals == 20);
  CHECK(logs.count("filesystem is full") == 1);
  std::filesystem::remove(fs.path + "/ballast");
  REQUIRE(put(*store, "back", "room again"));
  CHECK(get_string(*store, "back") == "room again");
}
