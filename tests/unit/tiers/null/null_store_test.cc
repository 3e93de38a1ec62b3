// NullStore: keeps nothing, fails nothing. (The full Store contract runs in
// tests/contract/null_contract_test.)
#include <catch2/catch.hpp>

#include "tiers/null/null_store.h"

using daramjwee::as_bytes;
using daramjwee::StatusCode;

TEST_CASE("null_store: accepts writes, keeps nothing", "[null]") {
  auto store = daramjwee::tiers::NullStore::create();
  CHECK(store->kind() == "null");
  // Built, not assigned: g++ 12 with sanitizers warns falsely (-Wrestrict)
  // on assigning a short literal to a std::string here.
  daramjwee::Metadata md{.etag = std::string("x")};
  auto sink = store->begin_set("k", md);
  REQUIRE(sink.has_value());
  CHECK((*sink)->write(as_bytes(std::string_view("data"))));
  CHECK((*sink)->commit());
  CHECK((*sink)->write(as_bytes(std::string_view("more"))).code() == StatusCode::kInvalidArgument);
  auto g = store->get("k");
  REQUIRE(g.has_value());
  CHECK_FALSE(g->has_value());
  auto st = store->stat("k");
  REQUIRE(st.has_value());
  CHECK_FALSE(st->has_value());
  auto up = store->update_metadata("k", md);
  REQUIRE(up.has_value());
  CHECK_FALSE(*up);
  CHECK(store->remove("k"));
  auto stats = store->stats();
  CHECK(stats.entries == 0);
  CHECK(stats.used_bytes == 0);
  CHECK(stats.capacity_bytes == 0);
  CHECK(store->flush());
}
