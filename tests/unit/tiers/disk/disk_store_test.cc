// DiskStore behaviour beyond the store contract: placement (inline / file),
// compression, zero-copy, revalidation, capacity, persistence across
// reopen, recovery, locking and format versions.
#include "tiers/disk/disk_store.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <rocksdb/db.h>

#include "tests/unit/tiers/disk/disk_test_util.h"
#include "tiers/disk/checksum.h"

using namespace daramjwee;
using namespace daramjwee::tiers;
using namespace daramjwee::tiers::testing;

// Caches written before the dispatched hash must still verify: the fast
// entry points have to produce exactly XXH3-64's values, whole and streamed.
TEST_CASE("disk_store: the checksum is XXH3-64, whole and in pieces", "[disk]") {
  std::vector<unsigned char> data((1 << 20) + 3);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>((i * 2654435761u) >> 13);
  for (size_t n : {size_t{0}, size_t{1}, size_t{17}, size_t{240}, size_t{241}, size_t{4096}, data.size()}) {
    CAPTURE(n);
    CHECK(disk_detail::checksum64(data.data(), n) == XXH3_64bits(data.data(), n));
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> st(XXH3_createState(), XXH3_freeState);
    XXH3_64bits_reset(st.get());
    disk_detail::checksum_update(st.get(), data.data(), n / 3);
    disk_detail::checksum_update(st.get(), data.data() + n / 3, n - n / 3);
    CHECK(XXH3_64bits_digest(st.get()) == XXH3_64bits(data.data(), n));
  }
}

TEST_CASE("disk_store: options are validated and errors name the field", "[disk]") {
  DiskStoreOptions o;
  CHECK(o.validate().field() == "dir");
  o.dir = "/tmp/x";
  CHECK(o.validate());
  auto field_of = [&](auto mutate) {
    DiskStoreOptions c = o;
    mutate(c);
    Status s = c.validate();
    CHECK(s.is(StatusCode::kConfigError));
    return s.field();
  };
  CHECK(field_of([](auto& c) { c.capacity_bytes = 0; }) == "capacity_bytes");
  CHECK(field_of([](auto& c) { c.inline_threshold = 2 << 20; }) == "inline_threshold");
  CHECK(field_of([](auto& c) { c.min_compression_saving = 1.0; }) == "min_compression_saving");
  CHECK(field_of([](auto& c) { c.min_compression_saving = -0.1; }) == "min_compression_saving");
  CHECK(field_of([](auto& c) { c.copy_mode = true; c.fastest_tier = true; }) == "copy_mode");
  auto r = DiskStore::open(DiskStoreOptions{});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().field() == "dir");
}

// Pages of `path` in the page cache (mincore over a mapping).
static size_t resident_pages(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  struct stat st {};
  REQUIRE(::fstat(fd, &st) == 0);
  size_t len = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  REQUIRE(map != MAP_FAILED);
  std::vector<unsigned char> vec((len + 4095) / 4096);
  REQUIRE(::mincore(map, len, vec.data()) == 0);
  ::munmap(map, len);
  size_t n = 0;
  for (auto v : vec) n += v & 1;
  return n;
}

// tmpfs is the page cache: nothing written or read there can go around it,
// so the page-cache assertions below hold only on a disk file system.
static bool page_cache_can_be_bypassed(const std::string& dir) {
  struct statfs fs {};
  REQUIRE(::statfs(dir.c_str(), &fs) == 0);
  if (fs.f_type != TMPFS_MAGIC) return true;
  WARN("test dir " << dir << " is on tmpfs: page-cache residency not checked, bytes still are");
  return false;
}

// Drops `path` from the page cache (after writing it back).
static void evict_pages(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::fdatasync(fd) == 0);
  REQUIRE(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
  ::close(fd);
}

