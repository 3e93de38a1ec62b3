// MemoryStore: options, capacity accounting (with overhead), eviction
// through each policy, sharding, oversize objects, zero-copy lifetime.
// The generic Store behaviour is in tests/contract (memory_contract_test).
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/stream.h"
#include "tiers/memory/memory_store.h"

using daramjwee::as_bytes;
using daramjwee::EvictionKind;
using daramjwee::Metadata;
using daramjwee::StatusCode;
using daramjwee::Store;
using daramjwee::tiers::MemoryStore;
using daramjwee::tiers::MemoryStoreOptions;

namespace {

std::shared_ptr<MemoryStore> open_store(uint64_t capacity, EvictionKind kind = EvictionKind::kLru,
                                        size_t shards = 1) {
  MemoryStoreOptions o;
  o.capacity_bytes = capacity;
  o.policy = kind;
  o.shards = shards;
  auto s = MemoryStore::open(o);
  REQUIRE(s.has_value());
  return *s;
}

Metadata meta(std::string etag, uint64_t hint) {
  Metadata m;
  m.etag = std::move(etag);
  m.size = hint;
  return m;
}

// Writes with an exact size hint, so the allocation equals the size.
daramjwee::Status put(Store& s, std::string_view key, std::string_view value, std::string etag = "e") {
  auto sink = s.begin_set(key, meta(std::move(etag), value.size()));
  if (!sink) return sink.error();
  if (auto st = (*sink)->write(as_bytes(value)); !st) return st;
  return (*sink)->commit();
}

bool present(Store& s, std::string_view key) {
  auto r = s.stat(key);
  REQUIRE(r.has_value());
  return r->has_value();
}

std::string key_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%05d", i);
  return buf;
}

}  // namespace

TEST_CASE("memory_store: options are validated and name the field", "[memory]") {
  MemoryStoreOptions o;
  CHECK(o.validate());
  CHECK(o.capacity_bytes == 256ull << 20);
  CHECK(o.policy == EvictionKind::kS3Fifo);

  o.capacity_bytes = 0;
  auto s = o.validate();
  CHECK(s.code() == StatusCode::kConfigError);
  CHECK(s.field() == "capacity_bytes");
  CHECK_FALSE(MemoryStore::open(o).has_value());

  o = MemoryStoreOptions{};
  o.shards = 3;
  CHECK(o.validate().field() == "shards");
  o.shards = 512;
  CHECK(o.validate().field() == "shards");
  o.shards = 16;
  o.capacity_bytes = 512 << 10;  // 32 KiB per shard: too small
  CHECK(o.validate().field() == "shards");
  o.shards = 8;
  CHECK(o.validate());
}

TEST_CASE("memory_store: automatic shard count", "[memory]") {
  auto n = [](uint64_t cap) {
    MemoryStoreOptions o;
    o.capacity_bytes = cap;
    return (*MemoryStore::open(o))->shard_count();
  };
  CHECK(n(1 << 20) == 1);
  CHECK(n(16ull << 20) == 1);
  CHECK(n(48ull << 20) == 2);
  CHECK(n(64ull << 20) == 4);
  CHECK(n(256ull << 20) == 16);
  CHECK(n(8ull << 30) == 16);
  CHECK((*MemoryStore::open(MemoryStoreOptions{.capacity_bytes = 1 << 20, .shards = 4}))->shard_count() == 4);
}

