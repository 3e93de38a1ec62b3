#include "tiers/null/null_store.h"

namespace daramjwee::tiers {

namespace {

// Discards data but keeps the sink state machine of stream.h, so a caller
// that misuses a sink sees the same kInvalidArgument with every tier.
class NullSink final : public WriteSink {
 public:
  Status write(std::span<const std::byte>) override {
    if (done_) return Status::invalid_argument("null sink: write after commit or abort");
    return Status::ok();
  }
  Status commit() override {
    if (done_) return Status::invalid_argument("null sink: commit after commit or abort");
    done_ = true;
    return Status::ok();
  }
  void abort() noexcept override { done_ = true; }

 private:
  bool done_ = false;
};

}  // namespace

Result<std::optional<StoreEntry>> NullStore::get(std::string_view) { return std::optional<StoreEntry>(); }

Result<std::unique_ptr<WriteSink>> NullStore::begin_set(std::string_view, const Metadata&) {
  return std::unique_ptr<WriteSink>(std::make_unique<NullSink>());
}

Status NullStore::remove(std::string_view) { return Status::ok(); }

Result<std::optional<Metadata>> NullStore::stat(std::string_view) { return std::optional<Metadata>(); }

Result<bool> NullStore::update_metadata(std::string_view, const Metadata&) { return false; }

}  // namespace daramjwee::tiers
