#include "core/policies/lru_policy.h"

namespace daramjwee::policies {

void LruPolicy::touch(std::string_view key) {
  if (Node* n = table_.find(key)) order_.move_to_front(n);
}

void LruPolicy::add(std::string_view key, uint64_t size) {
  if (Node* n = table_.find(key)) {
    n->size = size;
    order_.move_to_front(n);
    return;
  }
  Node* n = table_.insert(key);
  n->size = size;
  order_.push_front(n);
}

void LruPolicy::remove(std::string_view key) {
  if (Node* n = table_.find(key)) {
    order_.unlink(n);
    table_.erase(n);
  }
}

std::optional<std::string> LruPolicy::evict() {
  Link* l = order_.back();
  if (l == nullptr) return std::nullopt;
  order_.unlink(l);
  return table_.erase(static_cast<Node*>(l));
}

}  // namespace daramjwee::policies
