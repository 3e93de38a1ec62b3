// Reader and WriteSink: the two halves of streaming through the cache.
//
// A Reader yields an object's bytes once, front to back. It may also offer
// zero-copy access: view() when the rest of the object is contiguous in
// shared memory (RAM tier), file_region() when it is a plain byte range of a
// file (disk tier), so the filesystem can reply without copying or splice.
//
// A WriteSink stages an object. Nothing is visible to readers before
// commit(); abort() discards; the destructor aborts an uncommitted sink.
// After commit() or abort(), every call fails with kInvalidArgument.
//
// Thread-safety: a Reader or WriteSink is used by one thread at a time;
// different instances are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "core/bytes.h"
#include "core/result.h"

namespace daramjwee {

// A range of an open file. `keepalive` owns whatever keeps fd open and the
// bytes valid (an open file, a pin on the index entry): the region is valid
// exactly as long as some copy of keepalive is alive, even if the entry is
// removed or evicted meanwhile (the file is unlinked but stays readable).
struct FileRegion {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::shared_ptr<const void> keepalive;
};

// A contiguous in-memory range kept alive by `owner`.
struct SharedView {
  std::span<const std::byte> bytes;
  std::shared_ptr<const void> owner;
};

class Reader {
 public:
  Reader() = default;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  virtual ~Reader() = default;

  // Copies up to out.size() bytes into out. Returns the count, 0 only at the
  // end of the stream (or when out is empty). Errors: kIoError, kCorruption,
  // kChangedAtOrigin, kTimeout... After an error the reader is unusable.
  virtual Result<size_t> read(std::span<std::byte> out) = 0;

  // Discards the next n bytes (fewer at the end); returns how many. The
  // default reads into a scratch buffer; seekable readers override it.
  virtual Result<uint64_t> skip(uint64_t n);

  // Zero-copy: the rest of the stream as shared memory, if it is already
  // whole in memory; consuming it is the caller's business (the reader's
  // position does not move). nullopt when not available.
  virtual std::optional<SharedView> view() { return std::nullopt; }

  // Zero-copy: the rest of the stream as a file range (uncompressed data
  // only). nullopt when not available. Same position rule as view().
  virtual std::optional<FileRegion> file_region() { return std::nullopt; }

  // Total bytes this reader will yield, if known up front.
  virtual std::optional<uint64_t> size_hint() const { return std::nullopt; }

  // Zero-copy: the rest of the stream is exactly this immutable buffer,
  // whole (a reader over shared bytes that has not moved yet). Same position
  // rule as view(). Lets the engine keep an origin's buffer as the cached
  // entry instead of copying it. nullptr when not available.
  virtual SharedBytes shared_bytes() { return nullptr; }
};

class WriteSink {
 public:
  WriteSink() = default;
  WriteSink(const WriteSink&) = delete;
  WriteSink& operator=(const WriteSink&) = delete;
  // Aborts if neither commit() nor abort() was called.
  virtual ~WriteSink() = default;

  // Appends bytes. Errors: kIoError, kResourceExhausted (too large, disk
  // full); after an error the sink must still be aborted (or destroyed).
  virtual Status write(std::span<const std::byte> data) = 0;

  // Appends an immutable shared buffer; same contract and errors as
  // write(). A sink may keep a reference instead of copying (the memory
  // tier adopts a buffer that is its entry's whole content). The caller
  // must not modify *data afterwards (it is const). Default: write(span).
  virtual Status write_shared(const SharedBytes& data) { return write(data->span()); }

  // Publishes atomically: afterwards readers see the whole object, before it
  // nothing. The stored logical size is the number of bytes written.
  // On error nothing was published.
  virtual Status commit() = 0;

  // Discards everything written. Idempotent; never fails.
  virtual void abort() noexcept = 0;
};

// Faults in the pages of a freshly allocated buffer with one system call
// (MADV_POPULATE_WRITE) instead of one page fault per 4 KiB inside the copy
// that fills it; a no-op for small buffers and on kernels without it.
void prefault(std::span<std::byte> fresh);

// Reads everything into one buffer. Errors: the reader's, or
// kResourceExhausted when more than `limit` bytes arrive.
Result<Bytes> read_all(Reader& reader, uint64_t limit = UINT64_MAX);

// A Reader over shared memory (view() supported).
std::unique_ptr<Reader> make_bytes_reader(SharedBytes bytes);

}  // namespace daramjwee
