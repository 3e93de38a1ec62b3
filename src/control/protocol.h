// The control protocol between daramjwee-fs and daramjwee-ctl.
//
// Transport: a SOCK_STREAM UNIX socket, owner-only (0600 in a 0700
// directory) unless the operator chose otherwise; the server also checks the
// peer's uid (SO_PEERCRED): the daemon's own uid or root.
// One request per connection, one JSON object on one line:
//   {"cmd": "status"|"stats"|"metrics"|"config"
//          |"invalidate"|"refresh"|"warm",
//    "path": "dir/file" (relative to the mount's root), "recursive": false}
// The answer is zero or more progress lines (warm only)
//   {"progress": {"files": 3, "files_total": 10, "bytes": ..., ...}}
// then exactly one final line: {"ok": true, ...} or {"ok": false, "error": "..."}.
// A request longer than kMaxRequestBytes, not sent within kRequestDeadline,
// or not a JSON object with a known "cmd" gets {"ok": false, "error": ...}
// and the connection is closed; nothing a client sends can stop the daemon.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace daramjwee::control {

inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr std::chrono::seconds kRequestDeadline{5};
inline constexpr int kMaxConnections = 8;

// Known commands (the "cmd" field).
inline constexpr std::string_view kCommands[] = {"status", "stats", "metrics", "config",
                                                 "invalidate", "refresh", "warm"};

// A mount point as one file-name component: leading and trailing '/'
// dropped, '/' -> '-', bytes outside [A-Za-z0-9._] -> %XX (so '-' and '%'
// are escaped too and the mapping is one-to-one); "/" -> "-".
std::string escape_mountpoint(std::string_view mountpoint);

// The socket a daemon serving `mountpoint` (an absolute, canonical path)
// listens on when -o control= is not given, and the one daramjwee-ctl -m
// computes: /run/daramjwee-fs/<escaped>.sock for root, else
// $XDG_RUNTIME_DIR/daramjwee-fs/<escaped>.sock, or
// /tmp/daramjwee-fs-<uid>/<escaped>.sock without XDG_RUNTIME_DIR.
std::string default_socket_path(std::string_view mountpoint, uint32_t uid,
                                const std::map<std::string, std::string>& env);

}  // namespace daramjwee::control
