// Crash safety: a writer process is SIGKILLed at random points while it
// writes, overwrites, aborts and removes objects; after each kill the store
// is reopened and every visible object must be complete and verify.
//
// The writer is this same binary, fork()ed and exec()ed into the hidden test
// case "[.crash-writer]" (exec, not a bare fork: RocksDB's background
// threads do not survive fork(), and a child without them could stall
// instead of writing). Each value is derived from its key and the version in
// its etag, so the parent knows what every visible object must contain.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "tests/unit/tiers/disk/disk_test_util.h"

using namespace daramjwee;
using namespace daramjwee::tiers;
using namespace daramjwee::tiers::testing;

namespace {

constexpr int kKeys = 40;
constexpr int kRounds = 20;

size_t size_of_key(int k) {
  switch (k % 5) {
    case 0: return 1000;               // inline
    case 1: return 40 << 10;           // file
    case 2: return 300 << 10;          // file, several writes per commit
    case 3: return 200 << 10;          // compressible: lz4 file
    default: return k == 4 ? (5 << 20) : 9000;  // one spilled object, else inline
  }
}

std::string value_for(int k, uint64_t version) {
  size_t n = size_of_key(k);
  if (k % 5 == 3) return compressible(n - 16) + fmt::format("{:016x}", version);
  return pattern(n, static_cast<uint32_t>(k * 100000 + version));
}

DiskStoreOptions crash_options(const std::string& dir) {
  auto o = options_for(dir);
  o.capacity_bytes = 24ull << 20;  // evictions happen too
  return o;
}

// The body of the writer process. Never returns normally.
[[noreturn]] void run_writer(const std::string& dir, int ready_fd, uint64_t seed) {
  auto s = DiskStore::open(crash_options(dir));
  if (!s) {
    fprintf(stderr, "crash writer: open failed: %s\n", s.error().to_string().c_str());
    _exit(3);
  }
  auto store = *s;
  std::mt19937_64 rng(seed);
  char c = 'r';
  if (::write(ready_fd, &c, 1) != 1) _exit(4);
  for (uint64_t version = seed * 1000000;; ++version) {
    int k = static_cast<int>(rng() % kKeys);
    std::string key = "k" + std::to_string(k);
    unsigned op = rng() % 100;
    if (op < 8) {
      if (!store->remove(key)) _exit(5);
      continue;
    }
    if (op < 16) {
      ignore_error(get_string(*store, key) ? Status::ok() : Status::ok());
      continue;
    }
    std::string v = value_for(k, version);
    auto sink = store->begin_set(key, meta(std::to_string(version)));
    if (!sink) _exit(6);
    for (size_t off = 0; off < v.size(); off += 65536)
      if (!(*sink)->write(as_bytes(std::string_view(v).substr(off, 65536)))) _exit(7);
    if (op < 22) {
      (*sink)->abort();  // abandoned writes must leave nothing behind either
      continue;
    }
    if (!(*sink)->commit()) _exit(8);
  }
}

}  // namespace

TEST_CASE("disk_crash: writer body (run by the crash test in a child process)", "[.crash-writer]") {
  const char* dir = std::getenv("DJ_CRASH_DIR");
  const char* fd = std::getenv("DJ_CRASH_READY_FD");
  const char* seed = std::getenv("DJ_CRASH_SEED");
  REQUIRE(dir);
  REQUIRE(fd);
  REQUIRE(seed);
  run_writer(dir, std::atoi(fd), std::strtoull(seed, nullptr, 10));
}

TEST_CASE("disk_crash: SIGKILL at random points never exposes a partial object", "[disk][crash]") {
  TempDir dir;
  std::mt19937 rng(std::random_device{}());
  uint64_t visible_total = 0, dropped_total = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    std::string seed = std::to_string(round + 1);
    std::string fdnum = std::to_string(pipefd[1]);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(pipefd[0]);
      ::setenv("DJ_CRASH_DIR", dir.path().c_str(), 1);
      ::setenv("DJ_CRASH_READY_FD", fdnum.c_str(), 1);
      ::setenv("DJ_CRASH_SEED", seed.c_str(), 1);
      const char* argv[] = {"disk_crash_test", "[.crash-writer]", nullptr};
      ::execv("/proc/self/exe", const_cast<char* const*>(argv));
      _exit(127);
    }
    ::close(pipefd[1]);
    // Wait (bounded) until the writer has the store open, then let it write
    // for a random while and kill it.
    char c = 0;
    struct pollfd p {pipefd[0], POLLIN, 0};
    ssize_t n = ::poll(&p, 1, 60000) == 1 ? ::read(pipefd[0], &c, 1) : -1;
    if (n != 1) ::kill(pid, SIGKILL);
    ::close(pipefd[0]);
    if (n != 1) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      FAIL("writer died before it was ready, status " << status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 400));
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("writer exit status " << status);
    REQUIRE(WIFSIGNALED(status));  // it was still writing, not failed on its own
    REQUIRE(WTERMSIG(status) == SIGKILL);

    auto store = open_store(crash_options(dir.path()));
    dropped_total += store->recovery_report().dangling_entries_dropped;
    CHECK(count_files(dir.path() + "/tmp") == 0);
    size_t file_backed = 0;
    for (int k = 0; k < kKeys; ++k) {
      std::string key = "k" + std::to_string(k);
      auto st = store->stat(key);
      REQUIRE(st.has_value());
      auto e = store->get(key);
      REQUIRE(e.has_value());
      CHECK(st->has_value() == e->has_value());
      if (!e->has_value()) continue;
      ++visible_total;
      uint64_t version = std::stoull((*e)->metadata.etag);
      auto body = read_all(*(*e)->body);
      REQUIRE(body.has_value());
      INFO("key " << key << " version " << version);
      CHECK(body->view() == value_for(k, version));
      CHECK((*e)->metadata.size == size_of_key(k));
      if ((*e)->metadata.stored_size > store->options().inline_threshold) ++file_backed;
    }
    CHECK(store->stats().corruptions == 0);
    // Every data file belongs to a visible entry: no orphan survived recovery.
    CHECK(data_files(dir.path()).size() == file_backed);
  }
  WARN("crash test: " << visible_total << " visible objects verified over " << kRounds
                      << " kills; " << dropped_total << " dangling entries dropped at open");
  CHECK(visible_total > 0);
}
