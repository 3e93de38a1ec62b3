// HttpOrigin against tests/support/fault_server.py: retries, broken bodies,
// wrong ranges, versions that change, status mapping, secrets, proxies and
// hostile or huge listings.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "origin/http/http_origin.h"
#include "net/http_parse.h"
#include "tests/support/nginx_fixture.h"

using namespace daramjwee;
using namespace daramjwee::origin;

namespace {

struct Fault {
  testing::FaultServer server;
  bool ok = false;
  Fault() {
    std::string err;
    ok = server.start(&err);
    if (!ok) WARN(err);
  }
  std::shared_ptr<HttpOrigin> origin(OriginOptions o = {}) {
    if (o.url.empty()) o.url = server.url("/");
    o.http.backoff_base = std::chrono::milliseconds(5);
    auto r = HttpOrigin::create(o);
    REQUIRE(r);
    return *r;
  }
  // The fault server's request log as text (JSON).
  std::string log() {
    auto o = origin();
    auto r = o->read("_log", "", {});
    REQUIRE(r);
    auto all = read_all(**r);
    REQUIRE(all);
    return std::string(reinterpret_cast<const char*>(all->data()), all->size());
  }
};

Status read_status(Result<std::unique_ptr<Reader>> r) {
  if (!r) return r.error();
  auto all = read_all(**r);
  return all ? Status::ok() : all.error();
}

std::string read_str(Result<std::unique_ptr<Reader>> r) {
  REQUIRE(r);
  auto all = read_all(**r);
  REQUIRE(all);
  return std::string(reinterpret_cast<const char*>(all->data()), all->size());
}

}  // namespace

TEST_CASE("http origin (faults): 5xx bursts are retried within the budget", "[origin][fault]") {
  DJ_REQUIRE_OR_SKIP(testing::FaultServer::available(), "python3");
  Fault f;
  REQUIRE(f.ok);
  auto o = f.origin();
  auto st = o->stat("burst/a/3/100");  // 3 x 503, then 200: 3 retries of 4
  REQUIRE(st);
  CHECK(st->size == 100);
  CHECK(read_str(o->read("burst/b/2/1000", "", {10, 10})).size() == 10);

  OriginOptions few;
  few.url = f.server.url("/");
  few.http.max_retries = 2;
  auto o2 = f.origin(few);
  auto fail = o2->stat("burst/c/10/100");
  REQUIRE_FALSE(fail);
  CHECK(fail.error().code() == StatusCode::kIoError);
  CHECK(fail.error().retryable());
  auto s500 = o2->stat("status/500");
  REQUIRE_FALSE(s500);
  CHECK(s500.error().retryable());
}

TEST_CASE("http origin (faults): broken bodies are errors, never short data", "[origin][fault]") {
  DJ_REQUIRE_OR_SKIP(testing::FaultServer::available(), "python3");
  Fault f;
  REQUIRE(f.ok);
  OriginOptions opts;
  opts.url = f.server.url("/");
  opts.http.low_speed_bytes = 1000;
  opts.http.low_speed_time = std::chrono::milliseconds(1000);
  auto o = f.origin(opts);

  Status truncated = read_status(o->read("truncated/100000", "", {}));
  CHECK(truncated.code() == StatusCode::kIoError);
  CHECK(truncated.retryable());

  auto t0 = std::chrono::steady_clock::now();
  Status stalled = read_status(o->read("stall/100000", "", {}));
  CHECK(stalled.code() == StatusCode::kTimeout);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));

  Status longer = read_status(o->read("longer/1000", "", {0, 1000}));
  CHECK(longer.code() == StatusCode::kIoError);
  CHECK(longer.message().find("longer") != std::string::npos);

  Status bad_range = read_status(o->read("badrange/1000", "", {100, 50}));
  CHECK(bad_range.code() == StatusCode::kIoError);
  CHECK(bad_range.message().find("Content-Range") != std::string::npos);

  Status mismatch = read_status(o->read("cl-mismatch/1000", "", {10, std::nullopt}));
  CHECK(mismatch.code() == StatusCode::kIoError);
}

