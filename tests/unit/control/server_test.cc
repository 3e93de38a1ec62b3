// The control server against real clients on a temp socket: every command,
// the peer check (a child running as nobody), malformed, oversized, slow and
// excess connections, warm progress and cancellation by stop().
#include "control/server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "control/exposition.h"
#include "control/protocol.h"

using namespace daramjwee;
using namespace daramjwee::control;
using nlohmann::json;

namespace {

// A Handler with canned data that records what it was asked.
class FakeHandler : public Handler {
 public:
  std::atomic<int> invalidations{0}, warm_steps{0};
  std::atomic<bool> warm_cancelled{false};
  std::string last_path;
  bool last_recursive = false;
  int warm_total = 5;
  std::chrono::milliseconds warm_step{0};

  DaemonInfo info() override {
    DaemonInfo i;
    i.origin = "http://origin.example/";
    i.mountpoint = "/mnt/x";
    i.version = "test";
    i.pid = 42;
    i.uptime_seconds = 3;
    return i;
  }
  DaemonStats stats() override {
    DaemonStats s;
    TierStats mem;
    mem.name = "memory";
    mem.hits = 3;
    mem.misses = 1;
    mem.store.used_bytes = 100;
    mem.store.capacity_bytes = 1000;
    mem.store.errors = 5;
    mem.store.index_rebuilds = 1;
    mem.store.full_refusals = 2;
    s.cache.tiers.push_back(mem);
    s.cache.origin.fetches = 7;
    metrics::LatencyHistogram h;
    h.record(std::chrono::microseconds(10));
    s.read_latency.push_back({"memory", h.snapshot()});
    return s;
  }
  Result<OpReport> invalidate(const std::string& path, bool recursive) override {
    invalidations++;
    last_path = path;
    last_recursive = recursive;
    if (path == "missing") return Status::not_found("no entry missing");
    OpReport r;
    r.files = 1;
    r.errors.push_back("a: tier disk remove failed: boom");
    return r;
  }
  Result<OpReport> refresh(const std::string&, bool) override { return OpReport{}; }
  Result<OpReport> warm(const std::string&, bool, const std::function<bool(const OpReport&)>& progress) override {
    OpReport r;
    r.files_total = static_cast<uint64_t>(warm_total);
    for (int i = 0; i < warm_total; i++) {
      std::this_thread::sleep_for(warm_step);
      r.files++;
      warm_steps++;
      if (!progress(r)) {
        warm_cancelled = true;
        return Status::timeout("cancelled");
      }
    }
    return r;
  }
  std::vector<std::pair<std::string, std::string>> config() override {
    return {{"origin", "https://user:pw@example.com/x"}, {"http.headers[0]", "Authorization: Bearer s3cret"},
            {"http.headers_file", "/etc/h"}, {"ram_size", "1024"}};
  }
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/dj-control-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

int connect_to(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// Reads every line until EOF (at most `timeout`).
std::vector<json> read_all_lines(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::string buf;
  char chunk[4096];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  std::vector<json> out;
  size_t start = 0, nl;
  while ((nl = buf.find('\n', start)) != std::string::npos) {
    out.push_back(json::parse(buf.substr(start, nl - start), nullptr, false));
    start = nl + 1;
  }
  return out;
}

std::vector<json> ask_raw(const std::string& path, const std::string& bytes) {
  int fd = connect_to(path);
  REQUIRE(fd >= 0);
  if (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    (void)n;
  }
  auto lines = read_all_lines(fd);
  close(fd);
  return lines;
}

json ask(const std::string& path, const json& req) {
  auto lines = ask_raw(path, req.dump() + "\n");
  REQUIRE(!lines.empty());
  return lines.back();
}

struct Fixture {
  TempDir dir;
  std::shared_ptr<FakeHandler> handler = std::make_shared<FakeHandler>();
  std::unique_ptr<Server> server;
  std::string path;
  explicit Fixture(ServerOptions o = {}) {
    path = dir.path + "/ctl/daemon.sock";
    o.path = path;
    auto s = Server::start(o, handler);
    REQUIRE(s);
    server = std::move(*s);
  }
};

}  // namespace

TEST_CASE("control: default socket paths are per mount point and one-to-one", "[control]") {
  CHECK(escape_mountpoint("/mnt/data") == "mnt-data");
  CHECK(escape_mountpoint("/") == "-");
  CHECK(escape_mountpoint("/mnt/a-b") == "mnt-a%2Db");
  CHECK(escape_mountpoint("/mnt/a/b") != escape_mountpoint("/mnt/a-b"));
  CHECK(escape_mountpoint("/..") == "%2E.");
  CHECK(escape_mountpoint("/m n") == "m%20n");
  std::map<std::string, std::string> env{{"XDG_RUNTIME_DIR", "/run/user/1000"}};
  CHECK(default_socket_path("/mnt/data", 0, env) == "/run/daramjwee-fs/mnt-data.sock");
  CHECK(default_socket_path("/mnt/data", 1000, env) == "/run/user/1000/daramjwee-fs/mnt-data.sock");
  CHECK(default_socket_path("/mnt/data", 1000, {}) == "/tmp/daramjwee-fs-1000/mnt-data.sock");
}

TEST_CASE("control: the socket is owner-only in an owner-only directory", "[control]") {
  Fixture f;
  struct stat st;
  REQUIRE(stat(f.path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat((f.dir.path + "/ctl").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("control: status, stats, metrics and config answer", "[control]") {
  Fixture f;
  json st = ask(f.path, {{"cmd", "status"}});
  CHECK(st["ok"] == true);
  CHECK(st["origin"] == "http://origin.example/");
  CHECK(st["tiers"][0]["used_bytes"] == 100);
  CHECK(st["tiers"][0]["capacity_bytes"] == 1000);

  json stats = ask(f.path, {{"cmd", "stats"}});
  CHECK(stats["tiers"][0]["hit_ratio"].get<double>() == Approx(0.75));
  CHECK(stats["origin"]["requests"]["fetch"] == 7);
  CHECK(stats["tiers"][0]["store_errors"] == 5);  // the tier's own failures, not only its lookups'
  CHECK(stats["tiers"][0]["index_rebuilds"] == 1);
  CHECK(stats["tiers"][0]["full_refusals"] == 2);
  CHECK(stats["read_latency"][0]["served_from"] == "memory");
  CHECK(stats["read_latency"][0]["p50_seconds"].get<double>() > 0);

  json m = ask(f.path, {{"cmd", "metrics"}});
  const std::string text = m["text"];
  CHECK(text.find("# TYPE daramjwee_tier_hits_total counter\ndaramjwee_tier_hits_total{tier=\"memory\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("daramjwee_origin_requests_total{kind=\"fetch\"} 7") != std::string::npos);
  CHECK(text.find("daramjwee_tier_store_errors_total{tier=\"memory\"} 5") != std::string::npos);
  CHECK(text.find("daramjwee_tier_index_rebuilds_total{tier=\"memory\"} 1") != std::string::npos);
  CHECK(text.find("daramjwee_tier_full_refusals_total{tier=\"memory\"} 2") != std::string::npos);
  CHECK(text.find("daramjwee_read_latency_seconds_count{served_from=\"memory\"} 1") != std::string::npos);

  json c = ask(f.path, {{"cmd", "config"}});
  CHECK(c["options"]["origin"] == "https://user:<redacted>@example.com/x");
  CHECK(c["options"]["http.headers[0]"] == "<redacted>");
  CHECK(c["options"]["http.headers_file"] == "/etc/h");
  CHECK(c["options"]["ram_size"] == "1024");
  CHECK(c.dump().find("s3cret") == std::string::npos);
}

TEST_CASE("control: invalidate passes path and recursion and shows each failure", "[control]") {
  Fixture f;
  json r = ask(f.path, {{"cmd", "invalidate"}, {"path", "a/b"}, {"recursive", true}});
  CHECK(r["ok"] == true);
  CHECK(f.handler->last_path == "a/b");
  CHECK(f.handler->last_recursive);
  CHECK(r["errors"][0] == "a: tier disk remove failed: boom");
  json missing = ask(f.path, {{"cmd", "invalidate"}, {"path", "missing"}});
  CHECK(missing["ok"] == false);
  CHECK(missing["error"].get<std::string>().find("no entry missing") != std::string::npos);
  json nopath = ask(f.path, {{"cmd", "invalidate"}});
  CHECK(nopath["ok"] == false);
}

TEST_CASE("control: malformed, oversized and slow requests are refused; the server carries on", "[control]") {
  ServerOptions o;
  o.request_deadline = std::chrono::milliseconds(300);
  Fixture f(o);
  auto err = [&](const std::string& bytes) {
    auto lines = ask_raw(f.path, bytes);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["ok"] == false);
    return lines[0]["error"].get<std::string>();
  };
  CHECK(err("hello\n") == "malformed request: not JSON");
  CHECK(err(std::string("\x00\xff\xfe{\n", 5)) == "malformed request: not JSON");
  CHECK(err("[1,2]\n").starts_with("malformed request: expected an object"));
  CHECK(err("{\"cmd\": 5}\n").starts_with("malformed request"));
  CHECK(err("{\"cmd\": \"rm -rf\"}\n") == "unknown command \"rm -rf\"");
  CHECK(err("{\"cmd\": \"warm\", \"path\": 1}\n") == "malformed request: \"path\" must be a string");
  CHECK(err("{\"cmd\": \"warm\", \"path\": \"a\", \"recursive\": \"yes\"}\n").find("boolean") != std::string::npos);
  CHECK(err(std::string(kMaxRequestBytes + 10, 'x')).starts_with("request too large"));
  CHECK(err(std::string(1 << 20, '{') + "\n").starts_with("request too large"));
  // Slow: half a request, then silence past the deadline.
  auto t0 = std::chrono::steady_clock::now();
  CHECK(err("{\"cmd\": \"sta") == "request timed out");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  // A client that connects and goes away costs nothing.
  for (int i = 0; i < 20; i++) close(connect_to(f.path));
  // Their threads finish at their own pace; "busy" meanwhile is by design.
  json after;
  for (int i = 0; i < 40; i++) {
    after = ask(f.path, {{"cmd", "status"}});
    if (after["ok"] == true || !after["error"].get<std::string>().starts_with("busy")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(after["ok"] == true);
  CHECK(f.server->stats().bad_requests >= 9);
}

TEST_CASE("control: connections past the limit are told busy", "[control]") {
  ServerOptions o;
  o.max_connections = 2;
  o.request_deadline = std::chrono::seconds(3);
  Fixture f(o);
  int a = connect_to(f.path), b = connect_to(f.path);
  REQUIRE(a >= 0);
  REQUIRE(b >= 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both accepted
  auto lines = ask_raw(f.path, "");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["error"].get<std::string>().starts_with("busy"));
  close(a);
  close(b);
  // Finished connections are reaped (within the accept loop's 1 s tick).
  bool ok = false;
  for (int i = 0; i < 30 && !ok; i++) {
    auto l = ask_raw(f.path, "{\"cmd\":\"status\"}\n");
    ok = !l.empty() && l.back()["ok"] == true;
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(ok);
}

TEST_CASE("control: warm streams progress lines, then the result", "[control]") {
  Fixture f;
  f.handler->warm_total = 4;
  f.handler->warm_step = std::chrono::milliseconds(250);
  auto lines = ask_raw(f.path, "{\"cmd\":\"warm\",\"path\":\"\",\"recursive\":true}\n");
  REQUIRE(lines.size() >= 3);
  for (size_t i = 0; i + 1 < lines.size(); i++) CHECK(lines[i].contains("progress"));
  CHECK(lines.back()["ok"] == true);
  CHECK(lines.back()["files"] == 4);
}

TEST_CASE("control: stop() cancels a running warm and removes the socket", "[control]") {
  Fixture f;
  f.handler->warm_total = 1000;
  f.handler->warm_step = std::chrono::milliseconds(10);
  int fd = connect_to(f.path);
  REQUIRE(fd >= 0);
  std::string req = "{\"cmd\":\"warm\",\"path\":\"x\"}\n";
  REQUIRE(send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  while (f.handler->warm_steps < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto t0 = std::chrono::steady_clock::now();
  f.server->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK(f.handler->warm_cancelled);
  CHECK(f.handler->warm_steps < 1000);
  CHECK(!std::filesystem::exists(f.path));
  close(fd);
}

TEST_CASE("control: a stale socket is replaced, a live one is not taken over", "[control]") {
  TempDir dir;
  const std::string path = dir.path + "/s.sock";
  {
    // Bound but never listening: what a killed daemon leaves behind.
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    close(fd);
  }
  auto handler = std::make_shared<FakeHandler>();
  auto first = Server::start(ServerOptions{.path = path}, handler);
  REQUIRE(first);
  auto second = Server::start(ServerOptions{.path = path}, handler);
  REQUIRE(!second);
  CHECK(second.error().message().find("another daemon") != std::string::npos);
  CHECK(ask(path, {{"cmd", "status"}})["ok"] == true);  // the first one still serves
  auto not_socket = Server::start(ServerOptions{.path = dir.path}, handler);
  CHECK(!not_socket);
}

TEST_CASE("control: a directory others may write to is refused", "[control]") {
  TempDir dir;
  const std::string sub = dir.path + "/open";
  REQUIRE(mkdir(sub.c_str(), 0777) == 0);
  REQUIRE(chmod(sub.c_str(), 0777) == 0);
  auto s = Server::start(ServerOptions{.path = sub + "/s.sock"}, std::make_shared<FakeHandler>());
  REQUIRE(!s);
  CHECK(s.error().message().find("not safe") != std::string::npos);
}

TEST_CASE("control: another user is refused (file mode, then SO_PEERCRED)", "[control]") {
  if (geteuid() != 0) {
    if (std::getenv("CI")) FAIL("CI is set: this test needs root to run a client as nobody");
    WARN("SKIP: not root, cannot run a client as another user");
    return;
  }
  Fixture f;
  REQUIRE(chmod(f.dir.path.c_str(), 0755) == 0);
  REQUIRE(chmod((f.dir.path + "/ctl").c_str(), 0755) == 0);
  // Runs a client as uid/gid 65534 (nobody); reports errno of connect or the answer.
  auto as_nobody = [&]() -> std::string {
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(pipefd[0]);
      std::string out;
      if (setgid(65534) != 0 || setuid(65534) != 0) {
        out = "setuid failed";
      } else {
        int fd = connect_to(f.path);
        if (fd < 0) {
          out = std::string("connect: ") + std::strerror(errno);
        } else {
          std::string req = "{\"cmd\":\"status\"}\n";
          ssize_t n = send(fd, req.data(), req.size(), MSG_NOSIGNAL);
          (void)n;
          char buf[4096];
          ssize_t got = recv(fd, buf, sizeof buf, 0);
          out = got > 0 ? std::string(buf, static_cast<size_t>(got)) : "no answer";
        }
      }
      ssize_t w = write(pipefd[1], out.data(), out.size());
      (void)w;
      _exit(0);
    }
    close(pipefd[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return out;
  };
  CHECK(as_nobody() == "connect: Permission denied");
  // With the file opened up, the server's own check still refuses.
  REQUIRE(chmod(f.path.c_str(), 0666) == 0);
  std::string answer = as_nobody();
  json j = json::parse(answer, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["ok"] == false);
  CHECK(j["error"].get<std::string>().starts_with("permission denied: uid 65534"));
  CHECK(f.server->stats().refused_peer == 1);
}

TEST_CASE("exposition: redaction and hit ratio", "[control]") {
  CHECK(redact_option("http.proxy", "http://u:secret@proxy:3128") == "http://u:<redacted>@proxy:3128");
  CHECK(redact_option("origin", "http://example.com/a@b") == "http://example.com/a@b");
  CHECK(redact_option("s3.secret_key", "abc") == "<redacted>");
  CHECK(redact_option("http.headers_file", "/etc/x") == "/etc/x");
  CHECK(hit_ratio(0, 0) == 0);
  CHECK(hit_ratio(1, 3) == Approx(0.25));
}
