#include "net/http_parse.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <limits>

namespace daramjwee::net {
namespace {

bool is_etagc(unsigned char c) { return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80; }

bool parse_digits(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    unsigned d = static_cast<unsigned>(ch - '0');
    if (v > (max - d) / 10) return false;  // overflow
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Fixed-width number of exactly `n` digits.
bool fixed_digits(std::string_view s, size_t pos, size_t n, unsigned* out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  *out = v;
  return true;
}

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};

int month_of(std::string_view s) {
  for (size_t i = 0; i < kMonths.size(); ++i)
    if (s == kMonths[i]) return static_cast<int>(i) + 1;
  return 0;
}

bool is_day(std::string_view s) {
  for (auto d : kDays)
    if (s == d) return true;
  return false;
}

bool is_long_day(std::string_view s) {
  for (auto d : kLongDays)
    if (s == d) return true;
  return false;
}

unsigned days_in_month(unsigned y, unsigned m) {
  static constexpr unsigned kLen[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kLen[m - 1];
}

// "HH:MM:SS" at pos.
bool parse_time(std::string_view s, size_t pos, unsigned* h, unsigned* mi, unsigned* se) {
  if (pos + 8 > s.size() || s[pos + 2] != ':' || s[pos + 5] != ':') return false;
  return fixed_digits(s, pos, 2, h) && fixed_digits(s, pos + 3, 2, mi) &&
         fixed_digits(s, pos + 6, 2, se) && *h < 24 && *mi < 60 && *se < 61;
}

std::optional<int64_t> assemble(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                                 unsigned se) {
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || y < 1970 || y > 9999)
    return std::nullopt;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (se == 60 ? 59 : se);
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<EntityTag> parse_etag(std::string_view v) {
  EntityTag tag;
  tag.text = std::string(v);
  if (v.size() >= 2 && v[0] == 'W' && v[1] == '/') {
    tag.weak = true;
    v.remove_prefix(2);
  }
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::nullopt;
  for (size_t i = 1; i + 1 < v.size(); ++i)
    if (!is_etagc(static_cast<unsigned char>(v[i]))) return std::nullopt;
  return tag;
}

bool is_strong_etag(std::string_view tag) {
  auto t = parse_etag(tag);
  return t && !t->weak;
}

bool etag_weak_equal(std::string_view a, std::string_view b) {
  if (a.starts_with("W/")) a.remove_prefix(2);
  if (b.starts_with("W/")) b.remove_prefix(2);
  return a == b;
}

std::optional<int64_t> parse_http_date(std::string_view s) {
  unsigned d, y, h, mi, se;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes).
  if (s.size() == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' &&
      s[16] == ' ' && s[25] == ' ' && s.substr(26) == "GMT" && is_day(s.substr(0, 3))) {
    int mo = month_of(s.substr(8, 3));
    if (mo && fixed_digits(s, 5, 2, &d) && fixed_digits(s, 12, 4, &y) &&
        parse_time(s, 17, &h, &mi, &se))
      return assemble(y, static_cast<unsigned>(mo), d, h, mi, se);
    return std::nullopt;
  }
  // asctime: "Sun Nov  6 08:49:37 1994" (24 bytes; day space-padded).
  if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ' &&
      is_day(s.substr(0, 3))) {
    int mo = month_of(s.substr(4, 3));
    std::string dd(s.substr(8, 2));
    if (dd[0] == ' ') dd[0] = '0';
    if (mo && fixed_digits(dd, 0, 2, &d) && parse_time(s, 11, &h, &mi, &se) &&
        fixed_digits(s, 20, 4, &y))
      return assemble(y, static_cast<unsigned>(mo), d, h, mi, se);
    return std::nullopt;
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT".
  size_t comma = s.find(',');
  if (comma != std::string_view::npos && is_long_day(s.substr(0, comma))) {
    std::string_view r = s.substr(comma + 1);
    if (r.size() != 23 || r[0] != ' ' || r[3] != '-' || r[7] != '-' || r[10] != ' ' ||
        r[19] != ' ' || r.substr(20) != "GMT")
      return std::nullopt;
    int mo = month_of(r.substr(4, 3));
    unsigned yy;
    if (mo && fixed_digits(r, 1, 2, &d) && fixed_digits(r, 8, 2, &yy) &&
        parse_time(r, 11, &h, &mi, &se)) {
      // RFC 9110: a two-digit year more than 50 years ahead is in the past.
      y = yy < 70 ? 2000 + yy : 1900 + yy;
      return assemble(y, static_cast<unsigned>(mo), d, h, mi, se);
    }
  }
  return std::nullopt;
}

int64_t unix_seconds_to_ns(int64_t seconds) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1'000'000'000;
  return seconds < 0 || seconds > kMax ? 0 : seconds * 1'000'000'000;
}

std::string format_http_date(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t secs = t - days * 86400;
  // civil_from_days (Hinnant).
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  unsigned wd = static_cast<unsigned>(((days % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday
  char buf[64];
  snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT",
           std::string(kDays[wd]).c_str(), d, std::string(kMonths[m - 1]).c_str(),
           static_cast<long long>(y), static_cast<long long>(secs / 3600),
           static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

std::optional<uint64_t> parse_content_length(std::string_view v) {
  uint64_t n;
  if (!parse_digits(v, std::numeric_limits<int64_t>::max(), &n)) return std::nullopt;
  return n;
}

std::optional<ContentRange> parse_content_range(std::string_view v) {
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  size_t slash = v.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view range = v.substr(0, slash), total = v.substr(slash + 1);
  ContentRange cr;
  if (total != "*") {
    uint64_t c;
    if (!parse_digits(total, kMax, &c)) return std::nullopt;
    cr.complete = c;
  }
  if (range == "*") {
    if (!cr.complete) return std::nullopt;  // "bytes */*" is meaningless
    cr.satisfied = false;
    return cr;
  }
  size_t dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  if (!parse_digits(range.substr(0, dash), kMax, &cr.first) ||
      !parse_digits(range.substr(dash + 1), kMax, &cr.last))
    return std::nullopt;
  if (cr.first > cr.last) return std::nullopt;
  if (cr.complete && cr.last >= *cr.complete) return std::nullopt;
  return cr;
}

std::string percent_encode_component(std::string_view c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(c.size());
  for (unsigned char ch : c) {
    if (std::isalnum(ch) && ch < 0x80) {
      out.push_back(static_cast<char>(ch));
    } else if (ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  auto hex = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace daramjwee::net
