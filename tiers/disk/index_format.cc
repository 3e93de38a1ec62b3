#include "tiers/disk/index_format.h"

#include <cstring>

#include <fmt/format.h>

namespace daramjwee::tiers::disk_detail {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr uint8_t kFlagNegative = 1;
constexpr std::string_view kTagPrefix = "daramjwee-disk-format-";

void put64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 8);
}
void put32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 4);
}

// Bounds-checked little-endian reader.
struct Cursor {
  std::string_view s;
  bool ok = true;
  uint64_t get64() {
    if (s.size() < 8) { ok = false; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<uint8_t>(s[i])) << (8 * i);
    s.remove_prefix(8);
    return v;
  }
  uint32_t get32() {
    if (s.size() < 4) { ok = false; return 0; }
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<uint8_t>(s[i])) << (8 * i);
    s.remove_prefix(4);
    return v;
  }
  uint8_t get8() {
    if (s.empty()) { ok = false; return 0; }
    uint8_t v = static_cast<uint8_t>(s[0]);
    s.remove_prefix(1);
    return v;
  }
  std::string_view take(size_t n) {
    if (s.size() < n) { ok = false; return {}; }
    auto v = s.substr(0, n);
    s.remove_prefix(n);
    return v;
  }
};

}  // namespace

std::string format_tag(uint32_t version) { return fmt::format("{}{}", kTagPrefix, version); }

std::optional<uint32_t> parse_format_tag(std::string_view tag) {
  if (!tag.starts_with(kTagPrefix)) return std::nullopt;
  tag.remove_prefix(kTagPrefix.size());
  if (tag.empty() || tag.size() > 9) return std::nullopt;
  uint32_t v = 0;
  for (char c : tag) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v;
}

std::string encode_record(const IndexRecord& r) {
  std::string out;
  out.reserve(64 + r.md.etag.size());
  out.push_back(static_cast<char>(kRecordVersion));
  out.push_back(static_cast<char>(r.md.negative ? kFlagNegative : 0));
  out.push_back(static_cast<char>(r.md.compression));
  put64(&out, r.md.size);
  put64(&out, r.md.stored_size);
  put64(&out, r.checksum64);
  put64(&out, r.file_id);
  put64(&out, static_cast<uint64_t>(r.md.origin_mtime_ns));
  put64(&out, static_cast<uint64_t>(
                  std::chrono::duration_cast<std::chrono::nanoseconds>(
                      r.md.cached_at.time_since_epoch()).count()));
  put64(&out, r.commit_seq);
  put32(&out, static_cast<uint32_t>(r.md.etag.size()));
  out.append(r.md.etag);
  return out;
}

std::optional<IndexRecord> decode_record(std::string_view bytes) {
  Cursor c{bytes};
  if (c.get8() != kRecordVersion || !c.ok) return std::nullopt;
  IndexRecord r;
  uint8_t flags = c.get8();
  uint8_t comp = c.get8();
  if (comp > static_cast<uint8_t>(Compression::kLz4) || (flags & ~kFlagNegative)) return std::nullopt;
  r.md.negative = flags & kFlagNegative;
  r.md.compression = static_cast<Compression>(comp);
  r.md.size = c.get64();
  r.md.stored_size = c.get64();
  r.checksum64 = c.get64();
  r.md.checksum = static_cast<uint32_t>(r.checksum64);
  r.file_id = c.get64();
  r.md.origin_mtime_ns = static_cast<int64_t>(c.get64());
  r.md.cached_at = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(static_cast<int64_t>(c.get64()))));
  r.commit_seq = c.get64();
  uint32_t etag_len = c.get32();
  auto etag = c.take(etag_len);
  if (!c.ok || !c.s.empty()) return std::nullopt;
  r.md.etag.assign(etag);
  return r;
}

std::string encode_access(const AccessRecord& a) {
  std::string out;
  put64(&out, a.seq);
  put64(&out, static_cast<uint64_t>(a.wall_ns));
  return out;
}

std::optional<AccessRecord> decode_access(std::string_view bytes) {
  Cursor c{bytes};
  AccessRecord a;
  a.seq = c.get64();
  a.wall_ns = static_cast<int64_t>(c.get64());
  if (!c.ok || !c.s.empty()) return std::nullopt;
  return a;
}

std::string entry_key(std::string_view key) { return std::string(kEntryPrefix) + std::string(key); }
std::string data_key(std::string_view key) { return std::string(kDataPrefix) + std::string(key); }
std::string access_key(std::string_view key) { return std::string(kAccessPrefix) + std::string(key); }

std::string data_subdir_name(unsigned index) { return fmt::format("{:02x}", index & 0xff); }

std::string data_file_rel(uint64_t file_id) {
  return fmt::format("{:02x}/{:016x}", file_id & 0xff, file_id);
}

std::optional<uint64_t> parse_file_name(std::string_view name) {
  if (name.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : name) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return std::nullopt;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  if (v == 0) return std::nullopt;
  return v;
}

uint64_t entry_footprint(std::string_view key, const IndexRecord& r, size_t record_bytes) {
  uint64_t index = kIndexOverheadPerEntry + 2 * key.size() + record_bytes;
  if (r.file_id == 0) return index + key.size() + r.md.stored_size;
  return index + (r.md.stored_size + kFileBlock - 1) / kFileBlock * kFileBlock;
}

}  // namespace daramjwee::tiers::disk_detail
