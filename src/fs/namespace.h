// Namespace: paths -> attributes and directory listings, cached in the engine.
//
// Keys in the engine (one keyspace shared with chunks, see readahead.h):
//   "d:<dir>"  a directory listing, every child with its attributes
//              (encode_listing); its etag is a hash of the encoding, so a
//              background refresh that finds the same listing answers
//              NotModified and one that finds a change is noticed.
//   "m:<path>" the attributes of one path (encode_attr), used when the parent
//              listing is unavailable or a multi-chunk file needs a version
//              tag to pin (stat_path). Not-found is cached negatively by the
//              engine for negative_ttl.
//   "m:<path>\0<listed>" the same, for a listing entry that does not
//              describe the file exactly (rounded or missing size; see
//              attr_resolver.h, which owns these).
// A lookup is answered from the parent's listing: one origin request per
// directory serves every lookup in it, and a name the listing lacks is a
// not-found that costs the origin nothing. An entry the listing gives only
// roughly is answered from its HEAD instead (attrs()), never as listed.
//
// Decoding a 10,000-entry listing per lookup would be quadratic, so decoded
// listings are kept here keyed by directory until the engine entry's
// freshness ends; after that the engine is asked again (serving stale and
// refreshing as it does) and the decoded copy is reused when the hash matches.
// Thread-safety: every method is thread-safe; no lock is held across a
// cache or origin call.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/cache.h"
#include "core/origin.h"
#include "fs/attr_resolver.h"

namespace daramjwee::fs {

struct Listing {
  std::vector<DirEntry> entries;                    // origin order
  std::unordered_map<std::string, size_t> index;    // name -> entries index
  std::vector<size_t> by_name;                      // entries indices, names in byte order
  std::string hash;                                  // hex hash of the encoding
  size_t incomplete_files = 0;  // file entries is_complete() rejects
  size_t untagged_files = 0;    // file entries without a version tag
  const DirEntry* find(std::string_view name) const;
};

// Codecs (exposed for tests). Decoders return kCorruption on bad input.
// decode_listing keeps the first entry of a name listed twice.
std::string encode_attr(const FileAttr& attr);
Result<FileAttr> decode_attr(std::string_view data);
std::string encode_listing(const std::vector<DirEntry>& entries);
Result<std::shared_ptr<const Listing>> decode_listing(std::string_view data);
std::string hash_hex(std::string_view data);

// The version tag of a file: its etag, or size+mtime when the origin gave none.
std::string version_of(const FileAttr& attr);
// True when attributes are good enough to serve a file without a HEAD.
bool is_complete(const FileAttr& attr);

// The engine fetcher of one path's attributes (Origin::stat; not-found is
// cacheable). `heads`, when given, counts the stats it sends.
std::shared_ptr<Fetcher> make_attr_fetcher(std::shared_ptr<Origin> origin, std::string path,
                                           std::shared_ptr<std::atomic<uint64_t>> heads = nullptr);

std::string attr_key(std::string_view path);
std::string listing_key(std::string_view dir);
// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string_view, std::string_view> split_path(std::string_view path);
std::string join_path(std::string_view dir, std::string_view name);

struct NamespaceOptions {
  Duration ttl = std::chrono::seconds(60);  // Default: 60 s
  size_t max_decoded_listings = 4096;       // Default: 4096 directories kept decoded
  AttrResolverOptions attrs;                // Default: see AttrResolverOptions
};

class Namespace {
 public:
  Namespace(std::shared_ptr<Cache> cache, std::shared_ptr<Origin> origin,
            NamespaceOptions options, FileAttr root);

  // Attributes of `path` ("" is the root): the listing's, or for an entry the
  // listing gives only roughly, its HEAD's (attrs().resolve). Errors:
  // kNotFound, origin errors when nothing usable is cached (a failed HEAD
  // included), kCorruption.
  Result<FileAttr> attr(std::string_view path);

  // The listing of directory `dir`. Errors as attr().
  Result<std::shared_ptr<const Listing>> listing(std::string_view dir);

  // Attributes of `path` through the "m:" key (a HEAD on a miss).
  Result<FileAttr> stat_path(std::string_view path);

  // Tells the resolver that the origin's stat of `path` gave `exact`: when
  // the parent's listing states another size exactly, `exact` is answered
  // from now on (a file's own length wins over its listing's).
  void note_exact(std::string_view path, const FileAttr& exact);

  // Resolution of inexact entries (prefetch at opendir, readdirplus).
  AttrResolver& attrs() { return resolver_; }

  // Stops background resolution. Idempotent.
  void shutdown() { resolver_.shutdown(); }

  // Called (from an engine worker) with a directory whose listing a refresh
  // found changed. Set before use; must not block.
  void set_change_listener(std::function<void(const std::string& dir)> listener);

  // Removes and returns the decoded copy of `dir` (nullptr if none), so the
  // next listing() asks the engine again.
  std::shared_ptr<const Listing> take_decoded(std::string_view dir);

  // Age of the entry that describes `path` (its parent listing or "m:" key).
  std::optional<Duration> age(std::string_view path);

 private:
  struct Decoded {
    std::shared_ptr<const Listing> listing;
    Clock::time_point fresh_until;
  };
  std::shared_ptr<Cache> cache_;
  std::shared_ptr<Origin> origin_;
  const NamespaceOptions options_;
  const FileAttr root_;
  std::shared_ptr<std::function<void(const std::string&)>> listener_;
  AttrResolver resolver_;

  std::mutex mu_;
  std::unordered_map<std::string, Decoded> decoded_;  // guarded by mu_
};

}  // namespace daramjwee::fs
