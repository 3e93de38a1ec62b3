#include "fs/inode_table.h"

namespace daramjwee::fs {

uint64_t InodeTable::hash_path(std::string_view path) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : path) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // 0 is invalid to FUSE and 1 is the root: keep hashes above both.
  if (h < 2) h += 2;
  return h;
}

InodeTable::InodeTable() {
  by_ino_.emplace(kRootIno, Node{"", 1, ""});
  by_path_.emplace("", kRootIno);
}

uint64_t InodeTable::peek(std::string_view path) const {
  if (path.empty()) return kRootIno;
  std::lock_guard lock(mu_);
  auto it = by_path_.find(std::string(path));
  return it != by_path_.end() ? it->second : hash_path(path);
}

uint64_t InodeTable::acquire(std::string_view path) {
  std::lock_guard lock(mu_);
  auto it = by_path_.find(std::string(path));
  if (it != by_path_.end()) {
    by_ino_[it->second].nlookup++;
    return it->second;
  }
  uint64_t ino = hash_path(path);
  // Linear probing: a collision (or the root) moves the newcomer upward.
  while (by_ino_.count(ino) || ino < 2) ino++;
  by_ino_.emplace(ino, Node{std::string(path), 1, ""});
  by_path_.emplace(std::string(path), ino);
  return ino;
}

void InodeTable::forget(uint64_t ino, uint64_t n) {
  if (ino == kRootIno) return;
  std::lock_guard lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return;
  if (it->second.nlookup > n) {
    it->second.nlookup -= n;
    return;
  }
  by_path_.erase(it->second.path);
  by_ino_.erase(it);
}

std::optional<uint64_t> InodeTable::find(std::string_view path) const {
  std::lock_guard lock(mu_);
  auto it = by_path_.find(std::string(path));
  if (it == by_path_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> InodeTable::path_of(uint64_t ino) const {
  std::lock_guard lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return std::nullopt;
  return it->second.path;
}

std::string InodeTable::exchange_version(uint64_t ino, std::string_view version) {
  std::lock_guard lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return "";
  std::string old = std::move(it->second.version);
  it->second.version = std::string(version);
  return old;
}

std::string InodeTable::version_of(uint64_t ino) const {
  std::lock_guard lock(mu_);
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? std::string() : it->second.version;
}

void InodeTable::note_size(uint64_t ino, uint64_t size) {
  std::lock_guard lock(mu_);
  auto it = by_ino_.find(ino);
  if (it != by_ino_.end()) it->second.size = size;
}

uint64_t InodeTable::noted_size(uint64_t ino) const {
  std::lock_guard lock(mu_);
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? kUnknownSize : it->second.size;
}

size_t InodeTable::size() const {
  std::lock_guard lock(mu_);
  return by_ino_.size();
}

}  // namespace daramjwee::fs
