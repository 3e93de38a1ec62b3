// DiskSink: staging and publishing one object (see disk_store.h for the
// protocol). The order of effects is what makes publishing atomic:
//   1. bytes are staged in memory (a whole object handed over as one shared
//      buffer is held by reference), or past kSpillBytes in DIR/tmp/ID.tmp;
//   2. commit decides compression and placement, writes the stored bytes to
//      the temporary file (fdatasync with kOnCommit) and renames it to
//      DIR/data/XX/ID (copy_mode: copies it there), fsyncing the directory
//      with kOnCommit;
//   3. DiskStore::publish writes the index record (one WriteBatch).
// Until 3 succeeds nothing names the new file, so a failure, exception or
// crash at any earlier point leaves only an unreferenced file: removed here
// on failure, or by open() after a crash.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include "tiers/disk/checksum.h"

#include <fmt/format.h>

#include "core/compressor.h"
#include "tiers/disk/disk_store.h"
#include "tiers/disk/file_util.h"
#include "tiers/disk/rocks_util.h"

namespace daramjwee::tiers {

using disk_detail::IndexRecord;
using disk_detail::UniqueFd;

namespace {
constexpr size_t kSpillBytes = 4 << 20;     // staged in memory up to this
constexpr size_t kMinCompressBytes = 128;   // below: framing eats any gain
constexpr size_t kProbeBytes = 64 << 10;    // compressibility probe
// The index's real size is re-read this often (a readdir and ~20 fstats).
constexpr uint64_t kMeasureEveryCommits = 16;
}  // namespace

class DiskSink final : public WriteSink {
 public:
  DiskSink(std::shared_ptr<DiskStore> store, std::string_view key, const Metadata& md)
      : store_(std::move(store)), key_(key), md_(md),
        spill_at_(std::max(kSpillBytes, store_->opts_.inline_threshold)),
        hash_(nullptr, XXH3_freeState) {}
  ~DiskSink() override { abort(); }

  // A whole object handed over as one immutable buffer (a chunk the engine
  // already holds) is staged by reference: no copy before the file write.
  Status write_shared(const SharedBytes& data) override {
    if (state_ == State::kOpen && data && !held_ && buf_.size() == 0 && written_ == 0 && !tmp_fd_.valid() &&
        data->size() <= spill_at_ && data->size() <= store_->opts_.capacity_bytes) {
      held_ = data;
      written_ = data->size();
      return Status::ok();
    }
    return write(data ? data->span() : std::span<const std::byte>());
  }

  Status write(std::span<const std::byte> data) override {
    if (state_ == State::kDone) return Status::invalid_argument("write after commit or abort");
    if (state_ == State::kFailed) return failure_;
    if (written_ + data.size() > store_->opts_.capacity_bytes)
      return fail(Status::exhausted("object larger than the disk tier's capacity").with_tier("disk", "write"));
    try {
      if (held_) {  // more bytes after an adopted buffer: stage privately
        buf_.reserve(std::max<size_t>(held_->size() + data.size(), static_cast<size_t>(std::min<uint64_t>(md_.size, spill_at_))));
        buf_.append(held_->span());
        held_.reset();
      }
      if (!tmp_fd_.valid() && buf_.size() + data.size() <= spill_at_) {
        if (buf_.capacity() == 0 && md_.size > 0 && md_.size <= spill_at_) buf_.reserve(static_cast<size_t>(md_.size));
        buf_.append(data);
      } else {
        if (!tmp_fd_.valid()) {
          if (auto s = open_tmp(); !s) return fail(s);
          hash_.reset(XXH3_createState());
          if (!hash_) throw std::bad_alloc();
          XXH3_64bits_reset(hash_.get());
          disk_detail::checksum_update(hash_.get(), buf_.data(), buf_.size());
          if (auto s = disk_detail::write_all(tmp_fd_.get(), buf_.span(), tmp_path_); !s) return fail(s);
          buf_ = Bytes();
        }
        disk_detail::checksum_update(hash_.get(), data.data(), data.size());
        if (auto s = disk_detail::write_all(tmp_fd_.get(), data, tmp_path_); !s) return fail(s);
      }
    } catch (const std::bad_alloc&) {
      return fail(Status::exhausted("out of memory staging a disk-tier object"));
    }
    written_ += data.size();
    return Status::ok();
  }

