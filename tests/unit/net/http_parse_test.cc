#include "net/http_parse.h"

#include <catch2/catch.hpp>

using namespace daramjwee::net;

TEST_CASE("http_parse: ETag grammar is strict", "[net]") {
  auto strong = parse_etag("\"6b0139fa-6\"");
  REQUIRE(strong);
  CHECK_FALSE(strong->weak);
  CHECK(strong->text == "\"6b0139fa-6\"");
  auto weak = parse_etag("W/\"abc\"");
  REQUIRE(weak);
  CHECK(weak->weak);
  CHECK(parse_etag("\"\""));  // empty opaque tag is legal
  for (const char* bad : {"", "abc", "\"abc", "abc\"", "w/\"abc\"", "W/abc", "\"a\"b\"", "\"a b\"",
                          "\"a\x01\"", "W/", "\""}) {
    INFO(bad);
    CHECK_FALSE(parse_etag(bad));
  }
  CHECK(is_strong_etag("\"x\""));
  CHECK_FALSE(is_strong_etag("W/\"x\""));
  CHECK_FALSE(is_strong_etag("x"));
  CHECK(etag_weak_equal("W/\"x\"", "\"x\""));
  CHECK_FALSE(etag_weak_equal("\"x\"", "\"y\""));
}

TEST_CASE("http_parse: HTTP dates in all three forms", "[net]") {
  const int64_t t = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == t);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == t);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == t);
  CHECK(format_http_date(t) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(parse_http_date(format_http_date(1795327690)) == 1795327690);
  CHECK(parse_http_date("Sat, 29 Feb 2020 00:00:00 GMT"));
  for (const char* bad : {"", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Nov 1994 08:49:37 GMT",
                          "Sun, 29 Feb 2021 00:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
                          "Xyz, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_http_date(bad));
  }
}

TEST_CASE("http_parse: Content-Length", "[net]") {
  CHECK(parse_content_length("0") == 0u);
  CHECK(parse_content_length("268435456") == 268435456u);
  CHECK(parse_content_length("9223372036854775807") == 9223372036854775807ull);
  for (const char* bad : {"", "-1", "+1", "1.0", " 1", "1 ", "0x10", "9223372036854775808",
                          "99999999999999999999999", "1,1"}) {
    INFO(bad);
    CHECK_FALSE(parse_content_length(bad));
  }
}

TEST_CASE("http_parse: Content-Range", "[net]") {
  auto cr = parse_content_range("bytes 0-499/1234");
  REQUIRE(cr);
  CHECK(cr->satisfied);
  CHECK(cr->first == 0);
  CHECK(cr->last == 499);
  CHECK(cr->complete == 1234u);
  CHECK(cr->length() == 500);
  auto open = parse_content_range("bytes 10-19/*");
  REQUIRE(open);
  CHECK_FALSE(open->complete);
  auto unsat = parse_content_range("bytes */1234");
  REQUIRE(unsat);
  CHECK_FALSE(unsat->satisfied);
  CHECK(unsat->complete == 1234u);
  for (const char* bad : {"", "bytes", "bytes 0-499", "bytes 500-499/1234", "bytes 0-1234/1234",
                          "bytes */*", "items 0-1/2", "bytes  0-1/2", "bytes 0-1/2 ", "bytes -1/2",
                          "bytes 0-/2", "bytes 0-1/-2", "bytes 0-99999999999999999999/*"}) {
    INFO(bad);
    CHECK_FALSE(parse_content_range(bad));
  }
}

TEST_CASE("http_parse: percent coding of path components", "[net]") {
  CHECK(percent_encode_component("a b#?%+/é") == "a%20b%23%3F%25%2B%2F%C3%A9");
  CHECK(percent_encode_component("Az09-._~") == "Az09-._~");
  CHECK(percent_decode("a%20b%2f%C3%A9+") == std::string("a b/\xC3\xA9+"));
  CHECK(percent_decode("%00") == std::string(1, '\0'));
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%4"));
  CHECK_FALSE(percent_decode("%zz"));
  for (std::string s : {"x", "a b", "%%%", "\xff\x01", "name with/slash"})
    CHECK(percent_decode(percent_encode_component(s)) == s);
}
