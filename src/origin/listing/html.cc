// A tolerant scanner for HTML directory pages (nginx autoindex html, Apache
// mod_autoindex in table or <pre> form, simple <ul> lists).
//
// HTML is not XML and these pages are not even always valid HTML, so we do
// not build a tree: we walk the text once, find each <a ...> start tag, take
// its href attribute, and read the visible text between that anchor's </a>
// and the next anchor (tags removed) for the modification date and the size:
//   nginx:  <a href="f">f</a>     21-Nov-2026 06:28      1234      (or "-")
//   Apache: <td><a href="f">f</a></td><td>2026-11-21 06:28 </td><td> 1.2K</td>
// The size is the token right after the time. Plain digits are bytes
// (exact); a K/M/G/T suffix is rounded (size_exact = false); "-" is none.
// The scan is linear in the input and allocation-bounded by the entry limit.
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "net/http_parse.h"
#include "origin/listing/listing.h"

namespace daramjwee::origin {
namespace {

bool ieq_prefix(std::string_view s, size_t pos, std::string_view p) {
  if (pos + p.size() > s.size()) return false;
  for (size_t i = 0; i < p.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[pos + i])) != p[i]) return false;
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

// Parses the attributes of a tag starting after its name, up to '>'; returns
// the href value (raw) if any, and sets *end past the '>'.
std::optional<std::string_view> href_of(std::string_view s, size_t pos, size_t* end) {
  std::optional<std::string_view> href;
  size_t i = pos;
  while (i < s.size() && s[i] != '>') {
    while (i < s.size() && (is_space(s[i]) || s[i] == '/')) ++i;
    size_t ns = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != '=' && s[i] != '>') ++i;
    std::string_view name = s.substr(ns, i - ns);
    while (i < s.size() && is_space(s[i])) ++i;
    std::string_view value;
    if (i < s.size() && s[i] == '=') {
      ++i;
      while (i < s.size() && is_space(s[i])) ++i;
      if (i < s.size() && (s[i] == '"' || s[i] == '\'')) {
        char q = s[i++];
        size_t vs = i;
        while (i < s.size() && s[i] != q) ++i;
        value = s.substr(vs, i - vs);
        if (i < s.size()) ++i;
      } else {
        size_t vs = i;
        while (i < s.size() && !is_space(s[i]) && s[i] != '>') ++i;
        value = s.substr(vs, i - vs);
      }
    }
    if (name.size() == 4 && ieq_prefix(name, 0, "href") && !href) href = value;
    if (name.empty() && i < s.size() && s[i] != '>') ++i;  // stray character: move on
  }
  *end = i < s.size() ? i + 1 : i;
  return href;
}

// Visible text of s[from, to): tags dropped, entities left alone.
std::string visible_text(std::string_view s, size_t from, size_t to) {
  std::string out;
  bool in_tag = false;
  for (size_t i = from; i < to && out.size() < 512; ++i) {
    char c = s[i];
    if (c == '<') in_tag = true;
    else if (c == '>') { in_tag = false; out.push_back(' '); }
    else if (!in_tag) out.push_back(c);
  }
  return out;
}

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size() && out.size() < 16) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

bool two_digits(std::string_view s, size_t p, unsigned* v) {
  if (p + 2 > s.size() || !std::isdigit(static_cast<unsigned char>(s[p])) ||
      !std::isdigit(static_cast<unsigned char>(s[p + 1])))
    return false;
  *v = static_cast<unsigned>((s[p] - '0') * 10 + (s[p + 1] - '0'));
  return true;
}

// "HH:MM" or "HH:MM:SS" -> seconds of day.
std::optional<unsigned> parse_clock(std::string_view t) {
  unsigned h, m, sec = 0;
  if ((t.size() != 5 && t.size() != 8) || t[2] != ':' || !two_digits(t, 0, &h) || !two_digits(t, 3, &m))
    return std::nullopt;
  if (t.size() == 8 && (t[5] != ':' || !two_digits(t, 6, &sec))) return std::nullopt;
  if (h > 23 || m > 59 || sec > 60) return std::nullopt;
  return h * 3600 + m * 60 + std::min(sec, 59u);
}

