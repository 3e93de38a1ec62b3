// Filesystem: how a path, its version and its chunks fit together.
//
// Names. The kernel knows inodes; we know paths. InodeTable hands out a
// number per path (a hash, stable across forgets) and counts the kernel's
// references. Attributes of a path come from its parent's listing, cached in
// the engine under "d:<dir>" (namespace.h), so a lookup storm in one
// directory costs one listing request, and a missing name is answered from
// the listing with a negative dentry (entry_timeout = negative_ttl) without
// asking the origin at all.
//
// Versions. open() resolves the path's attributes now and pins them in the
// handle as a FileRef (path, version, etag, size). Every read of that handle
// uses chunk keys carrying that version and sends the etag as If-Match, so a
// handle sees one version from open to close, or gets EIO when the origin no
// longer has it: never a mix. The kernel has one page cache per inode, shared
// by every handle: it keeps it across opens (keep_cache) only when the
// version it cached is the one we pin now. An open of another version drops
// it and supersedes the handles of the old one, whose reads fail from then
// on — otherwise an old handle would refill the cache with old pages that
// the new version's readers then get (issue 14).
//
// Reads. A read maps to the chunks it covers. Each chunk comes from
// Cache::get: a RAM hit is a SharedView replied as is (no copy); a disk hit
// that exposes a FileRegion is spliced; anything else (an origin body, a
// compressed disk entry) is read into memory once. A miss calls ChunkFetcher,
// which the engine single-flights per key and which joins a prefetch already
// fetching that chunk (readahead.cc). The handle's ReadaheadState drives
// the prefetcher for sequential readers.
//
// Freshness and invalidation. Entry and attribute timeouts given to the
// kernel equal ttl. A listing refresh that finds a change (ListFetcher)
// queues the directory for the notifier thread, which invalidates the
// directory, the entries that vanished and the inodes whose version changed.
// The notifier runs outside every FUSE callback and holds no lock while
// calling the kernel (notify_inval_* may block on the kernel's locks).
#include "fs/filesystem.h"

#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "util/log.h"

namespace daramjwee::fs {
namespace {

constexpr uint64_t kMaxChunkSize = 64ull << 20;
constexpr uint64_t kMaxXattrChunks = 65536;

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Status FilesystemOptions::validate() const {
  if (chunk_size == 0 || chunk_size > kMaxChunkSize) {
    return Status::config_error("chunk_size", "must be between 1 byte and 64 MiB");
  }
  if (ttl.count() < 0) return Status::config_error("ttl", "must not be negative");
  if (negative_ttl.count() < 0) return Status::config_error("negative_ttl", "must not be negative");
  if (fill_wait.count() <= 0) return Status::config_error("fill_wait", "must be positive");
  if (read_timeout.count() <= 0) return Status::config_error("read_timeout", "must be positive");
  if (attr_concurrency < 1 || attr_concurrency > 1024) {
    return Status::config_error("attr_concurrency", "must be between 1 and 1024");
  }
  if (prefetch.threads < 0 || prefetch.threads > 256) {
    return Status::config_error("prefetch_threads", "must be between 0 and 256");
  }
  return Status::ok();
}

// A whole chunk in hand: memory (mem) or a file range (fd >= 0), kept
// alive by owner.
struct ChunkRef {
  uint64_t index = UINT64_MAX;
  uint64_t length = 0;
  std::span<const std::byte> mem;
  int fd = -1;
  uint64_t fd_offset = 0;
  std::shared_ptr<const void> owner;
  int served = 0;  // tier index or Source::kOrigin
};

struct Handle {
  uint64_t ino = 0;
  std::shared_ptr<const FileRef> file;
  // Set when an open of the same inode pinned another version. The kernel
  // keeps one page cache per inode, and that open handed it to the new
  // version (and dropped what was there): a read of this handle now would
  // put old-version pages next to new ones, so it fails instead (EIO,
  // reason=version_changed). Never cleared.
  std::atomic<bool> superseded{false};
  std::mutex mu;
  ReadaheadState readahead;  // guarded by mu
  // The chunk this handle read last. The kernel splits a reader's pass over
  // a chunk into several requests; answering the rest from here spares a
  // cache lookup each, and keeps a sequential scan from looking like reuse
  // to the RAM tier's eviction policy (S3-FIFO and SIEVE promote re-hit
  // keys). Holds one chunk alive per open handle at most.
  ChunkRef last;  // guarded by mu
  // The chunk whose fetch failed last, and when. When a read-ahead page
  // fails, the kernel asks again for it at once, within the same read()
  // call (seen: a 4 KiB request right after a failed 1 MiB read-ahead): each
  // request would wait read_timeout anew, and one read() would take twice
  // origin_timeout or more. A request for that chunk within kFailureMemo of
  // the failure gets the same error at once instead; a program that retries
  // later asks the origin again.
  uint64_t failed_index = UINT64_MAX;             // guarded by mu
  std::chrono::steady_clock::time_point failed_at;  // guarded by mu
  Error failed{Errc::kOriginError, Status()};     // guarded by mu
  static constexpr std::chrono::milliseconds kFailureMemo{250};
};

// An open directory: the listing as it was at opendir (immutable, shared
// with the namespace). Offsets count ".", "..", then the listing's entries.
// Items are built when READDIR asks for them, not at opendir: with the
// kernel's readdir cache a hot `find` opens every directory but reads none,
// and building a 500-entry directory's items cost ~70 us per open.
struct DirHandle {
  uint64_t ino = 0;
  uint64_t parent_ino = 0;
  std::string path;
  std::shared_ptr<const Listing> listing;
  size_t size() const { return 2 + listing->entries.size(); }
};

struct Filesystem::Impl {
  FilesystemOptions options;
  std::shared_ptr<Cache> cache;
  std::shared_ptr<Origin> origin;
  Namespace ns;
  InodeTable inodes;
  std::shared_ptr<ChunkSource> source;
  std::unique_ptr<Prefetcher> prefetcher;

