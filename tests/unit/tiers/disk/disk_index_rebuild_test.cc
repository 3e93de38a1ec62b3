// A damaged index is quarantined and rebuilt, not served as a failed tier
// forever. Bytes are flipped in RocksDB's .sst files, at open and while the
// store runs (a compaction then meets the bad block and RocksDB refuses every
// later write). Afterwards: every get of a key is a hit with its exact bytes
// or a miss (never an error, never a wrong byte), fills and removals work
// again, and the damage is counted.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tests/unit/tiers/disk/disk_test_util.h"

using namespace daramjwee;
using namespace daramjwee::tiers;
using namespace daramjwee::tiers::testing;

namespace {

std::vector<std::string> sst_files(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(dir + "/index"))
    if (e.path().extension() == ".sst") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Flips one byte at each of the given fractions of the file's length.
void flip_bytes(const std::string& path, std::initializer_list<double> at) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  auto size = static_cast<double>(std::filesystem::file_size(path));
  for (double f : at) {
    auto off = static_cast<off_t>(size * f);
    char c = 0;
    REQUIRE(::pread(fd, &c, 1, off) == 1);
    c = static_cast<char>(c ^ 0x5a);
    REQUIRE(::pwrite(fd, &c, 1, off) == 1);
  }
  ::close(fd);
}

std::string value_of(int i) { return i % 2 ? pattern(2000, i) : pattern(20 << 10, i); }  // inline, file

// Writes keys [from, to) and flushes them into one .sst file. Returns the
// failures (none are expected before the index is damaged).
int put_range(DiskStore& store, int from, int to) {
  int failed = 0;
  for (int i = from; i < to; ++i) failed += put(store, "k" + std::to_string(i), value_of(i)) ? 0 : 1;
  return failed + (store.flush() ? 0 : 1);
}

// Every key is a hit with its own bytes or a miss; returns the hits.
int check_keys(DiskStore& store, int n) {
  int hits = 0, wrong = 0, errors = 0;
  for (int i = 0; i < n; ++i) {
    auto r = store.get("k" + std::to_string(i));
    if (!r) {
      ++errors;
      UNSCOPED_INFO("k" << i << ": " << r.error().to_string());
      continue;
    }
    if (!r->has_value()) continue;
    auto b = read_all(*(*r)->body);
    if (b && b->view() == value_of(i)) ++hits;
    else ++wrong;
  }
  CHECK(errors == 0);
  CHECK(wrong == 0);
  return hits;
}

}  // namespace

TEST_CASE("disk_index_rebuild: a corrupt block met by a compaction does not disable the tier", "[disk]") {
  TempDir dir;
  auto o = options_for(dir.path());
  auto store = open_store(o);
  // Three .sst files in level 0; a fourth makes RocksDB compact them.
  for (int f = 0; f < 3; ++f) REQUIRE(put_range(*store, f * 100, (f + 1) * 100) == 0);
  auto ssts = sst_files(dir.path());
  REQUIRE(ssts.size() == 3);
  flip_bytes(ssts[1], {0.3, 0.6});  // data blocks (the index, filter and footer are at the end)
  // May meet the damage already (a bloom-filter false positive reads a bad
  // block; a flush can find the compaction's error): a failure or two, no more.
  CHECK(put_range(*store, 300, 400) <= 2);

  // The compaction runs in the background: keep filling until well after it
  // met the bad block. The tier must come back by itself.
  int failed = 0, last_failed = -1;
  for (int i = 0; i < 150; ++i) {
    if (!put(*store, "after" + std::to_string(i), pattern(3000, 1000 + i))) {
      ++failed;
      last_failed = i;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO("failed puts: " << failed << ", last at " << last_failed);
  CHECK(last_failed < 140);  // fills succeed again
  REQUIRE(put(*store, "late", "fills work"));
  CHECK(get_string(*store, "late") == "fills work");
  int hits = check_keys(*store, 400);
  CHECK(hits >= 300);  // one damaged file of four: most entries survive
  CHECK(store->remove("k0"));
  CHECK(store->remove("late"));
  hits = check_keys(*store, 400);
  CHECK(store->stats().index_rebuilds == 1);
  CHECK(store->stats().errors >= 1);
  CHECK(std::filesystem::exists(dir.path() + "/index.corrupt"));  // quarantined for a post-mortem
  store.reset();

  // The rebuilt index reopens cleanly and nothing it names is broken.
  store = open_store(o);
  CHECK(store->stats().index_rebuilds == 0);
  CHECK(check_keys(*store, 400) == hits);
}

TEST_CASE("disk_index_rebuild: a corrupt index found at open is quarantined, not fatal", "[disk]") {
  TempDir dir;
  auto o = options_for(dir.path());
  {
    auto store = open_store(o);
    REQUIRE(put_range(*store, 0, 200) == 0);
    REQUIRE(put_range(*store, 200, 400) == 0);
  }
  auto ssts = sst_files(dir.path());
  REQUIRE(ssts.size() >= 1);
  // Spread over the file: inline values, records and (near the end) the
  // index block; whichever RocksDB meets first, open must cope.
  double where = GENERATE(0.2, 0.5, 0.8, 0.95);
  flip_bytes(ssts.back(), {where});
  auto store = open_store(o);
  int hits = check_keys(*store, 400);
  INFO("hits " << hits);
  REQUIRE(put(*store, "after", "fills work"));
  CHECK(get_string(*store, "after") == "fills work");
  CHECK(store->remove("k1"));
  // Either the bad block was met at open (rebuilt there) or by a later get
  // (rebuilt then); a block no one reads stays until a compaction finds it.
  CHECK(store->stats().index_rebuilds <= 1);
  store.reset();
  store = open_store(o);
  CHECK(check_keys(*store, 400) >= 0);
  REQUIRE(put(*store, "after2", "still works"));
}

TEST_CASE("disk_index_rebuild: readers and writers running through a rebuild see whole entries or misses",
          "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  for (int f = 0; f < 3; ++f) REQUIRE(put_range(*store, f * 100, (f + 1) * 100) == 0);
  auto ssts = sst_files(dir.path());
  REQUIRE(ssts.size() == 3);
  flip_bytes(ssts[1], {0.3, 0.6});

  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, errors{0}, hits{0}, puts_failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; !stop.load(); i = (i + 7) % 300) {
        auto r = store->get("k" + std::to_string(i));
        if (!r) {
          ++errors;
          continue;
        }
        if (!r->has_value()) continue;
        auto b = read_all(*(*r)->body);  // bodies stay readable across a rebuild
        if (b && b->view() == value_of(i)) ++hits;
        else ++wrong;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; !stop.load(); ++i) {
      if (!put(*store, "w" + std::to_string(i % 50), pattern(3000, i % 50))) ++puts_failed;
      if (i % 20 == 0) ignore_error(store->flush());  // more tables: the compaction that meets the damage
    }
  });
  for (int i = 0; i < 300 && store->stats().index_rebuilds == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // keep going on the rebuilt index
  stop = true;
  for (auto& t : threads) t.join();
  INFO("hits " << hits << " errors " << errors << " failed puts " << puts_failed);
  CHECK(store->stats().index_rebuilds >= 1);
  CHECK(wrong == 0);
  CHECK(hits > 0);
  // Only operations that met the damage before the rebuild failed.
  CHECK(errors + puts_failed <= 10);
  check_keys(*store, 300);
  REQUIRE(put(*store, "late", "fills work"));
}
