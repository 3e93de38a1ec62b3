// Namespace: see namespace.h for the key layout.
//
// The fetchers below are what the engine calls on a miss or a background
// refresh. They hold the origin by shared_ptr and copy the path, because a
// refresh may run after the request that created them is gone (fetcher.h).
// The listing fetcher is also where "a refresh found a change" becomes
// visible: it compares the new listing's hash with the cached etag and tells
// the filesystem, which invalidates the kernel's copy outside any callback.
#include "fs/namespace.h"

#include <algorithm>

#include <cstring>

#include <fmt/format.h>

#include "util/log.h"

namespace daramjwee::fs {
namespace {

constexpr uint8_t kFormat = 1;

void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; i++) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

struct Cursor {
  std::string_view in;
  bool ok = true;
  uint64_t u64() {
    if (in.size() < 8) { ok = false; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= uint64_t(static_cast<unsigned char>(in[i])) << (8 * i);
    in.remove_prefix(8);
    return v;
  }
  uint8_t u8() {
    if (in.empty()) { ok = false; return 0; }
    uint8_t v = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    if (!ok || n > in.size()) { ok = false; return {}; }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

void put_attr(std::string& out, const FileAttr& a) {
  out.push_back(static_cast<char>(a.type));
  out.push_back(a.size_exact ? 1 : 0);
  put_u64(out, a.size);
  put_u64(out, static_cast<uint64_t>(a.mtime_ns));
  put_u64(out, a.mode);
  put_str(out, a.etag);
}

FileAttr get_attr(Cursor& c) {
  FileAttr a;
  uint8_t t = c.u8();
  if (t > 1) c.ok = false;
  a.type = static_cast<FileType>(t);
  a.size_exact = c.u8() != 0;
  a.size = c.u64();
  a.mtime_ns = static_cast<int64_t>(c.u64());
  a.mode = static_cast<uint32_t>(c.u64());
  a.etag = c.str();
  return a;
}

Result<std::string> body_string(GetResult& r, uint64_t limit) {
  auto bytes = read_all(*r.body, limit);
  if (!bytes) return bytes.error();
  return std::string(bytes->view());
}

// Fetches one path's attributes ("m:" keys).
class AttrFetcher final : public Fetcher {
 public:
  AttrFetcher(std::shared_ptr<Origin> origin, std::string path, std::shared_ptr<std::atomic<uint64_t>> heads)
      : origin_(std::move(origin)), path_(std::move(path)), heads_(std::move(heads)) {}
  Result<FetchOutcome> fetch(std::string_view, const Metadata* cached) override {
    if (heads_) heads_->fetch_add(1, std::memory_order_relaxed);
    auto attr = origin_->stat(path_);
    if (!attr) {
      if (attr.error().is(StatusCode::kNotFound)) return FetchOutcome(NotFoundAtOrigin{});
      return attr.error();
    }
    std::string enc = encode_attr(*attr);
    Metadata meta;
    meta.etag = hash_hex(enc);
    meta.size = enc.size();
    meta.origin_mtime_ns = attr->mtime_ns;
    meta.cached_at = Clock::now();
    if (cached && !cached->negative && cached->etag == meta.etag) {
      return FetchOutcome(NotModified{meta});
    }
    auto bytes = std::make_shared<const Bytes>(Bytes::copy_of(enc));
    return FetchOutcome(FetchedBody{meta, make_bytes_reader(bytes)});
  }

 private:
  std::shared_ptr<Origin> origin_;
  std::string path_;
  std::shared_ptr<std::atomic<uint64_t>> heads_;  // may be null
};

// Fetches one directory's listing ("d:" keys).
class ListFetcher final : public Fetcher {
 public:
  ListFetcher(std::shared_ptr<Origin> origin, std::string dir,
              std::shared_ptr<std::function<void(const std::string&)>> listener)
      : origin_(std::move(origin)), dir_(std::move(dir)), listener_(std::move(listener)) {}
  Result<FetchOutcome> fetch(std::string_view, const Metadata* cached) override {
    auto entries = origin_->list(dir_);
    if (!entries) {
      if (entries.error().is(StatusCode::kNotFound)) {
        if (cached && !cached->negative) notify();
        return FetchOutcome(NotFoundAtOrigin{});
      }
      return entries.error();
    }
    std::string enc = encode_listing(*entries);
    Metadata meta;
    meta.etag = hash_hex(enc);
    meta.size = enc.size();
    meta.cached_at = Clock::now();
    if (cached && !cached->negative && cached->etag == meta.etag) {
      return FetchOutcome(NotModified{meta});
    }
    if (cached) notify();  // a refresh (or re-fetch) found a different listing
    auto bytes = std::make_shared<const Bytes>(Bytes::copy_of(enc));
    return FetchOutcome(FetchedBody{meta, make_bytes_reader(bytes)});
  }

 private:
  void notify() {
    if (listener_ && *listener_) (*listener_)(dir_);
  }
  std::shared_ptr<Origin> origin_;
  std::string dir_;
  std::shared_ptr<std::function<void(const std::string&)>> listener_;
};

constexpr uint64_t kMaxListingBytes = 256ull << 20;

}  // namespace

const DirEntry* Listing::find(std::string_view name) const {
  auto it = index.find(std::string(name));
  return it == index.end() ? nullptr : &entries[it->second];
}

std::string encode_attr(const FileAttr& attr) {
  std::string out;
  out.push_back(static_cast<char>(kFormat));
  put_attr(out, attr);
  return out;
}

Result<FileAttr> decode_attr(std::string_view data) {
  Cursor c{data};
  if (c.u8() != kFormat) return Status::corruption("attr: unknown format");
  FileAttr a = get_attr(c);
  if (!c.ok || !c.in.empty()) return Status::corruption("attr: truncated or trailing bytes");
  return a;
}

std::string encode_listing(const std::vector<DirEntry>& entries) {
  std::string out;
  out.reserve(16 + entries.size() * 64);
  out.push_back(static_cast<char>(kFormat));
  put_u64(out, entries.size());
  for (const auto& e : entries) {
    put_str(out, e.name);
    put_attr(out, e.attr);
  }
  return out;
}

Result<std::shared_ptr<const Listing>> decode_listing(std::string_view data) {
  Cursor c{data};
  if (c.u8() != kFormat) return Status::corruption("listing: unknown format");
  uint64_t n = c.u64();
  // Each entry takes at least 42 bytes: a count beyond that is corrupt, not
  // a reason to reserve gigabytes.
  if (!c.ok || n > data.size() / 8) return Status::corruption("listing: bad entry count");
  auto listing = std::make_shared<Listing>();
  listing->entries.reserve(n);
  for (uint64_t i = 0; i < n && c.ok; i++) {
    DirEntry e;
    e.name = c.str();
    e.attr = get_attr(c);
    listing->entries.push_back(std::move(e));
  }
  if (!c.ok || !c.in.empty()) return Status::corruption("listing: truncated or trailing bytes");
  listing->index.reserve(n);
  // A name twice (a parser's or a racing readdir's doing) would be shown
  // twice by readdir and once by lookup: keep the first.
  size_t kept = 0;
  for (size_t i = 0; i < listing->entries.size(); i++) {
    if (!listing->index.emplace(listing->entries[i].name, kept).second) continue;
    if (kept != i) listing->entries[kept] = std::move(listing->entries[i]);
    const FileAttr& a = listing->entries[kept].attr;
    if (a.type == FileType::kFile) {
      listing->incomplete_files += is_complete(a) ? 0 : 1;
      listing->untagged_files += a.etag.empty() ? 1 : 0;
    }
    kept++;
  }
  listing->entries.resize(kept);
  listing->by_name.resize(listing->entries.size());
  for (size_t i = 0; i < listing->by_name.size(); i++) listing->by_name[i] = i;
  std::sort(listing->by_name.begin(), listing->by_name.end(),
            [&](size_t a, size_t b) { return listing->entries[a].name < listing->entries[b].name; });
  listing->hash = hash_hex(data);
  return std::shared_ptr<const Listing>(std::move(listing));
}

std::string hash_hex(std::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : data) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}-{:x}", h, data.size());
}

std::string version_of(const FileAttr& attr) {
  if (!attr.etag.empty()) return attr.etag;
  return fmt::format("s{}-m{}", attr.size, attr.mtime_ns);
}

bool is_complete(const FileAttr& attr) {
  if (attr.type == FileType::kDirectory) return true;
  return attr.size_exact && (!attr.etag.empty() || attr.mtime_ns != 0);
}

std::shared_ptr<Fetcher> make_attr_fetcher(std::shared_ptr<Origin> origin, std::string path,
                                           std::shared_ptr<std::atomic<uint64_t>> heads) {
  return std::make_shared<AttrFetcher>(std::move(origin), std::move(path), std::move(heads));
}

std::string attr_key(std::string_view path) { return fmt::format("m:{}", path); }
std::string listing_key(std::string_view dir) { return fmt::format("d:{}", dir); }

std::pair<std::string_view, std::string_view> split_path(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

std::string join_path(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out;
  out.reserve(dir.size() + 1 + name.size());
  out.append(dir).push_back('/');
  out.append(name);
  return out;
}

Namespace::Namespace(std::shared_ptr<Cache> cache, std::shared_ptr<Origin> origin,
                     NamespaceOptions options, FileAttr root)
    : cache_(std::move(cache)),
      origin_(std::move(origin)),
      options_(options),
      root_(std::move(root)),
      listener_(std::make_shared<std::function<void(const std::string&)>>()),
      resolver_(cache_, origin_, options_.attrs) {}

void Namespace::set_change_listener(std::function<void(const std::string&)> listener) {
  *listener_ = std::move(listener);
}

Result<std::shared_ptr<const Listing>> Namespace::listing(std::string_view dir) {
  const auto now = Clock::now();
  std::shared_ptr<const Listing> known;
  {
    std::lock_guard lock(mu_);
    auto it = decoded_.find(std::string(dir));
    if (it != decoded_.end()) {
      if (now < it->second.fresh_until) return it->second.listing;
      known = it->second.listing;
    }
  }
  auto fetcher = std::make_shared<ListFetcher>(origin_, std::string(dir), listener_);
  auto got = cache_->get(listing_key(dir), fetcher);
  if (!got) return got.error();
  // Fresh until the engine's entry stops being fresh; a stale answer is
  // re-asked soon so the refreshed listing is picked up once it lands.
  auto base = got->metadata.cached_at.time_since_epoch().count() == 0 ? now : got->metadata.cached_at;
  auto fresh_until = got->stale ? now + std::chrono::seconds(1)
                                : std::max(base + options_.ttl, now + std::chrono::seconds(1));
  std::shared_ptr<const Listing> result;
  if (known && !got->metadata.etag.empty() && known->hash == got->metadata.etag) {
    result = known;  // same content: skip the decode
  } else {
    auto body = body_string(*got, kMaxListingBytes);
    if (!body) return body.error();
    auto decoded = decode_listing(*body);
    if (!decoded) return decoded.error();
    result = *decoded;
  }
  std::lock_guard lock(mu_);
  if (decoded_.size() >= options_.max_decoded_listings) {
    decoded_.erase(decoded_.begin());  // any victim: this is only a decode cache
  }
  decoded_[std::string(dir)] = Decoded{result, fresh_until};
  return result;
}

Result<FileAttr> Namespace::stat_path(std::string_view path) {
  auto got = cache_->get(attr_key(path), make_attr_fetcher(origin_, std::string(path)));
  if (!got) return got.error();
  auto body = body_string(*got, 1 << 20);
  if (!body) return body.error();
  return decode_attr(*body);
}

Result<FileAttr> Namespace::attr(std::string_view path) {
  if (path.empty()) return root_;
  auto [parent, name] = split_path(path);
  auto dir = listing(parent);
  if (dir) {
    const DirEntry* e = (*dir)->find(name);
    if (!e) return Status::not_found(fmt::format("no entry {} in listing", name));
    return resolver_.resolve(path, e->attr);
  }
  const Status& s = dir.error();
  if (s.is(StatusCode::kNotFound)) return s;
  // The origin is unreachable: a HEAD would fail the same way, and waiting
  // twice for it would double the time a reader waits for its EIO.
  if (s.is(StatusCode::kIoError) || s.is(StatusCode::kTimeout)) return s;
  // Listings refused, unparsable or too large: fall back to one HEAD.
  auto a = stat_path(path);
  if (a && a->type == FileType::kFile && !a->size_exact) {
    return Status::io_error(fmt::format("{}: the origin states no exact size", path));  // never a guess
  }
  return a;
}

void Namespace::note_exact(std::string_view path, const FileAttr& exact) {
  if (path.empty()) return;
  auto [parent, name] = split_path(path);
  auto dir = listing(parent);
  if (!dir) return;
  if (const DirEntry* e = (*dir)->find(name)) resolver_.correct(path, e->attr, exact);
}

std::shared_ptr<const Listing> Namespace::take_decoded(std::string_view dir) {
  std::lock_guard lock(mu_);
  auto it = decoded_.find(std::string(dir));
  if (it == decoded_.end()) return nullptr;
  auto out = std::move(it->second.listing);
  decoded_.erase(it);
  return out;
}

std::optional<Duration> Namespace::age(std::string_view path) {
  auto [parent, name] = split_path(path);
  for (const std::string& key : {listing_key(parent), attr_key(path)}) {
    auto where = cache_->locate(key);
    if (!where || where->empty()) continue;
    auto at = where->front().metadata.cached_at;
    return std::chrono::duration_cast<Duration>(Clock::now() - at);
  }
  return std::nullopt;
}

}  // namespace daramjwee::fs