  // Lock order: handles_mu, then a Handle's mu (never the reverse).
  std::mutex handles_mu;
  std::unordered_map<uint64_t, std::shared_ptr<Handle>> handles;     // guarded by handles_mu
  std::unordered_map<uint64_t, std::shared_ptr<DirHandle>> dirs;     // guarded by handles_mu
  // The open file handles of each inode, to supersede them (Handle::superseded).
  std::unordered_map<uint64_t, std::vector<Handle*>> open_by_ino;    // guarded by handles_mu
  uint64_t next_handle = 1;                                          // guarded by handles_mu

  std::mutex notify_mu;
  std::condition_variable_any notify_cv;
  std::deque<std::string> changed_dirs;          // guarded by notify_mu
  std::shared_ptr<KernelNotifier> notifier;      // set once before the thread starts
  std::jthread notify_thread;

  // The listing fetcher may outlive us (the engine keeps fetchers for
  // background refreshes), so its callback reaches us through this gate,
  // which shutdown() closes.
  struct ListenerGate {
    std::mutex mu;
    Impl* impl = nullptr;  // guarded by mu
  };
  std::shared_ptr<ListenerGate> gate = std::make_shared<ListenerGate>();

  std::atomic<uint64_t> lookups{0}, negative_lookups{0}, opens{0}, reads{0}, read_bytes{0}, eio{0},
      invalidations{0}, superseded{0};

  // Directory scans. A program that opens a directory's files one after
  // another in name order (cp -r, tar, rsync, a loop over sorted names) is
  // the small-file version of a sequential reader: after three such opens
  // the next one-chunk files are read ahead in the prefetch threads, a
  // window that doubles from 4 to 32 files, so their fetches overlap instead
  // of costing one origin round trip each on the reader's path.
  struct DirScan {
    size_t last = 0;           // name-order position of the last open
    size_t run = 0;            // consecutive opens moving forward
    size_t planned_until = 0;  // positions [.., planned_until) already queued
  };
  static constexpr size_t kMaxScanAhead = 32;
  std::mutex scans_mu;
  std::unordered_map<std::string, DirScan> scans;  // guarded by scans_mu; bounded

  void note_open(const std::string& path) {
    if (options.prefetch.threads <= 0) return;
    auto [dir_view, name] = split_path(path);
    const std::string dir(dir_view);
    auto listing = ns.listing(dir);
    if (!listing) return;
    const Listing& l = **listing;
    auto at = std::lower_bound(l.by_name.begin(), l.by_name.end(), name,
                               [&](size_t i, std::string_view n) { return l.entries[i].name < n; });
    if (at == l.by_name.end() || l.entries[*at].name != name) return;
    const size_t pos = static_cast<size_t>(at - l.by_name.begin());
    size_t from = 0, to = 0;
    {
      std::lock_guard lock(scans_mu);
      if (scans.size() >= 1024 && !scans.count(dir)) scans.clear();
      DirScan& st = scans[dir];
      // Forward by a few (a skipped directory or big file) keeps the run.
      if (st.run > 0 && pos > st.last && pos <= st.last + 4) {
        st.run++;
      } else {
        st = DirScan{pos, 1, pos + 1};
      }
      st.last = pos;
      if (st.run < 3) return;
      const size_t window = std::min(kMaxScanAhead, size_t{4} << std::min<size_t>(st.run - 3, 3));
      const size_t lead = st.planned_until > pos + 1 ? st.planned_until - pos - 1 : 0;
      if (lead * 2 > window) return;  // more than half a window still ahead
      from = std::max(st.planned_until, pos + 1);
      to = std::min(l.by_name.size(), pos + 1 + window);
      st.planned_until = std::max(st.planned_until, to);
    }
    for (size_t k = from; k < to; k++) {
      const DirEntry& e = l.entries[l.by_name[k]];
      // Exactly what open() would pin for it (resolve_file takes a one-chunk
      // file's listing entry as is), so the chunk key is the reader's. An
      // entry open() pins from its HEAD instead is skipped: its version is
      // not known here without one.
      if (e.attr.type != FileType::kFile || ns.attrs().needs_head(e.attr) || e.attr.size == 0 ||
          e.attr.size > options.chunk_size) {
        continue;
      }
      auto f = std::make_shared<FileRef>();
      f->path = join_path(dir, e.name);
      f->version = version_of(e.attr);
      f->etag = e.attr.etag;
      f->size = e.attr.size;
      f->mtime_ns = e.attr.mtime_ns;
      f->chunk_size = options.chunk_size;
      prefetcher->prefetch_file(std::move(f));
    }
  }

  Impl(FilesystemOptions o, std::shared_ptr<Cache> c, std::shared_ptr<Origin> org, FileAttr root)
      : options(o),
        cache(std::move(c)),
        origin(std::move(org)),
        ns(cache, origin, NamespaceOptions{o.ttl, 4096, AttrResolverOptions{o.attr_concurrency, o.exact_mtime, o.ttl}},
           std::move(root)),
        source(std::make_shared<ChunkSource>()) {
    source->origin = origin;
    source->fills = std::make_shared<FillTable>();
    source->fill_wait = o.fill_wait;
    source->read_timeout = o.read_timeout;
    prefetcher = std::make_unique<Prefetcher>(o.prefetch, cache, source);
  }

  Attr to_attr(uint64_t ino, const FileAttr& a) const {
    Attr out;
    out.ino = ino;
    out.type = a.type;
    out.size = a.type == FileType::kDirectory ? 4096 : a.size;
    out.mtime_ns = a.mtime_ns;
    const bool dir = a.type == FileType::kDirectory;
    uint32_t perm = a.mode & 07777 & ~uint32_t(0222);  // read-only, whatever the origin says
    perm |= dir ? 0555 : 0444;
    out.mode = (dir ? S_IFDIR : S_IFREG) | perm;
    out.nlink = dir ? 2 : 1;
    out.uid = options.uid;
    out.gid = options.gid;
    return out;
  }

