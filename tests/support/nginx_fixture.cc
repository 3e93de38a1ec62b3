#include "tests/support/nginx_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef DJ_SOURCE_DIR
#error "DJ_SOURCE_DIR must name the source tree"
#endif

namespace daramjwee::testing {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Stops `pid` (our own child): `sig` first, SIGKILL after 5 s.
void kill_child(pid_t pid, int sig) {
  if (pid <= 0) return;
  ::kill(pid, sig);
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string(ci) != "0" && std::string(ci) != "false";
}

std::string make_temp_dir(const char* prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) std::abort();
  return tmpl;
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

bool NginxFixture::available() { return ::access(kBinary, X_OK) == 0; }

std::string NginxFixture::url(const std::string& location) const {
  return "http://127.0.0.1:" + std::to_string(port_) + location;
}

std::string NginxFixture::tls_url(const std::string& location) const {
  return "https://127.0.0.1:" + std::to_string(tls_port_) + location;
}

bool NginxFixture::start(const std::string& root, std::string* error, bool tls) {
  stop();
  for (int attempt = 0; attempt < 5; ++attempt) {
    tmp_ = make_temp_dir("dj-nginx-");
    port_ = free_port();
    access_log_ = tmp_ + "/access.log";
    std::string tls_block;
    if (tls) {
      tls_port_ = free_port();
      cert_ = tmp_ + "/cert.pem";
      std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                        "-addext subjectAltName=IP:127.0.0.1 -keyout '" + tmp_ + "/key.pem' -out '" +
                        cert_ + "' >/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) {
        *error = "openssl could not make a test certificate";
        stop();
        return false;
      }
      tls_block = "  server {\n    listen 127.0.0.1:" + std::to_string(tls_port_) +
                  " ssl http2;\n    ssl_certificate " + cert_ + ";\n    ssl_certificate_key " + tmp_ +
                  "/key.pem;\n    root " + root + ";\n    location / { autoindex on; autoindex_format json; }\n  }\n";
    }
    std::string conf = tmp_ + "/nginx.conf";
    {
      std::ofstream c(conf);
      if (::geteuid() == 0) c << "user root;\n";
      c << "worker_processes 1;\npid " << tmp_ << "/nginx.pid;\nerror_log " << tmp_
        << "/error.log warn;\nevents { worker_connections 1024; }\nhttp {\n  access_log "
        << access_log_ << ";\n";
      for (const char* d : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
        c << "  " << d << "_temp_path " << tmp_ << "/" << d << ";\n";
      c << "  types { text/plain txt; text/html html; application/json json; }\n"
           "  default_type application/octet-stream;\n  sendfile on;\n  tcp_nopush on;\n"
           "  keepalive_requests 100000;\n  keepalive_timeout 60s;\n  etag on;\n"
           "  server {\n    listen 127.0.0.1:"
        << port_ << ";\n    server_name localhost;\n    root " << root
        << ";\n    location / { autoindex on; autoindex_format json; }\n"
           "    location /html/ { alias "
        << root << "/; autoindex on; autoindex_format html; }\n    location /rough/ { alias " << root
        << "/; autoindex on; autoindex_format html; autoindex_exact_size off; }\n  }\n"
        << tls_block << "}\n";
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      int err = ::open((tmp_ + "/stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 2);
      ::execl(kBinary, kBinary, "-p", tmp_.c_str(), "-c", conf.c_str(), "-g", "daemon off;",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        exited = true;
        pid_ = -1;
        break;
      }
      if (answers(port_) && (!tls || answers(tls_port_))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::string log = slurp(tmp_ + "/stderr.log") + slurp(tmp_ + "/error.log");
    stop();
    if (!exited || log.find("Address already in use") == std::string::npos) {
      *error = "nginx did not start: " + log;
      return false;
    }
  }
  *error = "nginx: no free port after 5 attempts";
  return false;
}

void NginxFixture::stop() {
  kill_child(pid_, SIGQUIT);
  pid_ = -1;
  if (!tmp_.empty()) remove_tree(tmp_);
  tmp_.clear();
}

bool FaultServer::available() { return ::access("/usr/bin/python3", X_OK) == 0; }

std::string FaultServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

bool FaultServer::start(std::string* error) {
  stop();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return false;
  }
  std::string script = std::string(DJ_SOURCE_DIR) + "/tests/support/fault_server.py";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::execl("/usr/bin/python3", "python3", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  pid_ = pid;
  std::string line;
  char ch;
  while (line.size() < 16 && ::read(fds[0], &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  ::close(fds[0]);
  port_ = std::atoi(line.c_str());
  if (port_ <= 0) {
    stop();
    *error = "fault server did not print its port";
    return false;
  }
  return true;
}

void FaultServer::stop() {
  kill_child(pid_, SIGTERM);
  pid_ = -1;
}

}  // namespace daramjwee::testing