  Status commit() override {
    if (state_ == State::kDone) return Status::invalid_argument("commit after commit or abort");
    if (state_ == State::kFailed) return failure_;
    // The whole commit holds the index shared: a rebuild (which deletes data
    // files no record names) must not run between placing the file and
    // indexing it. A failure is not retried on a rebuilt index: the staged
    // bytes are cleaned up first, and the next fill of the key succeeds.
    Status s = store_->with_index(false, [&] {
      Status r;
      try {
        r = do_commit();
      } catch (const std::bad_alloc&) {
        r = Status::exhausted("out of memory committing a disk-tier object");
      } catch (const std::exception& e) {
        r = Status::internal(fmt::format("exception during commit: {}", e.what()));
      }
      if (r) published_path_.clear();
      cleanup();  // before the lock is released: nothing placed survives unindexed
      return r;
    });
    state_ = State::kDone;
    if (!s) {
      if (disk_detail::is_no_space(s)) store_->note_full(s);
      return s.tier().empty() ? s.with_tier("disk", "commit") : s;
    }
    store_->note_space_ok();
    return Status::ok();
  }

  void abort() noexcept override {
    if (state_ == State::kDone) return;
    cleanup();
    state_ = State::kDone;
  }

 private:
  enum class State { kOpen, kFailed, kDone };

  Status fail(Status s) {
    state_ = State::kFailed;
    failure_ = s;
    cleanup();
    if (disk_detail::is_no_space(s)) store_->note_full(s);
    return s;
  }

  // Removes whatever this sink created and did not publish. Never throws.
  void cleanup() noexcept {
    tmp_fd_.reset();
    if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
    tmp_path_.clear();
    if (!published_path_.empty()) ::unlink(published_path_.c_str());
    published_path_.clear();
    buf_ = Bytes();
    held_.reset();
  }

  // The bytes staged in memory (adopted or copied).
  std::span<const std::byte> staged() const { return held_ ? held_->span() : buf_.span(); }

  Status open_tmp() {
    file_id_ = store_->next_file_id();
    tmp_path_ = fmt::format("{}/{:016x}.tmp", store_->tmp_dir_, file_id_);
    tmp_fd_.reset(disk_detail::open_private(tmp_path_, O_RDWR | O_EXCL));
    if (!tmp_fd_.valid()) {
      int err = errno;
      tmp_path_.clear();
      return disk_detail::errno_status("create " + store_->tmp_dir_ + "/*.tmp", err).with_tier("disk", "write");
    }
    return Status::ok();
  }

  bool sync() const { return store_->opts_.fsync == FsyncPolicy::kOnCommit; }

  // Chooses lz4 when it saves at least min_compression_saving. A 64 KiB
  // probe first keeps incompressible chunks (media, archives) cheap.
  std::optional<Bytes> maybe_compress() const {
    const auto& o = store_->opts_;
    if (!o.compress || staged().size() < kMinCompressBytes) return std::nullopt;
    const Compressor& lz4 = compressor_for(Compression::kLz4);
    const double keep = 1.0 - o.min_compression_saving;
    if (staged().size() > 2 * kProbeBytes) {
      auto probe = lz4.compress(staged().first(kProbeBytes));
      if (!probe || double(probe->size()) > double(kProbeBytes) * (1.0 - o.min_compression_saving / 2))
        return std::nullopt;
    }
    auto c = lz4.compress(staged());
    if (!c || double(c->size()) > double(staged().size()) * keep) return std::nullopt;
    return std::move(*c);
  }

  Status do_commit() {
    IndexRecord rec;
    rec.md = md_;
    rec.md.size = written_;
    rec.md.compression = Compression::kNone;
    if (tmp_fd_.valid()) {  // spilled: raw, already in the temporary file
      if (auto s = store_->ensure_space(0); !s) return s;  // the bytes are down; keep the floor
      rec.md.stored_size = written_;
      rec.checksum64 = XXH3_64bits_digest(hash_.get());
    } else {
      std::optional<Bytes> packed = maybe_compress();
      std::span<const std::byte> stored = packed ? packed->span() : staged();
      if (packed) rec.md.compression = Compression::kLz4;
      rec.md.stored_size = stored.size();
      rec.checksum64 = disk_detail::checksum64(stored.data(), stored.size());
      rec.md.checksum = static_cast<uint32_t>(rec.checksum64);
      if (auto s = store_->ensure_space(stored.size()); !s) return s;
      if (stored.size() <= store_->opts_.inline_threshold) {
        std::string value(reinterpret_cast<const char*>(stored.data()), stored.size());
        return store_->publish(key_, std::move(rec), &value);
      }
      if (auto s = open_tmp(); !s) return s;
      if (store_->opts_.direct_writes) {
        auto w = disk_detail::write_new_file(tmp_fd_.get(), stored, tmp_path_);
        if (!w) return w.error();
      } else if (auto s = disk_detail::write_all(tmp_fd_.get(), stored, tmp_path_); !s) {
        return s;
      }
    }
    rec.md.checksum = static_cast<uint32_t>(rec.checksum64);
    if (sync() && ::fdatasync(tmp_fd_.get()) != 0) return disk_detail::errno_status("fdatasync " + tmp_path_, errno);
    if (auto s = place_file(rec.md.stored_size); !s) return s;
    rec.file_id = file_id_;
    return store_->publish(key_, std::move(rec), nullptr);
  }

