// DiskStore: the local disk tier. It keeps objects across restarts, so a
// restarted daemon is warm. RocksDB holds the index (key -> location,
// logical size, stored size, checksum, version tag, compression, cached-at,
// last access); objects whose stored form is at most inline_threshold bytes
// live inline in RocksDB, larger ones in files under DIR/data/XX/ named by a
// counter (never by the key). index_format.h documents the layout.
//
// Publishing (WriteSink::commit): the object is staged in memory (or, past
// 4 MiB, spilled raw to DIR/tmp/ID.tmp). At commit it is checksummed
// (XXH3-64 of the stored bytes), lz4-compressed when that saves at least
// min_compression_saving, written to a temporary file, fsync'ed if
// fsync == kOnCommit, renamed into data/, and only then the index record is
// written (one RocksDB WriteBatch, inline bytes included). So nothing is
// visible before commit; an abort, an exception or a crash leaves at most an
// unreferenced file, which open() deletes.
//
// FsyncPolicy trade-off:
//   kNone     (default) no fsync. Survives a crash of the daemon (kill -9):
//             the page cache and RocksDB's WAL outlive the process. After a
//             power loss or kernel crash recent entries may be lost or their
//             files may hold garbage; open() drops entries whose files are
//             missing or short and the checksum turns garbage into a miss.
//             A cache can always refetch, so this is the right default.
//   kOnCommit fdatasync of the data file, fsync of its directory and a synced
//             WAL write per commit: every committed entry survives power loss.
//             Costs one or more device flushes per object (roughly 1-10 ms on
//             SSDs), which bounds write throughput to a few hundred objects/s.
// copy_mode: for filesystems where rename is not atomic (NFS): the data file
//   is created under its final name and copied from the temporary file.
//   It is NOT crash-atomic at the file level: a crash mid-copy leaves a
//   partial file under its final name. The index is still written only after
//   the copy (and its fsync with kOnCommit), so the partial file is never
//   referenced and open() deletes it, but that relies on the filesystem
//   honouring write ordering, which NFS only does with kOnCommit. It is
//   refused for the fastest tier (fastest_tier = true).
//
// Verification: every object is checksummed and verified before any byte is
// handed out. A mismatch, a short or missing data file, or an undecodable
// record is a miss: the entry is dropped, stats().corruptions increments and
// a rate-limited warning names the key and the tier. Garbage is never
// returned. Files are verified on the first get after open or commit by a
// full read pass; the result is cached per (file id, inode, size, mtime,
// ctime) for the process lifetime, so later gets of that file skip the read
// pass and can be served zero-copy. Any write to the file through the kernel
// changes its ctime and forces a new verification (a verdict is only cached
// once the file is over a second old, so a change within the same coarse
// timestamp tick cannot hide behind an equal stamp); what is NOT caught after
// the first verification is silent media corruption below the page cache
// (bit rot) during this process's lifetime. The trade-off buys splice()
// serving of hot chunks without re-hashing them on every get.
//
// Zero-copy (Reader::file_region): offered by readers of file-backed,
// uncompressed objects. Lifetime rules: the fd and the byte range stay valid
// for as long as any copy of FileRegion::keepalive lives, even after the
// entry is removed, evicted or overwritten: the store never rewrites or
// truncates a published data file; removal only unlinks it, and POSIX keeps
// an unlinked file readable through open descriptors. This is also how "an
// object being read is never unlinked under its reader" holds: the reader's
// open descriptor, not a pin. Do not close the fd or change its offset (use
// pread/splice with an explicit offset).
//
// Capacity: capacity_bytes bounds on-disk bytes, index included. Every entry
// is charged its data (files rounded up to 4 KiB blocks), its key and record,
// and kIndexOverheadPerEntry. Where RocksDB's files really occupy more than
// that estimate of the index (measured every 16 commits, at flush and at
// open: WAL, tables not yet compacted, LOG files), the measurement is
// charged instead, plus half of it again for compactions (their output
// exists beside their input until they finish), a reserve for RocksDB's
// growth between measurements (index_reserve_bytes: about 2 MiB for a
// 16 MiB tier, 14 MiB from a 128 MiB one up) and the directories (about
// 1 MiB on ext4). stats().used_bytes is that total, so a tier smaller than
// about 4 MiB holds nothing.
//
// Free space: before a commit writes, the free space of the filesystem
// holding DIR (statvfs, what unprivileged users may use) must stay at least
// free_min_bytes after the write; if not, the tier evicts until it would, and
// refuses the commit (kResourceExhausted) when eviction cannot get there (the
// filesystem is full of other things). ENOSPC/EDQUOT from a write is refused
// the same way. Each refusal is counted (stats().full_refusals); the first
// after space was available logs one warning, and the first commit that
// succeeds afterwards one info line, so a full disk is reported once per
// transition, not per write. The EvictionPolicy orders victims; recency is
// persisted lazily in "a:" index keys (batched, at flush() and at close) and
// the policy is rebuilt in recency order at open.
//
// A damaged index (RocksDB reports Corruption on a read, a write, or at
// open; or a failed write that Resume() cannot clear, as after a compaction
// met a bad block) is not served as a failed tier forever. The operation
// that finds the damage fails (counted in stats().errors), and the index is
// rebuilt right after it, in that thread: every record still readable (a
// forward scan up to the bad block and a backward scan down to it; RocksDB
// verifies each block's checksum) is copied into a fresh index, the damaged
// one is moved aside to DIR/index.corrupt (the previous quarantine is
// deleted), the fresh one takes its place, and the in-memory state and the
// data files are reconciled as at open (files of lost entries are deleted).
// Losing the entries of the bad block is allowed: this is a cache. get,
// stat, remove and update_metadata retry once on the rebuilt index, so a
// reader of an intact entry still gets a hit. Other operations wait while
// the rebuild runs (index_mu_ exclusive; measured: 13 ms for 400 entries,
// 0.7 s for 100k, plus the wait for a compaction RocksDB is running, up to
// about a second). If the rebuild itself fails, it is retried at
// most every 30 s and, while no index is open, every operation fails
// quickly with kTierError (the engine then treats the tier as failed and
// serves from the origin). When RocksDB cannot open the index at all
// (Corruption from DB::Open), it is quarantined and the tier starts empty.
//
// Open and recovery: takes DIR/LOCK (a second process is refused with its
// PID), checks the format version (another version is refused), removes
// DIR/tmp/*, drops index entries whose data file is missing or short,
// removes data files no entry references, rebuilds the policy, and evicts
// down to capacity if needed.
//
// Thread-safety: all Store methods may be called concurrently. Lock order:
// a key stripe (stripes_) before write_mu_ and mu_; never two stripes at
// once. Index writes go through write() one at a time (write_mu_ is held for
// nothing else): RocksDB would group concurrent writers and hand one
// thread's batch to another through synchronisation ThreadSanitizer cannot
// see in Debian's uninstrumented library, and one writer at a time costs
// nothing here (the WAL is appended by one thread anyway). RocksDB
// point reads/writes for one key run under its stripe (they are memtable or
// block-cache operations, and with kOnCommit a WAL sync); file I/O on data
// (staging, reading, verifying, unlinking) runs under no lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/eviction_policy.h"
#include "core/store.h"
#include "tiers/disk/dir_lock.h"
#include "tiers/disk/index_format.h"

