// The disk tier against the store contract. Each test case gets a fresh
// directory, removed when the last reference to the store goes away.
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "tests/contract/store_contract.h"
#include "tiers/disk/disk_store.h"

namespace {

std::shared_ptr<daramjwee::Store> make_disk_store() {
  char tmpl[] = "/tmp/dj-disk-contract-XXXXXX";
  if (!::mkdtemp(tmpl)) return nullptr;
  std::string dir = tmpl;
  daramjwee::tiers::DiskStoreOptions opts;
  opts.dir = dir;
  opts.capacity_bytes = 256ull << 20;
  auto s = daramjwee::tiers::DiskStore::open(opts);
  if (!s) {
    FAIL("DiskStore::open failed: " << s.error().to_string());
    return nullptr;
  }
  // The owner closes the store first, then removes its directory.
  struct Owner {
    std::shared_ptr<daramjwee::tiers::DiskStore> store;
    std::string dir;
    ~Owner() {
      store.reset();
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  auto owner = std::make_shared<Owner>();
  owner->store = std::move(*s);
  owner->dir = dir;
  return std::shared_ptr<daramjwee::Store>(owner, owner->store.get());
}

}  // namespace

DJ_STORE_CONTRACT_TESTS("disk", (daramjwee::contract::StoreTraits{}), make_disk_store)
