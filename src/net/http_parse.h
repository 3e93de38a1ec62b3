// Strict parsers for the HTTP header fields the origin relies on (ETag,
// Last-Modified, Content-Length, Content-Range) and percent-coding of URL
// path components. Each parser accepts exactly the RFC 9110 grammar (after
// the caller trimmed surrounding whitespace) and returns nullopt for
// anything else: a malformed version tag or length must never be trusted.
// All functions are pure and thread-safe; they are fuzzed (tests/fuzz/).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace daramjwee::net {

struct EntityTag {
  std::string text;  // exactly as received, e.g. W/"abc" or "abc"
  bool weak = false;
};

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / %x80-FF.
std::optional<EntityTag> parse_etag(std::string_view value);

// True when `tag` (a value previously accepted by parse_etag) is strong.
bool is_strong_etag(std::string_view tag);

// Weak comparison (RFC 9110 8.8.3.2): equal opaque tags, W/ ignored.
bool etag_weak_equal(std::string_view a, std::string_view b);

// HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms.
// Returns seconds since the Unix epoch.
std::optional<int64_t> parse_http_date(std::string_view value);

// Seconds since the epoch -> nanoseconds; 0 ("unknown") for times before
// the epoch or past what int64 nanoseconds hold (year 2262).
int64_t unix_seconds_to_ns(int64_t seconds);

// Formats seconds since the epoch as an IMF-fixdate.
std::string format_http_date(int64_t unix_seconds);

// Content-Length = 1*DIGIT, at most INT64_MAX.
std::optional<uint64_t> parse_content_length(std::string_view value);

struct ContentRange {
  bool satisfied = true;           // false for "bytes */N" (a 416 answer)
  uint64_t first = 0, last = 0;    // inclusive; valid when satisfied
  std::optional<uint64_t> complete;  // total size; nullopt for "/*"
  uint64_t length() const { return last - first + 1; }
};

// "bytes first-last/complete", "bytes first-last/*" or "bytes */complete",
// with first <= last < complete.
std::optional<ContentRange> parse_content_range(std::string_view value);

// Percent-encodes one path component: unreserved characters
// (ALPHA DIGIT - . _ ~) stay, every other byte becomes %XX.
std::string percent_encode_component(std::string_view component);

// Decodes %XX escapes (a '%' not followed by two hex digits fails); '+' is
// kept as '+' (paths, not form data).
std::optional<std::string> percent_decode(std::string_view s);

// Days since 1970-01-01 for a proleptic Gregorian date (no time zones, no
// locale). Exposed for the listing parsers.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace daramjwee::net
