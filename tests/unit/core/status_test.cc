#include "core/status.h"

#include <catch2/catch.hpp>

#include "core/result.h"

using namespace daramjwee;

TEST_CASE("status: OK is cheap and empty", "[core]") {
  Status s;
  CHECK(s.is_ok());
  CHECK(s.code() == StatusCode::kOk);
  CHECK(s.message().empty());
  CHECK(s.to_string() == "ok");
}

TEST_CASE("status: a tier error names tier and operation", "[core]") {
  Status s = Status::tier_error("disk", "commit", "no space left on device");
  CHECK(s.is(StatusCode::kTierError));
  CHECK(s.tier() == "disk");
  CHECK(s.operation() == "commit");
  CHECK(s.to_string() == "tier error: tier=disk op=commit: no space left on device");
}

TEST_CASE("status: a config error names the field", "[core]") {
  Status s = Status::config_error("tiers[1].ttl", "must be >= 0");
  CHECK(s.field() == "tiers[1].ttl");
  CHECK(s.to_string().find("tiers[1].ttl") != std::string::npos);
}

TEST_CASE("status: aggregate lists every child; empty aggregate is OK", "[core]") {
  CHECK(Status::aggregate("x", {}).is_ok());
  Status s = Status::aggregate("remove failed",
                               {Status::tier_error("memory", "remove", "a"),
                                Status::tier_error("disk", "remove", "b")});
  REQUIRE(s.children().size() == 2);
  CHECK(s.children()[1].tier() == "disk");
  CHECK(s.to_string().find("tier=memory") != std::string::npos);
  CHECK(s.to_string().find("tier=disk") != std::string::npos);
}

TEST_CASE("status: with_tier keeps the code", "[core]") {
  Status s = Status::io_error("boom", true).with_tier("s3", "get");
  CHECK(s.is(StatusCode::kIoError));
  CHECK(s.retryable());
  CHECK(s.tier() == "s3");
}

TEST_CASE("result: value or error", "[core]") {
  Result<int> ok = 3;
  REQUIRE(ok.has_value());
  CHECK(*ok == 3);
  CHECK(ok.status().is_ok());
  Result<int> bad = Status::not_found();
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().is(StatusCode::kNotFound));
}
