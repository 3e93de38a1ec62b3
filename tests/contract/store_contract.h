// The store contract suite: every tier passes the same tests (core/store.h
// and core/stream.h state the contract). A new tier adds one small file:
//
//   #include "tests/contract/store_contract.h"
//   DJ_STORE_CONTRACT_TESTS("disk", (daramjwee::contract::StoreTraits{}),
//                           [] { return std::shared_ptr<daramjwee::Store>(...); })
//
// and one executable in tests/contract/meson.build linked with
// store_contract_dep. The factory is called once per test case and must
// return a fresh, empty store; a tier that needs a directory can return a
// shared_ptr whose deleter (or aliasing owner) also removes the directory.
//
// Traits say what a tier legitimately cannot do. They never skip a test:
// a tier with stores_data == false (null) has every "then it is a hit"
// expectation replaced by the explicit opposite ("it is still a miss"), and
// the test output says so with a WARN line.
//
// Assertions run on the main thread only (Catch2's are not thread-safe);
// the concurrency cases collect worker outcomes in atomics and check them
// after joining.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <memory>

#include "core/store.h"

namespace daramjwee::contract {

struct StoreTraits {
  // False for a tier that accepts writes but never keeps them (null).
  bool stores_data = true;
  // Size of the "large value" case; the tier must be able to hold it.
  uint64_t large_value_bytes = 6ull << 20;
};

using StoreFactory = std::function<std::shared_ptr<Store>()>;

// One function per contract clause; each REQUIREs on the main thread.
void miss_is_not_an_error(const StoreFactory& f, const StoreTraits& t);
void nothing_visible_before_commit(const StoreFactory& f, const StoreTraits& t);
void abort_and_destruction_discard(const StoreFactory& f, const StoreTraits& t);
void calls_after_terminal_fail(const StoreFactory& f, const StoreTraits& t);
void last_commit_wins(const StoreFactory& f, const StoreTraits& t);
void concurrent_writers_never_tear(const StoreFactory& f, const StoreTraits& t);
void reader_outlives_remove_and_overwrite(const StoreFactory& f, const StoreTraits& t);
void stat_agrees_with_get(const StoreFactory& f, const StoreTraits& t);
void update_metadata_keeps_data(const StoreFactory& f, const StoreTraits& t);
void remove_semantics(const StoreFactory& f, const StoreTraits& t);
void large_and_empty_values(const StoreFactory& f, const StoreTraits& t);
void size_is_bytes_written(const StoreFactory& f, const StoreTraits& t);
void keys_are_distinct(const StoreFactory& f, const StoreTraits& t);
void shared_writes_mix_with_copies(const StoreFactory& f, const StoreTraits& t);

}  // namespace daramjwee::contract

#define DJ_STORE_CONTRACT_CASE_(tag, traits, factory, fn, title)                \
  TEST_CASE(tag " contract: " title, "[contract][" tag "]") {                  \
    ::daramjwee::contract::fn(::daramjwee::contract::StoreFactory(factory), traits); \
  }

// Expands to every contract TEST_CASE for one store. `tag` is a string
// literal naming the tier; `traits` a StoreTraits expression (parenthesise
// braces); `factory` a callable returning std::shared_ptr<Store>.
#define DJ_STORE_CONTRACT_TESTS(tag, traits, factory)                                                        \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, miss_is_not_an_error, "a miss is Ok(nullopt), not an error") \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, nothing_visible_before_commit, "nothing is visible before commit") \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, abort_and_destruction_discard, "abort and destruction discard") \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, calls_after_terminal_fail,                                 \
                          "write/commit after commit or abort fail with kInvalidArgument")                 \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, last_commit_wins, "two open sinks: the last commit wins")  \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, concurrent_writers_never_tear,                             \
                          "concurrent writers to one key never produce a torn value")                      \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, reader_outlives_remove_and_overwrite,                      \
                          "an open reader reads the whole old value after remove or overwrite")            \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, stat_agrees_with_get, "stat agrees with get")              \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, update_metadata_keeps_data,                                \
                          "update_metadata keeps the data, size and private fields")                       \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, remove_semantics, "remove: absent is Ok, present is gone") \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, large_and_empty_values, "large and empty values")          \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, size_is_bytes_written,                                     \
                          "the recorded size is the bytes written, whatever the hint")                     \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, keys_are_distinct, "distinct keys do not collide")           \
  DJ_STORE_CONTRACT_CASE_(tag, traits, factory, shared_writes_mix_with_copies,                             \
                          "write_shared alone, then mixed with write, stores the bytes in order")