namespace rocksdb {
class DB;
class Status;
class WriteBatch;
}

namespace daramjwee::tiers {

enum class FsyncPolicy { kNone, kOnCommit };

struct DiskStoreOptions {
  std::string dir;                           // Required. Created if missing.
  uint64_t capacity_bytes = 10ull << 30;     // Default: 10 GiB (> 0)
  EvictionKind policy = EvictionKind::kLru;  // Default: LRU
  FsyncPolicy fsync = FsyncPolicy::kNone;    // Default: kNone (see above)
  bool copy_mode = false;                    // Default: false. For NFS; not crash-atomic
  // Objects whose stored form is at most this many bytes live in RocksDB.
  // Default: 16 KiB, by measurement (tools/bench/disk_bench --inline-sweep,
  // best of 3, us/op inline vs file): write 26 vs 163 (1 KiB), 66 vs 609
  // (4 KiB), 127 vs 2058 (8 KiB), 357 vs 2388 (16 KiB), 563 vs 2288 (32 KiB);
  // read 32 vs 31, 36 vs 27, 78 vs 46, 101 vs 57, 117 vs 60. Inline writes win
  // 6-16x up to 16 KiB at a read cost of at most ~45 us and no 4 KiB-block
  // waste; past 16 KiB the read penalty keeps growing, RocksDB compaction
  // rewrites ever more bytes, and only files can be served zero-copy.
  size_t inline_threshold = 16 << 10;        // at most 1 MiB
  double min_compression_saving = 0.1;       // Default: 0.1, in [0, 1)
  bool compress = true;                      // Default: true
  // Default: true. Objects verified in memory on read (compressed, or raw
  // up to 8 MiB and not yet verified since open) are read with O_DIRECT:
  // no copy through the page cache, and no page-cache copy of bytes the
  // tiers above keep anyway. Falls back to buffered reads by itself where
  // the file system has no direct I/O.
  bool direct_reads = true;
  // Default: true. An object staged whole in a page-aligned buffer whose
  // size is a multiple of 4096 (a full chunk, typically) is written to its
  // file with O_DIRECT: no page-cache copy, no dirty pages to write back
  // later. Anything else, or a file system without direct I/O, is written
  // buffered.
  bool direct_writes = true;
  bool fastest_tier = false;                 // Set by the assembler for tier 0
  // Who the cached data belongs to: the daemon passes its origin's
  // normalised URL. Recorded in DIR/OWNER (owner_file.h) at open; a
  // directory recorded for another owner and holding entries is refused
  // (kConfigError naming the directory and both owners) unless
  // reset_foreign, which empties it first; one holding no entries is taken
  // over.
  // A directory with an index but no OWNER (written before owners were
  // recorded) is adopted, with a warning. Default: "" (nothing checked or
  // recorded). Must not contain a newline.
  std::string owner;
  bool reset_foreign = false;                // Default: false (refuse)
  // Free space the tier leaves on its filesystem (see above). Default:
  // 256 MiB: room for logs, the journal and other programs on a shared
  // filesystem, and a small share (2.5% or less) of any disk a 10 GiB cache
  // is worth putting on. 0 disables the floor (ENOSPC still handled).
  uint64_t free_min_bytes = 256ull << 20;
  // OK, or kConfigError naming the field ("dir", "capacity_bytes", ...).
  Status validate() const;
};

// What open() found and repaired; also logged at info level.
struct DiskRecoveryReport {
  uint64_t entries = 0;                  // entries after recovery
  uint64_t orphan_temps_removed = 0;     // DIR/tmp files
  uint64_t dangling_entries_dropped = 0; // data missing/short or record unreadable
  uint64_t unreferenced_files_removed = 0;
  uint64_t evicted_to_capacity = 0;
  bool reset_for_owner = false;          // emptied: it held another owner's cache
  bool index_rebuilt = false;            // the index was damaged and rebuilt (or started empty)
  double open_seconds = 0;
};

class DiskStore final : public Store, public std::enable_shared_from_this<DiskStore> {
 public:
  // Opens (creating if needed) and recovers the directory. Errors:
  // kConfigError (invalid options; or `dir` is not empty and holds no disk
  // tier, so that pointing it at $HOME cannot delete anything; or `dir`
  // belongs to another owner and reset_foreign is false), kTierError (directory locked by another
  // process, incompatible format version, RocksDB failure other than a
  // damaged index, which is rebuilt instead), kIoError.
  static Result<std::shared_ptr<DiskStore>> open(const DiskStoreOptions& options);
  // Persists recency and flushes the index; never throws.
  ~DiskStore() override;

