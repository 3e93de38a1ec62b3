// Fuzz target: the HTML listing scanner (nginx / Apache / plain pages) and
// the format detection in parse_listing(). Invariants: every accepted name
// is valid and unique, bounds are respected, no crash on any bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "origin/listing/listing.h"

using namespace daramjwee::origin;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  ListingLimits limits{1 << 20, 1000};
  for (auto l : {parse_html_listing(body, "http://h:8/d/", limits), parse_listing(body, "", limits)}) {
    if (!l) continue;
    if (l->entries.size() > limits.max_entries) abort();
    std::set<std::string> seen;
    for (const auto& e : l->entries) {
      if (!valid_name(e.name)) abort();
      if (l->format != ListingFormat::kNginxJson && !seen.insert(e.name).second) abort();
    }
  }
  (void)decode_html_entities(body);
  return 0;
}
