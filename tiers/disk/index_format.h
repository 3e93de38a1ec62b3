// On-disk format of the disk tier. Changing anything here means bumping
// kFormatVersion: open() refuses a directory written by another version.
//
// Directory layout:
//   DIR/LOCK             flock()ed by the owning process; holds its PID
//   DIR/index/           RocksDB: the index (and small objects inline)
//   DIR/data/XX/ID       object data files; XX = low byte of ID in hex
//   DIR/tmp/ID.tmp       objects being written (orphans removed at open)
// File names come from a per-store counter, never from the key, so a key
// cannot steer a path (no "..", no length limits, no collisions).
//
// RocksDB keys (one keyspace, prefixed):
//   "m:format"   -> kFormatTag               the format version
//   "e:" + key   -> encoded IndexRecord      presence == visibility
//   "d:" + key   -> stored bytes             inline objects only
//   "a:" + key   -> encoded AccessRecord     recency, persisted lazily
// An "e:" record and its "d:" value are written in one WriteBatch, so they
// are never seen apart. A data file is renamed into data/ before the "e:"
// record naming it is written, so a visible record always names a complete
// file (modulo power loss with FsyncPolicy::kNone; the checksum catches it).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/metadata.h"

namespace daramjwee::tiers::disk_detail {

inline constexpr uint32_t kFormatVersion = 1;
inline constexpr std::string_view kFormatKey = "m:format";
inline constexpr std::string_view kEntryPrefix = "e:";
inline constexpr std::string_view kDataPrefix = "d:";
inline constexpr std::string_view kAccessPrefix = "a:";

// Index bytes charged per entry on top of its key, record and data: RocksDB
// keeps each key up to three times (e:, a:, d:) plus block/filter overhead.
inline constexpr uint64_t kIndexOverheadPerEntry = 64;
inline constexpr uint64_t kFileBlock = 4096;  // data files are charged whole blocks

std::string format_tag(uint32_t version);  // "daramjwee-disk-format-<v>"
// The version in a tag, nullopt if it is not one of ours.
std::optional<uint32_t> parse_format_tag(std::string_view tag);

struct IndexRecord {
  Metadata md;               // md.checksum holds the low 32 bits of checksum64
  uint64_t checksum64 = 0;   // XXH3-64 of the stored bytes
  uint64_t file_id = 0;      // 0: inline ("d:" key), else data/XX/<file_id>
  uint64_t commit_seq = 0;   // recency at commit; unique per commit
};

std::string encode_record(const IndexRecord& r);
std::optional<IndexRecord> decode_record(std::string_view bytes);

struct AccessRecord {
  uint64_t seq = 0;          // recency order (larger = more recent)
  int64_t wall_ns = 0;       // wall clock of the access, for operators
};
std::string encode_access(const AccessRecord& a);
std::optional<AccessRecord> decode_access(std::string_view bytes);

std::string entry_key(std::string_view key);
std::string data_key(std::string_view key);
std::string access_key(std::string_view key);

// "XX/<16 hex digits>" relative to DIR/data.
std::string data_file_rel(uint64_t file_id);
std::string data_subdir_name(unsigned index);  // "00".."ff"
// Parses "<16 hex digits>"; nullopt for anything else (or 0).
std::optional<uint64_t> parse_file_name(std::string_view name);

// The data file's share of an entry's charge: whole blocks; 0 when inline.
inline uint64_t file_charge(uint64_t file_id, uint64_t stored_size) {
  return file_id == 0 ? 0 : (stored_size + kFileBlock - 1) / kFileBlock * kFileBlock;
}

// Bytes charged against capacity for an entry.
uint64_t entry_footprint(std::string_view key, const IndexRecord& r, size_t record_bytes);

}  // namespace daramjwee::tiers::disk_detail
