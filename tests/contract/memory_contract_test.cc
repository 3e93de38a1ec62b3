// The memory tier against the store contract.
#include "tests/contract/store_contract.h"
#include "tiers/memory/memory_store.h"

namespace {

std::shared_ptr<daramjwee::Store> make_memory_store() {
  daramjwee::tiers::MemoryStoreOptions opts;
  opts.capacity_bytes = 64ull << 20;  // 4 shards of 16 MiB: the 6 MiB value fits
  auto s = daramjwee::tiers::MemoryStore::open(opts);
  return s ? std::shared_ptr<daramjwee::Store>(*s) : nullptr;
}

}  // namespace

DJ_STORE_CONTRACT_TESTS("memory", (daramjwee::contract::StoreTraits{}), make_memory_store)