TEST_CASE("disk_store: verified reads go around the page cache, byte-exact at block edges", "[disk]") {
  for (bool direct : {true, false}) {
    CAPTURE(direct);
    TempDir dir;
    auto o = options_for(dir.path());
    o.direct_reads = direct;
    auto store = open_store(o);
    // Just written (dirty pages): a direct read must still see these bytes.
    uint32_t seed = 10;
    for (size_t n : {size_t{64 << 10}, size_t{(64 << 10) + 1}, size_t{(1 << 20) - 1}, size_t{1 << 20},
                     size_t{(1 << 20) + 5}, size_t{(3 << 20) + 4095}}) {
      CAPTURE(n);
      std::string v = pattern(n, ++seed);
      REQUIRE(put(*store, "k" + std::to_string(n), v));
      CHECK(get_string(*store, "k" + std::to_string(n)) == v);
    }
    // Written back and evicted: a verified read leaves no copy in the page
    // cache when direct (the tiers above hold the bytes), and does without.
    std::string v = pattern((1 << 20) + 5, 99);
    REQUIRE(put(*store, "probe", v));
    auto before = data_files(dir.path());
    store.reset();
    store = open_store(o);  // verification state is per open: read and hash again
    for (auto& f : before) evict_pages(f);
    CHECK(get_string(*store, "probe") == v);
    size_t resident = 0;
    for (auto& f : before) resident += resident_pages(f);
    if (page_cache_can_be_bypassed(dir.path())) {
      if (direct) CHECK(resident == 0);
      else CHECK(resident > 0);
    }
  }
}

TEST_CASE("disk_store: whole, block-sized objects are written around the page cache", "[disk]") {
  for (bool direct : {true, false}) {
    CAPTURE(direct);
    TempDir dir;
    auto o = options_for(dir.path());
    o.direct_writes = direct;
    o.compress = false;
    auto store = open_store(o);
    std::string full = pattern(1 << 20, 7);  // a whole chunk
    REQUIRE(put(*store, "full", full));
    auto files = data_files(dir.path());
    REQUIRE(files.size() == 1);
    if (page_cache_can_be_bypassed(dir.path())) {
      if (direct) CHECK(resident_pages(files[0]) == 0);
      else CHECK(resident_pages(files[0]) > 0);
    }
    // Not a multiple of the block size: written buffered, read back exact.
    std::string odd = pattern((1 << 20) + 100, 8);
    REQUIRE(put(*store, "odd", odd));
    CHECK(get_string(*store, "odd") == odd);
    store.reset();
    store = open_store(o);
    CHECK(get_string(*store, "full") == full);
    CHECK(get_string(*store, "odd") == odd);
  }
}

TEST_CASE("disk_store: small objects are inline, large ones are files", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  CHECK(store->kind() == "disk");
  std::string small = pattern(1000, 1), large = pattern(200 << 10, 2);
  REQUIRE(put(*store, "small", small));
  CHECK(data_files(dir.path()).empty());
  REQUIRE(put(*store, "large", large));
  CHECK(data_files(dir.path()).size() == 1);
  CHECK(get_string(*store, "small") == small);
  CHECK(get_string(*store, "large") == large);
  // The file name never comes from the key.
  for (auto& f : data_files(dir.path())) CHECK(f.find("large") == std::string::npos);
  // Overwrite replaces the file; remove deletes it.
  REQUIRE(put(*store, "large", pattern(300 << 10, 3)));
  CHECK(data_files(dir.path()).size() == 1);
  REQUIRE(store->remove("large"));
  CHECK(data_files(dir.path()).empty());
  CHECK(count_files(dir.path() + "/tmp") == 0);
}