  // What the kernel is about to hold as the file's size (see open()).
  void note_size(uint64_t ino, const FileAttr& a) {
    if (a.type == FileType::kDirectory) return;
    inodes.note_size(ino, is_complete(a) ? a.size : InodeTable::kUnknownSize);
  }

  Entry make_entry(uint64_t ino, const FileAttr& a) const {
    Entry e;
    e.attr = to_attr(ino, a);
    e.entry_timeout = seconds(options.ttl);
    // Rounded sizes from a listing: let the kernel ask again soon (getattr
    // then resolves the exact size with a HEAD).
    e.attr_timeout = is_complete(a) ? seconds(options.ttl) : 0;
    return e;
  }

  template <typename T>
  FsResult<T> fail(const Status& s, std::string_view op, std::string_view path) {
    return fail_as<T>(error_from(s), op, path);
  }

  // As fail(), for a cause errc_from_status cannot tell (a short chunk).
  template <typename T>
  FsResult<T> fail_as(Error err, std::string_view op, std::string_view path) {
    const Status& s = err.cause;
    if (is_failure(err.code)) {
      eio.fetch_add(1, std::memory_order_relaxed);
      static util::RateLimit limit;
      uint64_t suppressed = 0;
      if (limit.allow(&suppressed)) {
        util::logger("fs")->warn("{} failed path={} reason={} error={} suppressed={}", op, path,
                                 reason(err.code), s.to_string(), suppressed);
      }
    }
    return err;
  }

  std::shared_ptr<Handle> handle(uint64_t fh) {
    std::lock_guard lock(handles_mu);
    auto it = handles.find(fh);
    return it == handles.end() ? nullptr : it->second;
  }

  std::shared_ptr<DirHandle> dir_handle(uint64_t dh) {
    std::lock_guard lock(handles_mu);
    auto it = dirs.find(dh);
    return it == dirs.end() ? nullptr : it->second;
  }

  // One whole chunk, as memory or a file range, with what keeps it alive
  // and where it came from (ChunkRef::served).
  // Origin work for it ends by `deadline` (util/deadline.h).
  FsResult<ChunkRef> chunk_ref(const std::shared_ptr<const FileRef>& file, uint64_t index,
                               std::chrono::steady_clock::time_point deadline) {
    const std::string key = chunk_key(file->path, file->version, index);
    const uint64_t expected = file->chunk_length(index);
    auto got = cache->get(key, make_chunk_fetcher(source, file, index, deadline));
    if (!got) return fail<ChunkRef>(got.error(), "read", file->path);
    ChunkRef ref;
    ref.index = index;
    ref.served = got->source.tier;
    ref.length = expected;
    if (auto view = got->body->view()) {
      if (view->bytes.size() != expected) return short_chunk(key, file->path, view->bytes.size(), expected);
      ref.mem = view->bytes;
      ref.owner = std::move(view->owner);
      return ref;
    }
    if (auto region = got->body->file_region()) {
      if (region->length != expected) return short_chunk(key, file->path, region->length, expected);
      ref.fd = region->fd;
      ref.fd_offset = region->offset;
      ref.owner = std::move(region->keepalive);
      return ref;
    }
    auto bytes = read_all(*got->body, expected + 1);
    if (!bytes) return fail<ChunkRef>(bytes.error(), "read", file->path);
    if (bytes->size() != expected) return short_chunk(key, file->path, bytes->size(), expected);
    auto shared = std::make_shared<const Bytes>(std::move(*bytes));
    ref.mem = shared->span();
    ref.owner = std::move(shared);
    return ref;
  }

  // [from, from+len) of a chunk as a reply piece.
  static ReadPiece slice(const ChunkRef& c, uint64_t from, uint64_t len) {
    ReadPiece piece;
    piece.length = len;
    piece.owner = c.owner;
    if (c.fd >= 0) {
      piece.fd = c.fd;
      piece.fd_offset = c.fd_offset + from;
    } else {
      piece.mem = c.mem.subspan(from, len);
    }
    return piece;
  }

  FsResult<ReadPiece> chunk_piece(const std::shared_ptr<const FileRef>& file, uint64_t index, uint64_t from,
                                  uint64_t len, int* served = nullptr) {
    auto c = chunk_ref(file, index, std::chrono::steady_clock::now() + options.read_timeout);
    if (!c) return c.error();
    if (served) *served = c->served;
    return slice(*c, from, len);
  }

  Error short_chunk(const std::string& key, const std::string& path, uint64_t got, uint64_t expected) {
    // A cached chunk that disagrees with the pinned size is unusable: drop it
    // so the next read refetches, and fail this one rather than serve garbage.
    ignore_error(cache->remove(key));
    const Status why = Status::io_error(fmt::format("chunk has {} bytes, expected {}", got, expected));
    return fail_as<ReadPiece>(Error{Errc::kShortData, why}, "read", path).error();
  }

  // The attributes a handle pins. A multi-chunk listing entry without a version tag
  // (nginx's JSON autoindex has none) cannot pin reads to a version, so the
  // file's own attributes are fetched ("m:" key: one HEAD, then cached and
  // persisted like everything else) and their tag is used: ranged reads then
  // carry it and a replaced file fails cleanly instead of mixing versions.
  Result<FileAttr> resolve_file(const std::string& path) {
    auto attr = ns.attr(path);
    if (!attr || attr->type == FileType::kDirectory) return attr;
    if (!attr->etag.empty() && attr->size_exact) return attr;
    // A file of one chunk is read with one unranged request whose length is
    // checked (ChunkFetcher), so it cannot mix versions either; skipping the
    // HEAD halves the cold cost of small files.
    if (attr->size_exact && attr->size <= options.chunk_size) return attr;
    auto exact = ns.stat_path(path);
    if (!exact) return exact.error();
    if (exact->size != attr->size) ns.note_exact(path, *exact);  // its own length wins from now on
    return exact;
  }

