#include "origin/origin_factory.h"

#include <catch2/catch.hpp>

using namespace daramjwee;
using namespace daramjwee::origin;

TEST_CASE("origin factory: validate names the field", "[origin]") {
  OriginOptions o;
  CHECK(o.validate().field() == "origin.url");
  o.url = "ftp://x/";
  CHECK(o.validate().field() == "origin.url");
  o.url = "http://127.0.0.1:1/";
  CHECK(o.validate().is_ok());
  auto field_of = [&](auto mutate) {
    OriginOptions c = o;
    mutate(c.http);
    return c.validate().field();
  };
  CHECK(field_of([](HttpOptions& h) { h.connect_timeout = Duration(0); }) == "origin.http.connect_timeout");
  CHECK(field_of([](HttpOptions& h) { h.request_timeout = Duration(-1); }) == "origin.http.request_timeout");
  CHECK(field_of([](HttpOptions& h) { h.max_retries = -1; }) == "origin.http.max_retries");
  CHECK(field_of([](HttpOptions& h) { h.backoff_base = Duration(0); }) == "origin.http.backoff_base");
  CHECK(field_of([](HttpOptions& h) { h.max_listing_bytes = 0; }) == "origin.http.max_listing_bytes");
  CHECK(field_of([](HttpOptions& h) { h.max_listing_entries = 0; }) == "origin.http.max_listing_entries");
  CHECK(field_of([](HttpOptions& h) { h.max_connections = 0; }) == "origin.http.max_connections");
  CHECK(field_of([](HttpOptions& h) { h.ca_file = "/nonexistent/ca.pem"; }) == "origin.http.ca_file");
  CHECK(field_of([](HttpOptions& h) { h.low_speed_bytes = -5; }) == "origin.http.low_speed_bytes");
}

TEST_CASE("origin factory: picks the implementation from the scheme", "[origin]") {
  OriginOptions o;
  o.url = "http://user:pw@127.0.0.1:1/base";
  auto h = make_origin(o);
  REQUIRE(h);
  CHECK((*h)->describe() == "http://127.0.0.1:1/base/");
  o.url = "file:///tmp";
  auto f = make_origin(o);
  REQUIRE(f);
  CHECK((*f)->describe() == "file:///tmp");
  o.url = "file://otherhost/tmp";
  CHECK(make_origin(o).error().field() == "origin.url");
  o.url = "http://";
  CHECK_FALSE(make_origin(o));
  o.url = "http://h/x?q=1";
  CHECK(make_origin(o).error().field() == "origin.url");
}

TEST_CASE("origin factory: an unreachable origin is a retryable error", "[origin]") {
  OriginOptions o;
  o.url = "http://127.0.0.1:9/";
  o.http.max_retries = 1;
  o.http.backoff_base = Duration(1);
  auto h = make_origin(o);
  REQUIRE(h);
  auto st = (*h)->stat("x");
  REQUIRE_FALSE(st);
  CHECK(st.error().code() == StatusCode::kIoError);
  CHECK(st.error().retryable());
}
