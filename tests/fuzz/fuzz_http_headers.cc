// Fuzz target: the strict HTTP header parsers (net/http_parse.h).
// The first byte picks the parser; the rest is the header value.
// Invariants checked beyond "no crash": round trips and range sanity.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "net/http_parse.h"

using namespace daramjwee::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string s(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0:
      if (auto t = parse_etag(s)) {
        if (t->text != s || is_strong_etag(s) == t->weak) abort();
        if (!etag_weak_equal(s, s)) abort();
      }
      break;
    case 1:
      if (auto t = parse_http_date(s)) {
        if (*t < 0 || parse_http_date(format_http_date(*t)) != *t) abort();
      }
      break;
    case 2:
      if (auto n = parse_content_length(s)) {
        if (*n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) abort();
      }
      break;
    case 3:
      if (auto cr = parse_content_range(s)) {
        if (cr->satisfied && cr->first > cr->last) abort();
        if (cr->satisfied && cr->complete && cr->last >= *cr->complete) abort();
        if (!cr->satisfied && !cr->complete) abort();
      }
      break;
    case 4: {
      (void)percent_decode(s);
      auto back = percent_decode(percent_encode_component(s));
      if (!back || *back != s) abort();
      break;
    }
  }
  return 0;
}