TEST_CASE("disk_store: lz4 only when it saves enough; logical size is what callers see", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string text = compressible(100 << 10), noise = pattern(100 << 10, 4);
  REQUIRE(put(*store, "text", text));
  REQUIRE(put(*store, "noise", noise));
  auto st = store->stat("text");
  REQUIRE(st.has_value());
  REQUIRE(st->has_value());
  CHECK((*st)->compression == Compression::kLz4);
  CHECK((*st)->size == text.size());
  CHECK((*st)->stored_size < text.size() / 2);
  auto sn = store->stat("noise");
  REQUIRE(sn.has_value());
  REQUIRE(sn->has_value());
  CHECK((*sn)->compression == Compression::kNone);
  CHECK((*sn)->stored_size == noise.size());
  CHECK(get_string(*store, "text") == text);
  CHECK(get_string(*store, "noise") == noise);

  SECTION("compress = false stores raw") {
    TempDir d2;
    auto o = options_for(d2.path());
    o.compress = false;
    auto s2 = open_store(o);
    REQUIRE(put(*s2, "text", text));
    CHECK((*s2->stat("text"))->compression == Compression::kNone);
  }
  SECTION("a saving below min_compression_saving stores raw") {
    TempDir d2;
    auto o = options_for(d2.path());
    o.min_compression_saving = 0.6;
    auto s2 = open_store(o);
    // Half noise, half text: lz4 saves roughly 45%, under the 60% asked for.
    std::string mixed = pattern(50 << 10, 5) + compressible(50 << 10);
    REQUIRE(put(*s2, "mixed", mixed));
    CHECK((*s2->stat("mixed"))->compression == Compression::kNone);
    CHECK(get_string(*s2, "mixed") == mixed);
  }
}

TEST_CASE("disk_store: large raw objects are served zero-copy from a verified file", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string v = pattern(1 << 20, 6);
  REQUIRE(put(*store, "chunk", v));
  for (int pass = 0; pass < 2; ++pass) {  // first get verifies, second uses the cached verdict
    INFO("pass " << pass);
    auto e = store->get("chunk");
    REQUIRE(e.has_value());
    REQUIRE(e->has_value());
    auto& body = *(*e)->body;
    CHECK(body.size_hint() == v.size());
    REQUIRE(body.skip(1000).value() == 1000);
    auto region = body.file_region();
    REQUIRE(region.has_value());
    CHECK(region->offset == 1000);
    CHECK(region->length == v.size() - 1000);
    // The region stays readable after the entry is removed: the fd is the keepalive.
    REQUIRE(store->remove("chunk"));
    std::string got(region->length, '\0');
    REQUIRE(::pread(region->fd, got.data(), got.size(), static_cast<off_t>(region->offset)) ==
            static_cast<ssize_t>(got.size()));
    CHECK(got == v.substr(1000));
    auto rest = read_all(body);
    REQUIRE(rest.has_value());
    CHECK(rest->view() == v.substr(1000));
    REQUIRE(put(*store, "chunk", v));
    if (pass == 0) {  // verify again, now on the remembered verdict
      auto warm = store->get("chunk");
      REQUIRE(warm.has_value());
      REQUIRE(warm->has_value());
    }
  }
  // Compressed objects have no file region.
  REQUIRE(put(*store, "text", compressible(1 << 20)));
  auto e = store->get("text");
  REQUIRE(e.has_value());
  REQUIRE(e->has_value());
  CHECK_FALSE((*e)->body->file_region().has_value());
}

TEST_CASE("disk_store: objects past the staging size spill to a file", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string v = pattern(9 << 20, 7);
  auto sink = store->begin_set("big", meta("big"));
  REQUIRE(sink.has_value());
  for (size_t off = 0; off < v.size(); off += 300000)
    REQUIRE((*sink)->write(as_bytes(std::string_view(v).substr(off, 300000))));
  CHECK(count_files(dir.path() + "/tmp") == 1);
  REQUIRE((*sink)->commit());
  CHECK(count_files(dir.path() + "/tmp") == 0);
  CHECK(get_string(*store, "big") == v);  // > 8 MiB: streaming verification
  CHECK(get_string(*store, "big") == v);
  // An aborted spilled sink leaves nothing behind.
  auto s2 = store->begin_set("big2", meta("big2"));
  REQUIRE(s2.has_value());
  REQUIRE((*s2)->write(as_bytes(v)));
  (*s2)->abort();
  CHECK(count_files(dir.path() + "/tmp") == 0);
  CHECK(data_files(dir.path()).size() == 1);
}

