#include "config/options.h"

#include <cstdio>
#include <fstream>

#include <catch2/catch.hpp>

using namespace daramjwee;
using namespace daramjwee::config;

namespace {
const std::map<std::string, std::string> kEnv = {{"HOME", "/home/u"}};

Result<Command> parse(std::vector<std::string> args, bool root = true) {
  args.insert(args.begin(), "daramjwee-fs");
  return parse_command_line(args, root, kEnv);
}
}  // namespace

TEST_CASE("config: sizes and durations", "[config]") {
  CHECK(parse_size("4096") == 4096u);
  CHECK(parse_size("64K") == 65536u);
  CHECK(parse_size("1m") == 1048576u);
  CHECK(parse_size("10G") == 10ull << 30);
  CHECK(parse_size("2GiB") == 2ull << 30);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("M"));
  CHECK_FALSE(parse_size("12Q"));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK(parse_seconds("30") == Approx(30));
  CHECK(parse_seconds("1.5") == Approx(1.5));
  CHECK(parse_seconds("500ms") == Approx(0.5));
  CHECK(parse_seconds("2m") == Approx(120));
  CHECK_FALSE(parse_seconds("soon"));
  CHECK_FALSE(parse_seconds("1x"));
}

TEST_CASE("config: defaults and the command line", "[config]") {
  auto c = parse({"http://h/", "/mnt"});
  REQUIRE(c);
  const auto& o = c->options;
  CHECK(o.origin == "http://h/");
  CHECK(o.mountpoint == "/mnt");
  CHECK(o.ram_size == 256ull << 20);
  CHECK(o.chunk_size == 1u << 20);
  CHECK(o.ttl == Approx(60));
  CHECK(o.cache_dir.rfind("/var/cache/daramjwee-fs/", 0) == 0);
  CHECK(o.cache_mismatch == "refuse");
  CHECK(o.disk_free_min == 256ull << 20);
  CHECK_FALSE(o.foreground);

  auto u = parse({"http://h/", "/mnt"}, false);
  REQUIRE(u);
  CHECK(u->options.cache_dir.rfind("/home/u/.cache/daramjwee-fs/", 0) == 0);
  auto x = parse_command_line({"d", "http://h/", "/mnt"}, false, {{"XDG_CACHE_HOME", "/xdg"}});
  REQUIRE(x);
  CHECK(x->options.cache_dir.rfind("/xdg/daramjwee-fs/", 0) == 0);

  auto f = parse({"file:///srv", "/mnt", "-f", "-o", "ram_size=64M,ttl=5,allow_other", "-o",
                  "noauto,_netdev,default_permissions,fsname=x", "-d"});
  REQUIRE(f);
  CHECK(f->options.foreground);
  CHECK(f->options.debug);
  CHECK(f->options.ram_size == 64u << 20);
  CHECK(f->options.ttl == Approx(5));
  CHECK(f->options.allow_other);
  CHECK(parse({"http://h/", "/mnt", "-o", "cache_mismatch=reset"})->options.cache_mismatch == "reset");
  CHECK(f->options.fuse_options == std::vector<std::string>{"default_permissions", "fsname=x"});
  CHECK(f->options.ignored_options == std::vector<std::string>{"noauto", "_netdev"});

  CHECK(parse({"--help"})->help);
}

