// Test servers started and stopped by the tests themselves, on free
// 127.0.0.1 ports, killed by PID:
//  - NginxFixture: Debian's real nginx with a generated configuration
//    (autoindex JSON at /, HTML at /html/, rounded-size HTML at /rough/,
//    etag on, keep-alive) serving a root directory.
//  - FaultServer: tests/support/fault_server.py, for what nginx cannot do
//    on demand (see the routes in that file).
// The Python twin of NginxFixture is tests/support/nginx_fixture.py.
//
// Missing nginx or python3: require_or_skip() fails the test when the CI
// environment variable is set, and otherwise skips it with a loud message.
// Thread-safety: none needed (one test thread).
#pragma once

#include <sys/types.h>

#include <string>

namespace daramjwee::testing {

class NginxFixture {
 public:
  static constexpr const char* kBinary = "/usr/sbin/nginx";
  static bool available();

  NginxFixture() = default;
  ~NginxFixture() { stop(); }
  NginxFixture(const NginxFixture&) = delete;
  NginxFixture& operator=(const NginxFixture&) = delete;

  // Starts nginx on `root`; returns false (with *error) if it does not
  // answer within 10 s. With `tls`, a second server block on tls_port()
  // speaks HTTPS with HTTP/2 (ALPN), using a self-signed certificate for
  // 127.0.0.1 made with openssl(1) (cert_file() doubles as the CA file).
  bool start(const std::string& root, std::string* error, bool tls = false);
  void stop();

  int port() const { return port_; }
  std::string url(const std::string& location = "/") const;  // "http://127.0.0.1:P/..."
  const std::string& access_log() const { return access_log_; }
  int tls_port() const { return tls_port_; }
  std::string tls_url(const std::string& location = "/") const;
  const std::string& cert_file() const { return cert_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0, tls_port_ = 0;
  std::string tmp_, access_log_, cert_;
};

class FaultServer {
 public:
  static bool available();
  FaultServer() = default;
  ~FaultServer() { stop(); }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  bool start(std::string* error);
  void stop();
  int port() const { return port_; }
  std::string url(const std::string& path = "/") const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// Creates a fresh temporary directory (removed by remove_tree()).
std::string make_temp_dir(const char* prefix);
void remove_tree(const std::string& dir);

// True when the tests run in CI (the CI environment variable is set).
bool in_ci();

}  // namespace daramjwee::testing

// In a Catch2 test: skip loudly (or fail under CI) when `cond` is false.
#define DJ_REQUIRE_OR_SKIP(cond, what)                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      if (::daramjwee::testing::in_ci()) FAIL("missing in CI: " << what);           \
      WARN("SKIPPED (missing " << what << "; set CI=1 to make this a failure)");    \
      return;                                                                       \
    }                                                                               \
  } while (0)
