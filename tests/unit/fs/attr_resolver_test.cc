// AttrResolver over the real engine (a MemoryStore tier) and a TreeOrigin
// whose listings round sizes while its stat tells the truth.
#include "fs/attr_resolver.h"

#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "fs/namespace.h"
#include "tests/unit/fs/tree_origin.h"
#include "tiers/memory/memory_store.h"

using namespace daramjwee;
using namespace std::chrono_literals;

namespace {

struct Rig {
  std::shared_ptr<testing::TreeOrigin> origin = std::make_shared<testing::TreeOrigin>();
  std::shared_ptr<Cache> cache;

  Rig() {
    tiers::MemoryStoreOptions mo;
    mo.capacity_bytes = 16 << 20;
    auto ram = tiers::MemoryStore::open(mo);
    REQUIRE(ram);
    CacheOptions co;
    co.tiers.push_back(TierConfig{*ram, "memory", std::nullopt, std::nullopt});
    co.ttl = std::chrono::minutes(5);
    auto c = Cache::open(std::move(co));
    REQUIRE(c);
    cache = std::shared_ptr<Cache>(std::move(*c));
  }
  ~Rig() { ignore_error(cache->close()); }

  // n files d/f<i> of 100+i bytes, listed as "1.0K".
  std::shared_ptr<const fs::Listing> rounded_dir(int n) {
    origin->put_dir("d");
    std::vector<DirEntry> entries;
    for (int i = 0; i < n; i++) {
      const std::string name = fmt::format("f{:03d}", i);
      origin->put_file("d/" + name, std::string(100 + i, 'x'), fmt::format("\"e{}\"", i));
      entries.push_back({name, rounded()});
    }
    auto l = fs::decode_listing(fs::encode_listing(entries));
    REQUIRE(l);
    return *l;
  }
  static FileAttr rounded() {
    FileAttr a;
    a.size = 1024;
    a.size_exact = false;
    a.mtime_ns = 1'700'000'000'000'000'000;
    return a;
  }
};

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("attr_resolver: which entries need a HEAD", "[fs][attrs]") {
  Rig rig;
  fs::AttrResolver plain(rig.cache, rig.origin, {});
  fs::AttrResolver mtimes(rig.cache, rig.origin, fs::AttrResolverOptions{.exact_mtime = true});
  FileAttr exact;
  exact.size = 5;
  exact.mtime_ns = 60'000'000'000;
  FileAttr tagged = exact;
  tagged.etag = "\"t\"";
  FileAttr dir;
  dir.type = FileType::kDirectory;
  dir.size_exact = false;
  FileAttr undated = exact;
  undated.mtime_ns = 0;
  CHECK(plain.needs_head(Rig::rounded()));
  CHECK(plain.needs_head(undated));  // neither a time nor a tag: no version to pin
  CHECK_FALSE(plain.needs_head(exact));
  CHECK_FALSE(plain.needs_head(dir));
  CHECK(mtimes.needs_head(exact));
  CHECK_FALSE(mtimes.needs_head(tagged));  // file:// entries are exact already
  CHECK_FALSE(mtimes.needs_head(dir));
}

TEST_CASE("attr_resolver: prefetch runs at most `concurrency` HEADs at once, each once", "[fs][attrs]") {
  Rig rig;
  auto listing = rig.rounded_dir(30);
  rig.origin->stat_delay_ms = 10;
  fs::AttrResolver r(rig.cache, rig.origin, fs::AttrResolverOptions{.concurrency = 3});
  r.prefetch("d", listing);
  REQUIRE(wait_for([&] { return r.stats().prefetched == 30; }));
  CHECK(rig.origin->stats == 30);
  CHECK(rig.origin->max_stats_in_flight == 3);
  // Cached: resolving every entry now costs nothing, and gives the truth.
  for (int i = 0; i < 30; i++) {
    auto a = r.resolve(fmt::format("d/f{:03d}", i), Rig::rounded());
    REQUIRE(a);
    CHECK(a->size == uint64_t(100 + i));
    CHECK(a->size_exact);
    CHECK(a->etag == fmt::format("\"e{}\"", i));
  }
  CHECK(rig.origin->stats == 30);
  // The same listing opened again within ttl queues nothing.
  r.prefetch("d", listing);
  std::this_thread::sleep_for(20ms);
  CHECK(r.stats().prefetched == 30);
  CHECK(r.stats().heads == 30);
}

TEST_CASE("attr_resolver: a reader racing the prefetch joins its HEAD", "[fs][attrs]") {
  Rig rig;
  auto listing = rig.rounded_dir(1);
  rig.origin->stat_delay_ms = 100;
  fs::AttrResolver r(rig.cache, rig.origin, {});
  r.prefetch("d", listing);
  REQUIRE(wait_for([&] { return rig.origin->stats == 1; }));
  auto a = r.resolve("d/f000", Rig::rounded());
  REQUIRE(a);
  CHECK(a->size == 100);
  CHECK(rig.origin->stats == 1);
}

TEST_CASE("attr_resolver: a failed HEAD is an error, not cached, never a guess", "[fs][attrs]") {
  Rig rig;
  rig.rounded_dir(1);
  fs::AttrResolver r(rig.cache, rig.origin, {});
  SECTION("the origin fails") {
    rig.origin->fail_stat("d/f000", true);
    auto a = r.resolve("d/f000", Rig::rounded());
    REQUIRE_FALSE(a);
    CHECK(a.error().is(StatusCode::kIoError));
    rig.origin->fail_stat("d/f000", false);
    auto b = r.resolve("d/f000", Rig::rounded());  // asked again
    REQUIRE(b);
    CHECK(b->size == 100);
    CHECK(rig.origin->stats == 2);
  }
  SECTION("the origin states no exact size either") {
    rig.origin->stat_without_size = true;
    auto a = r.resolve("d/f000", Rig::rounded());
    REQUIRE_FALSE(a);
    CHECK(a.error().is(StatusCode::kIoError));
  }
  SECTION("the file is gone") {
    rig.origin->remove_file("d/f000");
    auto a = r.resolve("d/f000", Rig::rounded());
    REQUIRE_FALSE(a);
    CHECK(a.error().is(StatusCode::kNotFound));
  }
}

TEST_CASE("attr_resolver: a listing that describes a file anew gets a new HEAD", "[fs][attrs]") {
  Rig rig;
  rig.rounded_dir(1);
  fs::AttrResolver r(rig.cache, rig.origin, {});
  REQUIRE(r.resolve("d/f000", Rig::rounded())->size == 100);
  rig.origin->put_file("d/f000", std::string(2000, 'y'), "\"new\"");
  FileAttr relisted = Rig::rounded();
  relisted.size = 2048;  // the listing now says "2.0K"
  CHECK(r.resolve("d/f000", Rig::rounded())->size == 100);  // same description: cached answer
  auto a = r.resolve("d/f000", relisted);
  REQUIRE(a);
  CHECK(a->size == 2000);
  CHECK(a->etag == "\"new\"");
  CHECK(rig.origin->stats == 2);
}

TEST_CASE("attr_resolver: exact entries cost nothing; a contradicting stat wins", "[fs][attrs]") {
  Rig rig;
  fs::AttrResolver r(rig.cache, rig.origin, {});
  FileAttr listed;
  listed.size = 6000;
  listed.mtime_ns = 60'000'000'000;
  auto l = fs::decode_listing(fs::encode_listing({{"x", listed}}));
  REQUIRE(l);
  r.prefetch("", *l);
  CHECK_FALSE(r.may_change(**l));
  CHECK(r.resolve("x", listed)->size == 6000);
  CHECK(rig.origin->stats == 0);
  FileAttr real = listed;
  real.size = 4000;
  real.etag = "\"r\"";
  r.correct("x", listed, real);
  CHECK(r.may_change(**l));
  CHECK(r.resolve("x", listed)->size == 4000);
  FileAttr relisted = listed;
  relisted.size = 4000;
  CHECK(r.resolve("x", relisted)->size == 4000);  // a new listing speaks for itself
  r.correct("x", listed, listed);                 // they agree again
  CHECK_FALSE(r.may_change(**l));
  CHECK(rig.origin->stats == 0);
}

TEST_CASE("attr_resolver: shutdown stops the workers and drops queued work", "[fs][attrs]") {
  Rig rig;
  auto listing = rig.rounded_dir(50);
  rig.origin->stat_delay_ms = 20;
  fs::AttrResolver r(rig.cache, rig.origin, fs::AttrResolverOptions{.concurrency = 2});
  r.prefetch("d", listing);
  REQUIRE(wait_for([&] { return rig.origin->stats >= 1; }));
  r.shutdown();
  const int after = rig.origin->stats;
  CHECK(after < 50);
  r.shutdown();  // idempotent
  r.prefetch("d", listing);
  std::this_thread::sleep_for(50ms);
  CHECK(rig.origin->stats == after);
}