TEST_CASE("http origin (faults): pinned versions that change", "[origin][fault]") {
  DJ_REQUIRE_OR_SKIP(testing::FaultServer::available(), "python3");
  Fault f;
  REQUIRE(f.ok);
  auto o = f.origin();

  SECTION("strong ETag: If-Match sent, 412 -> changed at origin") {
    auto st = o->stat("changing-strong/100");
    REQUIRE(st);
    CHECK(net::is_strong_etag(st->etag));
    Status s = read_status(o->read("changing-strong/100", st->etag, {0, 10}));
    CHECK(s.code() == StatusCode::kChangedAtOrigin);
    CHECK(f.log().find("\"if_match\": \"" + std::string("\\\"v1\\\"")) != std::string::npos);
  }
  SECTION("weak ETag: never sent in If-Match, compared instead") {
    auto st = o->stat("changing-weak/100");
    REQUIRE(st);
    CHECK(st->etag.starts_with("W/"));
    Status s = read_status(o->read("changing-weak/100", st->etag, {0, 10}));
    CHECK(s.code() == StatusCode::kChangedAtOrigin);
    auto stable = o->stat("weak/100");
    REQUIRE(stable);
    CHECK(read_str(o->read("weak/100", stable->etag, {0, 10})).size() == 10);
    CHECK(f.log().find("\"if_match\": \"W/") == std::string::npos);
  }
  SECTION("no ETag: Last-Modified + size tag") {
    auto lm = o->stat("lmonly/100");
    REQUIRE(lm);
    CHECK(lm->etag.starts_with("lm:"));
    CHECK(read_str(o->read("lmonly/100", lm->etag, {5, 10})).size() == 10);
    CHECK(o->revalidate("lmonly/100", lm->etag).error().code() == StatusCode::kNotModified);
    auto ch = o->stat("changing-lm/100");
    REQUIRE(ch);
    Status s = read_status(o->read("changing-lm/100", ch->etag, {0, 10}));
    CHECK(s.code() == StatusCode::kChangedAtOrigin);
  }
  SECTION("malformed ETag is not trusted") {
    auto st = o->stat("badetag/100");
    REQUIRE(st);
    CHECK(st->etag.starts_with("lm:"));
  }
  SECTION("revalidation") {
    auto st = o->stat("data/100");
    REQUIRE(st);
    CHECK(o->revalidate("data/100", st->etag).error().code() == StatusCode::kNotModified);
    auto other = o->revalidate("data/100", "\"old\"");
    REQUIRE(other);
    CHECK(other->etag == st->etag);
  }
}

TEST_CASE("http origin (faults): status mapping", "[origin][fault]") {
  DJ_REQUIRE_OR_SKIP(testing::FaultServer::available(), "python3");
  Fault f;
  REQUIRE(f.ok);
  auto o = f.origin();
  CHECK(o->stat("status/404").error().code() == StatusCode::kNotFound);
  CHECK(o->stat("status/410").error().code() == StatusCode::kNotFound);
  CHECK(o->stat("status/401").error().code() == StatusCode::kPermissionDenied);
  CHECK(o->stat("status/403").error().code() == StatusCode::kPermissionDenied);
  CHECK(read_status(o->read("status/403", "", {})).code() == StatusCode::kPermissionDenied);
  CHECK(read_status(o->read("status/410", "", {})).code() == StatusCode::kNotFound);
  CHECK(o->list("status/404").error().code() == StatusCode::kNotFound);
  CHECK(o->list("status/401").error().code() == StatusCode::kPermissionDenied);
  CHECK_FALSE(o->stat("status/400").error().retryable());
}