TEST_CASE("disk_store: not-modified revalidation rewrites no data", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  std::string v = pattern(64 << 10, 8);
  REQUIRE(put(*store, "k", v, meta("v1")));
  auto files = data_files(dir.path());
  REQUIRE(files.size() == 1);
  struct stat before {}, after {};
  REQUIRE(::stat(files[0].c_str(), &before) == 0);
  Metadata m = meta("v1");
  m.cached_at = Clock::time_point(std::chrono::seconds(1900000000));
  auto up = store->update_metadata("k", m);
  REQUIRE(up.has_value());
  CHECK(*up);
  REQUIRE(data_files(dir.path()) == files);
  REQUIRE(::stat(files[0].c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);
  CHECK(before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
  CHECK(before.st_mtim.tv_sec == after.st_mtim.tv_sec);
  CHECK((*store->stat("k"))->cached_at == m.cached_at);
  CHECK(get_string(*store, "k") == v);
}

namespace {
// Five 20 KiB file-backed objects fit, a sixth does not, on top of what an
// empty tier is charged (its directories and RocksDB's files, measured: half
// an object of slack either way for what the measurement sees differently).
DiskStoreOptions small_capacity(const std::string& dir) {
  auto o = options_for(dir);
  const uint64_t entries = 5 * (20 << 10) + (10 << 10);
  o.capacity_bytes = fixed_charge(dir + ".probe", entries) + entries;
  o.compress = false;
  return o;
}
}  // namespace

TEST_CASE("disk_store: capacity counts on-disk bytes and evicts in LRU order", "[disk]") {
  TempDir dir;
  auto store = open_store(small_capacity(dir.path()));
  for (int i = 0; i < 5; ++i) REQUIRE(put(*store, "k" + std::to_string(i), pattern(20 << 10, i)));
  CHECK(store->stats().entries == 5);
  CHECK(store->stats().used_bytes <= store->stats().capacity_bytes);
  CHECK(store->stats().used_bytes >= 5 * (20 << 10));
  // A reader of k1 keeps its bytes even though k1 gets evicted under it.
  auto reader = store->get("k1");
  REQUIRE(reader.has_value());
  REQUIRE(reader->has_value());
  CHECK(get_string(*store, "k0"));  // k1 is now the least recent... after k1's own get
  CHECK(get_string(*store, "k2"));
  // Recency: k3, k4, k1, k0, k2 (k1 was read before k0 and k2).
  REQUIRE(put(*store, "k5", pattern(20 << 10, 5)));
  CHECK_FALSE(get_string(*store, "k3"));
  CHECK(store->stats().evictions == 1);
  CHECK(store->stats().used_bytes <= store->stats().capacity_bytes);
  REQUIRE(put(*store, "k6", pattern(20 << 10, 6)));
  CHECK_FALSE(get_string(*store, "k4"));
  REQUIRE(put(*store, "k7", pattern(20 << 10, 7)));
  CHECK_FALSE(get_string(*store, "k1"));
  auto rest = read_all(*(*reader)->body);
  REQUIRE(rest.has_value());
  CHECK(rest->view() == pattern(20 << 10, 1));
  CHECK(data_files(dir.path()).size() == 5);
  // Too large for the tier at all.
  Metadata huge = meta("h");
  huge.size = 1ull << 40;
  auto big = store->begin_set("huge", huge);
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().is(StatusCode::kResourceExhausted));
}

TEST_CASE("disk_store: reopen after a clean close keeps entries, metadata and eviction order", "[disk]") {
  TempDir dir;
  Metadata m = meta("etag-\"x\"");
  m.origin_mtime_ns = 42;
  std::optional<Metadata> before;
  {
    auto store = open_store(small_capacity(dir.path()));
    for (int i = 0; i < 5; ++i) REQUIRE(put(*store, "k" + std::to_string(i), pattern(20 << 10, i), m));
    REQUIRE(put(*store, "inline", "tiny", m));
    CHECK(get_string(*store, "k0"));
    CHECK(get_string(*store, "k2"));
    CHECK(get_string(*store, "inline"));
    before = *store->stat("k0").value();
  }  // clean close: recency persisted
  auto store = open_store(small_capacity(dir.path()));
  CHECK(store->recovery_report().entries == 6);
  CHECK(store->recovery_report().dangling_entries_dropped == 0);
  CHECK(store->recovery_report().unreferenced_files_removed == 0);
  auto after = store->stat("k0");
  REQUIRE(after.has_value());
  REQUIRE(after->has_value());
  CHECK(**after == *before);
  CHECK((*after)->etag == "etag-\"x\"");
  CHECK((*after)->origin_mtime_ns == 42);
  CHECK((*after)->cached_at == m.cached_at);
  // Persisted order, least recent first: k1, k3, k4, k0, k2, inline.
  REQUIRE(put(*store, "n1", pattern(20 << 10, 11)));
  CHECK(store->stats().evictions >= 1);
  auto st1 = store->stat("k1");
  REQUIRE(st1.has_value());
  CHECK_FALSE(st1->has_value());
  for (auto k : {"k0", "k2", "inline"}) {
    auto st = store->stat(k);
    REQUIRE(st.has_value());
    CHECK(st->has_value());
  }
  REQUIRE(put(*store, "n2", pattern(20 << 10, 12)));
  CHECK_FALSE(store->stat("k3")->has_value());
  CHECK(store->stat("k4")->has_value());
  CHECK(get_string(*store, "k0") == pattern(20 << 10, 0));
}

TEST_CASE("disk_store: a directory held by another opener is refused with its pid", "[disk]") {
  TempDir dir;
  auto store = open_store(options_for(dir.path()));
  auto second = DiskStore::open(options_for(dir.path()));
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().is(StatusCode::kTierError));
  CHECK_THAT(second.error().message(), Catch::Contains("in use by another running process"));
  CHECK_THAT(second.error().message(), Catch::Contains("pid " + std::to_string(::getpid())));
  store.reset();
  CHECK(DiskStore::open(options_for(dir.path())).has_value());
}

