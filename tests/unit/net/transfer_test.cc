// Transfers against the fault server: keep-alive reuse, the pull/pause path,
// abandoning a body, timeouts and bounds.
#include "net/transfer.h"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "tests/support/nginx_fixture.h"

using namespace daramjwee::net;
using daramjwee::testing::FaultServer;

namespace {

std::vector<std::byte> expected_data(size_t n) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7) % 251);
  return v;
}

Request get(const std::string& url) { return Request{Method::kGet, url, {}, std::chrono::seconds(20), 0}; }

}  // namespace

TEST_CASE("transfer: sequential requests reuse one connection", "[net]") {
  DJ_REQUIRE_OR_SKIP(FaultServer::available(), "python3");
  FaultServer fs;
  std::string err;
  REQUIRE(fs.start(&err));
  auto pool = CurlPool::create({});
  for (int i = 0; i < 30; ++i) {
    NetError e;
    auto t = Transfer::open(pool, get(fs.url("/data/1000")), &e);
    REQUIRE(t);
    std::string body;
    REQUIRE(t->read_all(&body, &e));
    CHECK(body.size() == 1000);
    CHECK(t->head().status == 200);
  }
  CHECK(pool->counters().requests == 30);
  CHECK(pool->counters().connections_opened == 1);
}

TEST_CASE("transfer: tiny reads of a large body go through pause/resume intact", "[net]") {
  DJ_REQUIRE_OR_SKIP(FaultServer::available(), "python3");
  FaultServer fs;
  std::string err;
  REQUIRE(fs.start(&err));
  auto pool = CurlPool::create({});
  const size_t n = 3'000'000;
  NetError e;
  auto t = Transfer::open(pool, get(fs.url("/data/" + std::to_string(n))), &e);
  REQUIRE(t);
  std::vector<std::byte> got;
  std::vector<std::byte> buf(777);
  for (;;) {
    size_t k = t->read(buf, &e);
    REQUIRE_FALSE(e.failed());
    REQUIRE(t->buffered() <= Transfer::kHighWater + 256 * 1024);
    if (k == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(k));
  }
  CHECK(got == expected_data(n));
  CHECK(t->at_end());
}

TEST_CASE("transfer: abandoning a body mid-way is safe and the pool keeps working", "[net]") {
  DJ_REQUIRE_OR_SKIP(FaultServer::available(), "python3");
  FaultServer fs;
  std::string err;
  REQUIRE(fs.start(&err));
  auto pool = CurlPool::create({});
  for (int i = 0; i < 5; ++i) {
    NetError e;
    auto t = Transfer::open(pool, get(fs.url("/data/4000000")), &e);
    REQUIRE(t);
    std::vector<std::byte> buf(100);
    CHECK(t->read(buf, &e) > 0);
  }  // destroyed with most of the body unread
  NetError e;
  auto t = Transfer::open(pool, get(fs.url("/data/10")), &e);
  REQUIRE(t);
  std::string body;
  REQUIRE(t->read_all(&body, &e));
  CHECK(body.size() == 10);
  // Abandoned connections cannot be reused: each abandoned GET used its own.
  CHECK(pool->counters().connections_opened >= 5);
}

TEST_CASE("transfer: a stalled body or head hits the low-speed abort", "[net]") {
  DJ_REQUIRE_OR_SKIP(FaultServer::available(), "python3");
  FaultServer fs;
  std::string err;
  REQUIRE(fs.start(&err));
  ClientOptions o;
  o.low_speed_bytes = 1000;
  o.low_speed_time = std::chrono::milliseconds(1000);
  auto pool = CurlPool::create(o);
  Request r = get(fs.url("/stall/100000"));
  r.total_timeout = std::chrono::milliseconds(0);  // streaming: only the low-speed abort
  auto t0 = std::chrono::steady_clock::now();
  NetError e;
  auto t = Transfer::open(pool, r, &e);
  REQUIRE(t);
  std::string body;
  CHECK_FALSE(t->read_all(&body, &e));
  CHECK(e.kind == ErrorKind::kTimeout);
  CHECK(e.retryable);
  CHECK(body.size() == 50000);
  auto t1 = std::chrono::steady_clock::now();
  CHECK(t1 - t0 < std::chrono::seconds(5));

  r.url = fs.url("/stallhead");
  auto t2 = Transfer::open(pool, r, &e);
  CHECK_FALSE(t2);
  CHECK(e.kind == ErrorKind::kTimeout);
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(5));
}

TEST_CASE("transfer: a slow reader is not charged for its own pauses", "[net]") {
  DJ_REQUIRE_OR_SKIP(FaultServer::available(), "python3");
  FaultServer fs;
  std::string err;
  REQUIRE(fs.start(&err));
  ClientOptions o;
  o.low_speed_bytes = 100000;
  o.low_speed_time = std::chrono::milliseconds(300);
  auto pool = CurlPool::create(o);
  NetError e;
  auto t = Transfer::open(pool, get(fs.url("/data/200000")), &e);
  REQUIRE(t);
  std::vector<std::byte> buf(10000);
  uint64_t total = 0;
  for (int i = 0; i < 4; ++i) {
    total += t->read(buf, &e);
    REQUIRE_FALSE(e.failed());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::string rest;
  REQUIRE(t->read_all(&rest, &e));
  CHECK(total + rest.size() == 200000);
}

TEST_CASE("transfer: connection refused is a retryable connect error", "[net]") {
  auto pool = CurlPool::create({});
  // Port 9 (discard) on loopback: nothing listens there in the test image.
  NetError e;
  auto t = Transfer::open(pool, get("http://127.0.0.1:9/x"), &e);
  REQUIRE_FALSE(t);
  CHECK(e.kind == ErrorKind::kConnect);
  CHECK(e.retryable);
}

TEST_CASE("transfer: max_body bounds a buffered body", "[net]") {
  DJ_REQUIRE_OR_SKIP(FaultServer::available(), "python3");
  FaultServer fs;
  std::string err;
  REQUIRE(fs.start(&err));
  auto pool = CurlPool::create({});
  Request r = get(fs.url("/data/100000"));
  r.max_body = 5000;
  NetError e;
  auto t = Transfer::open(pool, r, &e);
  std::string body;
  bool ok = t && t->read_all(&body, &e);
  CHECK_FALSE(ok);
  CHECK(e.kind == ErrorKind::kTooLarge);
}

TEST_CASE("transfer: redact_url removes userinfo", "[net]") {
  CHECK(redact_url("http://user:pw@host:8/a?b=c") == "http://host:8/a?b=c");
  CHECK(redact_url("see https://tok@h/x and http://h2/y") == "see https://h/x and http://h2/y");
  CHECK(redact_url("no url here") == "no url here");
  CHECK(redact_url("http://host/p@x") == "http://host/p@x");
}
