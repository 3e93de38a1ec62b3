#include "origin/listing/listing.h"

#include <algorithm>

namespace daramjwee::origin {

std::string_view to_string(ListingFormat f) {
  switch (f) {
    case ListingFormat::kNginxJson: return "nginx-json";
    case ListingFormat::kNginxHtml: return "nginx-html";
    case ListingFormat::kApacheHtml: return "apache-html";
    case ListingFormat::kHtml: return "html";
  }
  return "?";
}

bool valid_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 255) return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

ListingFormat detect_listing_format(std::string_view body) {
  size_t i = body.find_first_not_of(" \t\r\n");
  if (i != std::string_view::npos && body[i] == '[') return ListingFormat::kNginxJson;
  std::string_view head = body.substr(0, 4096);
  auto has = [&](std::string_view s) {
    return std::search(body.begin(), body.end(), s.begin(), s.end(),
                       [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                   std::tolower(static_cast<unsigned char>(b)); }) !=
           body.end();
  };
  if (has("<address>Apache") || has("?C=N;O=D") || has("Parent Directory"))
    return ListingFormat::kApacheHtml;
  if (head.find("<h1>Index of") != std::string_view::npos && head.find("<pre>") != std::string_view::npos)
    return ListingFormat::kNginxHtml;
  return ListingFormat::kHtml;
}

Result<Listing> parse_listing(std::string_view body, std::string_view dir_url,
                              const ListingLimits& limits) {
  if (body.size() > limits.max_bytes)
    return Status::exhausted("listing larger than max_listing_bytes (" +
                             std::to_string(limits.max_bytes) + ")");
  if (detect_listing_format(body) == ListingFormat::kNginxJson) return parse_nginx_json(body, limits);
  return parse_html_listing(body, dir_url, limits);
}

}  // namespace daramjwee::origin
