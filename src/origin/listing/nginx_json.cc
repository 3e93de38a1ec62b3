// nginx autoindex_format json:
//   [ { "name":"a b", "type":"file", "mtime":"Sat, 21 Nov 2026 06:28:10 GMT",
//       "size":6 }, { "name":"d", "type":"directory", "mtime":"..." } ]
// Names are JSON strings (not percent-encoded). Parsed with nlohmann's SAX
// interface so a 64 MiB listing never becomes a DOM, and so malformed input
// ends in a Status rather than an exception.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "net/http_parse.h"
#include "origin/listing/listing.h"

namespace daramjwee::origin {
namespace {

using json = nlohmann::json;

class Handler final : public nlohmann::json_sax<json> {
 public:
  explicit Handler(const ListingLimits& limits) : limits_(limits) {}

  bool null() override { return value_seen(); }
  bool boolean(bool) override { return value_seen(); }
  bool number_integer(number_integer_t v) override {
    if (depth_ == 2 && key_ == "size" && v >= 0) size_ = static_cast<uint64_t>(v);
    return value_seen();
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (depth_ == 2 && key_ == "size") size_ = static_cast<uint64_t>(v);
    return value_seen();
  }
  bool number_float(number_float_t, const string_t&) override { return value_seen(); }
  bool string(string_t& v) override {
    if (depth_ == 2) {
      if (key_ == "name") name_ = std::move(v);
      else if (key_ == "type") type_ = std::move(v);
      else if (key_ == "mtime") mtime_ = std::move(v);
    }
    return value_seen();
  }
  bool binary(binary_t&) override { return value_seen(); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) return fail("top level is not an array");
    if (++depth_ == 2) {
      name_.reset();
      type_.clear();
      mtime_.clear();
      size_.reset();
    }
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 2) key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (depth_-- == 2) return finish_entry();
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) override {
    error_ = Status::corruption("malformed nginx JSON listing at byte " + std::to_string(pos));
    return false;
  }

  Listing listing;
  Status error_;

 private:
  bool value_seen() {
    if (depth_ == 0) return fail("top level is not an array");
    if (depth_ == 2) key_.clear();
    return true;
  }
  bool fail(const char* why) {
    error_ = Status::corruption(std::string("nginx JSON listing: ") + why);
    return false;
  }
  bool finish_entry() {
    if (!name_ || !valid_name(*name_) || (type_ != "file" && type_ != "directory")) {
      ++listing.skipped;
      if (listing.skipped_names.size() < 8 && name_)
        listing.skipped_names.push_back(name_->substr(0, 64));
      return true;
    }
    if (listing.entries.size() >= limits_.max_entries) {
      error_ = Status::exhausted("listing has more than max_listing_entries (" +
                                 std::to_string(limits_.max_entries) + ") entries");
      return false;
    }
    // nginx lists each name once; a page that does not is shown as its
    // first description (readdir would otherwise show the name twice).
    if (!seen_.insert(*name_).second) return true;
    DirEntry e;
    e.name = std::move(*name_);
    e.attr.type = type_ == "directory" ? FileType::kDirectory : FileType::kFile;
    if (e.attr.type == FileType::kFile) {
      e.attr.size = size_.value_or(0);
      e.attr.size_exact = size_.has_value();
    }
    if (auto t = net::parse_http_date(mtime_)) e.attr.mtime_ns = net::unix_seconds_to_ns(*t);
    listing.entries.push_back(std::move(e));
    return true;
  }

  const ListingLimits& limits_;
  int depth_ = 0;
  std::string key_;
  std::optional<std::string> name_;
  std::string type_, mtime_;
  std::optional<uint64_t> size_;
  std::unordered_set<std::string> seen_;  // names kept so far
};

}  // namespace

Result<Listing> parse_nginx_json(std::string_view body, const ListingLimits& limits) {
  if (body.size() > limits.max_bytes)
    return Status::exhausted("listing larger than max_listing_bytes (" +
                             std::to_string(limits.max_bytes) + ")");
  Handler h(limits);
  bool ok = json::sax_parse(body.begin(), body.end(), &h);
  if (!h.error_.is_ok()) return h.error_;
  if (!ok) return Status::corruption("malformed nginx JSON listing");
  h.listing.format = ListingFormat::kNginxJson;
  return std::move(h.listing);
}

}  // namespace daramjwee::origin
