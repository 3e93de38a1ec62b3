#include "core/policies/sieve_policy.h"

namespace daramjwee::policies {

void SievePolicy::touch(std::string_view key) {
  if (Node* n = table_.find(key)) n->visited = true;
}

void SievePolicy::add(std::string_view key, uint64_t size) {
  if (Node* n = table_.find(key)) {
    // A re-add (new value for a cached key) counts as a hit: SIEVE never
    // moves a key on a hit, so it keeps its place in the queue.
    n->size = size;
    n->visited = true;
    return;
  }
  Node* n = table_.insert(key);
  n->size = size;
  queue_.push_front(n);
}

void SievePolicy::unlink(Node* n) {
  if (hand_ == n) hand_ = static_cast<Node*>(queue_.newer_of(n));
  queue_.unlink(n);
}

void SievePolicy::remove(std::string_view key) {
  if (Node* n = table_.find(key)) {
    unlink(n);
    table_.erase(n);
  }
}

std::optional<std::string> SievePolicy::evict() {
  if (queue_.empty()) return std::nullopt;
  Node* h = hand_ ? hand_ : static_cast<Node*>(queue_.back());
  // Terminates within one lap plus one step: each visited key passed has its
  // bit cleared, so the second time round it is the victim.
  while (h->visited) {
    h->visited = false;
    Link* next = queue_.newer_of(h);
    h = static_cast<Node*>(next ? next : queue_.back());
  }
  // The hand stops just past the victim, toward the head; at the head it
  // is reset and the next call starts again from the tail.
  hand_ = static_cast<Node*>(queue_.newer_of(h));
  queue_.unlink(h);
  return table_.erase(h);
}

}  // namespace daramjwee::policies
