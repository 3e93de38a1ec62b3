// disk_bench: the disk tier against the physical limit of the same disk.
// For 4 KiB, 64 KiB and 1 MiB objects it writes and reads N objects through
// DiskStore and, in the same run, the same bytes as plain files (open,
// write/read, close; a 256-way directory fan-out like the store's; no
// fsync on either side, page cache warm for reads) and prints the ratios.
// A benchmark, not a test: it prints Markdown tables and never fails.
//
//   disk_bench [--dir D] [--mib M]   throughput table (M MiB per size; default 128)
//   disk_bench --open [--dir D]      open time for 10k and 100k entries
//   disk_bench --inline-sweep        inline (RocksDB) vs file cost per object size
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/stream.h"
#include "tiers/disk/disk_store.h"
#include "util/log.h"

using daramjwee::as_bytes;
using daramjwee::tiers::DiskStore;
using daramjwee::tiers::DiskStoreOptions;
using SteadyClock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "disk_bench: %s\n", what.c_str());
  std::exit(1);
}

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

std::string random_bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

std::string key_of(size_t i) { return "bench/object-" + std::to_string(i) + "#chunk=0"; }

std::shared_ptr<DiskStore> open_store(const DiskStoreOptions& o) {
  auto s = DiskStore::open(o);
  if (!s) die("open: " + s.error().to_string());
  return *s;
}

void store_put(DiskStore& store, const std::string& key, const std::string& value) {
  auto sink = store.begin_set(key, daramjwee::Metadata{});
  if (!sink) die("begin_set: " + sink.error().to_string());
  if (auto s = (*sink)->write(as_bytes(value)); !s) die("write: " + s.to_string());
  if (auto s = (*sink)->commit(); !s) die("commit: " + s.to_string());
}

// Reads the whole body into buf through read(), as FUSE's copying path does.
size_t store_read(DiskStore& store, const std::string& key, std::string& buf) {
  auto e = store.get(key);
  if (!e || !e->has_value()) die("get " + key + ": miss or error");
  size_t total = 0;
  for (;;) {
    auto n = (*e)->body->read(std::as_writable_bytes(std::span<char>(buf.data(), buf.size())));
    if (!n) die("read: " + n.error().to_string());
    if (*n == 0) return total;
    total += *n;
  }
}

std::string native_path(const std::string& root, size_t i) {
  char sub[8];
  std::snprintf(sub, sizeof(sub), "%02zx", i & 0xff);
  return root + "/" + sub + "/" + std::to_string(i);
}

void native_write(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open " + path + ": " + std::strerror(errno));
  if (::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) die("write " + path);
  ::close(fd);
}

size_t native_read(const std::string& path, std::string& buf) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open " + path);
  size_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) die("read " + path);
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  ::close(fd);
  return total;
}

void throughput(const std::string& root, uint64_t mib) {
  std::printf("| size | objects | store write MB/s | native write MB/s | write ratio | "
              "store read (1st, verifies) MB/s | store read (repeat) MB/s | native read MB/s | "
              "read ratio (1st) | read ratio (repeat) |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t size : {size_t(4) << 10, size_t(64) << 10, size_t(1) << 20}) {
    size_t n = std::max<size_t>(64, (mib << 20) / size);
    std::vector<std::string> values;
    for (size_t i = 0; i < 16; ++i) values.push_back(random_bytes(size, i));
    std::string buf(256 << 10, '\0');
    std::filesystem::remove_all(root);
    std::string native = root + "/native";
    for (unsigned i = 0; i < 256; ++i) {
      char sub[8];
      std::snprintf(sub, sizeof(sub), "%02x", i);
      std::filesystem::create_directories(native + "/" + sub);
    }
    DiskStoreOptions o;
    o.dir = root + "/store";
    o.capacity_bytes = 64ull << 30;
    auto store = open_store(o);

    auto t = SteadyClock::now();
    for (size_t i = 0; i < n; ++i) store_put(*store, key_of(i), values[i % values.size()]);
    double store_w = seconds_since(t);
    t = SteadyClock::now();
    for (size_t i = 0; i < n; ++i) native_write(native_path(native, i), values[i % values.size()]);
    double native_w = seconds_since(t);
    t = SteadyClock::now();
    for (size_t i = 0; i < n; ++i) store_read(*store, key_of(i), buf);
    double store_r1 = seconds_since(t);
    // Past the racy-timestamp window, verdicts are cached: the steady state.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    for (size_t i = 0; i < n; ++i) store_read(*store, key_of(i), buf);  // caches verdicts
    t = SteadyClock::now();
    for (size_t i = 0; i < n; ++i) store_read(*store, key_of(i), buf);
    double store_r2 = seconds_since(t);
    t = SteadyClock::now();
    for (size_t i = 0; i < n; ++i) native_read(native_path(native, i), buf);
    double native_r = seconds_since(t);
    double mb = double(n) * double(size) / 1e6;
    std::printf("| %zu KiB | %zu | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", size >> 10, n,
                mb / store_w, mb / native_w, native_w / store_w, mb / store_r1, mb / store_r2, mb / native_r,
                native_r / store_r1, native_r / store_r2);
    std::fflush(stdout);
    store.reset();
  }
  std::filesystem::remove_all(root);
}

