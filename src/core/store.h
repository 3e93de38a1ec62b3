// Store: one tier of the cache (RAM, disk, S3, null). The engine looks tiers
// up in order and promotes hits upward; a Store knows nothing about other
// tiers, freshness or origins. It only keeps bytes with their Metadata.
//
// Contract (checked for every tier by tests/contract/store_contract_test.cc):
// - A miss is Ok(nullopt), never an error. An error means the tier failed
//   (I/O, corruption it could not turn into a miss): the engine then treats
//   the tier as failed for this request and does not promote into it.
// - begin_set stages; nothing is visible before the sink's commit(); abort
//   or destruction discards. Two sinks for one key may be open at once; the
//   last commit wins and readers never see a torn mix of both.
// - An entry is immutable once committed. A reader opened before a remove
//   or an overwrite keeps reading the old bytes to the end.
// - remove of an absent key succeeds.
// - stat agrees with get: same presence, same Metadata.
// Thread-safety: every method may be called concurrently from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/metadata.h"
#include "core/result.h"
#include "core/stream.h"

namespace daramjwee {

struct StoreEntry {
  Metadata metadata;
  std::unique_ptr<Reader> body;  // never null; empty for negative entries
};

struct StoreStats {
  uint64_t entries = 0;
  uint64_t used_bytes = 0;      // what counts against capacity
  uint64_t capacity_bytes = 0;  // 0 = unbounded
  uint64_t evictions = 0;
  uint64_t corruptions = 0;     // entries dropped after failed verification
  uint64_t errors = 0;          // operations the tier itself failed (I/O, index); not misses
  uint64_t index_rebuilds = 0;  // a damaged index quarantined and rebuilt (disk tier)
  uint64_t full_refusals = 0;   // writes refused: filesystem full or below the free-space floor
};

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store() = default;

  // Short kind name for logs and metrics: "memory", "disk", "s3", "null".
  virtual std::string_view kind() const = 0;

  // Opens the entry for reading. Ok(nullopt) on a miss (also after a failed
  // verification, which the store logs, counts and drops). Errors: kIoError
  // or kTierError when the tier itself is failing.
  virtual Result<std::optional<StoreEntry>> get(std::string_view key) = 0;

  // Starts writing `key`. `metadata.size` is a hint (0 = unknown). Errors:
  // kResourceExhausted (object larger than the tier can ever hold — callers
  // treat it as "not cacheable here", not as a failure), kIoError.
  virtual Result<std::unique_ptr<WriteSink>> begin_set(std::string_view key,
                                                       const Metadata& metadata) = 0;

  // Removes the key. Ok when absent. Errors: kIoError.
  virtual Status remove(std::string_view key) = 0;

  // Metadata only, without opening the body. Ok(nullopt) on a miss.
  virtual Result<std::optional<Metadata>> stat(std::string_view key) = 0;

  // Replaces the metadata of an existing entry without rewriting its data
  // (a "not modified" revalidation). Store-private fields and the size are
  // kept from the stored entry. Ok(false) when the key is absent.
  virtual Result<bool> update_metadata(std::string_view key, const Metadata& metadata) = 0;

  // A consistent-enough snapshot of counters (each field read atomically).
  virtual StoreStats stats() const = 0;

  // Flushes state that must survive a restart. Idempotent. Default: no-op.
  virtual Status flush() { return Status::ok(); }
};

}  // namespace daramjwee
