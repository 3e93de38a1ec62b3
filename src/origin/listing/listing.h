// Directory listing parsers for HTTP origins: nginx autoindex JSON, nginx
// autoindex HTML, Apache mod_autoindex HTML (fancy table or <pre>), and any
// plain page of links, detected from the body without configuration.
//
// Every name is percent-decoded and validated (valid_name()); bad names are
// skipped and counted, never passed on. Links that do not name a direct
// child of the listed directory are ignored without counting: parent and
// self links, links to other hosts, sort links and anything with a query or
// fragment, deeper paths. Sizes are exact only where the page gives bytes
// (nginx JSON; plain digits in HTML); "1.2K"-style sizes give size_exact =
// false (the caller asks the server with a HEAD when it needs the size).
// A name linked or listed twice is one entry, at its first position; in HTML
// it takes the first description that has a date or size (an icon linked to
// the file comes before the anchor that the date and size follow).
// Pure functions, thread-safe, fuzzed (tests/fuzz/).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/origin.h"
#include "core/result.h"

namespace daramjwee::origin {

enum class ListingFormat { kNginxJson, kNginxHtml, kApacheHtml, kHtml };
std::string_view to_string(ListingFormat f);

struct ListingLimits {
  size_t max_bytes = size_t{64} << 20;
  size_t max_entries = 1'000'000;
};

struct Listing {
  ListingFormat format = ListingFormat::kHtml;
  std::vector<DirEntry> entries;
  size_t skipped = 0;                     // invalid names dropped
  std::vector<std::string> skipped_names;  // the first few, escaped for logs
};

// A single path component we accept: not "", ".", ".."; no '/' or NUL;
// at most 255 bytes.
bool valid_name(std::string_view name);

// Guesses the format from the body (JSON arrays start with '[').
ListingFormat detect_listing_format(std::string_view body);

// Parses `body`, the listing of the directory at `dir_url` (absolute URL
// ending in '/', used to accept same-host absolute links). Errors:
// kResourceExhausted past a limit, kCorruption for malformed JSON (HTML is
// parsed tolerantly: garbage yields no entries).
Result<Listing> parse_listing(std::string_view body, std::string_view dir_url,
                              const ListingLimits& limits);

// The individual parsers (exposed for tests and fuzzing).
Result<Listing> parse_nginx_json(std::string_view body, const ListingLimits& limits);
Result<Listing> parse_html_listing(std::string_view body, std::string_view dir_url,
                                   const ListingLimits& limits);

// Decodes the HTML character references that appear in hrefs (&amp; &lt;
// &gt; &quot; &apos; &#NN; &#xHH;); unknown ones stay as they are.
std::string decode_html_entities(std::string_view s);

}  // namespace daramjwee::origin
