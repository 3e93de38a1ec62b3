#include "tiers/disk/disk_reader.h"

#include <algorithm>
#include <cstring>

namespace daramjwee::tiers::disk_detail {
namespace {

class FileReader final : public Reader {
 public:
  FileReader(std::shared_ptr<const UniqueFd> fd, uint64_t length, SharedBytes mem)
      : fd_(std::move(fd)), length_(length), mem_(std::move(mem)) {}

  Result<size_t> read(std::span<std::byte> out) override {
    if (failed_) return Status::invalid_argument("disk reader used after an error");
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), length_ - pos_));
    if (n == 0) return size_t{0};
    if (mem_) {
      std::memcpy(out.data(), mem_->data() + pos_, n);
      pos_ += n;
      return n;
    }
    auto r = pread_full(fd_->get(), out.first(n), pos_);
    if (!r) {
      failed_ = true;
      return r.error().with_tier("disk", "read");
    }
    if (*r < n) {
      // The store never truncates a published file; someone else did. The
      // bytes already returned were verified; refuse to invent the rest.
      failed_ = true;
      return Status::corruption("disk data file shrank under its reader").with_tier("disk", "read");
    }
    pos_ += n;
    return n;
  }

  Result<uint64_t> skip(uint64_t n) override {
    uint64_t k = std::min<uint64_t>(n, length_ - pos_);
    pos_ += k;
    return k;
  }

  std::optional<SharedView> view() override {
    if (!mem_) return std::nullopt;
    return SharedView{mem_->span().subspan(static_cast<size_t>(pos_)), mem_};
  }

  std::optional<FileRegion> file_region() override {
    return FileRegion{fd_->get(), pos_, length_ - pos_, fd_};
  }

  // The verified copy read at open is the whole body: the engine promotes
  // that buffer as is instead of reading the file again.
  SharedBytes shared_bytes() override { return pos_ == 0 && mem_ && mem_->size() == length_ ? mem_ : nullptr; }

  std::optional<uint64_t> size_hint() const override { return length_ - pos_; }

 private:
  std::shared_ptr<const UniqueFd> fd_;
  const uint64_t length_;
  SharedBytes mem_;
  uint64_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<Reader> make_file_reader(std::shared_ptr<const UniqueFd> fd, uint64_t length,
                                         SharedBytes mem) {
  return std::make_unique<FileReader>(std::move(fd), length, std::move(mem));
}

}  // namespace daramjwee::tiers::disk_detail