  std::string_view kind() const override { return "disk"; }
  // Never throws: allocation failure is kResourceExhausted.
  Result<std::optional<StoreEntry>> get(std::string_view key) override;
  // Errors: kResourceExhausted when metadata.size exceeds capacity_bytes.
  Result<std::unique_ptr<WriteSink>> begin_set(std::string_view key,
                                               const Metadata& metadata) override;
  Status remove(std::string_view key) override;
  Result<std::optional<Metadata>> stat(std::string_view key) override;
  Result<bool> update_metadata(std::string_view key, const Metadata& metadata) override;
  StoreStats stats() const override;
  // Persists every pending last-access time and flushes RocksDB's memtable
  // (so the next open replays no WAL).
  Status flush() override;

  const DiskRecoveryReport& recovery_report() const { return recovery_; }
  const DiskStoreOptions& options() const { return opts_; }

 private:
  friend class DiskSink;
  struct MemEntry {
    uint64_t footprint = 0;
    uint64_t file_bytes = 0;   // the data file's share of footprint (0 inline)
    uint64_t gen = 0;          // changes on every publish of the key
    uint64_t access_seq = 0;
    int64_t access_ns = 0;
    bool access_dirty = false;
  };
  struct FileStamp {
    uint64_t ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };

  explicit DiskStore(DiskStoreOptions opts, disk_detail::DirLock lock);
  Status recover();
  // Compares DIR/OWNER with opts_.owner; refuses, empties or records.
  // Requires: DIR/LOCK held, the index not open.
  Status check_owner();
  // Opens DIR/index into db_. Corruption reported by DB::Open moves the
  // index aside and opens an empty one (when `quarantine` is true).
  Status open_index(bool quarantine, DiskRecoveryReport* report);
  // Reads the index into entries_/policy_ and reconciles it with DIR/data
  // (deletes files no record names, drops records whose file is missing or
  // short). kCorruption when the index cannot be read through.
  // Requires: no concurrent operation (open, or index_mu_ held exclusively).
  Status load_index(DiskRecoveryReport* report);
  // Closes nothing: renames DIR/index to DIR/index.corrupt (replacing an
  // older quarantine). Requires: db_ closed.
  Status quarantine_index();
  // Salvages the readable records into a fresh index that replaces db_
  // (see the file comment). Requires: as load_index.
  Status rebuild_locked(const std::string& reason, DiskRecoveryReport* report);
  // Rebuilds the index if an operation marked it damaged. Returns whether an
  // index is open afterwards. Takes index_mu_ exclusively: call it with no
  // lock held.
  bool rebuild_if_damaged();
  // Records what a RocksDB status says about the index's health; returns s.
  const rocksdb::Status& note_index(const rocksdb::Status& s);
  // Runs op() with index_mu_ shared (kTierError when no index is open);
  // when the index turned out damaged, rebuilds it and, if `retry`, runs
  // op() once more. Failures are counted in errors_.
  template <typename Op>
  auto with_index(bool retry, Op&& op) -> decltype(op());
  // The operations, with index_mu_ held shared by their public wrappers.
  Result<std::optional<StoreEntry>> get_impl(std::string_view key);
  Status remove_impl(std::string_view key);
  Result<std::optional<Metadata>> stat_impl(std::string_view key);
  Result<bool> update_metadata_impl(std::string_view key, const Metadata& metadata);
  std::mutex& stripe(std::string_view key);
  std::string data_path(uint64_t file_id) const;
  Result<std::optional<disk_detail::IndexRecord>> read_record(std::string_view key);
  // Called by DiskSink with the data already in place (file renamed into
  // data/, or inline bytes in `inline_data`). Writes the index, swaps the
  // old entry out and enforces capacity.
  Status publish(std::string_view key, disk_detail::IndexRecord rec, const std::string* inline_data);
  // Drops `key` if its record still has `commit_seq` (a corrupt entry).
  void drop_corrupt(std::string_view key, uint64_t commit_seq, std::string_view why);
  // Deletes the index entry under its stripe; the caller unlinks the file.
  Status delete_locked(std::string_view key, const disk_detail::IndexRecord& rec);
  void forget_entry_locked(std::string_view key);  // Requires: mu_ held
  void unlink_data(uint64_t file_id);
  void evict_to_capacity() { evict_until(opts_.capacity_bytes); }
  // Evicts until the charged total is at most `limit` (or nothing is left).
  void evict_until(uint64_t limit);
  // What counts against capacity (see the file comment). Requires: mu_.
  uint64_t charged_locked() const;
  // Re-reads the size of DIR/index* (no lock held) and updates the charge.
  void measure_index();
  // Makes room for `bytes` more above free_min_bytes, evicting if needed.
  // kResourceExhausted (counted, warned once) when it cannot.
  Status ensure_space(uint64_t bytes);
  // A commit was refused for lack of space / one succeeded: the full-disk
  // warning and its counter (see the file comment).
  void note_full(const Status& why);
  void note_space_ok();
  void note_access(std::string_view key);
  Status persist_access(bool all);
  bool is_verified(uint64_t file_id, const FileStamp& s);
  void set_verified(uint64_t file_id, const FileStamp& s);
  uint64_t next_file_id() { return next_file_id_.fetch_add(1); }
  uint64_t next_seq() { return seq_.fetch_add(1) + 1; }
  // db_->Write under write_mu_ (see the thread-safety note above).
  rocksdb::Status write(bool sync, rocksdb::WriteBatch* batch);