TEST_CASE("disk_store: another format version is refused", "[disk]") {
  TempDir dir;
  { open_store(options_for(dir.path())); }
  {
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.path() + "/index", &db).ok());
    REQUIRE(db->Put(rocksdb::WriteOptions(), "m:format", "daramjwee-disk-format-99").ok());
    delete db;
  }
  auto r = DiskStore::open(options_for(dir.path()));
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.error().message(), Catch::Contains("format version 99"));
  CHECK_THAT(r.error().message(), Catch::Contains("reads version 1"));
}

TEST_CASE("disk_store: open repairs orphans, dangling entries and stray files", "[disk]") {
  TempDir dir;
  std::string f1_path, f2_path;
  {
    auto store = open_store(options_for(dir.path()));
    REQUIRE(put(*store, "inline", "small value"));
    REQUIRE(put(*store, "f1", pattern(100 << 10, 1)));
    f1_path = data_files(dir.path()).at(0);
    REQUIRE(put(*store, "f2", pattern(100 << 10, 2)));
    for (auto& f : data_files(dir.path()))
      if (f != f1_path) f2_path = f;
    REQUIRE(put(*store, "f3", pattern(100 << 10, 3)));
  }
  std::ofstream(dir.path() + "/tmp/00000000000000ff.tmp") << "half a write";
  std::ofstream(dir.path() + "/data/ab/00000000000abcab") << "renamed, never indexed";
  std::ofstream(dir.path() + "/data/ab/not-ours") << "junk";
  REQUIRE(::unlink(f1_path.c_str()) == 0);
  REQUIRE(::truncate(f2_path.c_str(), 4096) == 0);

  auto store = open_store(options_for(dir.path()));
  const auto& rep = store->recovery_report();
  CHECK(rep.orphan_temps_removed == 1);
  CHECK(rep.unreferenced_files_removed == 3);  // the stray, the junk, and short f2's file
  CHECK(rep.dangling_entries_dropped == 2);
  CHECK(rep.entries == 2);
  CHECK(count_files(dir.path() + "/tmp") == 0);
  CHECK(data_files(dir.path()).size() == 1);
  CHECK_FALSE(get_string(*store, "f1"));
  CHECK_FALSE(get_string(*store, "f2"));
  CHECK(get_string(*store, "f3") == pattern(100 << 10, 3));
  CHECK(get_string(*store, "inline") == "small value");
  // New files never collide with ids seen before.
  REQUIRE(put(*store, "f4", pattern(100 << 10, 4)));
  CHECK(get_string(*store, "f3") == pattern(100 << 10, 3));
}

