// The store contract suite (see store_contract.h). Each function checks one
// clause of core/store.h / core/stream.h against a fresh store.
#include "tests/contract/store_contract.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/stream.h"

namespace daramjwee::contract {

namespace {

std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

Metadata meta(std::string etag, uint64_t size_hint = 0) {
  Metadata m;
  m.etag = std::move(etag);
  m.size = size_hint;
  m.origin_mtime_ns = 1700000000123456789;
  // Whole seconds: a tier may persist time at second or finer precision.
  m.cached_at = Clock::time_point(std::chrono::seconds(1800000000));
  return m;
}

// Writes `value` in uneven pieces (so block boundaries are exercised) and
// commits. Returns the first failing status.
Status put(Store& store, std::string_view key, std::string_view value, const Metadata& md) {
  auto sink = store.begin_set(key, md);
  if (!sink) return sink.error();
  size_t pos = 0, piece = 1;
  while (pos < value.size()) {
    size_t n = std::min(piece, value.size() - pos);
    if (Status s = (*sink)->write(as_bytes(value.substr(pos, n))); !s) return s;
    pos += n;
    piece = piece * 3 + 7;  // 1, 10, 37, ... then large pieces
  }
  return (*sink)->commit();
}

Status put(Store& store, std::string_view key, std::string_view value) {
  return put(store, key, value, meta("etag-" + std::to_string(value.size())));
}

// Reads the body through read() in odd-sized chunks. nullopt on a read error.
std::optional<std::string> read_body(Reader& r, size_t chunk = 7919) {
  std::string out;
  std::string buf(chunk, '\0');
  for (;;) {
    auto n = r.read(std::as_writable_bytes(std::span<char>(buf.data(), buf.size())));
    if (!n) return std::nullopt;
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

// get() that must succeed (no error); returns the entry or nullopt on a miss.
std::optional<StoreEntry> must_get(Store& store, std::string_view key) {
  auto r = store.get(key);
  REQUIRE(r.has_value());
  return std::move(*r);
}

// Expects `key` to read back as `value` if the tier keeps data, or to be a
// miss if it does not (traits.stores_data == false).
void expect_value(Store& store, std::string_view key, std::string_view value, const StoreTraits& t) {
  auto e = must_get(store, key);
  if (!t.stores_data) {
    CHECK_FALSE(e.has_value());
    return;
  }
  REQUIRE(e.has_value());
  REQUIRE(e->body != nullptr);
  auto body = read_body(*e->body);
  REQUIRE(body.has_value());
  CHECK(body->size() == value.size());
  CHECK(*body == value);
  CHECK(e->metadata.size == value.size());
}

void expect_miss(Store& store, std::string_view key) {
  CHECK_FALSE(must_get(store, key).has_value());
  auto st = store.stat(key);
  REQUIRE(st.has_value());
  CHECK_FALSE(st->has_value());
}

void announce(const StoreTraits& t) {
  if (!t.stores_data) WARN("this store never keeps data: hit expectations are checked as misses");
}

std::shared_ptr<Store> make(const StoreFactory& f) {
  auto s = f();
  REQUIRE(s != nullptr);
  return s;
}

}  // namespace

void miss_is_not_an_error(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  auto g = store->get("absent");
  REQUIRE(g.has_value());  // Ok(...), not an error
  CHECK_FALSE(g->has_value());
  auto st = store->stat("absent");
  REQUIRE(st.has_value());
  CHECK_FALSE(st->has_value());
  auto up = store->update_metadata("absent", meta("x"));
  REQUIRE(up.has_value());
  CHECK_FALSE(*up);
  CHECK_FALSE(store->kind().empty());
}

void nothing_visible_before_commit(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  std::string v = pattern(100000, 1);
  auto sink = store->begin_set("k", meta("v1", v.size()));
  REQUIRE(sink.has_value());
  REQUIRE((*sink)->write(as_bytes(std::string_view(v).substr(0, 50000))));
  expect_miss(*store, "k");
  REQUIRE((*sink)->write(as_bytes(std::string_view(v).substr(50000))));
  expect_miss(*store, "k");
  REQUIRE((*sink)->commit());
  expect_value(*store, "k", v, t);

  // Overwriting: the old value stays whole until the new commit.
  std::string w = pattern(70000, 2);
  auto sink2 = store->begin_set("k", meta("v2"));
  REQUIRE(sink2.has_value());
  REQUIRE((*sink2)->write(as_bytes(std::string_view(w).substr(0, 1000))));
  expect_value(*store, "k", v, t);
  REQUIRE((*sink2)->write(as_bytes(std::string_view(w).substr(1000))));
  expect_value(*store, "k", v, t);
  REQUIRE((*sink2)->commit());
  expect_value(*store, "k", w, t);
}

void abort_and_destruction_discard(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  std::string v = pattern(5000, 3);
  {
    auto sink = store->begin_set("aborted", meta("a"));
    REQUIRE(sink.has_value());
    REQUIRE((*sink)->write(as_bytes(v)));
    (*sink)->abort();
    (*sink)->abort();  // idempotent
  }
  expect_miss(*store, "aborted");
  {
    auto sink = store->begin_set("dropped", meta("d"));
    REQUIRE(sink.has_value());
    REQUIRE((*sink)->write(as_bytes(v)));
  }  // destroyed without commit
  expect_miss(*store, "dropped");

  // Aborting an overwrite keeps the old value.
  REQUIRE(put(*store, "kept", "old value"));
  {
    auto sink = store->begin_set("kept", meta("new"));
    REQUIRE(sink.has_value());
    REQUIRE((*sink)->write(as_bytes(v)));
    (*sink)->abort();
  }
  { auto sink = store->begin_set("kept", meta("new2")); REQUIRE(sink.has_value()); }
  expect_value(*store, "kept", "old value", t);
}

void calls_after_terminal_fail(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  auto sink = store->begin_set("k", meta("1"));
  REQUIRE(sink.has_value());
  REQUIRE((*sink)->write(as_bytes(std::string_view("abc"))));
  REQUIRE((*sink)->commit());
  CHECK((*sink)->write(as_bytes(std::string_view("def"))).code() == StatusCode::kInvalidArgument);
  CHECK((*sink)->commit().code() == StatusCode::kInvalidArgument);
  (*sink)->abort();  // a no-op after commit: the value stays
  expect_value(*store, "k", "abc", t);

  auto sink2 = store->begin_set("k2", meta("2"));
  REQUIRE(sink2.has_value());
  REQUIRE((*sink2)->write(as_bytes(std::string_view("xyz"))));
  (*sink2)->abort();
  CHECK((*sink2)->write(as_bytes(std::string_view("more"))).code() == StatusCode::kInvalidArgument);
  CHECK((*sink2)->commit().code() == StatusCode::kInvalidArgument);
  expect_miss(*store, "k2");
}

void last_commit_wins(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  auto a = store->begin_set("k", meta("a"));
  auto b = store->begin_set("k", meta("b"));
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  REQUIRE((*a)->write(as_bytes(std::string_view("first writer"))));
  REQUIRE((*b)->write(as_bytes(std::string_view("second writer, longer value"))));
  REQUIRE((*b)->commit());
  expect_value(*store, "k", "second writer, longer value", t);
  REQUIRE((*a)->commit());  // opened first, committed last: it wins
  expect_value(*store, "k", "first writer", t);
  if (t.stores_data) {
    auto st = store->stat("k");
    REQUIRE(st.has_value());
    REQUIRE(st->has_value());
    CHECK((*st)->etag == "a");
  }
}

void concurrent_writers_never_tear(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  constexpr int kWriters = 8;
  constexpr int kRounds = 6;
  constexpr size_t kSize = 192 << 10;
  constexpr size_t kPiece = 16 << 10;
  std::atomic<int> writer_failures{0}, read_errors{0}, torn{0}, wrong_size{0}, hits{0};
  std::atomic<int> writers_left{kWriters};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::string v(kSize, static_cast<char>('A' + w));
      for (int r = 0; r < kRounds; ++r) {
        auto sink = store->begin_set("hot", meta(std::string(1, static_cast<char>('A' + w))));
        if (!sink) { writer_failures++; continue; }
        bool ok = true;
        for (size_t off = 0; off < kSize && ok; off += kPiece) {
          ok = static_cast<bool>((*sink)->write(as_bytes(std::string_view(v).substr(off, kPiece))));
          if ((off / kPiece) % 4 == 0) std::this_thread::yield();  // interleave with other writers
        }
        if (!ok || !(*sink)->commit()) writer_failures++;
      }
      writers_left--;
    });
  }
  for (int rd = 0; rd < 2; ++rd) {
    threads.emplace_back([&] {
      // Bounded: stops when the writers are done, and after 100000 probes.
      for (int i = 0; i < 100000 && writers_left.load() > 0; ++i) {
        auto e = store->get("hot");
        if (!e) { read_errors++; continue; }
        if (!e->has_value()) continue;
        hits++;
        auto body = read_body(*(*e)->body, 10007);
        if (!body) { read_errors++; continue; }
        if (body->size() != kSize || (*e)->metadata.size != kSize) wrong_size++;
        if (body->empty()) continue;
        char c = (*body)[0];
        if (std::any_of(body->begin(), body->end(), [c](char x) { return x != c; })) torn++;
        if ((*e)->metadata.etag != std::string(1, c)) torn++;  // metadata from another write
      }
    });
  }
  for (auto& th : threads) th.join();