// "21-Nov-2026" (nginx) or "2026-11-21" (Apache) -> days since the epoch.
std::optional<int64_t> parse_day(std::string_view d) {
  static constexpr std::string_view kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned day = 0, mon = 0, y1, y2;
  if (d.size() == 11 && d[2] == '-' && d[6] == '-') {
    for (unsigned i = 0; i < 12; ++i)
      if (d.substr(3, 3) == kMon[i]) mon = i + 1;
    if (!mon || !two_digits(d, 0, &day) || !two_digits(d, 7, &y1) || !two_digits(d, 9, &y2))
      return std::nullopt;
  } else if (d.size() == 10 && d[4] == '-' && d[7] == '-') {
    if (!two_digits(d, 0, &y1) || !two_digits(d, 2, &y2) || !two_digits(d, 5, &mon) ||
        !two_digits(d, 8, &day))
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31) return std::nullopt;
  return net::days_from_civil(y1 * 100 + y2, mon, day);
}

struct SizeInfo {
  bool present = false;
  uint64_t bytes = 0;
  bool exact = false;
};

// "1234" exact; "1.2K", "12M", "3G" rounded; anything else: absent.
SizeInfo parse_size(std::string_view t) {
  SizeInfo s;
  if (t.empty() || t.size() > 24) return s;
  size_t i = 0;
  uint64_t whole = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
    if (whole > (UINT64_MAX - 9) / 10) return s;
    whole = whole * 10 + static_cast<uint64_t>(t[i++] - '0');
  }
  if (i == 0) return s;
  if (i == t.size()) return {true, whole, true};
  uint64_t frac = 0, scale = 1;
  if (t[i] == '.') {
    ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])) && scale < 1000) {
      frac = frac * 10 + static_cast<uint64_t>(t[i++] - '0');
      scale *= 10;
    }
  }
  if (i >= t.size()) return s;
  int shift = 0;
  switch (std::toupper(static_cast<unsigned char>(t[i]))) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: return s;
  }
  std::string_view rest = t.substr(i + 1);
  if (!rest.empty() && rest != "B" && rest != "iB" && rest != "b") return s;
  if (whole > (UINT64_MAX >> (shift + 1))) return s;
  return {true, (whole << shift) + ((frac << shift) / scale), false};
}

}  // namespace

std::string decode_html_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    uint32_t cp = 0;
    bool ok = true;
    if (ent == "amp") cp = '&';
    else if (ent == "lt") cp = '<';
    else if (ent == "gt") cp = '>';
    else if (ent == "quot") cp = '"';
    else if (ent == "apos") cp = '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      if (digits.empty()) ok = false;
      for (char c : digits) {
        int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : hex && std::isxdigit(static_cast<unsigned char>(c))
                    ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                    : -1;
        if (d < 0 || cp > 0x10FFFF) { ok = false; break; }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      }
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) ok = false;
    } else {
      ok = false;
    }
    if (!ok) {
      out.push_back('&');
      continue;
    }
    // UTF-8 encode.
    if (cp < 0x80) out.push_back(static_cast<char>(cp));
    else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    i = semi;
  }
  return out;
}