void open_times(const std::string& root) {
  std::printf("| entries | placement | object size | open ms (best of 3, after a clean close) |\n"
              "|---|---|---|---|\n");
  for (size_t n : {size_t(10000), size_t(100000)}) {
    for (bool files : {false, true}) {
      std::filesystem::remove_all(root);
      DiskStoreOptions o;
      o.dir = root + "/store";
      o.capacity_bytes = 64ull << 30;
      o.compress = false;
      size_t size = files ? 4096 : 1024;
      if (files) o.inline_threshold = 1024;
      std::string v = random_bytes(size, 7);
      {
        auto store = open_store(o);
        for (size_t i = 0; i < n; ++i) store_put(*store, key_of(i), v);
        // Touch a tenth so recency records exist, as in a live cache.
        std::string buf(64 << 10, '\0');
        for (size_t i = 0; i < n; i += 10) store_read(*store, key_of(i), buf);
      }
      double best = 1e9;
      for (int rep = 0; rep < 3; ++rep) {
        auto t = SteadyClock::now();
        auto store = open_store(o);
        best = std::min(best, seconds_since(t));
        if (store->recovery_report().entries != n) die("open lost entries");
      }
      std::printf("| %zu | %s | %zu B | %.0f |\n", n, files ? "files" : "inline", size, best * 1000);
      std::fflush(stdout);
    }
  }
  std::filesystem::remove_all(root);
}

void inline_sweep(const std::string& root) {
  std::printf("| object size | inline write us/op | file write us/op | inline read us/op | file read us/op |\n"
              "|---|---|---|---|---|\n");
  for (size_t size : {size_t(1) << 10, size_t(4) << 10, size_t(8) << 10, size_t(16) << 10,
                      size_t(32) << 10, size_t(64) << 10, size_t(128) << 10}) {
    // Best of three runs per cell: the machine is shared, and the minimum is
    // the least disturbed measurement.
    double w[2] = {1e18, 1e18}, r[2] = {1e18, 1e18};
    for (int rep = 0; rep < 6; ++rep) {
      int files = rep % 2;
      std::filesystem::remove_all(root);
      DiskStoreOptions o;
      o.dir = root + "/store";
      o.capacity_bytes = 64ull << 30;
      o.compress = false;
      o.inline_threshold = files ? 0 : (1 << 20);
      auto store = open_store(o);
      size_t n = std::max<size_t>(500, (64ull << 20) / size / 2);
      std::string v = random_bytes(size, 3);
      std::string buf(256 << 10, '\0');
      auto t = SteadyClock::now();
      for (size_t i = 0; i < n; ++i) store_put(*store, key_of(i), v);
      double wt = seconds_since(t) * 1e6 / double(n);
      std::this_thread::sleep_for(std::chrono::milliseconds(1100));
      for (size_t i = 0; i < n; ++i) store_read(*store, key_of(i), buf);
      t = SteadyClock::now();
      for (size_t i = 0; i < n; ++i) store_read(*store, key_of(i), buf);
      r[files] = std::min(r[files], seconds_since(t) * 1e6 / double(n));
      // Writes keep going after a measurement window in a live cache: include
      // the flush (memtable -> SST) the inline bytes cost.
      auto tf = SteadyClock::now();
      if (auto s = store->flush(); !s) die(s.to_string());
      w[files] = std::min(w[files], wt + seconds_since(tf) * 1e6 / double(n));
    }
    std::printf("| %zu KiB | %.1f | %.1f | %.1f | %.1f |\n", size >> 10, w[0], w[1], r[0], r[1]);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(root);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/var/tmp/dj-disk-bench";
  std::string mode = "throughput";
  uint64_t mib = 128;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--mib" && i + 1 < argc) mib = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--open") mode = "open";
    else if (a == "--inline-sweep") mode = "sweep";
    else die("usage: disk_bench [--dir D] [--mib M] [--open | --inline-sweep]");
  }
  daramjwee::util::set_log_level(spdlog::level::warn);
  if (mode == "open") open_times(dir);
  else if (mode == "sweep") inline_sweep(dir);
  else throughput(dir, mib);
  return 0;
}
