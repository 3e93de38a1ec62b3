// NullStore: the empty tier (kind "null"). Every lookup misses, every sink
// accepts bytes and throws them away on commit, remove always succeeds.
// Useful to disable a tier slot in configuration without changing the
// chain's shape, and as the degenerate case of the store contract.
// Thread-safety: stateless; every method may be called concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "core/store.h"

namespace daramjwee::tiers {

class NullStore final : public Store {
 public:
  NullStore() = default;
  static std::shared_ptr<NullStore> create() { return std::make_shared<NullStore>(); }

  std::string_view kind() const override { return "null"; }
  // Always Ok(nullopt).
  Result<std::optional<StoreEntry>> get(std::string_view key) override;
  // A sink that follows the WriteSink state rules and discards the data.
  Result<std::unique_ptr<WriteSink>> begin_set(std::string_view key,
                                               const Metadata& metadata) override;
  Status remove(std::string_view key) override;
  Result<std::optional<Metadata>> stat(std::string_view key) override;
  // Always Ok(false): nothing is ever stored.
  Result<bool> update_metadata(std::string_view key, const Metadata& metadata) override;
  StoreStats stats() const override { return StoreStats{}; }
};

}  // namespace daramjwee::tiers
