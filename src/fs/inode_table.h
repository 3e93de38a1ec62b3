// InodeTable: the mount's path <-> inode-number map with the kernel's lookup
// counts (the "nlookup" of the FUSE low-level API).
//
// Inode numbers are derived from a 64-bit hash of the path (FNV-1a), probing
// upward on a collision, so a path gets the same number again after the kernel
// forgot it, and readdir can name an entry's number without registering it.
// Inode 1 is the root ("") and is never forgotten.
// Each node also remembers the version the kernel last saw for it and the
// size it was last given (for keep_cache and invalidation decisions).
// Thread-safety: every method is thread-safe (one mutex; no I/O under it).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace daramjwee::fs {

inline constexpr uint64_t kRootIno = 1;

class InodeTable {
 public:
  InodeTable();

  // The number readdir reports for `path` (the hash; the registered number if
  // the path is known). Does not register.
  uint64_t peek(std::string_view path) const;

  // Registers one kernel reference to `path` and returns its number.
  uint64_t acquire(std::string_view path);

  // Drops `n` kernel references; the node is erased at zero (never the root).
  void forget(uint64_t ino, uint64_t n);

  // The registered number of `path`, if the kernel holds a reference to it.
  std::optional<uint64_t> find(std::string_view path) const;

  // The path of `ino`, or nullopt if unknown (forgotten or never issued).
  std::optional<std::string> path_of(uint64_t ino) const;

  // Records the version the kernel is about to cache for `ino` and returns
  // the previous one ("" if none).
  std::string exchange_version(uint64_t ino, std::string_view version);
  // The version last recorded ("" if none or unknown inode).
  std::string version_of(uint64_t ino) const;

  // Records the size a lookup, getattr or readdirplus reply is giving the
  // kernel for `ino` (kUnknownSize when that size is approximate and the
  // kernel will ask again). The kernel never reads past the size it holds,
  // so open() compares it with the size of the version it pins. No-op for
  // an unknown inode.
  static constexpr uint64_t kUnknownSize = UINT64_MAX;
  void note_size(uint64_t ino, uint64_t size);
  // The size last noted (kUnknownSize if none or unknown inode).
  uint64_t noted_size(uint64_t ino) const;

  size_t size() const;

  static uint64_t hash_path(std::string_view path);

 private:
  struct Node {
    std::string path;
    uint64_t nlookup = 0;
    std::string version;  // what the kernel last cached; "" unknown
    uint64_t size = kUnknownSize;  // the size the kernel was last given
  };
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Node> by_ino_;        // guarded by mu_
  std::unordered_map<std::string, uint64_t> by_path_;  // guarded by mu_
};

}  // namespace daramjwee::fs
