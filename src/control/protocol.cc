#include "control/protocol.h"

#include <fmt/format.h>

namespace daramjwee::control {

std::string escape_mountpoint(std::string_view mp) {
  while (!mp.empty() && mp.front() == '/') mp.remove_prefix(1);
  while (!mp.empty() && mp.back() == '/') mp.remove_suffix(1);
  if (mp.empty()) return "-";
  std::string out;
  for (char ch : mp) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '/') {
      out.push_back('-');
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_') {
      out.push_back(ch);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  // A leading '.' would make a hidden (or "..") name.
  if (out.front() == '.') out = "%2E" + out.substr(1);
  return out;
}

std::string default_socket_path(std::string_view mountpoint, uint32_t uid,
                                const std::map<std::string, std::string>& env) {
  const std::string name = escape_mountpoint(mountpoint) + ".sock";
  if (uid == 0) return "/run/daramjwee-fs/" + name;
  auto it = env.find("XDG_RUNTIME_DIR");
  if (it != env.end() && !it->second.empty() && it->second.front() == '/') {
    return it->second + "/daramjwee-fs/" + name;
  }
  return fmt::format("/tmp/daramjwee-fs-{}/{}", uid, name);
}

}  // namespace daramjwee::control
