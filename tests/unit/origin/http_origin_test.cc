// HttpOrigin against a real nginx (Debian's), started on a free loopback
// port with autoindex JSON at /, HTML at /html/ and rounded HTML at /rough/.
#include "origin/http/http_origin.h"
#include "net/http_parse.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/nginx_fixture.h"

using namespace daramjwee;
using namespace daramjwee::origin;
namespace fs = std::filesystem;

namespace {

const std::string kOdd = "sp ace#?%+\xC3\xA9&.txt";

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + static_cast<size_t>(seed)) % 256);
  return s;
}

struct NginxTree {
  std::string root = testing::make_temp_dir("dj-nginxroot-");
  testing::NginxFixture nginx;
  bool ok = false;
  NginxTree() {
    write("a.txt", "hello world\n");
    write(kOdd, "odd name");
    write("dir/nested.bin", pattern(1 << 20, 1));
    write("dir/sub/deep.txt", "deep");
    write("big.bin", pattern(3'000'000, 2));
    write("empty", "");
    std::string err;
    ok = nginx.start(root, &err);
    if (!ok) WARN(err);
  }
  ~NginxTree() {
    nginx.stop();
    testing::remove_tree(root);
  }
  void write(const std::string& rel, const std::string& data) {
    fs::create_directories(fs::path(root + "/" + rel).parent_path());
    std::ofstream(root + "/" + rel, std::ios::binary) << data;
  }
  std::shared_ptr<HttpOrigin> origin(const std::string& location = "/") {
    OriginOptions o;
    o.url = nginx.url(location);
    o.http.backoff_base = std::chrono::milliseconds(5);
    auto r = HttpOrigin::create(o);
    REQUIRE(r);
    return *r;
  }
};

std::string read_str(Result<std::unique_ptr<Reader>> r) {
  REQUIRE(r);
  auto all = read_all(**r);
  REQUIRE(all);
  return std::string(reinterpret_cast<const char*>(all->data()), all->size());
}

std::vector<std::string> names(const std::vector<DirEntry>& l) {
  std::vector<std::string> n;
  for (auto& e : l) n.push_back(e.name);
  std::sort(n.begin(), n.end());
  return n;
}

