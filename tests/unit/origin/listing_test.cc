#include "origin/listing/listing.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace daramjwee;
using namespace daramjwee::origin;

namespace {

const DirEntry* find(const Listing& l, const std::string& name) {
  for (const auto& e : l.entries)
    if (e.name == name) return &e;
  return nullptr;
}

constexpr std::string_view kNginxJson =
    "[\r\n{ \"name\":\"sub\", \"type\":\"directory\", \"mtime\":\"Sat, 21 Nov 2026 06:28:10 GMT\" },"
    "\r\n{ \"name\":\"a b.txt\", \"type\":\"file\", \"mtime\":\"Sat, 21 Nov 2026 06:28:10 GMT\", "
    "\"size\":6 },\r\n{ \"name\":\"sock\", \"type\":\"other\", \"mtime\":\"Sat, 21 Nov 2026 06:28:10 "
    "GMT\" },\r\n{ \"name\":\"..\", \"type\":\"file\", \"size\":1 },\r\n"
    "{ \"name\":\"x\\/y\", \"type\":\"file\", \"size\":1 },\r\n"
    "{ \"name\":\"caf\\u00e9\", \"type\":\"file\", \"size\":18446744073709551615 }\r\n]";

constexpr std::string_view kNginxHtml =
    "<html>\r\n<head><title>Index of /html/</title></head>\r\n<body>\r\n<h1>Index of /html/</h1><hr><pre>"
    "<a href=\"../\">../</a>\r\n"
    "<a href=\"sub/\">sub/</a>                                               21-Nov-2026 06:28                   -\r\n"
    "<a href=\"a%20b.txt\">a b.txt</a>                                              21-Nov-2026 06:28                   6\r\n"
    "<a href=\"21-Nov-2026%2006%3A28\">21-Nov-2026 06:28</a>                      20-Nov-2026 01:02                   9\r\n"
    "<a href=\"big.iso\">big.iso</a>                                              21-Nov-2026 06:28       1234M\r\n"
    "</pre><hr></body>\r\n</html>\r\n";

}  // namespace