TEST_CASE("memory_store: capacity is enforced, overhead included", "[memory]") {
  auto kind = GENERATE(EvictionKind::kLru, EvictionKind::kS3Fifo, EvictionKind::kSieve);
  const uint64_t cap = 64 << 10;
  auto store = open_store(cap, kind);
  const std::string value(1000, 'v');
  const uint64_t charge = MemoryStore::charge_for(key_of(0), "e", value.size());
  CHECK(charge == 6 + 1 + 1000 + MemoryStore::kEntryOverheadBytes);
  const uint64_t fits = cap / charge;

  for (int i = 0; i < 200; ++i) {
    REQUIRE(put(*store, key_of(i), value));
    auto st = store->stats();
    REQUIRE(st.used_bytes <= cap);
    REQUIRE(st.used_bytes == st.entries * charge);
  }
  auto st = store->stats();
  CHECK(st.capacity_bytes == cap);
  CHECK(st.entries == fits);  // full: each eviction frees exactly one slot
  CHECK(st.evictions == 200 - fits);
  int count = 0;
  for (int i = 0; i < 200; ++i) count += present(*store, key_of(i));
  CHECK(static_cast<uint64_t>(count) == st.entries);
  if (kind == EvictionKind::kLru) {
    for (int i = 0; i < 200; ++i) CHECK(present(*store, key_of(i)) == (i >= 200 - static_cast<int>(fits)));
  }

  // Removing everything returns every byte.
  for (int i = 0; i < 200; ++i) REQUIRE(store->remove(key_of(i)));
  CHECK(store->stats().used_bytes == 0);
  CHECK(store->stats().entries == 0);
}

TEST_CASE("memory_store: a read counts as a hit for every policy", "[memory]") {
  auto kind = GENERATE(EvictionKind::kLru, EvictionKind::kS3Fifo, EvictionKind::kSieve);
  const std::string value(1000, 'v');
  const uint64_t charge = MemoryStore::charge_for("a", "e", value.size());
  auto store = open_store(4 * charge, kind);  // room for exactly four
  for (const char* k : {"a", "b", "c", "d"}) REQUIRE(put(*store, k, value));
  auto hit = store->get("a");
  REQUIRE(hit.has_value());
  REQUIRE(hit->has_value());
  REQUIRE(put(*store, "e", value));  // one must go: the unread oldest, b
  CHECK(present(*store, "a"));
  CHECK_FALSE(present(*store, "b"));
  CHECK(present(*store, "e"));
  CHECK(store->stats().evictions == 1);
}

TEST_CASE("memory_store: an object larger than a shard is not stored, and that is not a failure", "[memory]") {
  auto store = open_store(1 << 20, EvictionKind::kS3Fifo, 4);  // 256 KiB shards
  const uint64_t shard_cap = store->shard_capacity("big");
  CHECK(shard_cap == 256 << 10);
  REQUIRE(put(*store, "big", "old value"));
  const uint64_t used_before = store->stats().used_bytes;

  SECTION("known up front: begin_set refuses") {
    auto sink = store->begin_set("big", meta("e", 300 << 10));
    REQUIRE_FALSE(sink.has_value());
    CHECK(sink.error().code() == StatusCode::kResourceExhausted);
  }
  SECTION("discovered while writing: write and commit refuse, nothing is published") {
    auto sink = store->begin_set("big", meta("e", 0));
    REQUIRE(sink.has_value());
    std::string piece(64 << 10, 'x');
    daramjwee::Status last;
    for (int i = 0; i < 5 && last.is_ok(); ++i) last = (*sink)->write(as_bytes(piece));
    CHECK(last.code() == StatusCode::kResourceExhausted);
    CHECK((*sink)->commit().code() == StatusCode::kResourceExhausted);
    CHECK((*sink)->commit().code() == StatusCode::kInvalidArgument);  // terminal now
  }
  // The old value is untouched and the accounting unchanged.
  auto e = store->get("big");
  REQUIRE(e.has_value());
  REQUIRE(e->has_value());
  CHECK((*e)->metadata.size == 9);
  CHECK(store->stats().used_bytes == used_before);

  // The largest storable value (shard budget minus key, etag and overhead) fits.
  const uint64_t limit = shard_cap - MemoryStore::charge_for("big", "e", 0);
  REQUIRE(put(*store, "big", std::string(limit, 'y')));
  CHECK(store->stats().used_bytes == shard_cap);
  CHECK(put(*store, "big", std::string(limit + 1, 'y')).code() == StatusCode::kResourceExhausted);
}

