// Filesystem: the read-only filesystem over the cache, without FUSE types.
//
// Every operation the FUSE adapter needs is a method here taking inode
// numbers and handle ids and answering plain values or an fs::Error, so the
// whole behaviour is testable without a mount (mountpoint-s3's reftests).
// filesystem.cc has the essay on how paths, versions and chunks fit together.
//
// Ownership: the Filesystem shares the Cache and the Origin with the daemon;
// it owns the inode table, open handles and the prefetcher. shutdown() stops
// background work; the daemon closes the cache afterwards.
// Thread-safety: every method may be called concurrently (FUSE's
// multithreaded loop). A handle is used by concurrent reads too: its mutable
// state has its own mutex. No lock is held across a cache or origin call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/cache.h"
#include "core/origin.h"
#include "fs/errors.h"
#include "fs/inode_table.h"
#include "fs/namespace.h"
#include "fs/readahead.h"

namespace daramjwee::fs {

struct FilesystemOptions {
  uint64_t chunk_size = 1 << 20;                         // Default: 1 MiB
  Duration ttl = std::chrono::seconds(60);               // Default: 60 s (entry/attr timeouts)
  Duration negative_ttl = std::chrono::seconds(30);      // Default: 30 s (negative dentries)
  // How long a reader waits for a chunk another request (a prefetch) owns
  // before fetching it itself. Default: 60 s.
  Duration fill_wait = std::chrono::seconds(60);
  // Bound on one read(): waiting for another fetch of a chunk, the origin's
  // retries and the body together (the daemon sets origin_timeout). Past it
  // the read fails with EIO. Default: 10 s.
  Duration read_timeout = std::chrono::seconds(10);
  PrefetchOptions prefetch;                              // Default: see PrefetchOptions
  uint32_t uid = 0, gid = 0;                             // Default: root
  uint64_t capacity_bytes = 0;                           // reported by statfs
  // Serve the user.daramjwee.* attributes. Off, the adapter answers ENOSYS
  // once and the kernel stops asking: `ls -l` otherwise costs two requests
  // per file (security.selinux, system.posix_acl_access) that the kernel
  // never caches. Default: false.
  bool xattrs = false;
  // open() fails when the origin's root does not answer. Off, an origin that
  // is down (kIoError, kTimeout) is no reason not to mount: what the cache
  // holds is served and the rest fails with EIO until the origin is back.
  // Default: false.
  bool require_origin = false;
  // Entries a listing gives only roughly (rounded or missing size) are
  // HEADed before any stat shows them, in the background when their
  // directory is opened, this many at a time (1..1024). Default: 16.
  int attr_concurrency = 16;
  // HEAD every untagged file entry too, for mtimes to the second rather than
  // an HTML listing's minute. Default: false.
  bool exact_mtime = false;
  // Called after every read() that returned data with its latency and where
  // its slowest chunk came from (a tier index, or Source::kOrigin), for the
  // daemon's latency histograms. Must be cheap and thread-safe. Default: none.
  std::function<void(int source, std::chrono::nanoseconds latency)> on_read;
  // Errors name the field: zero or >64 MiB chunk, negative durations, a
  // read_timeout that is not positive, attr_concurrency out of range.
  Status validate() const;
};

struct Attr {
  uint64_t ino = 0;
  FileType type = FileType::kFile;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0;   // full st_mode (type bits included)
  uint32_t nlink = 1;
  uint32_t uid = 0, gid = 0;
};

struct Entry {
  Attr attr;          // attr.ino == 0: a negative entry
  double entry_timeout = 0;
  double attr_timeout = 0;
};

struct OpenReply {
  uint64_t fh = 0;
  bool keep_cache = false;
};

// One piece of a read reply: shared memory, a file range to splice, or both
// empty for a zero-length read. `owner` keeps memory or fd alive until the
// reply is sent.
struct ReadPiece {
  std::span<const std::byte> mem;
  int fd = -1;
  uint64_t fd_offset = 0;
  uint64_t length = 0;
  std::shared_ptr<const void> owner;
  bool is_fd() const { return fd >= 0; }
};
struct ReadData {
  std::vector<ReadPiece> pieces;
  uint64_t total = 0;
};

struct DirItem {
  std::string name;
  Attr attr;  // ino from InodeTable::peek (not registered)
};

struct StatfsReply {
  uint64_t block_size = 4096, blocks = 0, blocks_free = 0, files = 0, name_max = 255;
};

struct FsStats {
  uint64_t lookups = 0, negative_lookups = 0, opens = 0, reads = 0, read_bytes = 0;
  uint64_t eio = 0, kernel_invalidations = 0;
  uint64_t superseded_handles = 0;  // handles failed because a newer version was opened
  PrefetchStats prefetch;
  uint64_t chunk_origin_requests = 0, joined_fills = 0;
};

// Outcome of a control operation over a path (daramjwee-ctl invalidate,
// refresh, warm). Counts are what was done so far, so the same struct is the
// progress report of warm.
struct PathOpReport {
  uint64_t files = 0, dirs = 0;        // visited
  uint64_t files_total = 0;            // warm: files found by the walk
  uint64_t bytes = 0, bytes_total = 0; // warm: chunk bytes made resident / to do
  uint64_t chunks = 0;                 // chunks removed (invalidate) or read (warm)
  uint64_t changed = 0;                // refresh: files whose version changed
  std::vector<std::string> errors;     // one line per failure, tier named
};

// The adapter implements this to pass invalidations to the kernel.
// inval_inode and inval_entry are called from the filesystem's notifier
// thread only, never inside an operation (the kernel may wait for page or
// directory locks an operation in flight holds). Implementations must be
// thread-safe and must not call back into the Filesystem.
class KernelNotifier {
 public:
  virtual ~KernelNotifier() = default;
  // The inode's attributes and cached pages.
  virtual void inval_inode(uint64_t ino) = 0;
  // One name in a directory.
  virtual void inval_entry(uint64_t parent, const std::string& name) = 0;
  // The inode's attributes only: the kernel asks again (GETATTR) before its
  // next read. Called inside open(): the kernel takes no page, inode or
  // directory lock for an attribute-only invalidation.
  virtual void inval_attr(uint64_t ino) = 0;
};

class Filesystem {
 public:
  // Checks the options and the root (origin stat of ""). Errors: kConfigError
  // naming the field; the origin's kNotFound/kPermissionDenied, or a root
  // that is not a directory; its kIoError/kTimeout (unreachable) only with
  // require_origin — otherwise the root is taken to be a directory and the
  // mount serves from the cache.
  static Result<std::unique_ptr<Filesystem>> open(FilesystemOptions options,
                                                  std::shared_ptr<Cache> cache,
                                                  std::shared_ptr<Origin> origin);
  ~Filesystem();