const DirEntry* find(const std::vector<DirEntry>& l, const std::string& name) {
  for (auto& e : l)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("http origin (nginx): listings in JSON, HTML and rounded HTML", "[origin][nginx]") {
  DJ_REQUIRE_OR_SKIP(testing::NginxFixture::available(), "nginx");
  NginxTree t;
  REQUIRE(t.ok);
  const std::vector<std::string> expected = {"a.txt", "big.bin", "dir", "empty", kOdd};
  for (std::string loc : {"/", "/html/", "/rough/"}) {
    INFO(loc);
    auto o = t.origin(loc);
    auto l = o->list_detailed("");
    REQUIRE(l);
    std::vector<std::string> n;
    for (auto& e : l->entries) n.push_back(e.name);
    std::sort(n.begin(), n.end());
    CHECK(n == expected);
    CHECK(l->format == (loc == "/" ? ListingFormat::kNginxJson : ListingFormat::kNginxHtml));
    const DirEntry* big = find(l->entries, "big.bin");
    REQUIRE(big);
    if (loc == "/rough/") {
      CHECK_FALSE(big->attr.size_exact);  // "3M"-style
      auto st = o->stat("big.bin");         // the HEAD that fills it in
      REQUIRE(st);
      CHECK(st->size == 3'000'000);
      CHECK(st->size_exact);
    } else {
      CHECK(big->attr.size_exact);
      CHECK(big->attr.size == 3'000'000);
    }
    CHECK(find(l->entries, "dir")->attr.type == FileType::kDirectory);
    auto sub = o->list("dir");
    REQUIRE(sub);
    CHECK(names(*sub) == std::vector<std::string>{"nested.bin", "sub"});
    auto deep = o->list("dir/sub");
    REQUIRE(deep);
    CHECK(names(*deep) == std::vector<std::string>{"deep.txt"});
    auto missing = o->list("nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == StatusCode::kNotFound);
  }
}

TEST_CASE("http origin (nginx): stat, reads, pinning and revalidation", "[origin][nginx]") {
  DJ_REQUIRE_OR_SKIP(testing::NginxFixture::available(), "nginx");
  NginxTree t;
  REQUIRE(t.ok);
  auto o = t.origin();
  CHECK(o->describe() == t.nginx.url("/"));

  auto a = o->stat("a.txt");
  REQUIRE(a);
  CHECK(a->type == FileType::kFile);
  CHECK(a->size == 12);
  CHECK(a->mtime_ns > 0);
  CHECK(net::is_strong_etag(a->etag));
  auto dir = o->stat("dir");
  REQUIRE(dir);
  CHECK(dir->type == FileType::kDirectory);
  CHECK(o->stat("").value().type == FileType::kDirectory);
  CHECK(o->stat("missing.txt").error().code() == StatusCode::kNotFound);
  CHECK(o->stat(kOdd).value().size == 8);
  CHECK(read_str(o->read(kOdd, "", {})) == "odd name");

  CHECK(read_str(o->read("a.txt", a->etag, {0, 5})) == "hello");
  CHECK(read_str(o->read("a.txt", a->etag, {6, std::nullopt})) == "world\n");
  CHECK(read_str(o->read("a.txt", a->etag, {6, 100})) == "world\n");  // clipped at the end
  CHECK(read_str(o->read("a.txt", a->etag, {12, 10})).empty());       // 416 at the end
  CHECK(read_str(o->read("a.txt", a->etag, {0, 0})).empty());
  CHECK(read_str(o->read("empty", "", {})).empty());
  const std::string big = pattern(3'000'000, 2);
  CHECK(read_str(o->read("big.bin", "", {})) == big);
  CHECK(read_str(o->read("big.bin", "", {1'000'000, 4096})) == big.substr(1'000'000, 4096));
  auto missing = o->read("missing", "", {0, 10});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::kNotFound);

  CHECK(o->revalidate("a.txt", a->etag).error().code() == StatusCode::kNotModified);

  // The file changes at the origin: a pinned read fails cleanly (412).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // nginx ETags have 1 s mtimes
  t.write("a.txt", "HELLO WORLD!\n");
  auto changed = o->read("a.txt", a->etag, {0, 5});
  REQUIRE_FALSE(changed);
  CHECK(changed.error().code() == StatusCode::kChangedAtOrigin);
  auto fresh = o->revalidate("a.txt", a->etag);
  REQUIRE(fresh);
  CHECK(fresh->etag != a->etag);
  CHECK(fresh->size == 13);
  CHECK(read_str(o->read("a.txt", fresh->etag, {0, 5})) == "HELLO");
}

TEST_CASE("http origin (nginx): ranged GETs reuse connections across threads", "[origin][nginx]") {
  DJ_REQUIRE_OR_SKIP(testing::NginxFixture::available(), "nginx");
  NginxTree t;
  REQUIRE(t.ok);
  auto o = t.origin();
  const std::string data = pattern(1 << 20, 1);
  auto attr = o->stat("dir/nested.bin");
  REQUIRE(attr);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < 50; ++i) {
        uint64_t off = static_cast<uint64_t>((th * 50 + i) * 4096) % (1 << 20);
        auto r = o->read("dir/nested.bin", attr->etag, {off, 4096});
        if (!r) { ++bad; continue; }
        auto all = read_all(**r);
        if (!all || std::string(reinterpret_cast<const char*>(all->data()), all->size()) !=
                        data.substr(off, 4096))
          ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  auto c = o->counters();
  CHECK(c.requests == 201);
  CHECK(c.connections_opened <= 8);  // at most a few per thread, not 200

  // Abandoning a streaming read mid-body must not disturb later requests.
  {
    auto r = o->read("big.bin", "", {});
    REQUIRE(r);
    std::vector<std::byte> buf(1000);
    REQUIRE((*r)->read(buf));
  }
  CHECK(read_str(o->read("a.txt", "", {0, 5})) == "hello");
}
