// ram_cache(): an engine with one RAM tier, for filesystem tests that need a
// Cache but not a disk tier.
#pragma once

#include <memory>

#include <catch2/catch.hpp>

#include "core/cache.h"
#include "tiers/memory/memory_store.h"

namespace daramjwee::testing {

inline std::shared_ptr<Cache> ram_cache(uint64_t capacity_bytes) {
  tiers::MemoryStoreOptions mo;
  mo.capacity_bytes = capacity_bytes;
  auto ram = tiers::MemoryStore::open(mo);
  REQUIRE(ram);
  CacheOptions co;
  co.tiers.push_back(TierConfig{*ram, "memory", std::nullopt, std::nullopt});
  auto c = Cache::open(std::move(co));
  REQUIRE(c);
  return std::shared_ptr<Cache>(std::move(*c));
}

}  // namespace daramjwee::testing