  // A read that took longer than read_timeout promises: the bound is
  // documented, so breaking it is worth a warning (rate-limited).
  void note_slow_read(const FileRef& file, uint64_t offset, uint64_t size, std::chrono::nanoseconds took) {
    static util::RateLimit limit;
    uint64_t suppressed = 0;
    if (!limit.allow(&suppressed)) return;
    util::logger("fs")->warn("slow read path={} offset={} size={} took={}ms read_timeout={}ms suppressed={}", file.path,
                             offset, size, std::chrono::duration_cast<std::chrono::milliseconds>(took).count(),
                             std::chrono::duration_cast<std::chrono::milliseconds>(options.read_timeout).count(),
                             suppressed);
  }

  // Marks every open handle of `ino` that pinned another version than
  // `version` superseded. Requires: handles_mu held.
  void supersede(uint64_t ino, const std::string& version) {
    auto it = open_by_ino.find(ino);
    if (it == open_by_ino.end()) return;
    for (Handle* h : it->second) {
      if (h->file->version != version && !h->superseded.exchange(true, std::memory_order_acq_rel)) {
        superseded.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  void on_dir_changed(const std::string& dir) {
    {
      std::lock_guard lock(notify_mu);
      if (changed_dirs.size() >= 1024) return;  // bounded; the ttl still expires kernel caches
      changed_dirs.push_back(dir);
    }
    notify_cv.notify_one();
  }

  void notify_loop(std::stop_token stop) {
    while (!stop.stop_requested()) {
      std::string dir;
      {
        std::unique_lock lock(notify_mu);
        notify_cv.wait(lock, stop, [&] { return !changed_dirs.empty(); });
        if (stop.stop_requested()) return;
        dir = std::move(changed_dirs.front());
        changed_dirs.pop_front();
      }
      // The refresh that noticed the change publishes right after its fetcher
      // returns; give it a moment so the listing we read next is the new one.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      invalidate_dir(dir);
    }
  }

  void invalidate_dir(const std::string& dir) {
    auto old = ns.take_decoded(dir);
    auto now = ns.listing(dir);
    auto dir_ino = inodes.find(dir);
    if (dir_ino) {
      notifier->inval_inode(*dir_ino);
      invalidations.fetch_add(1, std::memory_order_relaxed);
    }
    if (!old) return;
    for (const auto& e : old->entries) {
      const DirEntry* fresh = now ? (*now)->find(e.name) : nullptr;
      if (fresh && version_of(fresh->attr) == version_of(e.attr) && fresh->attr.type == e.attr.type) continue;
      if (dir_ino) notifier->inval_entry(*dir_ino, e.name);
      if (auto ino = inodes.find(join_path(dir, e.name))) notifier->inval_inode(*ino);
      invalidations.fetch_add(1, std::memory_order_relaxed);
    }
  }
};

Filesystem::Filesystem(FilesystemOptions options, std::shared_ptr<Cache> cache, std::shared_ptr<Origin> origin,
                       FileAttr root)
    : impl_(std::make_unique<Impl>(options, std::move(cache), std::move(origin), std::move(root))),
      options_(options) {
  impl_->gate->impl = impl_.get();
  impl_->ns.set_change_listener([gate = impl_->gate](const std::string& dir) {
    std::lock_guard lock(gate->mu);
    if (gate->impl) gate->impl->on_dir_changed(dir);
  });
  // A GET that states another length than the listing's exact size: the
  // file's own length wins from the next open on (this read fails).
  impl_->source->on_length_mismatch = [gate = impl_->gate](const FileRef& f, uint64_t real) {
    FileAttr listed;
    listed.size = f.size;
    listed.mtime_ns = f.mtime_ns;
    listed.etag = f.etag;
    FileAttr exact = listed;
    exact.size = real;
    std::lock_guard lock(gate->mu);
    if (gate->impl) gate->impl->ns.attrs().correct(f.path, listed, exact);
  };
}

Filesystem::~Filesystem() { shutdown(); }

Result<std::unique_ptr<Filesystem>> Filesystem::open(FilesystemOptions options, std::shared_ptr<Cache> cache,
                                                     std::shared_ptr<Origin> origin) {
  if (Status s = options.validate(); !s) return s;
  if (!cache || !origin) return Status::invalid_argument("filesystem needs a cache and an origin");
  auto root = origin->stat("");
  if (!root) {
    const Status& s = root.error();
    const bool unreachable = s.is(StatusCode::kIoError) || s.is(StatusCode::kTimeout);
    if (options.require_origin || !unreachable) return s;
    // A reboot during an outage must not lose the cache: mount, serve what
    // the tiers hold (listings and chunks persist), EIO for the rest.
    util::logger("fs")->warn("origin {} does not answer ({}): mounting from the cache; uncached files fail with EIO "
                             "until it is back (require_origin=true refuses to mount instead)",
                             origin->describe(), s.to_string());
    FileAttr dir;
    dir.type = FileType::kDirectory;
    root = dir;
  }
  if (root->type != FileType::kDirectory) {
    return Status::invalid_argument(fmt::format("origin root {} is not a directory", origin->describe()));
  }
  return std::unique_ptr<Filesystem>(new Filesystem(options, std::move(cache), std::move(origin), *root));
}

void Filesystem::set_notifier(std::shared_ptr<KernelNotifier> notifier) {
  if (!notifier || impl_->notify_thread.joinable()) return;
  impl_->notifier = std::move(notifier);
  impl_->notify_thread = std::jthread([impl = impl_.get()](std::stop_token st) { impl->notify_loop(st); });
}

void Filesystem::shutdown() {
  {
    std::lock_guard lock(impl_->gate->mu);
    impl_->gate->impl = nullptr;
  }
  impl_->prefetcher->shutdown();
  impl_->ns.shutdown();
  if (impl_->notify_thread.joinable()) {
    impl_->notify_thread.request_stop();
    impl_->notify_cv.notify_all();
    impl_->notify_thread.join();
  }
}

FsResult<Entry> Filesystem::lookup(uint64_t parent, std::string_view name) {
  impl_->lookups.fetch_add(1, std::memory_order_relaxed);
  auto dir = impl_->inodes.path_of(parent);
  if (!dir) return Errc::kNotFound;
  if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
      name.find('/') != std::string_view::npos) {
    return Errc::kNotFound;
  }
  std::string path = join_path(*dir, name);
  auto attr = impl_->ns.attr(path);
  if (!attr) {
    if (attr.error().is(StatusCode::kNotFound)) {
      impl_->negative_lookups.fetch_add(1, std::memory_order_relaxed);
      Entry neg;
      neg.entry_timeout = seconds(options_.negative_ttl);
      return neg;  // ino 0: the kernel caches the negative dentry
    }
    return impl_->fail<Entry>(attr.error(), "lookup", path);
  }
  uint64_t ino = impl_->inodes.acquire(path);
  impl_->note_size(ino, *attr);
  return impl_->make_entry(ino, *attr);
}

void Filesystem::forget(uint64_t ino, uint64_t nlookup) { impl_->inodes.forget(ino, nlookup); }

FsResult<Attr> Filesystem::getattr(uint64_t ino) {
  auto path = impl_->inodes.path_of(ino);
  if (!path) return Errc::kNotFound;
  auto attr = impl_->ns.attr(*path);
  if (!attr) return impl_->fail<Attr>(attr.error(), "getattr", *path);
  impl_->note_size(ino, *attr);
  return impl_->to_attr(ino, *attr);
}

FsResult<uint64_t> Filesystem::opendir(uint64_t ino) {
  auto path = impl_->inodes.path_of(ino);
  if (!path) return Errc::kNotFound;
  auto attr = impl_->ns.attr(*path);
  if (!attr) return impl_->fail<uint64_t>(attr.error(), "opendir", *path);
  if (attr->type != FileType::kDirectory) return Errc::kNotDir;
  auto listing = impl_->ns.listing(*path);
  if (!listing) return impl_->fail<uint64_t>(listing.error(), "opendir", *path);
  auto dh = std::make_shared<DirHandle>();
  dh->ino = ino;
  dh->parent_ino = path->empty() ? kRootIno : impl_->inodes.peek(split_path(*path).first);
  dh->path = std::move(*path);
  dh->listing = std::move(*listing);
  // `ls -l` stats every entry next: HEAD the inexact ones now, in parallel.
  impl_->ns.attrs().prefetch(dh->path, dh->listing);
  std::lock_guard lock(impl_->handles_mu);
  uint64_t id = impl_->next_handle++;
  impl_->dirs.emplace(id, std::move(dh));
  return id;
}

FsResult<std::vector<DirItem>> Filesystem::readdir(uint64_t dh, uint64_t offset, size_t max_items) {
  auto d = impl_->dir_handle(dh);
  if (!d) return Errc::kBadHandle;
  std::vector<DirItem> out;
  if (offset >= d->size()) return out;
  out.reserve(std::min<uint64_t>(max_items, d->size() - offset));
  FileAttr dir_attr;
  dir_attr.type = FileType::kDirectory;
  for (uint64_t i = offset; i < d->size() && out.size() < max_items; i++) {
    if (i == 0) {
      out.push_back(DirItem{".", impl_->to_attr(d->ino, dir_attr)});
    } else if (i == 1) {
      out.push_back(DirItem{"..", impl_->to_attr(d->parent_ino, dir_attr)});
    } else {
      const DirEntry& e = d->listing->entries[i - 2];
      out.push_back(DirItem{e.name, impl_->to_attr(impl_->inodes.peek(join_path(d->path, e.name)), e.attr)});
    }
  }
  return out;
}

Entry Filesystem::entry_for(uint64_t dh, const DirItem& item) {
  auto d = impl_->dir_handle(dh);
  Entry e;
  e.attr = item.attr;
  e.entry_timeout = seconds(options_.ttl);
  e.attr_timeout = seconds(options_.ttl);
  if (!d || item.name == "." || item.name == "..") return e;
  const std::string path = join_path(d->path, item.name);
  e.attr.ino = impl_->inodes.acquire(path);
  if (item.attr.type == FileType::kDirectory) return e;
  const DirEntry* listed = nullptr;
  if (impl_->ns.attrs().may_change(*d->listing)) listed = d->listing->find(item.name);
  if (!listed) {
    impl_->inodes.note_size(e.attr.ino, item.attr.size);
    return e;
  }
  // The kernel keeps these attributes: they must be the HEAD's, not the
  // listing's rounding. If the HEAD failed, it keeps nothing and asks again
  // (a lookup, which retries and fails with EIO or succeeds).
  auto exact = impl_->ns.attrs().resolve(path, listed->attr);
  if (!exact) {
    e.attr.size = 0;
    e.entry_timeout = 0;
    e.attr_timeout = 0;
    impl_->inodes.note_size(e.attr.ino, InodeTable::kUnknownSize);
    return e;
  }
  impl_->note_size(e.attr.ino, *exact);
  return impl_->make_entry(e.attr.ino, *exact);
}

void Filesystem::releasedir(uint64_t dh) {
  std::lock_guard lock(impl_->handles_mu);
  impl_->dirs.erase(dh);
}

FsResult<OpenReply> Filesystem::open(uint64_t ino, bool write_access) {
  if (write_access) return Errc::kReadOnly;
  auto path = impl_->inodes.path_of(ino);
  if (!path) return Errc::kNotFound;
  auto attr = impl_->resolve_file(*path);
  if (!attr) return impl_->fail<OpenReply>(attr.error(), "open", *path);
  if (attr->type == FileType::kDirectory) return Errc::kIsDir;
  auto h = std::make_shared<Handle>();
  h->ino = ino;
  auto file = std::make_shared<FileRef>();
  file->path = *path;
  file->version = version_of(*attr);
  file->etag = attr->etag;
  file->size = attr->size;
  file->mtime_ns = attr->mtime_ns;
  file->chunk_size = options_.chunk_size;
  h->file = std::move(file);
  OpenReply reply;
  // The version change, the superseding and the registration are one step
  // under handles_mu, so two opens racing with different versions leave
  // exactly one version able to read through the page cache.
  std::unique_lock lock(impl_->handles_mu);
  const std::string previous = impl_->inodes.exchange_version(ino, h->file->version);
  // Without keep_cache the kernel drops the inode's pages before this open
  // returns; every handle of another version is superseded first, so none
  // can put its pages back.
  reply.keep_cache = previous == h->file->version;
  if (!reply.keep_cache) impl_->supersede(ino, h->file->version);
  reply.fh = impl_->next_handle++;
  impl_->open_by_ino[ino].push_back(h.get());
  const uint64_t pinned_size = h->file->size;
  impl_->handles.emplace(reply.fh, std::move(h));
  lock.unlock();
  // The kernel never reads past the size it holds. That size may be an older
  // version's while the handle pins a newer one: a lookup can serve the old
  // entry once while a refresh runs, and the refresh's own invalidation
  // comes later, from the notifier thread. The reader would get the new
  // version cut at the old length. Drop the attributes now, before the first
  // read, when the size the kernel was given differs from the pinned one, or
  // (size unknown) when the kernel cached another version.
  const uint64_t told = impl_->inodes.noted_size(ino);
  const bool size_may_differ = told != InodeTable::kUnknownSize ? told != pinned_size
                                                                : !previous.empty() && !reply.keep_cache;
  if (size_may_differ && impl_->notifier) {
    impl_->notifier->inval_attr(ino);
    impl_->inodes.note_size(ino, InodeTable::kUnknownSize);  // until the kernel's GETATTR
  }
  impl_->opens.fetch_add(1, std::memory_order_relaxed);
  impl_->note_open(*path);
  return reply;
}

FsResult<ReadData> Filesystem::read(uint64_t fh, uint64_t offset, uint64_t size) {
  auto h = impl_->handle(fh);
  if (!h) return Errc::kBadHandle;
  const auto& file = h->file;
  ReadData out;
  impl_->reads.fetch_add(1, std::memory_order_relaxed);
  if (h->superseded.load(std::memory_order_acquire)) {
    return impl_->fail<ReadData>(
        Status::changed_at_origin("a newer version was opened; this handle's version left the page cache"), "read",
        file->path);
  }
  if (offset >= file->size || size == 0) return out;
  const uint64_t end = std::min(file->size, offset + size);
  {
    std::lock_guard lock(h->mu);
    impl_->prefetcher->on_read(h->readahead, file, offset, end);
  }
  const uint64_t cs = file->chunk_size;
  const auto started = std::chrono::steady_clock::now();
  // origin_timeout bounds the whole read, however many chunks and retries.
  const auto deadline = started + options_.read_timeout;
  // The read is as slow as its slowest chunk: the origin, else the deepest tier.
  int slowest = 0;
  auto deeper = [](int a, int b) {
    if (a == Source::kOrigin || b == Source::kOrigin) return int(Source::kOrigin);
    return std::max(a, b);
  };
  for (uint64_t index = offset / cs; index * cs < end; index++) {
    const uint64_t chunk_start = index * cs;
    const uint64_t from = std::max(offset, chunk_start) - chunk_start;
    const uint64_t to = std::min(end, chunk_start + cs) - chunk_start;
    ChunkRef chunk;
    {
      std::lock_guard lock(h->mu);
      if (h->last.index == index) chunk = h->last;
    }
    if (chunk.index != index) {
      {
        std::lock_guard lock(h->mu);
        if (h->failed_index == index && std::chrono::steady_clock::now() - h->failed_at < Handle::kFailureMemo) {
          return h->failed;
        }
      }
      auto got = impl_->chunk_ref(file, index, deadline);
      // Never the bytes in hand without the rest: the kernel takes a short
      // read for the end of the file (it would shrink the file's size, and cp
      // would exit 0 with a truncated copy). All of the range, or an error.
      if (!got) {
        const auto took = std::chrono::steady_clock::now() - started;
        if (took > options_.read_timeout) impl_->note_slow_read(*file, offset, size, took);
        std::lock_guard lock(h->mu);
        h->failed_index = index;
        h->failed_at = std::chrono::steady_clock::now();
        h->failed = got.error();
        return got.error();
      }
      chunk = std::move(*got);
      std::lock_guard lock(h->mu);
      h->last = chunk;
    } else if (chunk.fd < 0) {
      chunk.served = 0;  // answered from memory the handle holds
    }
    slowest = deeper(slowest, chunk.served);
    out.pieces.push_back(Impl::slice(chunk, from, to - from));
    out.total += to - from;
  }
  impl_->read_bytes.fetch_add(out.total, std::memory_order_relaxed);
  const auto took = std::chrono::steady_clock::now() - started;
  if (took > options_.read_timeout) impl_->note_slow_read(*file, offset, size, took);
  if (options_.on_read && out.total > 0) options_.on_read(slowest, took);
  return out;
}

void Filesystem::release(uint64_t fh) {
  std::shared_ptr<Handle> h;  // destroyed outside the lock
  std::lock_guard lock(impl_->handles_mu);
  auto it = impl_->handles.find(fh);
  if (it == impl_->handles.end()) return;
  h = std::move(it->second);
  impl_->handles.erase(it);
  {
    std::lock_guard hl(h->mu);  // lock order: handles_mu, then the handle's
    impl_->prefetcher->on_close(h->readahead);
  }
  auto by = impl_->open_by_ino.find(h->ino);
  if (by != impl_->open_by_ino.end()) {
    std::erase(by->second, h.get());
    if (by->second.empty()) impl_->open_by_ino.erase(by);
  }
}

StatfsReply Filesystem::statfs() {
  StatfsReply r;
  uint64_t used = 0, capacity = options_.capacity_bytes;
  for (const auto& t : impl_->cache->stats().tiers) used += t.store.used_bytes;
  r.blocks = capacity / r.block_size;
  r.blocks_free = capacity > used ? (capacity - used) / r.block_size : 0;
  r.files = impl_->inodes.size();
  return r;
}

namespace {
constexpr std::string_view kXattrTiers = "user.daramjwee.tiers";
constexpr std::string_view kXattrVersion = "user.daramjwee.version";
constexpr std::string_view kXattrAge = "user.daramjwee.age";
}  // namespace

FsResult<std::string> Filesystem::listxattr(uint64_t ino) {
  auto path = impl_->inodes.path_of(ino);
  if (!path) return Errc::kNotFound;
  auto attr = impl_->ns.attr(*path);
  if (!attr) return impl_->fail<std::string>(attr.error(), "listxattr", *path);
  if (attr->type == FileType::kDirectory) return std::string();
  std::string out;
  for (auto name : {kXattrTiers, kXattrVersion, kXattrAge}) {
    out.append(name);
    out.push_back('\0');
  }
  return out;
}

FsResult<std::string> Filesystem::getxattr(uint64_t ino, std::string_view name) {
  auto path = impl_->inodes.path_of(ino);
  if (!path) return Errc::kNotFound;
  if (name != kXattrTiers && name != kXattrVersion && name != kXattrAge) return Errc::kNoData;
  auto attr = impl_->resolve_file(*path);
  if (!attr) return impl_->fail<std::string>(attr.error(), "getxattr", *path);
  if (attr->type == FileType::kDirectory) return Errc::kNoData;
  const std::string version = version_of(*attr);
  if (name == kXattrVersion) return version;
  if (name == kXattrAge) {
    auto age = impl_->ns.age(*path);
    if (!age) return Errc::kNoData;
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*age).count());
  }
  // Where the chunks of the current version are, tier by tier, in chain order.
  const uint64_t chunks = (attr->size + options_.chunk_size - 1) / options_.chunk_size;
  std::map<std::string, uint64_t> count;
  const uint64_t checked = std::min(chunks, kMaxXattrChunks);
  for (uint64_t i = 0; i < checked; i++) {
    auto where = impl_->cache->locate(chunk_key(*path, version, i));
    if (!where) return impl_->fail<std::string>(where.error(), "getxattr", *path);
    for (const auto& p : *where) count[p.tier]++;
  }
  std::string out;
  for (const auto& tier : impl_->cache->tier_names()) {
    auto it = count.find(tier);
    if (it == count.end()) continue;
    if (!out.empty()) out.push_back(' ');
    out += fmt::format("{}={}/{}", tier, it->second, chunks);
  }
  return out.empty() ? std::string("none") : out;
}

FsStats Filesystem::stats() const {
  FsStats s;
  s.lookups = impl_->lookups.load();
  s.negative_lookups = impl_->negative_lookups.load();
  s.opens = impl_->opens.load();
  s.reads = impl_->reads.load();
  s.read_bytes = impl_->read_bytes.load();
  s.eio = impl_->eio.load();
  s.kernel_invalidations = impl_->invalidations.load();
  s.superseded_handles = impl_->superseded.load();
  s.prefetch = impl_->prefetcher->stats();
  s.chunk_origin_requests = impl_->source->origin_requests.load();
  s.joined_fills = impl_->source->joined_fills.load();
  return s;
}

}  // namespace daramjwee::fs

namespace daramjwee::fs {

// Control operations (daramjwee-ctl). They run on the control server's
// threads, never inside a FUSE callback, so they may call the kernel
// notifier directly; like everything else they hold no lock across a cache or
// origin call.
namespace {

std::string_view relative(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return path;
}

// One error line per failed tier of a Cache::remove.
void note_remove(const Status& s, std::string_view what, PathOpReport& report) {
  if (s) return;
  if (s.is(StatusCode::kAggregate)) {
    for (const auto& c : s.children()) {
      report.errors.push_back(fmt::format("{}: tier {} {} failed: {}", what, c.tier().empty() ? "?" : c.tier(),
                                          c.operation().empty() ? "remove" : c.operation(), c.message()));
    }
    return;
  }
  report.errors.push_back(fmt::format("{}: {}", what, s.to_string()));
}

}  // namespace

Status Filesystem::walk(std::string_view path, bool recursive, PathOpReport& report,
                        const std::function<void(const std::string&, const FileAttr&)>& visit) {
  const std::string top(relative(path));
  auto top_attr = impl_->ns.attr(top);
  if (!top_attr) return top_attr.error();
  std::vector<std::pair<std::string, FileAttr>> stack{{top, *top_attr}};
  while (!stack.empty()) {
    auto [p, attr] = std::move(stack.back());
    stack.pop_back();
    if (attr.type != FileType::kDirectory) {
      report.files++;
      visit(p, attr);
      continue;
    }
    report.dirs++;
    if (recursive || p == top) {
      auto listing = impl_->ns.listing(p);
      if (!listing) {
        report.errors.push_back(fmt::format("{}: listing failed: {}", p.empty() ? "/" : p, listing.error().to_string()));
      } else if (recursive) {
        for (const auto& e : (*listing)->entries) {
          if (report.files + stack.size() >= kMaxOpFiles) {
            report.errors.push_back(fmt::format("stopped after {} files (limit)", kMaxOpFiles));
            break;
          }
          stack.emplace_back(join_path(p, e.name), e.attr);
        }
      }
    }
    visit(p, attr);
  }
  return Status::ok();
}

Result<PathOpReport> Filesystem::invalidate(std::string_view path, bool recursive) {
  PathOpReport report;
  Impl& im = *impl_;
  Status s = walk(path, recursive, report, [&](const std::string& p, const FileAttr& attr) {
    const std::string shown = p.empty() ? "/" : p;
    auto ino = im.inodes.find(p);
    if (attr.type == FileType::kDirectory) {
      note_remove(im.cache->remove(listing_key(p)), shown, report);
      im.ns.take_decoded(p);
    } else {
      // The version a handle would pin may come from the listing or from the
      // "m:" entry (resolve_file); drop the chunks of both.
      std::vector<std::pair<std::string, uint64_t>> versions{{version_of(attr), attr.size}};
      if (auto exact = im.resolve_file(p); exact && version_of(*exact) != versions[0].first) {
        versions.emplace_back(version_of(*exact), exact->size);
      }
      for (const auto& [version, size] : versions) {
        const uint64_t chunks = (size + options_.chunk_size - 1) / options_.chunk_size;
        for (uint64_t i = 0; i < chunks; i++) {
          note_remove(im.cache->remove(chunk_key(p, version, i)), shown, report);
          report.chunks++;
        }
      }
      note_remove(im.cache->remove(attr_key(p)), shown, report);
      if (im.ns.attrs().needs_head(attr)) note_remove(im.cache->remove(resolved_key(p, attr)), shown, report);
      // The next open must not keep the kernel's page cache.
      if (ino) im.inodes.exchange_version(*ino, "");
    }
    if (ino && im.notifier) im.notifier->inval_inode(*ino);
  });
  if (!s) return s;
  return report;
}

Result<PathOpReport> Filesystem::refresh(std::string_view path, bool recursive) {
  PathOpReport report;
  Impl& im = *impl_;
  const std::string top(relative(path));
  auto top_attr = im.ns.attr(top);
  if (!top_attr) return top_attr.error();
  // Which directories to re-list: the file's parent, or the directory (and
  // those below it).
  std::vector<std::string> dirs;
  if (top_attr->type != FileType::kDirectory) {
    dirs.emplace_back(split_path(top).first);
    report.files++;
  } else {
    Status s = walk(top, recursive, report, [&](const std::string& p, const FileAttr& attr) {
      if (attr.type == FileType::kDirectory) dirs.push_back(p);
    });
    if (!s) return s;
  }
  for (const auto& dir : dirs) {
    auto old = im.ns.take_decoded(dir);
    if (!old) {
      if (auto l = im.ns.listing(dir)) old = *l;
      im.ns.take_decoded(dir);
    }
    note_remove(im.cache->remove(listing_key(dir)), dir.empty() ? "/" : dir, report);
    auto now = im.ns.listing(dir);
    if (!now) {
      report.errors.push_back(fmt::format("{}: listing failed: {}", dir.empty() ? "/" : dir, now.error().to_string()));
      continue;
    }
    auto dir_ino = im.inodes.find(dir);
    if (dir_ino && im.notifier) im.notifier->inval_inode(*dir_ino);
    if (!old) continue;
    for (const auto& e : old->entries) {
      const DirEntry* fresh = (*now)->find(e.name);
      if (fresh && version_of(fresh->attr) == version_of(e.attr) && fresh->attr.type == e.attr.type &&
          fresh->attr.size == e.attr.size) {
        continue;
      }
      report.changed++;
      const std::string child = join_path(dir, e.name);
      // The "m:" entry describes the old version too.
      note_remove(im.cache->remove(attr_key(child)), child, report);
      if (!im.notifier) continue;
      if (dir_ino) im.notifier->inval_entry(*dir_ino, e.name);
      if (auto ino = im.inodes.find(child)) im.notifier->inval_inode(*ino);
    }
  }
  return report;
}

Result<PathOpReport> Filesystem::warm(std::string_view path, bool recursive,
                                      const std::function<bool(const PathOpReport&)>& progress) {
  PathOpReport report;
  Impl& im = *impl_;
  std::vector<std::string> files;
  Status s = walk(path, recursive, report, [&](const std::string& p, const FileAttr& attr) {
    if (attr.type == FileType::kDirectory) return;
    files.push_back(p);
    report.bytes_total += attr.size;
  });
  if (!s) return s;
  report.files_total = files.size();
  report.files = 0;
  if (progress && !progress(report)) return Status::timeout("cancelled");
  for (const auto& p : files) {
    auto attr = im.resolve_file(p);
    if (!attr) {
      report.errors.push_back(fmt::format("{}: {}", p, attr.error().to_string()));
      report.files++;
      continue;
    }
    auto file = std::make_shared<FileRef>();
    file->path = p;
    file->version = version_of(*attr);
    file->etag = attr->etag;
    file->size = attr->size;
    file->mtime_ns = attr->mtime_ns;
    file->chunk_size = options_.chunk_size;
    const uint64_t chunks = (file->size + options_.chunk_size - 1) / options_.chunk_size;
    for (uint64_t i = 0; i < chunks; i++) {
      int served = 0;
      auto piece = im.chunk_piece(file, i, 0, file->chunk_length(i), &served);
      if (!piece) {
        const Error& e = piece.error();
        report.errors.push_back(fmt::format("{}: chunk {}: {}", p, i, e.cause ? std::string(reason(e.code)) : e.cause.to_string()));
        break;
      }
      report.chunks++;
      report.bytes += piece->length;
      if (progress && !progress(report)) return Status::timeout("cancelled");
    }
    report.files++;
  }
  if (progress) progress(report);
  return report;
}

}  // namespace daramjwee::fs
