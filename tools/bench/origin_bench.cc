// origin_bench: the HTTP origin against its physical limits, in one run,
// on one real nginx (started on a free loopback port):
//  1. a 256 MiB download through HttpOrigin::read (streaming GET, the path
//     the filesystem uses for sequential reads) vs curl(1) from the same
//     nginx: MiB/s of each and their ratio (best of 3, page cache warm);
//  2. 4 KiB ranged GETs per second on pooled keep-alive connections vs a
//     new connection for each request ("Connection: close").
// A benchmark, not a test: it prints figures and never fails on them.
//   origin_bench [--size-mib N] [--requests N] [--threads N]
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "origin/http/http_origin.h"
#include "tests/support/nginx_fixture.h"
#include "util/log.h"

using namespace daramjwee;
using BenchClock = std::chrono::steady_clock;

namespace {

// CPU seconds (user + system) of this process, or of its reaped children.
double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double seconds_since(BenchClock::time_point t0) {
  return std::chrono::duration<double>(BenchClock::now() - t0).count();
}

double curl_download(const std::string& url) {
  auto t0 = BenchClock::now();
  std::string cmd = "curl -s -f -o /dev/null '" + url + "'";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "curl failed\n");
    std::exit(1);
  }
  return seconds_since(t0);
}

double origin_download(origin::HttpOrigin& o, const std::string& path, uint64_t expect) {
  auto t0 = BenchClock::now();
  auto r = o.read(path, "", {});
  if (!r) {
    std::fprintf(stderr, "read: %s\n", r.error().to_string().c_str());
    std::exit(1);
  }
  std::vector<std::byte> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    auto n = (*r)->read(buf);
    if (!n) {
      std::fprintf(stderr, "read: %s\n", n.error().to_string().c_str());
      std::exit(1);
    }
    if (*n == 0) break;
    total += *n;
  }
  if (total != expect) {
    std::fprintf(stderr, "short download %llu\n", static_cast<unsigned long long>(total));
    std::exit(1);
  }
  return seconds_since(t0);
}

double ranged_gets(origin::HttpOrigin& o, const std::string& path, uint64_t size, int requests,
                   int threads) {
  auto t0 = BenchClock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::vector<std::byte> buf(4096);
      for (int i = t; i < requests; i += threads) {
        uint64_t off = (static_cast<uint64_t>(i) * 1'048'573 * 4096) % (size - 4096);
        auto r = o.read(path, "", {off, 4096});
        if (!r) {
          std::fprintf(stderr, "ranged read: %s\n", r.error().to_string().c_str());
          std::exit(1);
        }
        size_t got = 0;
        while (true) {
          auto n = (*r)->read(std::span(buf).subspan(got));
          if (!n || *n == 0) break;
          got += *n;
        }
        if (got != 4096) std::exit(1);
      }
    });
  }
  for (auto& t : ts) t.join();
  return requests / seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t size_mib = 256;
  int requests = 2000, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--size-mib")) size_mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--requests")) requests = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  util::set_log_level(spdlog::level::warn);
  const uint64_t size = size_mib << 20;
  std::string root = testing::make_temp_dir("dj-originbench-");
  {
    std::ofstream out(root + "/big.bin", std::ios::binary);
    std::vector<char> block(1 << 20);
    for (uint64_t b = 0; b < size_mib; ++b) {
      for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>((i * 31 + b * 7) >> 3);
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  testing::NginxFixture nginx;
  std::string err;
  if (!nginx.start(root, &err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    testing::remove_tree(root);
    return 1;
  }
  origin::OriginOptions opts;
  opts.url = nginx.url("/");
  auto o = origin::HttpOrigin::create(opts);
  if (!o) return 1;
  opts.http.headers = {"Connection: close"};
  auto fresh = origin::HttpOrigin::create(opts);
  if (!fresh) return 1;

  double best_curl = 1e9, best_origin = 1e9, cpu_curl = 0, cpu_origin = 0;
  curl_download(nginx.url("/big.bin"));  // warm the page cache
  const int kRounds = 3;
  for (int i = 0; i < kRounds; ++i) {
    double c0 = cpu_seconds(RUSAGE_CHILDREN);
    best_curl = std::min(best_curl, curl_download(nginx.url("/big.bin")));
    cpu_curl += cpu_seconds(RUSAGE_CHILDREN) - c0;
    double s0 = cpu_seconds(RUSAGE_SELF);
    best_origin = std::min(best_origin, origin_download(**o, "big.bin", size));
    cpu_origin += cpu_seconds(RUSAGE_SELF) - s0;
  }
  double mib = static_cast<double>(size_mib);
  std::printf("download %llu MiB (best of %d): origin %.0f MiB/s, curl %.0f MiB/s, ratio origin/curl %.2f; "
              "client CPU per download: origin %.3f s, curl %.3f s\n",
              static_cast<unsigned long long>(size_mib), kRounds, mib / best_origin, mib / best_curl,
              best_curl / best_origin, cpu_origin / kRounds, cpu_curl / kRounds);

  auto before = (*o)->counters();
  double reused = ranged_gets(**o, "big.bin", size, requests, threads);
  auto after = (*o)->counters();
  double fresh_rate = ranged_gets(**fresh, "big.bin", size, requests, threads);
  auto fc = (*fresh)->counters();
  std::printf("4 KiB ranged GETs (%d requests, %d thread(s)): reused %.0f req/s (%llu new connections), "
              "new connection each %.0f req/s (%llu connections), ratio %.2f\n",
              requests, threads, reused,
              static_cast<unsigned long long>(after.connections_opened - before.connections_opened),
              fresh_rate, static_cast<unsigned long long>(fc.connections_opened), reused / fresh_rate);
  nginx.stop();
  testing::remove_tree(root);
  return 0;
}
