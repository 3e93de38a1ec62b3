// HTTPS against nginx with a self-signed certificate: verification is on by
// default, a CA file makes it pass, HTTP/2 is used when offered (ALPN).
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>

#include "net/transfer.h"
#include "origin/http/http_origin.h"
#include "tests/support/nginx_fixture.h"

using namespace daramjwee;
using namespace daramjwee::origin;

TEST_CASE("http origin (TLS): verification on by default, CA file, HTTP/2", "[origin][nginx]") {
  DJ_REQUIRE_OR_SKIP(testing::NginxFixture::available(), "nginx");
  DJ_REQUIRE_OR_SKIP(::access("/usr/bin/openssl", X_OK) == 0, "openssl");
  std::string root = testing::make_temp_dir("dj-tlsroot-");
  std::ofstream(root + "/f.txt") << "secure";
  testing::NginxFixture nginx;
  std::string err;
  REQUIRE(nginx.start(root, &err, /*tls=*/true));

  OriginOptions o;
  o.url = nginx.tls_url("/");
  o.http.max_retries = 0;
  auto strict = HttpOrigin::create(o);
  REQUIRE(strict);
  auto refused = (*strict)->stat("f.txt");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == StatusCode::kIoError);
  CHECK_FALSE(refused.error().retryable());

  o.http.ca_file = nginx.cert_file();
  auto trusted = HttpOrigin::create(o);
  REQUIRE(trusted);
  auto st = (*trusted)->stat("f.txt");
  REQUIRE(st);
  CHECK(st->size == 6);
  auto r = (*trusted)->read("f.txt", st->etag, {1, 3});
  REQUIRE(r);
  auto all = read_all(**r);
  REQUIRE(all);
  CHECK(std::string(reinterpret_cast<const char*>(all->data()), all->size()) == "ecu");
  auto l = (*trusted)->list("");
  REQUIRE(l);
  CHECK(l->size() == 1);

  net::ClientOptions co;
  co.ca_file = nginx.cert_file();
  auto pool = net::CurlPool::create(co);
  net::NetError e;
  auto t = net::Transfer::open(pool, {net::Method::kHead, nginx.tls_url("/f.txt"), {}, std::chrono::seconds(10), 0}, &e);
  REQUIRE(t);
  CHECK(t->head().http_version == 20);

  o.http.ca_file.clear();
  o.http.tls_verify = false;
  auto insecure = HttpOrigin::create(o);
  REQUIRE(insecure);
  CHECK((*insecure)->stat("f.txt"));
  nginx.stop();
  testing::remove_tree(root);
}