Result<Listing> parse_html_listing(std::string_view body, std::string_view dir_url,
                                   const ListingLimits& limits) {
  if (body.size() > limits.max_bytes)
    return Status::exhausted("listing larger than max_listing_bytes (" +
                             std::to_string(limits.max_bytes) + ")");
  Listing listing;
  listing.format = detect_listing_format(body);
  // The path part of dir_url ("/a/b/"), for absolute-path links.
  std::string_view dir_path;
  if (size_t scheme = dir_url.find("://"); scheme != std::string_view::npos) {
    size_t slash = dir_url.find('/', scheme + 3);
    if (slash != std::string_view::npos) dir_path = dir_url.substr(slash);
  }
  // Name -> index in listing.entries. A page may link a file twice (Apache's
  // IconsAreLinks links the icon too, and only the second anchor is
  // followed by the date and size): the entry keeps the first position and
  // the first description that has a date or size.
  std::unordered_map<std::string, size_t> seen;

  struct Pending {
    std::string name;
    bool dir;
    size_t text_from;  // where the anchor's trailing text starts
  };
  std::optional<Pending> pending;
  auto flush = [&](size_t text_to) -> Status {
    if (!pending) return Status::ok();
    Pending p = std::move(*pending);
    pending.reset();
    auto known = seen.find(p.name);
    if (known == seen.end() && listing.entries.size() >= limits.max_entries)
      return Status::exhausted("listing has more than max_listing_entries (" +
                               std::to_string(limits.max_entries) + ") entries");
    DirEntry e;
    e.name = std::move(p.name);
    e.attr.type = p.dir ? FileType::kDirectory : FileType::kFile;
    e.attr.size_exact = false;
    // The date and size follow the anchor's closing tag (the anchor text is
    // the name, which may itself look like a date).
    size_t from = p.text_from;
    for (size_t j = from; j + 2 < text_to; ++j) {
      if (body[j] == '<' && body[j + 1] == '/' && (body[j + 2] == 'a' || body[j + 2] == 'A')) {
        from = j;
        break;
      }
    }
    std::string text = visible_text(body, from, text_to);
    auto toks = tokens(text);
    for (size_t i = 0; i + 1 < toks.size(); ++i) {
      auto day = parse_day(toks[i]);
      auto clock = day ? parse_clock(toks[i + 1]) : std::nullopt;
      if (!clock) continue;
      e.attr.mtime_ns = net::unix_seconds_to_ns(*day * 86400 + *clock);
      if (!p.dir && i + 2 < toks.size()) {
        SizeInfo s = parse_size(toks[i + 2]);
        if (s.present) {
          e.attr.size = s.bytes;
          e.attr.size_exact = s.exact;
        }
      }
      break;
    }
    if (p.dir) e.attr.size_exact = true;  // directories have no size to fetch
    if (known != seen.end()) {
      FileAttr& first = listing.entries[known->second].attr;
      const bool described =
          first.mtime_ns != 0 || first.size != 0 || (first.type == FileType::kFile && first.size_exact);
      if (!described && first.type == e.attr.type) first = e.attr;
      return Status::ok();
    }
    seen.emplace(e.name, listing.entries.size());
    listing.entries.push_back(std::move(e));
    return Status::ok();
  };

  size_t i = 0;
  while (true) {
    size_t lt = body.find('<', i);
    if (lt == std::string_view::npos) break;
    // Skip comments whole: they may contain commented-out links.
    if (body.substr(lt, 4) == "<!--") {
      size_t end = body.find("-->", lt + 4);
      i = end == std::string_view::npos ? body.size() : end + 3;
      continue;
    }
    if (!(ieq_prefix(body, lt + 1, "a") && lt + 2 < body.size() && is_space(body[lt + 2]))) {
      i = lt + 1;
      continue;
    }
    if (Status s = flush(lt); !s.is_ok()) return s;
    size_t end;
    auto href = href_of(body, lt + 2, &end);
    i = end;
    if (!href) continue;
    std::string h = decode_html_entities(*href);
    std::string_view rel = h;
    if (!dir_url.empty() && rel.starts_with(dir_url)) {
      rel.remove_prefix(dir_url.size());
    } else if (rel.find("://") != std::string_view::npos || rel.starts_with("//")) {
      continue;  // another host (or scheme)
    } else if (rel.starts_with('/')) {
      if (dir_path.empty() || !rel.starts_with(dir_path)) continue;  // outside this directory
      rel.remove_prefix(dir_path.size());
    }
    while (rel.starts_with("./")) rel.remove_prefix(2);
    if (rel.find_first_of("?#") != std::string_view::npos) continue;  // sort links, anchors
    if (rel.empty() || rel == "." || rel == ".." || rel == "../" || rel.starts_with("../")) continue;
    bool dir = false;
    if (rel.ends_with('/')) {
      dir = true;
      rel.remove_suffix(1);
    }
    if (rel.find('/') != std::string_view::npos) continue;  // not a direct child
    if (rel.find(':') != std::string_view::npos && rel.find('%') == std::string_view::npos &&
        (rel.starts_with("mailto:") || rel.starts_with("javascript:")))
      continue;
    auto name = net::percent_decode(rel);
    if (!name || !valid_name(*name)) {
      ++listing.skipped;
      if (listing.skipped_names.size() < 8) listing.skipped_names.emplace_back(rel.substr(0, 64));
      continue;
    }
    pending = Pending{std::move(*name), dir, i};
  }
  if (Status s = flush(body.size()); !s.is_ok()) return s;
  return listing;
}

}  // namespace daramjwee::origin