  const DiskStoreOptions opts_;
  disk_detail::DirLock lock_;
  // Shared by every operation that uses db_ (a sink's whole commit included,
  // so a rebuild never sees a data file that is placed but not yet indexed);
  // exclusive while the index is rebuilt and db_ replaced. Before stripes.
  mutable std::shared_mutex index_mu_;
  std::unique_ptr<rocksdb::DB> db_;         // guarded by index_mu_; null if a rebuild failed
  std::atomic<bool> index_damaged_{false};
  std::mutex damage_mu_;                    // leaf lock
  std::string damage_reason_;               // first cause since the last rebuild; guarded by damage_mu_
  int64_t last_rebuild_ns_ = 0;             // guarded by index_mu_ (exclusive)
  std::string data_dir_, tmp_dir_;
  DiskRecoveryReport recovery_;

  std::array<std::mutex, 64> stripes_;  // per-key writers and openers; before mu_
  std::mutex write_mu_;                 // serialises index writes (see write())
  mutable std::mutex mu_;
  std::unordered_map<std::string, MemEntry> entries_;  // guarded by mu_
  std::unique_ptr<EvictionPolicy> policy_;             // guarded by mu_
  uint64_t used_bytes_ = 0;                            // sum of footprints; guarded by mu_
  uint64_t file_bytes_ = 0;                            // sum of file_bytes; guarded by mu_
  uint64_t index_measured_ = 0;                        // DIR/index* on disk when last measured; guarded by mu_
  uint64_t layout_bytes_ = 0;                          // DIR's directories, at open; guarded by mu_
  const uint64_t index_reserve_;                       // index_reserve_bytes(capacity)
  const uint64_t index_fixed_;                         // index_fixed_files_bytes(capacity)
  std::atomic<uint64_t> commits_since_measure_{0};
  std::atomic<bool> full_{false};                      // the last commit was refused for space
  std::vector<std::string> dirty_keys_;  // access_dirty set (may hold stale keys); guarded by mu_
  uint64_t gen_counter_ = 0;                           // guarded by mu_
  int64_t last_persist_ns_ = 0;                        // guarded by mu_
  std::atomic<bool> persisting_{false};
  std::atomic<bool> direct_reads_{true};  // cleared once the file system refuses O_DIRECT