  CHECK(writer_failures.load() == 0);
  CHECK(read_errors.load() == 0);
  CHECK(torn.load() == 0);
  CHECK(wrong_size.load() == 0);
  auto e = must_get(*store, "hot");
  if (!t.stores_data) {
    CHECK(hits.load() == 0);
    CHECK_FALSE(e.has_value());
    return;
  }
  REQUIRE(e.has_value());
  auto body = read_body(*e->body);
  REQUIRE(body.has_value());
  REQUIRE(body->size() == kSize);
  char c = (*body)[0];
  CHECK(c >= 'A');
  CHECK(c < 'A' + kWriters);
  CHECK(std::all_of(body->begin(), body->end(), [c](char x) { return x == c; }));
}

void reader_outlives_remove_and_overwrite(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  std::string v = pattern(1 << 20, 4);
  REQUIRE(put(*store, "k", v));
  auto e1 = must_get(*store, "k");
  auto e2 = must_get(*store, "k");
  if (!t.stores_data) {
    CHECK_FALSE(e1.has_value());
    return;
  }
  REQUIRE(e1.has_value());
  REQUIRE(e2.has_value());
  // e1: read a prefix, then remove, then finish.
  std::string first(100000, '\0');
  auto n = e1->body->read(std::as_writable_bytes(std::span<char>(first.data(), first.size())));
  REQUIRE(n.has_value());
  REQUIRE(*n > 0);
  first.resize(*n);
  REQUIRE(store->remove("k"));
  expect_miss(*store, "k");
  auto rest = read_body(*e1->body);
  REQUIRE(rest.has_value());
  CHECK(first + *rest == v);

  // e2: opened before a new value was committed and removed again.
  REQUIRE(put(*store, "k", pattern(1 << 20, 5)));
  REQUIRE(store->remove("k"));
  auto whole = read_body(*e2->body);
  REQUIRE(whole.has_value());
  CHECK(*whole == v);
}

