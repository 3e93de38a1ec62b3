#include "core/compressor.h"

#include <random>

#include <catch2/catch.hpp>

using namespace daramjwee;

namespace {
Bytes text(size_t n) {
  std::string s;
  while (s.size() < n) s += "the quick brown squirrel caches the acorn. ";
  s.resize(n);
  return Bytes::copy_of(s);
}
Bytes noise(size_t n) {
  std::mt19937_64 rng(42);
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b.data()[i] = static_cast<std::byte>(rng());
  b.resize(n);
  return b;
}
}  // namespace

TEST_CASE("compressor: lz4 round-trips and shrinks text", "[core]") {
  const auto& c = compressor_for(Compression::kLz4);
  for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{1} << 20, (size_t{5} << 20) + 3}) {
    Bytes in = text(n);
    auto z = c.compress(in.span());
    REQUIRE(z.has_value());
    if (n > 4096) CHECK(z->size() < n / 2);
    auto out = c.decompress(z->span(), n);
    REQUIRE(out.has_value());
    CHECK(out->view() == in.view());
  }
}

TEST_CASE("compressor: incompressible data round-trips", "[core]") {
  const auto& c = compressor_for(Compression::kLz4);
  Bytes in = noise(256 << 10);
  auto z = c.compress(in.span());
  REQUIRE(z.has_value());
  auto out = c.decompress(z->span());
  REQUIRE(out.has_value());
  CHECK(out->view() == in.view());
}

TEST_CASE("compressor: truncated or corrupt lz4 is an error, never garbage", "[core]") {
  const auto& c = compressor_for(Compression::kLz4);
  Bytes in = text(300 << 10);
  auto z = c.compress(in.span());
  REQUIRE(z.has_value());
  SECTION("truncated") {
    for (size_t cut : {size_t{0}, size_t{3}, z->size() / 2, z->size() - 1}) {
      auto out = c.decompress(z->span().first(cut));
      REQUIRE_FALSE(out.has_value());
      CHECK(out.error().is(StatusCode::kCorruption));
    }
  }
  SECTION("a flipped byte in the payload") {
    Bytes bad = Bytes::copy_of(z->span());
    bad.data()[bad.size() / 2] ^= std::byte{0x5a};
    auto out = c.decompress(bad.span());
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().is(StatusCode::kCorruption));
  }
  SECTION("trailing bytes") {
    Bytes bad = Bytes::copy_of(z->span());
    bad.append(as_bytes("xyz"));
    CHECK_FALSE(c.decompress(bad.span()).has_value());
  }
  SECTION("size mismatch") {
    auto out = c.decompress(z->span(), in.size() + 1);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().is(StatusCode::kCorruption));
  }
}

TEST_CASE("compressor: none copies and checks the size", "[core]") {
  const auto& c = compressor_for(Compression::kNone);
  CHECK(c.name() == "none");
  Bytes in = text(100);
  CHECK(c.compress(in.span())->view() == in.view());
  CHECK_FALSE(c.decompress(in.span(), 99).has_value());
}