TEST_CASE("disk_store: copy mode and fsync on commit publish the same way", "[disk]") {
  TempDir dir;
  auto o = options_for(dir.path());
  o.copy_mode = GENERATE(false, true);
  o.fsync = FsyncPolicy::kOnCommit;
  auto store = open_store(o);
  std::string v = pattern(700 << 10, 9);
  Status s = put(*store, "k", v);
  INFO(s.to_string());
  REQUIRE(s);
  REQUIRE(put(*store, "k", v + "x"));
  CHECK(get_string(*store, "k") == v + "x");
  CHECK(data_files(dir.path()).size() == 1);
  CHECK(count_files(dir.path() + "/tmp") == 0);
  REQUIRE(store->flush());
}

TEST_CASE("disk_store: concurrent writers, readers and removers stay consistent", "[disk]") {
  TempDir dir;
  auto o = options_for(dir.path());
  o.capacity_bytes = fixed_charge(dir.path() + ".probe", 2 << 20) +
                     (2 << 20);  // forces eviction while others read
  auto store = open_store(o);
  std::atomic<int> bad{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        int k = (i * 7 + t) % 24;
        std::string key = "k" + std::to_string(k);
        int ver = i % 5;
        size_t size = (k % 3 == 0) ? 1000 : (k % 3 == 1 ? 40 << 10 : 200 << 10);
        if (i % 3 == 0) {
          if (!put(*store, key, pattern(size, k * 10 + ver), meta(std::to_string(ver)))) ++errors;
        } else if (i % 11 == 0) {
          if (!store->remove(key)) ++errors;
        } else {
          auto r = store->get(key);
          if (!r) { ++errors; continue; }
          if (!r->has_value()) continue;
          int v = std::stoi((*r)->metadata.etag);
          auto b = read_all(*(*r)->body);
          if (!b || b->view() != pattern(size, k * 10 + v)) ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  CHECK(errors == 0);
  CHECK(store->stats().corruptions == 0);
  CHECK(store->stats().used_bytes <= o.capacity_bytes);
  store.reset();
  auto again = open_store(o);
  CHECK(again->recovery_report().dangling_entries_dropped == 0);
  CHECK(again->recovery_report().unreferenced_files_removed == 0);
}

TEST_CASE("disk_store: a non-empty directory that is not a disk tier is refused", "[disk]") {
  TempDir dir;
  std::ofstream(dir.path() + "/precious.txt") << "do not delete";
  std::filesystem::create_directory(dir.path() + "/tmp");
  std::ofstream(dir.path() + "/tmp/also-precious") << "x";
  auto r = DiskStore::open(options_for(dir.path()));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().field() == "dir");
  CHECK_THAT(r.error().message(), Catch::Contains("not a disk-tier directory"));
  CHECK(std::filesystem::exists(dir.path() + "/tmp/also-precious"));
}
