#include "origin/file/file_origin.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "origin/origin_factory.h"
#include "tests/support/nginx_fixture.h"

using namespace daramjwee;
using namespace daramjwee::origin;
namespace fs = std::filesystem;

namespace {

struct Tree {
  std::string root = testing::make_temp_dir("dj-fileorigin-");
  ~Tree() { testing::remove_tree(root); }
  void write(const std::string& rel, const std::string& data) {
    fs::create_directories(fs::path(root + "/" + rel).parent_path());
    std::ofstream(root + "/" + rel, std::ios::binary) << data;
  }
};

std::shared_ptr<Origin> open_origin(const std::string& root) {
  OriginOptions o;
  o.url = "file://" + root;
  auto r = make_origin(o);
  REQUIRE(r);
  return *r;
}

std::string read_str(Reader& r) {
  auto all = read_all(r);
  REQUIRE(all);
  return std::string(reinterpret_cast<const char*>(all->data()), all->size());
}

}  // namespace

TEST_CASE("file origin: stat, list and ranged reads", "[origin]") {
  Tree t;
  t.write("a.txt", "hello world");
  t.write("dir/b b.bin", std::string(100000, 'x'));
  ::symlink("/etc/passwd", (t.root + "/link").c_str());
  ::mkfifo((t.root + "/fifo").c_str(), 0600);
  auto o = open_origin(t.root);
  CHECK(o->describe() == "file://" + t.root);

  auto root = o->stat("");
  REQUIRE(root);
  CHECK(root->type == FileType::kDirectory);
  auto a = o->stat("a.txt");
  REQUIRE(a);
  CHECK(a->type == FileType::kFile);
  CHECK(a->size == 11);
  CHECK(a->size_exact);
  CHECK(a->mtime_ns > 0);
  CHECK_FALSE(a->etag.empty());

  auto l = o->list("");
  REQUIRE(l);
  std::vector<std::string> names;
  for (auto& e : *l) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"a.txt", "dir"});  // no symlink, no fifo

  CHECK(o->stat("link").error().code() == StatusCode::kNotFound);
  CHECK(o->stat("missing").error().code() == StatusCode::kNotFound);
  CHECK(o->stat("a.txt/x").error().code() == StatusCode::kNotFound);
  CHECK(o->stat("../etc").error().code() == StatusCode::kInvalidArgument);
  CHECK(o->read("link", "", {}).error().code() == StatusCode::kNotFound);

  auto r = o->read("a.txt", a->etag, {6, 5});
  REQUIRE(r);
  CHECK(read_str(**r) == "world");
  auto whole = o->read("dir/b b.bin", "", {});
  REQUIRE(whole);
  CHECK((*whole)->size_hint() == 100000u);
  CHECK(read_str(**whole).size() == 100000);
  auto past = o->read("a.txt", "", {50, 10});
  REQUIRE(past);
  CHECK(read_str(**past).empty());

  CHECK(o->revalidate("a.txt", a->etag).error().code() == StatusCode::kNotModified);
}

TEST_CASE("file origin: a changed file is reported, never mixed", "[origin]") {
  Tree t;
  t.write("f", std::string(1 << 20, 'a'));
  auto o = open_origin(t.root);
  auto a = o->stat("f");
  REQUIRE(a);

  SECTION("changed before the open") {
    t.write("f", std::string(1 << 20, 'b'));  // rewritten: new mtime
    ::utimensat(AT_FDCWD, (t.root + "/f").c_str(), nullptr, 0);
    auto r = o->read("f", a->etag, {});
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == StatusCode::kChangedAtOrigin);
    auto now = o->revalidate("f", a->etag);
    REQUIRE(now);  // a new version, not "not modified"
  }
  SECTION("changed during the read") {
    auto r = o->read("f", a->etag, {});
    REQUIRE(r);
    std::vector<std::byte> buf(4096);
    REQUIRE((*r)->read(buf));
    {
      std::ofstream out(t.root + "/f", std::ios::binary | std::ios::in | std::ios::out);
      out.seekp(500000);
      out << "CHANGED";
    }
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1, 0}};  // a distinct mtime even on coarse clocks
    ::utimensat(AT_FDCWD, (t.root + "/f").c_str(), ts, 0);
    auto next = (*r)->read(buf);
    REQUIRE_FALSE(next);
    CHECK(next.error().code() == StatusCode::kChangedAtOrigin);
  }
  SECTION("truncated during the read") {
    auto r = o->read("f", "", {});
    REQUIRE(r);
    std::vector<std::byte> buf(4096);
    REQUIRE((*r)->read(buf));
    REQUIRE(::truncate((t.root + "/f").c_str(), 100) == 0);
    auto next = (*r)->read(buf);
    REQUIRE_FALSE(next);
    CHECK(next.error().code() == StatusCode::kChangedAtOrigin);
  }
}

TEST_CASE("file origin: bad root is a configuration error", "[origin]") {
  OriginOptions o;
  o.url = "file:///nonexistent/dj-root";
  auto r = make_origin(o);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::kConfigError);
  CHECK(r.error().field() == "origin.url");
}