TEST_CASE("memory_store: a reader keeps the data alive after eviction and removal", "[memory]") {
  auto store = open_store(256 << 10, EvictionKind::kLru);
  std::string v(100 << 10, '\0');
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>(i * 31 + 7);
  REQUIRE(put(*store, "a", v));
  auto e = store->get("a");
  REQUIRE(e.has_value());
  REQUIRE(e->has_value());
  auto view = (*e)->body->view();
  REQUIRE(view.has_value());
  REQUIRE(view->bytes.size() == v.size());

  // Zero copy: a second reader sees the very same bytes.
  auto e2 = store->get("a");
  REQUIRE(e2->has_value());
  CHECK((*e2)->body->view()->bytes.data() == view->bytes.data());

  for (int i = 0; i < 5; ++i) REQUIRE(put(*store, key_of(i), v));  // evicts "a"
  CHECK_FALSE(present(*store, "a"));
  CHECK(store->stats().evictions >= 1);
  // The view and the reader still read the original bytes (ASan checks the
  // memory is still owned).
  auto owner = view->owner;
  e->reset();
  e2->reset();
  CHECK(std::string_view(reinterpret_cast<const char*>(view->bytes.data()), view->bytes.size()) == v);
  CHECK(owner.use_count() >= 1);
}

TEST_CASE("memory_store: sharding keeps exact accounting under mixed operations", "[memory]") {
  auto store = open_store(1 << 20, EvictionKind::kS3Fifo, 4);
  std::mt19937 rng(11);
  for (int step = 0; step < 3000; ++step) {
    std::string key = "key-" + std::to_string(rng() % 400);
    switch (rng() % 4) {
      case 0:
      case 1: REQUIRE(put(*store, key, std::string(rng() % (20 << 10), 'z'), "etag" + std::to_string(rng() % 100))); break;
      case 2: REQUIRE(store->remove(key)); break;
      case 3: {
        auto up = store->update_metadata(key, meta("revalidated-" + std::to_string(step), 0));
        REQUIRE(up.has_value());
        break;
      }
    }
  }
  // Rebuild the expected charge from what is visible.
  uint64_t used = 0, entries = 0;
  for (int i = 0; i < 400; ++i) {
    std::string key = "key-" + std::to_string(i);
    auto st = store->stat(key);
    REQUIRE(st.has_value());
    if (!st->has_value()) continue;
    ++entries;
    used += MemoryStore::charge_for(key, (*st)->etag, (*st)->size);
  }
  auto stats = store->stats();
  CHECK(stats.entries == entries);
  CHECK(stats.used_bytes == used);
  CHECK(stats.used_bytes <= stats.capacity_bytes);
  CHECK(stats.evictions > 0);
}

TEST_CASE("memory_store: threads on different keys keep accounting consistent", "[memory]") {
  auto store = open_store(2 << 20, EvictionKind::kSieve, 8);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 2000; ++i) {
        std::string key = "t" + std::to_string(t) + "-" + std::to_string(rng() % 200);
        if (rng() % 5 == 0) {
          if (!store->remove(key)) failures++;
          continue;
        }
        if (!put(*store, key, std::string(1 + rng() % 30000, 'q'))) failures++;
        auto e = store->get(key);
        if (!e) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  uint64_t used = 0, entries = 0;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 200; ++i) {
      std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
      auto st = store->stat(key);
      REQUIRE(st.has_value());
      if (!st->has_value()) continue;
      ++entries;
      used += MemoryStore::charge_for(key, (*st)->etag, (*st)->size);
    }
  }
  CHECK(store->stats().entries == entries);
  CHECK(store->stats().used_bytes == used);
  CHECK(used <= (2u << 20));
}

