// BufferPool keeps one free list per power-of-two class. The lock is held
// only to push/pop a list entry, never while a buffer is filled.
#include "core/buffer_pool.h"

#include <bit>

#include <fmt/format.h>

namespace daramjwee {

Status BufferPoolOptions::validate() const {
  if (min_size == 0) return Status::config_error("buffers.min_size", "must be > 0");
  if (max_size == 0) return Status::config_error("buffers.max_size", "must be > 0");
  if (!std::has_single_bit(min_size))
    return Status::config_error("buffers.min_size", "must be a power of two");
  if (!std::has_single_bit(max_size))
    return Status::config_error("buffers.max_size", "must be a power of two");
  if (min_size > max_size)
    return Status::config_error("buffers.min_size",
                                fmt::format("min_size {} > max_size {}", min_size, max_size));
  if (default_size < min_size || default_size > max_size)
    return Status::config_error("buffers.default_size", "must lie within [min_size, max_size]");
  return Status::ok();
}

PooledBuffer::PooledBuffer(PooledBuffer&& o) noexcept
    : pool_(std::exchange(o.pool_, nullptr)), bytes_(std::move(o.bytes_)) {}

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& o) noexcept {
  if (this != &o) {
    if (pool_) pool_->put(std::move(bytes_));
    pool_ = std::exchange(o.pool_, nullptr);
    bytes_ = std::move(o.bytes_);
  }
  return *this;
}

PooledBuffer::~PooledBuffer() {
  if (pool_) pool_->put(std::move(bytes_));
}

Result<std::shared_ptr<BufferPool>> BufferPool::create(const BufferPoolOptions& options) {
  if (auto s = options.validate(); !s) return s;
  return std::make_shared<BufferPool>(options);
}

BufferPool::BufferPool(const BufferPoolOptions& options) : options_(options) {
  int classes = std::countr_zero(options_.max_size) - std::countr_zero(options_.min_size) + 1;
  free_.resize(static_cast<size_t>(std::max(classes, 1)));
}

BufferPool::~BufferPool() = default;

int BufferPool::class_of(size_t size) const {
  if (size > options_.max_size) return -1;
  size_t rounded = std::bit_ceil(std::max(size, options_.min_size));
  return std::countr_zero(rounded) - std::countr_zero(options_.min_size);
}

PooledBuffer BufferPool::get(size_t size) {
  int c = class_of(size);
  size_t cap = c < 0 ? size : options_.min_size << c;
  in_use_.fetch_add(cap, std::memory_order_relaxed);
  if (options_.enabled && c >= 0) {
    std::lock_guard lock(mu_);
    auto& list = free_[static_cast<size_t>(c)];
    if (!list.empty()) {
      Bytes b = std::move(list.back());
      list.pop_back();
      retained_ -= b.capacity();
      hits_.fetch_add(1, std::memory_order_relaxed);
      return PooledBuffer(this, std::move(b));
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return PooledBuffer(this, Bytes(cap));
}

void BufferPool::put(Bytes bytes) {
  size_t cap = bytes.capacity();
  in_use_.fetch_sub(cap, std::memory_order_relaxed);
  int c = class_of(cap);
  if (options_.enabled && c >= 0 && (options_.min_size << c) == cap) {
    std::lock_guard lock(mu_);
    if (retained_ + cap <= options_.max_retained_bytes) {
      retained_ += cap;
      bytes.resize(0);
      free_[static_cast<size_t>(c)].push_back(std::move(bytes));
      returns_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  discards_.fetch_add(1, std::memory_order_relaxed);
}

BufferPoolStats BufferPool::stats() const {
  BufferPoolStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.returns = returns_.load(std::memory_order_relaxed);
  s.discards = discards_.load(std::memory_order_relaxed);
  s.bytes_in_use = in_use_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  s.bytes_retained = retained_;
  return s;
}

Result<uint64_t> copy(Reader& reader, WriteSink& sink, BufferPool& pool) {
  uint64_t total = 0;
  if (auto v = reader.view()) {  // already in memory: no bounce buffer
    if (auto s = sink.write(v->bytes); !s) return s;
    auto skipped = reader.skip(v->bytes.size());
    if (!skipped) return skipped.error();
    return static_cast<uint64_t>(v->bytes.size());
  }
  PooledBuffer buf = pool.get();
  for (;;) {
    auto n = reader.read(buf.span());
    if (!n) return n.error();
    if (*n == 0) return total;
    if (auto s = sink.write(std::span<const std::byte>(buf.data(), *n)); !s) return s;
    total += *n;
  }
}

namespace {

// Bytes flow source -> caller's buffer -> each sink: one read, one write per
// sink, no extra copy. Sinks that fail are dropped; the read goes on.
class TeeReader final : public Reader {
 public:
  TeeReader(std::unique_ptr<Reader> src, std::vector<std::unique_ptr<WriteSink>> sinks,
            TeeHooks hooks)
      : src_(std::move(src)), sinks_(std::move(sinks)), hooks_(std::move(hooks)) {}

  ~TeeReader() override {
    for (auto& s : sinks_)
      if (s) s->abort();
  }

  Result<size_t> read(std::span<std::byte> out) override {
    auto n = src_->read(out);
    if (!n) {
      for (auto& s : sinks_) {
        if (s) s->abort();
        s.reset();
      }
      return n;
    }
    if (*n == 0) {
      finish();
      return n;
    }
    std::span<const std::byte> got(out.data(), *n);
    for (size_t i = 0; i < sinks_.size(); ++i) {
      if (!sinks_[i]) continue;
      if (auto s = sinks_[i]->write(got); !s) {
        sinks_[i]->abort();
        sinks_[i].reset();
        if (hooks_.on_sink_error) hooks_.on_sink_error(i, s);
      }
    }
    return n;
  }

  std::optional<uint64_t> size_hint() const override { return src_->size_hint(); }

 private:
  void finish() {
    for (size_t i = 0; i < sinks_.size(); ++i) {
      if (!sinks_[i]) continue;
      auto sink = std::move(sinks_[i]);
      if (hooks_.on_complete) {
        hooks_.on_complete(i, std::move(sink));
      } else if (auto s = sink->commit(); !s && hooks_.on_sink_error) {
        hooks_.on_sink_error(i, s);
      }
    }
  }

  std::unique_ptr<Reader> src_;
  std::vector<std::unique_ptr<WriteSink>> sinks_;
  TeeHooks hooks_;
};

}  // namespace

std::unique_ptr<Reader> make_tee_reader(std::unique_ptr<Reader> source,
                                        std::vector<std::unique_ptr<WriteSink>> sinks,
                                        TeeHooks hooks) {
  return std::make_unique<TeeReader>(std::move(source), std::move(sinks), std::move(hooks));
}

}  // namespace daramjwee
