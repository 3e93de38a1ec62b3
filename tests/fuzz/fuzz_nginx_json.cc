// Fuzz target: the nginx autoindex JSON listing parser. Invariants: never a
// crash or exception, every accepted name is valid, bounds are respected.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "origin/listing/listing.h"

using namespace daramjwee::origin;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  ListingLimits limits{1 << 20, 1000};
  auto l = parse_nginx_json(body, limits);
  if (l) {
    if (l->entries.size() > limits.max_entries) abort();
    for (const auto& e : l->entries)
      if (!valid_name(e.name)) abort();
  }
  return 0;
}
