// Corruption is a miss: a flipped byte in a data file or an inline value, a
// truncated or missing data file, or an unreadable record is detected,
// dropped, counted, and logged with the key and the tier. Garbage is never
// returned.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <rocksdb/db.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "tests/unit/tiers/disk/disk_test_util.h"
#include "util/log.h"

using namespace daramjwee;
using namespace daramjwee::tiers;
using namespace daramjwee::tiers::testing;

namespace {

void flip_byte(const std::string& path, off_t at) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  char c = 0;
  REQUIRE(::pread(fd, &c, 1, at) == 1);
  c = static_cast<char>(c ^ 0x20);
  REQUIRE(::pwrite(fd, &c, 1, at) == 1);
  ::close(fd);
}

// Warnings are rate-limited to one per second per call site: a capture
// starts after the previous test's window has passed, so this test's first
// warning is logged.
struct QuietLogCapture : LogCapture {
  QuietLogCapture() : LogCapture(64) { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); }
  bool saw(const std::string& needle) { return count(needle) > 0; }
};

// The entry is gone for good, and counted once.
void expect_dropped(DiskStore& store, const std::string& key, uint64_t corruptions) {
  CHECK_FALSE(get_string(store, key).has_value());
  CHECK(store.stats().corruptions == corruptions);
  auto st = store.stat(key);
  REQUIRE(st.has_value());
  CHECK_FALSE(st->has_value());
}

}  // namespace

TEST_CASE("disk_corruption: a flipped byte in a data file is a miss", "[disk]") {
  QuietLogCapture logs;
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string v = pattern(GENERATE(size_t(100) << 10, size_t(9) << 20), 1);  // in-memory and streaming verification
  REQUIRE(put(*store, "obj", v));
  REQUIRE(put(*store, "other", pattern(50 << 10, 2)));
  auto files = data_files(dir.path());
  REQUIRE(files.size() == 2);
  for (auto& f : files)
    if (std::filesystem::file_size(f) == v.size()) flip_byte(f, static_cast<off_t>(v.size() / 2));
  expect_dropped(*store, "obj", 1);
  CHECK(data_files(dir.path()).size() == 1);  // the bad file is gone
  CHECK(logs.saw("key=obj"));
  CHECK(logs.saw("tier=disk"));
  CHECK(get_string(*store, "other") == pattern(50 << 10, 2));
}

TEST_CASE("disk_corruption: a change after a cached verification is still caught", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string v = pattern(1 << 20, 3);
  REQUIRE(put(*store, "obj", v));
  // Past the racy window, so the verdict is cached and the next get serves
  // zero-copy without re-hashing.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(get_string(*store, "obj") == v);
  auto e = store->get("obj");
  REQUIRE(e.has_value());
  REQUIRE(e->has_value());
  CHECK_FALSE((*e)->body->view().has_value());  // cached verdict: no read pass
  CHECK((*e)->body->file_region().has_value());
  flip_byte(data_files(dir.path()).at(0), 10);
  expect_dropped(*store, "obj", 1);
}

TEST_CASE("disk_corruption: a flipped byte in a compressed data file is a miss", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string v = compressible(900 << 10) + pattern(100 << 10, 6);  // lz4 output > inline_threshold
  REQUIRE(put(*store, "obj", v));
  REQUIRE((*store->stat("obj"))->compression == Compression::kLz4);
  auto f = data_files(dir.path()).at(0);
  flip_byte(f, static_cast<off_t>(std::filesystem::file_size(f) / 2));
  expect_dropped(*store, "obj", 1);
}

TEST_CASE("disk_corruption: a truncated data file is a miss", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string v = pattern(200 << 10, 4);
  REQUIRE(put(*store, "obj", v));
  CHECK(get_string(*store, "obj") == v);
  REQUIRE(::truncate(data_files(dir.path()).at(0).c_str(), 100 << 10) == 0);
  expect_dropped(*store, "obj", 1);
  // A missing file, too.
  REQUIRE(put(*store, "obj2", v));
  REQUIRE(::unlink(data_files(dir.path()).at(0).c_str()) == 0);
  expect_dropped(*store, "obj2", 2);
}

TEST_CASE("disk_corruption: a flipped byte in an inline value or a broken record is a miss", "[disk]") {
  QuietLogCapture logs;
  TempDir dir;
  {
    auto store = open_store(options_for(dir.path()));
    REQUIRE(put(*store, "inl", pattern(3000, 5)));
    REQUIRE(put(*store, "inl-lz4", compressible(8000)));
    REQUIRE(put(*store, "rec", "fine"));
    REQUIRE(put(*store, "ok", "still fine"));
    REQUIRE((*store->stat("inl-lz4"))->compression == Compression::kLz4);
  }
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.path() + "/index", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (std::string k : {"d:inl", "d:inl-lz4"}) {
      std::string val;
      REQUIRE(db->Get(rocksdb::ReadOptions(), k, &val).ok());
      val[val.size() / 2] ^= 0x01;
      REQUIRE(db->Put(rocksdb::WriteOptions(), k, val).ok());
    }
    REQUIRE(db->Put(rocksdb::WriteOptions(), "e:rec", "\x01garbage").ok());
  }
  auto store = open_store(options_for(dir.path()));
  CHECK(store->recovery_report().dangling_entries_dropped == 1);  // the unreadable record
  expect_dropped(*store, "inl", 1);
  expect_dropped(*store, "inl-lz4", 2);
  CHECK_FALSE(get_string(*store, "rec").has_value());
  CHECK(logs.saw("key=inl"));
  CHECK(get_string(*store, "ok") == "still fine");
}
