#include "core/stream.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>

namespace daramjwee {

Result<uint64_t> Reader::skip(uint64_t n) {
  std::array<std::byte, 16384> scratch;
  uint64_t done = 0;
  while (done < n) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(scratch.size(), n - done));
    auto r = read(std::span(scratch.data(), want));
    if (!r) return r.error();
    if (*r == 0) break;
    done += *r;
  }
  return done;
}

void prefault(std::span<std::byte> fresh) {
#ifdef MADV_POPULATE_WRITE
  if (fresh.size() < (256 << 10)) return;
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t lo = (reinterpret_cast<uintptr_t>(fresh.data()) + page - 1) & ~(page - 1);
  uintptr_t hi = (reinterpret_cast<uintptr_t>(fresh.data()) + fresh.size()) & ~(page - 1);
  if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
#else
  (void)fresh;
#endif
}

Result<Bytes> read_all(Reader& reader, uint64_t limit) {
  if (auto v = reader.view()) {
    if (v->bytes.size() > limit) return Status::exhausted("object larger than limit");
    Bytes out = Bytes::copy_of(v->bytes);
    auto skipped = reader.skip(v->bytes.size());
    if (!skipped) return skipped.error();
    return out;
  }
  size_t initial = 64 << 10;
  if (auto hint = reader.size_hint()) initial = static_cast<size_t>(std::min<uint64_t>(*hint, limit)) + 1;
  Bytes out(std::max<size_t>(initial, 1));
  prefault(std::span(out.data(), out.capacity()));
  for (;;) {
    if (out.size() == out.capacity()) out.reserve(out.capacity() * 2);
    auto r = reader.read(std::span(out.data() + out.size(), out.capacity() - out.size()));
    if (!r) return r.error();
    if (*r == 0) break;
    out.resize(out.size() + *r);
    if (out.size() > limit) return Status::exhausted("object larger than limit");
  }
  return out;
}

namespace {

class BytesReader final : public Reader {
 public:
  explicit BytesReader(SharedBytes bytes) : bytes_(std::move(bytes)) {}
  Result<size_t> read(std::span<std::byte> out) override {
    size_t n = std::min(out.size(), bytes_->size() - pos_);
    if (n) std::memcpy(out.data(), bytes_->data() + pos_, n);
    pos_ += n;
    return n;
  }
  Result<uint64_t> skip(uint64_t n) override {
    uint64_t k = std::min<uint64_t>(n, bytes_->size() - pos_);
    pos_ += static_cast<size_t>(k);
    return k;
  }
  std::optional<SharedView> view() override {
    return SharedView{bytes_->span().subspan(pos_), bytes_};
  }
  std::optional<uint64_t> size_hint() const override { return bytes_->size() - pos_; }
  SharedBytes shared_bytes() override { return pos_ == 0 ? bytes_ : nullptr; }

 private:
  SharedBytes bytes_;
  size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<Reader> make_bytes_reader(SharedBytes bytes) {
  return std::make_unique<BytesReader>(std::move(bytes));
}

}  // namespace daramjwee