void stat_agrees_with_get(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  Metadata md = meta("\"etag-123\"", 0);
  REQUIRE(put(*store, "k", "some bytes", md));
  Metadata neg = meta("", 0);
  neg.negative = true;
  REQUIRE(put(*store, "neg", "", neg));
  for (const char* key : {"k", "neg", "absent"}) {
    INFO("key " << key);
    auto g = must_get(*store, key);
    auto st = store->stat(key);
    REQUIRE(st.has_value());
    REQUIRE(g.has_value() == st->has_value());
    if (!g.has_value()) continue;
    CHECK(g->metadata == **st);
  }
  if (!t.stores_data) {
    expect_miss(*store, "k");
    return;
  }
  auto st = store->stat("k");
  REQUIRE(st->has_value());
  CHECK((*st)->etag == md.etag);
  CHECK((*st)->origin_mtime_ns == md.origin_mtime_ns);
  CHECK((*st)->cached_at == md.cached_at);
  CHECK_FALSE((*st)->negative);
  CHECK((*st)->size == 10);
  auto sn = store->stat("neg");
  REQUIRE(sn->has_value());
  CHECK((*sn)->negative);
  CHECK((*sn)->size == 0);
  expect_value(*store, "neg", "", t);
}

void update_metadata_keeps_data(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  std::string v = pattern(300000, 6);
  REQUIRE(put(*store, "k", v, meta("v1")));
  auto before = store->stat("k");
  REQUIRE(before.has_value());

  Metadata next = meta("v1-revalidated");
  next.cached_at = Clock::time_point(std::chrono::seconds(1900000000));
  next.size = 12345;        // wrong on purpose: the stored size is kept
  next.checksum = 0xdead;   // store-private: kept from the stored entry
  next.stored_size = 1;
  auto up = store->update_metadata("k", next);
  REQUIRE(up.has_value());
  if (!t.stores_data) {
    CHECK_FALSE(*up);
    expect_miss(*store, "k");
    return;
  }
  CHECK(*up);
  auto after = store->stat("k");
  REQUIRE(after.has_value());
  REQUIRE(after->has_value());
  CHECK((*after)->etag == "v1-revalidated");
  CHECK((*after)->cached_at == next.cached_at);
  CHECK((*after)->size == v.size());
  CHECK((*after)->checksum == (*before)->checksum);
  CHECK((*after)->stored_size == (*before)->stored_size);
  CHECK((*after)->compression == (*before)->compression);
  expect_value(*store, "k", v, t);
}