TEST_CASE("listing: nginx JSON gives exact sizes and mtimes; bad entries skipped", "[origin]") {
  CHECK(detect_listing_format(kNginxJson) == ListingFormat::kNginxJson);
  auto l = parse_listing(kNginxJson, "http://h/", {});
  REQUIRE(l);
  CHECK(l->format == ListingFormat::kNginxJson);
  REQUIRE(l->entries.size() == 3);
  const DirEntry* sub = find(*l, "sub");
  REQUIRE(sub);
  CHECK(sub->attr.type == FileType::kDirectory);
  const DirEntry* f = find(*l, "a b.txt");
  REQUIRE(f);
  CHECK(f->attr.size == 6);
  CHECK(f->attr.size_exact);
  CHECK(f->attr.mtime_ns == int64_t{1795242490} * 1'000'000'000);
  REQUIRE(find(*l, "caf\xC3\xA9"));
  CHECK(l->skipped == 3);  // "other", "..", "x/y"
}

TEST_CASE("listing: malformed or hostile JSON is an error, never a crash", "[origin]") {
  for (std::string_view bad : {"", "[", "{}", "[1,2", "\"str\"", "[{\"name\":}]", "[]]"}) {
    INFO(bad);
    auto l = parse_nginx_json(bad, {});
    CHECK_FALSE(l);
    if (!l) CHECK(l.error().code() == StatusCode::kCorruption);
  }
  auto empty = parse_nginx_json("[\r\n]", {});
  REQUIRE(empty);
  CHECK(empty->entries.empty());
  auto nested = parse_nginx_json("[{\"name\":\"n\",\"type\":\"file\",\"x\":[{\"name\":\"evil\"}],\"size\":3}]", {});
  REQUIRE(nested);
  REQUIRE(nested->entries.size() == 1);
  CHECK(nested->entries[0].name == "n");
  CHECK(nested->entries[0].attr.size == 3);
}

TEST_CASE("listing: bounds on bytes and entries", "[origin]") {
  ListingLimits small{100, 2};
  auto big = parse_listing(std::string(101, ' '), "", small);
  REQUIRE_FALSE(big);
  CHECK(big.error().code() == StatusCode::kResourceExhausted);
  auto many = parse_listing(
      "[{\"name\":\"a\",\"type\":\"file\"},{\"name\":\"b\",\"type\":\"file\"},{\"name\":\"c\",\"type\":\"file\"}]",
      "", ListingLimits{1000, 2});
  REQUIRE_FALSE(many);
  CHECK(many.error().code() == StatusCode::kResourceExhausted);
  auto many_html = parse_listing("<a href=\"a\">a</a><a href=\"b\">b</a><a href=\"c\">c</a>", "",
                                 ListingLimits{1000, 2});
  REQUIRE_FALSE(many_html);
  CHECK(many_html.error().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("listing: nginx HTML with exact and rounded sizes", "[origin]") {
  CHECK(detect_listing_format(kNginxHtml) == ListingFormat::kNginxHtml);
  auto l = parse_listing(kNginxHtml, "http://127.0.0.1:8/html/", {});
  REQUIRE(l);
  REQUIRE(l->entries.size() == 4);
  const DirEntry* sub = find(*l, "sub");
  REQUIRE(sub);
  CHECK(sub->attr.type == FileType::kDirectory);
  const DirEntry* f = find(*l, "a b.txt");
  REQUIRE(f);
  CHECK(f->attr.size == 6);
  CHECK(f->attr.size_exact);
  CHECK(f->attr.mtime_ns == int64_t{1795242480} * 1'000'000'000);  // minute precision
  const DirEntry* tricky = find(*l, "21-Nov-2026 06:28");
  REQUIRE(tricky);
  CHECK(tricky->attr.size == 9);
  const DirEntry* iso = find(*l, "big.iso");
  REQUIRE(iso);
  CHECK_FALSE(iso->attr.size_exact);
  CHECK(iso->attr.size == uint64_t{1234} << 20);
}

TEST_CASE("listing: Apache fancy index", "[origin]") {
  std::ifstream in(std::string(DJ_SOURCE_DIR) + "/tests/support/apache_listing.html");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string body = ss.str();
  REQUIRE_FALSE(body.empty());
  CHECK(detect_listing_format(body) == ListingFormat::kApacheHtml);
  auto l = parse_listing(body, "http://127.0.0.1:8/list/apache/", {});
  REQUIRE(l);
  CHECK(l->entries.size() == 4);
  const DirEntry* docs = find(*l, "docs");
  REQUIRE(docs);
  CHECK(docs->attr.type == FileType::kDirectory);
  const DirEntry* readme = find(*l, "README.txt");
  REQUIRE(readme);
  CHECK(readme->attr.size == 123);
  CHECK(readme->attr.size_exact);
  const DirEntry* big = find(*l, "big file.tar.gz");
  REQUIRE(big);
  CHECK_FALSE(big->attr.size_exact);
  CHECK(big->attr.size == (uint64_t{12} << 20) / 10);
  const DirEntry* abs = find(*l, "abs-link.bin");  // same-directory absolute path
  REQUIRE(abs);
  CHECK(abs->attr.size == 17 << 10);
  CHECK(l->skipped == 0);
}

TEST_CASE("listing: hostile HTML names are skipped, foreign links ignored", "[origin]") {
  std::string long_name(300, 'x');
  std::string body =
      "<a href=\"../\">up</a><a href=\"./\">self</a><a href=\"?C=N;O=D\">sort</a>"
      "<a href=\"http://evil.example/x\">e</a><a href=\"//evil.example/y\">e</a>"
      "<a href=\"/elsewhere/f\">abs</a><a href=\"a%2Fb\">s</a><a href=\"nul%00\">n</a>"
      "<a href=\"" + long_name + "\">l</a><a href=\"%2E%2E/\">dd</a><a href=\"%2e\">d</a>"
      "<a href=\"bad%zz\">b</a><a href=\"sub/deeper\">deep</a><a href=\"#top\">t</a>"
      "<!-- <a href=\"commented\">c</a> -->"
      "<A HREF='ok%20name.txt'>ok</A> 21-Nov-2026 06:28 42\n"
      "<a class=x href=caf%C3%A9%23%3F%25+.bin>cafe</a> 21-Nov-2026 06:28 1.5K\n"
      "<a href=\"dir/\">dir/</a>\n<a href=\"ok%20name.txt\">dup</a>"
      "<a href=\"&amp;amp;.txt\">amp</a><a href=\"mailto:x@y\">m</a><a name=\"anchor\">no href</a>";
  auto l = parse_listing(body, "http://h/d/", {});
  REQUIRE(l);
  std::vector<std::string> names;
  for (const auto& e : l->entries) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"ok name.txt", "caf\xC3\xA9#?%+.bin", "dir", "&amp;.txt"});
  CHECK(l->skipped == 6);  // a/b, nul, long, %2E%2E, %2e, bad%zz
  const DirEntry* cafe = find(*l, "caf\xC3\xA9#?%+.bin");
  REQUIRE(cafe);
  CHECK(cafe->attr.size == 1536);
  CHECK_FALSE(cafe->attr.size_exact);
}

TEST_CASE("listing: entities and names", "[origin]") {
  CHECK(decode_html_entities("a&amp;b&lt;&gt;&quot;&#39;&#x41;&#233;&bogus;&") ==
        "a&b<>\"'A\xC3\xA9&bogus;&");
  CHECK(decode_html_entities("&#0;") == std::string(1, '\0'));
  CHECK(decode_html_entities("&#xD800;") == "&#xD800;");
  CHECK(valid_name("a"));
  CHECK(valid_name(std::string(255, 'a')));
  CHECK_FALSE(valid_name(std::string(256, 'a')));
  CHECK_FALSE(valid_name(""));
  CHECK_FALSE(valid_name("."));
  CHECK_FALSE(valid_name(".."));
  CHECK_FALSE(valid_name("a/b"));
  CHECK_FALSE(valid_name(std::string("a\0b", 3)));
  CHECK(valid_name("..."));
}

TEST_CASE("listing: a name listed twice is one entry, in every format", "[origin]") {
  SECTION("nginx JSON") {
    auto l = parse_nginx_json(
        "[{\"name\":\"f\",\"type\":\"file\",\"mtime\":\"Sat, 21 Nov 2026 06:28:10 GMT\",\"size\":6},"
        "{\"name\":\"g\",\"type\":\"file\",\"size\":1},"
        "{\"name\":\"f\",\"type\":\"file\",\"mtime\":\"Sat, 21 Nov 2026 06:28:10 GMT\",\"size\":7}]",
        {});
    REQUIRE(l);
    REQUIRE(l->entries.size() == 2);
    CHECK(l->entries[0].name == "f");
    CHECK(l->entries[0].attr.size == 6);  // the first description wins
    CHECK(l->entries[1].name == "g");
  }
  SECTION("HTML whose icon links to the file too (Apache IconsAreLinks)") {
    // The first anchor has no text after it; its twin carries the date and size.
    auto l = parse_listing(
        "<html><body><h1>Index of /d</h1><table>"
        "<tr><td><a href=\"f.txt\"><img src=\"/icons/text.gif\" alt=\"[TXT]\"></a></td>"
        "<td><a href=\"f.txt\">f.txt</a></td><td align=\"right\">2026-11-21 06:28  </td>"
        "<td align=\"right\">1.3K</td></tr>"
        "<tr><td><a href=\"g.txt\"><img src=\"/icons/text.gif\" alt=\"[TXT]\"></a></td>"
        "<td><a href=\"g.txt\">g.txt</a></td><td align=\"right\">2026-11-21 06:29  </td>"
        "<td align=\"right\">42</td></tr>"
        "</table><address>Apache Server</address></body></html>",
        "http://h/d/", {});
    REQUIRE(l);
    REQUIRE(l->entries.size() == 2);
    const DirEntry* f = find(*l, "f.txt");
    REQUIRE(f);
    CHECK(f->attr.size == 1331);
    CHECK_FALSE(f->attr.size_exact);
    CHECK(f->attr.mtime_ns == int64_t(1795242480) * 1'000'000'000);  // 2026-11-21 06:28 UTC
    const DirEntry* g = find(*l, "g.txt");
    REQUIRE(g);
    CHECK(g->attr.size == 42);
    CHECK(g->attr.size_exact);
  }
}
