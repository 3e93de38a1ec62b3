// The null tier against the store contract: it accepts every write and
// keeps nothing, so every "hit" expectation is checked as a miss.
#include "tests/contract/store_contract.h"
#include "tiers/null/null_store.h"

DJ_STORE_CONTRACT_TESTS("null", (daramjwee::contract::StoreTraits{.stores_data = false}),
                        [] { return std::shared_ptr<daramjwee::Store>(daramjwee::tiers::NullStore::create()); })