void remove_semantics(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  CHECK(store->remove("never-there"));
  REQUIRE(put(*store, "k", "value"));
  REQUIRE(put(*store, "other", "other value"));
  CHECK(store->remove("k"));
  expect_miss(*store, "k");
  CHECK(store->remove("k"));  // twice is fine
  auto up = store->update_metadata("k", meta("x"));
  REQUIRE(up.has_value());
  CHECK_FALSE(*up);
  expect_value(*store, "other", "other value", t);
  // A removed key can be written again.
  REQUIRE(put(*store, "k", "again"));
  expect_value(*store, "k", "again", t);
}

void large_and_empty_values(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  std::string big = pattern(t.large_value_bytes, 7);
  REQUIRE(put(*store, "big", big, meta("big", big.size())));
  expect_value(*store, "big", big, t);
  REQUIRE(put(*store, "empty", "", meta("empty")));
  expect_value(*store, "empty", "", t);
  if (t.stores_data) {
    auto st = store->stat("empty");
    REQUIRE(st.has_value());
    REQUIRE(st->has_value());
    CHECK((*st)->size == 0);
    auto e = must_get(*store, "big");
    REQUIRE(e.has_value());
    if (auto hint = e->body->size_hint()) CHECK(*hint == big.size());
    if (auto view = e->body->view()) {
      CHECK(view->bytes.size() == big.size());
      CHECK(std::string_view(reinterpret_cast<const char*>(view->bytes.data()), view->bytes.size()) == big);
    }
  }
}

void size_is_bytes_written(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  std::string v = pattern(1000, 8);
  REQUIRE(put(*store, "under", v, meta("u", 10)));   // hint too small
  REQUIRE(put(*store, "over", "tiny", meta("o", 5000)));  // hint too large
  REQUIRE(put(*store, "nohint", v, meta("n", 0)));
  expect_value(*store, "under", v, t);
  expect_value(*store, "over", "tiny", t);
  expect_value(*store, "nohint", v, t);
  if (!t.stores_data) return;
  for (auto [key, size] : {std::pair{"under", 1000}, std::pair{"over", 4}, std::pair{"nohint", 1000}}) {
    auto st = store->stat(key);
    REQUIRE(st.has_value());
    REQUIRE(st->has_value());
    CHECK((*st)->size == static_cast<uint64_t>(size));
  }
}

void keys_are_distinct(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  const std::vector<std::string> keys = {
      "a", "A", "a/b", "a/b/", "dir/file.txt#v=\"etag\"#chunk=0", "with space and %2F",
      "\xed\x95\x9c\xea\xb8\x80/\xeb\x8b\xa4\xeb\x9e\x8c\xec\xa5\x90", std::string(1000, 'k')};
  for (size_t i = 0; i < keys.size(); ++i) REQUIRE(put(*store, keys[i], "value-" + std::to_string(i)));
  for (size_t i = 0; i < keys.size(); ++i) {
    INFO("key #" << i);
    expect_value(*store, keys[i], "value-" + std::to_string(i), t);
  }
  REQUIRE(store->remove("a"));
  expect_miss(*store, "a");
  expect_value(*store, "A", "value-1", t);
}

void shared_writes_mix_with_copies(const StoreFactory& f, const StoreTraits& t) {
  announce(t);
  auto store = make(f);
  auto shared_of = [](const std::string& v) {
    return std::make_shared<const Bytes>(Bytes::copy_of(std::string_view(v)));
  };
  const std::string whole = pattern(2 << 20, 9), a = pattern(70000, 10), b = pattern(5000, 11);
  auto whole_buf = shared_of(whole);
  {
    auto sink = store->begin_set("whole", meta("w", whole.size()));
    REQUIRE(sink.has_value());
    REQUIRE((*sink)->write_shared(whole_buf));
    REQUIRE((*sink)->commit());
  }
  expect_value(*store, "whole", whole, t);
  {
    auto sink = store->begin_set("mixed", meta("m", 0));
    REQUIRE(sink.has_value());
    REQUIRE((*sink)->write_shared(shared_of(a)));
    REQUIRE((*sink)->write(as_bytes(std::string_view(b))));
    REQUIRE((*sink)->write_shared(shared_of(a)));
    REQUIRE((*sink)->commit());
  }
  expect_value(*store, "mixed", a + b + a, t);
  {
    auto sink = store->begin_set("dropped", meta("d", whole.size()));
    REQUIRE(sink.has_value());
    REQUIRE((*sink)->write_shared(whole_buf));
    (*sink)->abort();
  }
  expect_miss(*store, "dropped");
  // The adopted buffer is the caller's too: storing it must not change it.
  CHECK(whole_buf->view() == whole);
}

}  // namespace daramjwee::contract