TEST_CASE("memory_store: without a size hint the charge follows the real allocation", "[memory]") {
  auto store = open_store(4 << 20);
  auto sink = store->begin_set("k", meta("e", 0));
  REQUIRE(sink.has_value());
  std::string piece(3000, 'p');
  for (int i = 0; i < 100; ++i) REQUIRE((*sink)->write(as_bytes(piece)));
  REQUIRE((*sink)->commit());
  // 300000 bytes grown geometrically would hold up to 2x; commit trims to at
  // most 1/8 slack, and the charge counts what is held.
  uint64_t used = store->stats().used_bytes;
  CHECK(used >= MemoryStore::charge_for("k", "e", 300000));
  CHECK(used <= MemoryStore::charge_for("k", "e", 300000 + 300000 / 7));
  auto st = store->stat("k");
  CHECK((*st)->size == 300000);
}

TEST_CASE("memory_store: a sink outlives the caller's store handle", "[memory]") {
  auto store = open_store(1 << 20);
  std::weak_ptr<MemoryStore> weak = store;
  auto sink = store->begin_set("k", meta("e", 3));
  REQUIRE(sink.has_value());
  store.reset();  // the sink keeps the store alive until it is done
  REQUIRE(weak.lock() != nullptr);
  REQUIRE((*sink)->write(as_bytes(std::string_view("abc"))));
  REQUIRE((*sink)->commit());
  CHECK(present(*weak.lock(), "k"));
  sink->reset();
  CHECK(weak.expired());
}

TEST_CASE("memory_store: update_metadata recharges a changed etag", "[memory]") {
  auto store = open_store(1 << 20);
  REQUIRE(put(*store, "k", "value", "short"));
  uint64_t before = store->stats().used_bytes;
  auto up = store->update_metadata("k", meta("a-much-longer-etag", 0));
  REQUIRE(up.has_value());
  CHECK(*up);
  CHECK(store->stats().used_bytes == before + (18 - 5));
}

TEST_CASE("memory_store: a whole shared buffer is adopted without a copy", "[memory]") {
  auto store = open_store(4 << 20);
  auto buf = std::make_shared<const daramjwee::Bytes>(daramjwee::Bytes::copy_of(std::string_view("whole chunk")));
  auto sink = store->begin_set("k", meta("e", buf->size()));
  REQUIRE(sink.has_value());
  REQUIRE((*sink)->write_shared(buf));
  REQUIRE((*sink)->commit());
  auto got = store->get("k");
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  auto v = (*got)->body->view();
  REQUIRE(v.has_value());
  CHECK(v->bytes.data() == buf->data());  // the entry is the caller's buffer
  CHECK(store->stats().used_bytes == MemoryStore::charge_for("k", "e", buf->size()));
}

TEST_CASE("memory_store: writes after an adopted buffer append to a private copy", "[memory]") {
  auto store = open_store(4 << 20);
  auto first = std::make_shared<const daramjwee::Bytes>(daramjwee::Bytes::copy_of(std::string_view("abc")));
  auto second = std::make_shared<const daramjwee::Bytes>(daramjwee::Bytes::copy_of(std::string_view("def")));
  auto sink = store->begin_set("k", meta("e", 0));
  REQUIRE(sink.has_value());
  REQUIRE((*sink)->write_shared(first));
  REQUIRE((*sink)->write_shared(second));
  REQUIRE((*sink)->write(as_bytes(std::string_view("g"))));
  REQUIRE((*sink)->commit());
  auto got = store->get("k");
  REQUIRE(got.has_value());
  auto all = daramjwee::read_all(*(*got)->body);
  REQUIRE(all.has_value());
  CHECK(all->view() == "abcdefg");
  CHECK(first->view() == "abc");  // the adopted buffer was copied, never written
}

TEST_CASE("memory_store: an adopted buffer larger than a shard is refused", "[memory]") {
  auto store = open_store(1 << 20);
  daramjwee::Bytes raw(2 << 20);
  raw.resize(2 << 20);
  auto big = std::make_shared<const daramjwee::Bytes>(std::move(raw));
  auto sink = store->begin_set("k", meta("e", 0));
  REQUIRE(sink.has_value());
  auto st = (*sink)->write_shared(big);
  CHECK(st.is(StatusCode::kResourceExhausted));
  (*sink)->abort();
  CHECK_FALSE(present(*store, "k"));
}