TEST_CASE("http origin (faults): headers from a file, secrets never shown", "[origin][fault]") {
  DJ_REQUIRE_OR_SKIP(testing::FaultServer::available(), "python3");
  Fault f;
  REQUIRE(f.ok);
  std::string dir = testing::make_temp_dir("dj-hdr-");
  std::string file = dir + "/headers";
  std::ofstream(file) << "# secret\nAuthorization: Bearer sekrit-token\r\n\nX-Extra: 1\n";
  OriginOptions with;
  with.url = f.server.url("/");
  with.http.headers_file = file;
  auto o = f.origin(with);
  CHECK(read_str(o->read("auth/100", "", {})).size() == 100);

  OriginOptions without;
  without.url = "http://user:sekrit-token@127.0.0.1:" + std::to_string(f.server.port()) + "/";
  auto o2 = f.origin(without);
  CHECK(o2->describe().find("sekrit") == std::string::npos);
  CHECK(o2->describe().find("user") == std::string::npos);
  auto denied = o2->stat("auth/100");  // basic auth is not the bearer token
  REQUIRE_FALSE(denied);
  CHECK(denied.error().code() == StatusCode::kPermissionDenied);
  CHECK(denied.error().to_string().find("sekrit") == std::string::npos);

  OriginOptions bad;
  bad.url = f.server.url("/");
  bad.http.headers = {"No colon here"};
  auto r = HttpOrigin::create(bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().field() == "origin.http.headers");
  bad.http.headers = {"X-Evil: a\r\nInjected: b"};
  CHECK_FALSE(HttpOrigin::create(bad));
  testing::remove_tree(dir);
}

TEST_CASE("http origin (faults): explicit and environment proxies", "[origin][fault]") {
  DJ_REQUIRE_OR_SKIP(testing::FaultServer::available(), "python3");
  Fault f;
  REQUIRE(f.ok);
  OriginOptions o;
  o.url = "http://origin.invalid/";
  o.http.proxy = f.server.url("/");
  o.http.max_retries = 0;
  auto via = f.origin(o);
  CHECK(read_str(via->read("data/64", "", {})).size() == 64);

  o.http.proxy.clear();
  ::setenv("http_proxy", f.server.url("/").c_str(), 1);
  auto env = f.origin(o);
  auto r = read_str(env->read("data/32", "", {}));
  ::unsetenv("http_proxy");
  CHECK(r.size() == 32);
  CHECK(f.log().find("\"proxied\": true") != std::string::npos);

  // no_proxy exempts the origin from a (dead) environment proxy.
  ::setenv("http_proxy", "http://127.0.0.1:9/", 1);
  ::setenv("no_proxy", "127.0.0.1", 1);
  OriginOptions direct;
  direct.url = f.server.url("/");
  direct.http.max_retries = 0;
  auto d = f.origin(direct);
  auto body = d->read("data/16", "", {});
  ::unsetenv("http_proxy");
  ::unsetenv("no_proxy");
  CHECK(read_str(std::move(body)).size() == 16);
}

TEST_CASE("http origin (faults): hostile and huge listings", "[origin][fault]") {
  DJ_REQUIRE_OR_SKIP(testing::FaultServer::available(), "python3");
  Fault f;
  REQUIRE(f.ok);
  auto o = f.origin();
  auto l = o->list_detailed("list/hostile");
  REQUIRE(l);
  std::vector<std::string> n;
  for (auto& e : l->entries) n.push_back(e.name);
  CHECK(n == std::vector<std::string>{"ok name.txt", "caf\xC3\xA9#?%+.bin", "good-dir", "&amp.txt"});
  CHECK(l->skipped == 6);

  auto apache = o->list_detailed("list/apache");
  REQUIRE(apache);
  CHECK(apache->format == ListingFormat::kApacheHtml);
  CHECK(apache->entries.size() == 4);

  auto many = o->list("list/huge-json/20000");
  REQUIRE(many);
  CHECK(many->size() == 20000);

  OriginOptions small;
  small.url = f.server.url("/");
  small.http.max_listing_entries = 1000;
  small.http.max_listing_bytes = 1 << 20;
  auto o2 = f.origin(small);
  CHECK(o2->list("list/huge-json/5000").error().code() == StatusCode::kResourceExhausted);
  CHECK(o2->list("list/huge-html/3000000").error().code() == StatusCode::kResourceExhausted);
}