  // Moves the temporary file to its final name (see the file comment).
  Status place_file(uint64_t stored_size) {
    std::string final_path = store_->data_path(file_id_);
    if (store_->opts_.copy_mode) {
      UniqueFd out(disk_detail::open_private(final_path, O_WRONLY | O_EXCL));
      if (!out.valid()) return disk_detail::errno_status("create " + final_path, errno);
      published_path_ = final_path;  // unlinked by cleanup() unless published
      if (auto s = disk_detail::copy_fd(tmp_fd_.get(), out.get(), stored_size, final_path); !s) return s;
      if (sync() && ::fdatasync(out.get()) != 0) return disk_detail::errno_status("fdatasync " + final_path, errno);
    } else {
      if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0)
        return disk_detail::errno_status("rename to " + final_path, errno);
      tmp_path_.clear();
      published_path_ = final_path;
    }
    if (sync()) {
      auto dir = final_path.substr(0, final_path.rfind('/'));
      if (auto s = disk_detail::fsync_dir(dir); !s) return s;
    }
    return Status::ok();
  }

  std::shared_ptr<DiskStore> store_;
  std::string key_;
  Metadata md_;
  const size_t spill_at_;
  Bytes buf_;                     // staged bytes until spilled
  SharedBytes held_;              // or: one adopted buffer, the whole object so far
  UniqueFd tmp_fd_;               // open once spilled or placed
  std::string tmp_path_;          // non-empty while a temp file exists
  std::string published_path_;    // final file created but not yet indexed
  uint64_t file_id_ = 0;
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash_;  // spilled objects
  uint64_t written_ = 0;
  State state_ = State::kOpen;
  Status failure_;
};

Result<std::unique_ptr<WriteSink>> DiskStore::begin_set(std::string_view key, const Metadata& md) {
  if (md.size > opts_.capacity_bytes)
    return Status::exhausted(fmt::format("object of {} bytes exceeds disk tier capacity {}", md.size,
                                         opts_.capacity_bytes))
        .with_tier("disk", "begin_set");
  return std::unique_ptr<WriteSink>(std::make_unique<DiskSink>(shared_from_this(), key, md));
}

Status DiskStore::publish(std::string_view key, IndexRecord rec, const std::string* inline_data) {
  rec.commit_seq = next_seq();
  rec.file_id = inline_data ? 0 : rec.file_id;
  std::string enc = disk_detail::encode_record(rec);
  uint64_t fp = disk_detail::entry_footprint(key, rec, enc.size());
  std::optional<IndexRecord> old;
  {
    std::lock_guard sl(stripe(key));
    auto r = read_record(key);
    if (!r) return r.error();
    if (*r && (*r)->commit_seq != 0) old = std::move(**r);
    rocksdb::WriteBatch b;
    auto s = b.Put(disk_detail::entry_key(key), enc);
    if (s.ok() && inline_data) s = b.Put(disk_detail::data_key(key), *inline_data);
    if (s.ok() && !inline_data) s = b.Delete(disk_detail::data_key(key));
    if (s.ok()) s = b.Delete(disk_detail::access_key(key));  // the record's commit_seq is newer
    if (s.ok()) s = write(opts_.fsync == FsyncPolicy::kOnCommit, &b);
    if (!s.ok()) return disk_detail::from_rocks(s, "commit");
    std::lock_guard l(mu_);
    auto [it, inserted] = entries_.try_emplace(std::string(key));
    if (!inserted) {
      used_bytes_ -= it->second.footprint;
      file_bytes_ -= it->second.file_bytes;
    }
    const uint64_t file_bytes = disk_detail::file_charge(rec.file_id, rec.md.stored_size);
    it->second = MemEntry{fp, file_bytes, ++gen_counter_, rec.commit_seq, 0, false};
    used_bytes_ += fp;
    file_bytes_ += file_bytes;
    policy_->add(key, fp);
    entries_count_.store(entries_.size(), std::memory_order_relaxed);
    used_mirror_.store(charged_locked(), std::memory_order_relaxed);
  }
  if (commits_since_measure_.fetch_add(1, std::memory_order_relaxed) + 1 >= kMeasureEveryCommits) measure_index();
  if (old && old->file_id) unlink_data(old->file_id);
  evict_to_capacity();
  return Status::ok();
}

}  // namespace daramjwee::tiers
