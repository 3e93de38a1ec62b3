// BufferPool: reusable byte buffers in power-of-two size classes between
// min_size and max_size, so streaming copies do not allocate per call.
// A request above max_size is served by a one-off allocation (counted as a
// miss, never retained). The pool retains at most `max_retained_bytes`; a
// returned buffer beyond that is freed.
//
// Buffers come back through PooledBuffer's destructor (RAII): a buffer can
// never be recycled while its owner still observes it.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/stream.h"

namespace daramjwee {

struct BufferPoolOptions {
  bool enabled = true;                      // Default: true (false: always allocate)
  size_t min_size = 4 << 10;                // Default: 4 KiB (smallest class)
  size_t max_size = 4 << 20;                // Default: 4 MiB (largest pooled class)
  size_t default_size = 256 << 10;          // Default: 256 KiB (copy/tee chunk)
  size_t max_retained_bytes = 64ull << 20;  // Default: 64 MiB kept idle at most
  // Errors name the field: zero sizes, min > max, default outside [min,max],
  // sizes not powers of two.
  Status validate() const;
};

struct BufferPoolStats {
  uint64_t hits = 0;       // served from a retained buffer
  uint64_t misses = 0;     // newly allocated
  uint64_t returns = 0;    // buffers given back and retained
  uint64_t discards = 0;   // buffers given back and freed (cap or oversize)
  uint64_t bytes_in_use = 0;    // handed out, not yet returned
  uint64_t bytes_retained = 0;  // idle in the pool
};

class BufferPool;

// A buffer on loan; returns itself to its pool on destruction. Movable.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(PooledBuffer&& o) noexcept;
  PooledBuffer& operator=(PooledBuffer&& o) noexcept;
  ~PooledBuffer();
  std::span<std::byte> span() { return {bytes_.data(), bytes_.capacity()}; }
  std::byte* data() { return bytes_.data(); }
  size_t size() const { return bytes_.capacity(); }

 private:
  friend class BufferPool;
  PooledBuffer(BufferPool* pool, Bytes bytes) : pool_(pool), bytes_(std::move(bytes)) {}
  BufferPool* pool_ = nullptr;
  Bytes bytes_;
};

class BufferPool {
 public:
  // Requires: options.validate() is OK (checked by create()).
  static Result<std::shared_ptr<BufferPool>> create(const BufferPoolOptions& options);
  explicit BufferPool(const BufferPoolOptions& options);
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  // Requires: every PooledBuffer has been returned (destroyed).
  ~BufferPool();

  // A buffer of at least `size` bytes (rounded up to its class).
  PooledBuffer get(size_t size);
  // A buffer of default_size.
  PooledBuffer get() { return get(options_.default_size); }
  BufferPoolStats stats() const;
  const BufferPoolOptions& options() const { return options_; }

 private:
  friend class PooledBuffer;
  void put(Bytes bytes);
  int class_of(size_t size) const;  // -1: above max_size

  const BufferPoolOptions options_;
  mutable std::mutex mu_;                  // guards free_ and retained_
  std::vector<std::vector<Bytes>> free_;   // one free list per size class
  uint64_t retained_ = 0;
  std::atomic<uint64_t> hits_{0}, misses_{0}, returns_{0}, discards_{0}, in_use_{0};
};

// Copies reader to sink until the end, through one pooled buffer. Returns
// bytes copied. Errors: the reader's or the sink's (the sink is not aborted:
// the caller owns it).
Result<uint64_t> copy(Reader& reader, WriteSink& sink, BufferPool& pool);

// Wraps `source` so that every byte read from it is also written to each
// sink. A sink whose write fails is aborted and dropped (on_sink_error is
// called with its index and status); reading continues. At the end of the
// stream every remaining sink is committed through `on_complete(index,
// sink)` — the caller decides (e.g. under a generation fence) whether to
// commit or abort. A tee destroyed before the end aborts remaining sinks.
struct TeeHooks {
  std::function<void(size_t index, const Status& error)> on_sink_error;
  std::function<void(size_t index, std::unique_ptr<WriteSink> sink)> on_complete;
};
std::unique_ptr<Reader> make_tee_reader(std::unique_ptr<Reader> source,
                                        std::vector<std::unique_ptr<WriteSink>> sinks,
                                        TeeHooks hooks);

}  // namespace daramjwee
