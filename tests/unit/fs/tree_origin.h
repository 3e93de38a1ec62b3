// TreeOrigin: an in-memory Origin for filesystem tests — a tree of files
// with contents and ETags, counters of every call, byte counts, a failure
// switch, and If-Match semantics on read (kChangedAtOrigin when the pinned
// etag is no longer current). Listings may also describe files the way HTTP
// listings do (rounded or missing sizes, minute times, a name twice) while
// stat() tells the truth, with stat latency, failures and a record of how
// many stats ran at once. Thread-safety: all methods are thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/origin.h"

namespace daramjwee::testing {

class TreeOrigin final : public Origin {
 public:
  void put_file(const std::string& path, std::string content, std::string etag) {
    std::lock_guard lock(mu_);
    files_[path] = {std::move(content), std::move(etag)};
  }
  void remove_file(const std::string& path) {
    std::lock_guard lock(mu_);
    files_.erase(path);
  }
  void put_dir(const std::string& path) {
    std::lock_guard lock(mu_);
    dirs_.insert({path, true});
  }
  // When set, listings carry no etag (as nginx's JSON autoindex).
  std::atomic<bool> listing_without_etag{false};
  std::atomic<bool> down{false};
  // Reads whose range covers this byte offset fail (kIoError); -1: none.
  std::atomic<int64_t> fail_at{-1};
  std::atomic<int> stats{0}, lists{0}, reads{0};
  std::atomic<uint64_t> bytes_read{0};

  // What list() says about `path` instead of the truth (stat() still tells
  // the truth): e.g. size 1331 with size_exact false for a 1300-byte file.
  void set_listed(const std::string& path, FileAttr listed) {
    std::lock_guard lock(mu_);
    listed_[path] = std::move(listed);
  }
  // list() of `dir` shows `name` once more at the end (listed as the truth).
  void list_twice(const std::string& dir, const std::string& name) {
    std::lock_guard lock(mu_);
    twice_.push_back({dir, name});
  }
  // stat() of `path` fails (kIoError) while set.
  void fail_stat(const std::string& path, bool fail) {
    std::lock_guard lock(mu_);
    if (fail) failing_stats_.insert(path);
    else failing_stats_.erase(path);
  }
  std::atomic<int> stat_delay_ms{0};
  std::atomic<bool> stat_without_size{false};  // stat() as a HEAD without Content-Length
  std::atomic<int> stats_in_flight{0}, max_stats_in_flight{0};
  // mtime_ns that stat() reports for files (lists report it too unless set_listed).
  static constexpr int64_t kMtimeNs = 1'700'000'037'123'456'789;

  std::string describe() const override { return "tree://test"; }

  Result<FileAttr> stat(std::string_view path) override {
    stats++;
    const int now = ++stats_in_flight;
    int seen = max_stats_in_flight.load();
    while (now > seen && !max_stats_in_flight.compare_exchange_weak(seen, now)) {
    }
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { n--; }
    } leave{stats_in_flight};
    if (int ms = stat_delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (down) return Status::io_error("origin down", true);
    std::lock_guard lock(mu_);
    if (failing_stats_.count(std::string(path))) return Status::io_error("injected HEAD failure", true);
    std::string p(path);
    if (p.empty() || dirs_.count(p)) return dir_attr();
    auto it = files_.find(p);
    if (it == files_.end()) return Status::not_found(p);
    FileAttr a = file_attr(it->second, false);
    if (stat_without_size) a.size_exact = false;
    return a;
  }

  Result<std::vector<DirEntry>> list(std::string_view path) override {
    lists++;
    if (down) return Status::io_error("origin down", true);
    std::lock_guard lock(mu_);
    std::string dir(path);
    if (!dir.empty() && !dirs_.count(dir)) return Status::not_found(dir);
    std::string prefix = dir.empty() ? "" : dir + "/";
    std::vector<DirEntry> out;
    for (const auto& [p, f] : files_) {
      if (p.rfind(prefix, 0) == 0 && p.find('/', prefix.size()) == std::string::npos) {
        auto listed = listed_.find(p);
        out.push_back({p.substr(prefix.size()),
                       listed != listed_.end() ? listed->second : file_attr(f, listing_without_etag)});
      }
    }
    for (const auto& [d, name] : twice_) {
      auto it = files_.find(prefix + name);
      if (d == dir && it != files_.end()) out.push_back({name, file_attr(it->second, listing_without_etag)});
    }
    for (const auto& [p, unused] : dirs_) {
      if (p.rfind(prefix, 0) == 0 && p.size() > prefix.size() &&
          p.find('/', prefix.size()) == std::string::npos) {
        out.push_back({p.substr(prefix.size()), dir_attr()});
      }
    }
    return out;
  }

  Result<std::unique_ptr<Reader>> read(std::string_view path, std::string_view etag, ByteRange range) override {
    reads++;
    if (down) return Status::io_error("origin down", true);
    std::lock_guard lock(mu_);
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return Status::not_found(std::string(path));
    if (!etag.empty() && etag != it->second.etag) return Status::changed_at_origin("etag changed");
    const std::string& c = it->second.content;
    if (range.offset > c.size()) return Status::io_error("range past the end");
    uint64_t len = range.length.value_or(c.size() - range.offset);
    if (const int64_t f = fail_at; f >= 0 && uint64_t(f) >= range.offset && uint64_t(f) < range.offset + len) {
      return Status::io_error("injected failure", true);
    }
    if (range.offset + len > c.size()) return Status::io_error("range past the end");
    bytes_read += len;
    auto bytes = std::make_shared<const Bytes>(Bytes::copy_of(std::string_view(c).substr(range.offset, len)));
    return make_bytes_reader(bytes);
  }

  Result<FileAttr> revalidate(std::string_view path, std::string_view etag) override {
    auto a = stat(path);
    if (a && a->etag == etag) return Status::not_modified();
    return a;
  }

 private:
  struct File {
    std::string content, etag;
  };
  static FileAttr dir_attr() {
    FileAttr a;
    a.type = FileType::kDirectory;
    return a;
  }
  static FileAttr file_attr(const File& f, bool no_etag) {
    FileAttr a;
    a.size = f.content.size();
    a.mtime_ns = kMtimeNs;
    if (!no_etag) a.etag = f.etag;
    return a;
  }
  std::mutex mu_;
  std::map<std::string, File> files_;  // guarded by mu_
  std::map<std::string, bool> dirs_;   // guarded by mu_
  std::map<std::string, FileAttr> listed_;                  // guarded by mu_
  std::vector<std::pair<std::string, std::string>> twice_;  // guarded by mu_
  std::set<std::string> failing_stats_;                     // guarded by mu_
};

}  // namespace daramjwee::testing