  FsResult<Entry> lookup(uint64_t parent, std::string_view name);  // +1 nlookup if positive
  void forget(uint64_t ino, uint64_t nlookup);
  FsResult<Attr> getattr(uint64_t ino);
  FsResult<uint64_t> opendir(uint64_t ino);
  // Items [offset, ...) of an open directory; "." and ".." come first.
  FsResult<std::vector<DirItem>> readdir(uint64_t dh, uint64_t offset, size_t max_items);
  // An Entry for an item readdir returned (readdirplus): +1 nlookup.
  Entry entry_for(uint64_t dh, const DirItem& item);
  void releasedir(uint64_t dh);
  // Pins the file's current version in a new handle. keep_cache is set only
  // when the kernel's pages are of that version; otherwise every open handle
  // of another version of the inode is superseded (its reads fail from now
  // on), so the inode's page cache only ever holds one version.
  FsResult<OpenReply> open(uint64_t ino, bool write_access);
  // [offset, offset+size) of the handle's version, cut at its end: all of it,
  // or an error (never fewer bytes: the kernel would take that for the end
  // of the file). Errors: kVersionChanged (the origin or a newer open
  // replaced the version), kOriginError (including read_timeout passing),
  // kShortData (a cached chunk of the wrong length, dropped), kCacheError.
  FsResult<ReadData> read(uint64_t fh, uint64_t offset, uint64_t size);
  void release(uint64_t fh);
  StatfsReply statfs();
  FsResult<std::string> getxattr(uint64_t ino, std::string_view name);
  FsResult<std::string> listxattr(uint64_t ino);  // NUL-separated names

  // Starts the notifier thread (kernel invalidations). Optional; call it
  // before the first operation (open() reads the notifier without a lock).
  void set_notifier(std::shared_ptr<KernelNotifier> notifier);
  // Stops prefetch and notifications. Idempotent.
  void shutdown();
  FsStats stats() const;
  const FilesystemOptions& options() const { return options_; }

  // Control operations. `path` is relative to the root ("" or "/" is the
  // root); `recursive` descends into directories (at most kMaxOpFiles files).
  // Per-item failures are listed in the report and the walk goes on; the
  // call fails only when `path` itself cannot be resolved (kNotFound or the
  // origin's error) or it was cancelled.
  static constexpr uint64_t kMaxOpFiles = 1'000'000;
  // Removes the data of the current version of each file (every chunk) and
  // its attribute entry from every tier (Cache::remove; a tier's failure is
  // one error line), and directory listings; the kernel's copy is dropped
  // too, so the next read goes to the origin.
  Result<PathOpReport> invalidate(std::string_view path, bool recursive);
  // Re-reads the listing of `path`'s directory (or of `path` and, with
  // `recursive`, every directory below) from the origin now, before ttl, and
  // invalidates the kernel's entries whose version changed.
  Result<PathOpReport> refresh(std::string_view path, bool recursive);
  // Reads every chunk of every file through the cache so it becomes
  // resident (tier 0 now, lower tiers write-behind). `progress` is called
  // after each chunk; returning false cancels (kTimeout "cancelled").
  Result<PathOpReport> warm(std::string_view path, bool recursive,
                            const std::function<bool(const PathOpReport&)>& progress);

 private:
  struct Impl;
  // Visits `path`, and with `recursive` everything below it, for the control
  // operations: a directory after its listing was read (so `visit` may drop
  // it), files as found. Counts into `report`. Errors: `path` unresolvable.
  Status walk(std::string_view path, bool recursive, PathOpReport& report,
              const std::function<void(const std::string& path, const FileAttr& attr)>& visit);
  Filesystem(FilesystemOptions options, std::shared_ptr<Cache> cache, std::shared_ptr<Origin> origin,
             FileAttr root);
  std::unique_ptr<Impl> impl_;
  FilesystemOptions options_;
};

}  // namespace daramjwee::fs
