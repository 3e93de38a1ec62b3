// Bytes: an owned, fixed-capacity, uninitialised byte buffer. Unlike
// std::vector<std::byte> it does not zero memory on allocation, which matters
// on the read path (a 1 MiB chunk would be memset for nothing).
//
// SharedBytes is an immutable, reference-counted view used to hand committed
// data out without copying (the RAM tier replies to FUSE straight from it).
// Thread-safety: Bytes is a plain value; SharedBytes may be shared freely
// once published because nobody writes to it again.
//
// Buffers of kPageAlignFrom bytes or more start on a page boundary, so that
// the disk tier can read into them with O_DIRECT; it costs at most one page
// per such buffer (glibc serves these sizes with mmap anyway).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <algorithm>

namespace daramjwee {

namespace bytes_detail {
inline constexpr size_t kPage = 4096;
inline constexpr size_t kPageAlignFrom = 64 * 1024;
struct Free {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};
using Ptr = std::unique_ptr<std::byte[], Free>;
// Uninitialised; throws std::bad_alloc.
inline Ptr allocate(size_t n) {
  void* p = nullptr;
  if (n >= kPageAlignFrom) {
    if (::posix_memalign(&p, kPage, n) != 0) p = nullptr;
  } else {
    p = std::malloc(n);
  }
  if (p == nullptr) throw std::bad_alloc();
  return Ptr(static_cast<std::byte*>(p));
}
}  // namespace bytes_detail

class Bytes {
 public:
  // kPage-aligned data() when capacity >= kPageAlignFrom (see above).
  static constexpr size_t kPage = bytes_detail::kPage;
  static constexpr size_t kPageAlignFrom = bytes_detail::kPageAlignFrom;

  Bytes() = default;
  // Throws std::bad_alloc.
  explicit Bytes(size_t capacity)
      : data_(capacity ? bytes_detail::allocate(capacity) : nullptr), capacity_(capacity) {}
  static Bytes copy_of(std::span<const std::byte> src) {
    Bytes b(src.size());
    if (!src.empty()) std::memcpy(b.data(), src.data(), src.size());
    b.size_ = src.size();
    return b;
  }
  static Bytes copy_of(std::string_view s) {
    return copy_of(std::as_bytes(std::span<const char>(s.data(), s.size())));
  }
  Bytes(Bytes&& o) noexcept { *this = std::move(o); }
  Bytes& operator=(Bytes&& o) noexcept {
    data_ = std::move(o.data_);
    capacity_ = std::exchange(o.capacity_, 0);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  // Requires: n <= capacity(). Bytes past the old size are uninitialised.
  void resize(size_t n) { size_ = n; }
  // Grows capacity (copying the used prefix) to at least n.
  void reserve(size_t n) {
    if (n <= capacity_) return;
    auto bigger = bytes_detail::allocate(n);
    if (size_) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = n;
  }
  void append(std::span<const std::byte> src) {
    if (size_ + src.size() > capacity_) reserve(std::max(size_ + src.size(), capacity_ * 2));
    if (!src.empty()) std::memcpy(data_.get() + size_, src.data(), src.size());
    size_ += src.size();
  }
  std::span<std::byte> span() { return {data_.get(), size_}; }
  std::span<const std::byte> span() const { return {data_.get(), size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_.get()), size_}; }

 private:
  bytes_detail::Ptr data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

using SharedBytes = std::shared_ptr<const Bytes>;

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace daramjwee