  std::mutex verified_mu_;                                 // leaf lock
  std::unordered_map<uint64_t, FileStamp> verified_;       // guarded by verified_mu_

  std::atomic<uint64_t> next_file_id_{1};
  std::atomic<uint64_t> seq_{0};
  std::atomic<uint64_t> entries_count_{0}, used_mirror_{0}, evictions_{0}, corruptions_{0};
  std::atomic<uint64_t> errors_{0}, index_rebuilds_{0}, full_refusals_{0};
};

}  // namespace daramjwee::tiers

namespace daramjwee::tiers {

template <typename Op>
auto DiskStore::with_index(bool retry, Op&& op) -> decltype(op()) {
  using R = decltype(op());
  auto run = [&]() -> R {
    std::shared_lock l(index_mu_);
    if (!db_) return Status::tier_error("disk", "index", "no index is open (its rebuild failed; retried every 30 s)");
    return op();
  };
  R r = run();
  if (index_damaged_.load(std::memory_order_acquire) && rebuild_if_damaged() && retry) r = run();
  bool failed;
  if constexpr (std::is_same_v<R, Status>) failed = !r.is_ok();
  else failed = !r.has_value();
  if (failed) errors_.fetch_add(1, std::memory_order_relaxed);
  return r;
}

}  // namespace daramjwee::tiers
