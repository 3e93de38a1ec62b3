// S3-FIFO, following the paper's Algorithm 1 with byte sizes.
//
// The ghost queue keeps 64-bit hashes rather than keys (as the paper
// suggests): a collision only means that a new key goes straight to M,
// which costs a little hit ratio, never correctness. A ghost hit forgets the
// hash at once but leaves its record in the FIFO (marked stale by the
// sequence number) so that removal stays O(1); stale records still count
// toward the ghost's byte budget until they reach the front, which keeps the
// ghost bounded by construction.
#include "core/policies/s3fifo_policy.h"

#include <algorithm>
#include <functional>

namespace daramjwee::policies {

namespace {
uint64_t key_hash(std::string_view key) { return std::hash<std::string_view>{}(key); }
}  // namespace

uint64_t S3FifoPolicy::small_target() const {
  uint64_t base = capacity_ ? capacity_ : small_bytes_ + main_bytes_;
  return base / 10;
}

uint64_t S3FifoPolicy::ghost_target() const {
  return capacity_ ? capacity_ - capacity_ / 10 : main_bytes_;
}

void S3FifoPolicy::link(Node* n, bool main) {
  n->in_main = main;
  if (main) {
    main_.push_front(n);
    main_bytes_ += n->size;
  } else {
    small_.push_front(n);
    small_bytes_ += n->size;
  }
}

void S3FifoPolicy::unlink(Node* n) {
  if (n->in_main) {
    main_.unlink(n);
    main_bytes_ -= n->size;
  } else {
    small_.unlink(n);
    small_bytes_ -= n->size;
  }
}

void S3FifoPolicy::touch(std::string_view key) {
  if (Node* n = table_.find(key)) n->freq = static_cast<uint8_t>(std::min<int>(n->freq + 1, kMaxFreq));
}

void S3FifoPolicy::add(std::string_view key, uint64_t size) {
  if (Node* n = table_.find(key)) {
    (n->in_main ? main_bytes_ : small_bytes_) += size;
    (n->in_main ? main_bytes_ : small_bytes_) -= n->size;
    n->size = size;
    n->freq = static_cast<uint8_t>(std::min<int>(n->freq + 1, kMaxFreq));
    return;
  }
  bool was_ghost = ghost_take(key_hash(key));
  Node* n = table_.insert(key);
  n->size = size;
  link(n, was_ghost);
}

void S3FifoPolicy::remove(std::string_view key) {
  if (Node* n = table_.find(key)) {
    unlink(n);
    table_.erase(n);
  }
}

std::optional<std::string> S3FifoPolicy::evict() {
  for (;;) {
    if (small_.empty() && main_.empty()) return std::nullopt;
    bool from_small = !small_.empty() && (small_bytes_ >= small_target() || main_.empty());
    if (from_small) {
      Node* t = static_cast<Node*>(small_.back());
      unlink(t);
      if (t->freq > 0) {
        t->freq = 0;
        link(t, /*main=*/true);
        continue;
      }
      ghost_insert(key_hash(*t->key), t->size);
      return table_.erase(t);
    }
    Node* t = static_cast<Node*>(main_.back());
    if (t->freq > 0) {
      --t->freq;
      main_.move_to_front(t);
      continue;
    }
    unlink(t);
    return table_.erase(t);
  }
}

void S3FifoPolicy::ghost_insert(uint64_t hash, uint64_t size) {
  uint64_t seq = ++ghost_seq_;
  ghost_index_[hash] = seq;
  ghost_.push_back(Ghost{hash, seq, size});
  ghost_bytes_ += size;
  // Trim to the budget, but keep the record just added even if it alone is
  // larger than the budget (a single big object can still come back to M).
  uint64_t target = ghost_target();
  while (ghost_bytes_ > target && ghost_.size() > 1) {
    const Ghost& g = ghost_.front();
    auto it = ghost_index_.find(g.hash);
    if (it != ghost_index_.end() && it->second == g.seq) ghost_index_.erase(it);
    ghost_bytes_ -= g.size;
    ghost_.pop_front();
  }
}

bool S3FifoPolicy::ghost_take(uint64_t hash) {
  auto it = ghost_index_.find(hash);
  if (it == ghost_index_.end()) return false;
  ghost_index_.erase(it);
  return true;
}

}  // namespace daramjwee::policies