TEST_CASE("config: errors name the option", "[config]") {
  auto field_of = [](std::vector<std::string> args) {
    auto r = parse(std::move(args));
    REQUIRE_FALSE(r);
    CHECK(r.error().is(StatusCode::kConfigError));
    return r.error().field();
  };
  CHECK(field_of({"http://h/", "/mnt", "-o", "ram_size=lots"}) == "ram_size");
  CHECK(field_of({"http://h/", "/mnt", "-o", "chunk_size=1"}) == "chunk_size");
  CHECK(field_of({"http://h/", "/mnt", "-o", "ttl=soon"}) == "ttl");
  CHECK(field_of({"http://h/", "/mnt", "-o", "bogus=1"}) == "bogus");
  CHECK(field_of({"http://h/", "/mnt", "-o", "ram_policy=fifo"}) == "ram_policy");
  CHECK(field_of({"http://h/", "/mnt", "-o", "cache_mismatch=wipe"}) == "cache_mismatch");
  CHECK(field_of({"http://h/", "/mnt", "-o", "disk_free_min=lots"}) == "disk_free_min");
  CHECK(field_of({"http://h/", "/mnt", "-o", "cache_dir=relative"}) == "cache_dir");
  CHECK(field_of({"http://h/", "/mnt", "-o", "cache_dir"}) == "cache_dir");
  CHECK(field_of({"gopher://h/", "/mnt"}) == "ORIGIN");
  CHECK(field_of({"http://h/"}) == "MOUNTPOINT");
  CHECK(field_of({"http://h/", "/mnt", "-x"}) == "-x");
  auto r = parse({"http://h/", "/mnt", "-o", "ram_size=lots"});
  CHECK(r.error().message().find("ram_size") != std::string::npos);
}

TEST_CASE("config: TOML file, overridden by -o", "[config]") {
  DaemonOptions o;
  REQUIRE(apply_toml("ram_size = \"32M\"\nttl = 7\ncompress = false\n[http]\nproxy = \"http://p:3128\"\n"
                     "headers = [\"X-A: 1\"]\nmax_connections = 4\n",
                     "t.toml", o));
  CHECK(o.ram_size == 32u << 20);
  CHECK(o.ttl == Approx(7));
  CHECK_FALSE(o.compress);
  CHECK(o.http_proxy == "http://p:3128");
  CHECK(o.http_headers == std::vector<std::string>{"X-A: 1"});
  CHECK(o.http_max_connections == 4);

  Status bad = apply_toml("ram_size = \"huge\"\n", "t.toml", o);
  CHECK(bad.field() == "ram_size");
  CHECK(bad.message().find("t.toml") != std::string::npos);
  CHECK(apply_toml("mystery = 1\n", "t.toml", o).field() == "mystery");
  CHECK(apply_toml("[other]\nx = 1\n", "t.toml", o).field() == "other");
  CHECK(apply_toml("ttl = [1,\n", "t.toml", o).field() == "config");

  const std::string path = "/tmp/daramjwee-config-test.toml";
  {
    std::ofstream f(path);
    f << "ram_size = \"32M\"\nttl = 7\norigin_timeout = 3\n";
  }
  auto c = parse({"http://h/", "/mnt", "-o", "config=" + path + ",ttl=9"});
  std::remove(path.c_str());
  REQUIRE(c);
  CHECK(c->options.ram_size == 32u << 20);  // file over default
  CHECK(c->options.ttl == Approx(9));       // -o over file
  CHECK(c->options.origin_timeout == Approx(3));
  auto missing = parse({"http://h/", "/mnt", "-o", "config=/nonexistent/x.toml"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().field() == "config");
}

TEST_CASE("config: --help lists every option with a default", "[config]") {
  std::string h = help_text();
  for (auto name : {"config=", "cache_dir=", "ram_size=", "disk_size=", "chunk_size=", "ttl=", "negative_ttl=",
                    "origin_timeout=", "control=", "allow_other", "readahead=", "http.proxy=", "cache_mismatch=", "disk_free_min="}) {
    CHECK(h.find(name) != std::string::npos);
  }
  CHECK(h.find("default: 256M") != std::string::npos);
}

TEST_CASE("config: attribute resolution options", "[config]") {
  auto d = parse({"http://h/", "/mnt"});
  REQUIRE(d);
  CHECK(d->options.attr_concurrency == 16);
  CHECK_FALSE(d->options.exact_mtime);
  auto s = parse({"http://h/", "/mnt", "-o", "attr_concurrency=4,exact_mtime=true"});
  REQUIRE(s);
  CHECK(s->options.attr_concurrency == 4);
  CHECK(s->options.exact_mtime);
  auto bad = parse({"http://h/", "/mnt", "-o", "attr_concurrency=0"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().field() == "attr_concurrency");
  const std::string h = help_text();
  CHECK(h.find("attr_concurrency=") != std::string::npos);
  CHECK(h.find("exact_mtime=") != std::string::npos);
}
