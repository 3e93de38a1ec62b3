#include "core/buffer_pool.h"

#include <catch2/catch.hpp>

#include "support/fake_store.h"

using namespace daramjwee;

TEST_CASE("buffer_pool: options are validated by field", "[core]") {
  BufferPoolOptions o;
  CHECK(o.validate().is_ok());
  o.min_size = 8192;
  o.max_size = 4096;
  CHECK(o.validate().field() == "buffers.min_size");
  o = {};
  o.max_size = 3000;
  CHECK(o.validate().field() == "buffers.max_size");
  o = {};
  o.default_size = 1 << 30;
  CHECK(o.validate().field() == "buffers.default_size");
  o = {};
  o.min_size = 0;
  CHECK(o.validate().field() == "buffers.min_size");
  CHECK_FALSE(BufferPool::create(o).has_value());
}

TEST_CASE("buffer_pool: buffers are reused by size class", "[core]") {
  BufferPool pool(BufferPoolOptions{});
  { auto b = pool.get(5000); CHECK(b.size() == 8192); }
  { auto b = pool.get(7000); CHECK(b.size() == 8192); }
  auto s = pool.stats();
  CHECK(s.misses == 1);
  CHECK(s.hits == 1);
  CHECK(s.bytes_in_use == 0);
  CHECK(s.bytes_retained == 8192);
}

TEST_CASE("buffer_pool: oversize requests are not retained", "[core]") {
  BufferPoolOptions o;
  o.max_size = 64 << 10;
  o.default_size = 64 << 10;
  BufferPool pool(o);
  { auto b = pool.get(1 << 20); CHECK(b.size() == (1u << 20)); }
  CHECK(pool.stats().discards == 1);
  CHECK(pool.stats().bytes_retained == 0);
}

TEST_CASE("buffer_pool: retention is capped", "[core]") {
  BufferPoolOptions o;
  o.max_retained_bytes = 16 << 10;
  BufferPool pool(o);
  {
    auto a = pool.get(8192), b = pool.get(8192), c = pool.get(8192);
    CHECK(pool.stats().bytes_in_use == 3 * 8192);
  }
  auto s = pool.stats();
  CHECK(s.bytes_retained == 16384);
  CHECK(s.discards == 1);
}

TEST_CASE("buffer_pool: copy moves every byte", "[core]") {
  BufferPool pool(BufferPoolOptions{});
  testing::FakeStore store;
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  auto sink = store.begin_set("k", {});
  REQUIRE(sink.has_value());
  auto bytes = std::make_shared<const Bytes>(Bytes::copy_of(big));
  auto reader = make_bytes_reader(bytes);
  auto n = copy(*reader, **sink, pool);
  REQUIRE(n.has_value());
  CHECK(*n == big.size());
  REQUIRE((*sink)->commit().is_ok());
  CHECK(store.value("k") == big);
}

TEST_CASE("buffer_pool: tee drops a failing sink and keeps reading", "[core]") {
  testing::FakeStore good, bad;
  bad.fail_write = true;
  std::vector<std::unique_ptr<WriteSink>> sinks;
  sinks.push_back(std::move(*good.begin_set("k", {})));
  sinks.push_back(std::move(*bad.begin_set("k", {})));
  std::vector<size_t> errors, completed;
  TeeHooks hooks;
  hooks.on_sink_error = [&](size_t i, const Status&) { errors.push_back(i); };
  hooks.on_complete = [&](size_t i, std::unique_ptr<WriteSink> s) {
    completed.push_back(i);
    REQUIRE(s->commit().is_ok());
  };
  auto src = make_bytes_reader(std::make_shared<const Bytes>(Bytes::copy_of("hello world")));
  auto tee = make_tee_reader(std::move(src), std::move(sinks), hooks);
  CHECK(testing::FakeStore().kind() == "fake");
  auto all = read_all(*tee);
  REQUIRE(all.has_value());
  CHECK(all->view() == "hello world");
  CHECK(errors == std::vector<size_t>{1});
  CHECK(completed == std::vector<size_t>{0});
  CHECK(good.value("k") == "hello world");
  CHECK_FALSE(bad.contains("k"));
}

TEST_CASE("buffer_pool: a tee destroyed early publishes nothing", "[core]") {
  testing::FakeStore store;
  std::vector<std::unique_ptr<WriteSink>> sinks;
  sinks.push_back(std::move(*store.begin_set("k", {})));
  auto src = make_bytes_reader(std::make_shared<const Bytes>(Bytes::copy_of(std::string(100, 'a'))));
  {
    auto tee = make_tee_reader(std::move(src), std::move(sinks), {});
    std::byte buf[10];
    REQUIRE(tee->read(buf).has_value());
  }
  CHECK_FALSE(store.contains("k"));
}
