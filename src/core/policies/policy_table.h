// Building blocks shared by the eviction policies: an intrusive doubly
// linked list (so moving an entry between or within queues never allocates)
// and a key table (key -> policy node) with heterogeneous string_view lookup
// and a small pool of recycled hash-map nodes, so a steady-state cache that
// evicts one key and adds another does not allocate a map node each time.
//
// Thread-safety: none; each policy instance is used under its owner's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace daramjwee::policies {

// A list link; policy nodes derive from it. `newer` points toward the front
// (most recently inserted), `older` toward the back.
struct Link {
  Link* newer = nullptr;
  Link* older = nullptr;
};

// Circular list with a sentinel: front() is the newest entry, back() the
// oldest. Unlinked nodes have null pointers (checked by assert only).
class LinkList {
 public:
  LinkList() { head_.newer = head_.older = &head_; }
  LinkList(const LinkList&) = delete;
  LinkList& operator=(const LinkList&) = delete;

  bool empty() const { return head_.older == &head_; }
  size_t count() const { return count_; }
  // nullptr when empty.
  Link* front() { return empty() ? nullptr : head_.older; }
  Link* back() { return empty() ? nullptr : head_.newer; }
  // The neighbour of `l` toward the front; nullptr if `l` is the front.
  Link* newer_of(Link* l) { return l->newer == &head_ ? nullptr : l->newer; }

  void push_front(Link* l) {
    l->older = head_.older;
    l->newer = &head_;
    head_.older->newer = l;
    head_.older = l;
    ++count_;
  }
  void unlink(Link* l) {
    l->newer->older = l->older;
    l->older->newer = l->newer;
    l->newer = l->older = nullptr;
    --count_;
  }
  void move_to_front(Link* l) {
    unlink(l);
    push_front(l);
  }

 private:
  // head_.older is the front (newest), head_.newer the back (oldest).
  Link head_;
  size_t count_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
struct StringEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

// key -> Node. Node must be default-constructible and have a member
// `const std::string* key` that the table points at the stored key (stable
// for the node's lifetime: unordered_map nodes never move).
template <typename Node>
class KeyTable {
 public:
  Node* find(std::string_view key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }

  // Requires: key absent. Returns the new, default-initialised node.
  Node* insert(std::string_view key) {
    typename Map::iterator it;
    if (!spare_.empty()) {
      auto nh = std::move(spare_.back());
      spare_.pop_back();
      nh.key().assign(key.data(), key.size());
      nh.mapped() = Node{};
      it = map_.insert(std::move(nh)).position;
    } else {
      it = map_.try_emplace(std::string(key)).first;
    }
    it->second.key = &it->first;
    return &it->second;
  }

  // Requires: node belongs to this table. Erases it and returns its key
  // (moved out, so the victim's name costs no copy).
  std::string erase(Node* node) {
    auto nh = map_.extract(*node->key);
    std::string key = std::move(nh.key());
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(nh));
    return key;
  }

  size_t size() const { return map_.size(); }

 private:
  using Map = std::unordered_map<std::string, Node, StringHash, StringEq>;
  static constexpr size_t kMaxSpare = 64;  // bounds memory kept for reuse
  Map map_;
  std::vector<typename Map::node_type> spare_;
};

}  // namespace daramjwee::policies
