// Compressor: whole-buffer compression for stores that keep objects
// compressed (the disk tier, per chunk). lz4 uses the frame format, which
// carries its own content checksum and size, so truncation and corruption
// are detected.
// Thread-safety: implementations are stateless; share one instance freely.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "core/bytes.h"
#include "core/metadata.h"
#include "core/result.h"

namespace daramjwee {

class Compressor {
 public:
  Compressor() = default;
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  virtual ~Compressor() = default;

  virtual Compression kind() const = 0;
  virtual std::string_view name() const = 0;

  // Compresses all of `input`. Errors: kInternal (library failure).
  virtual Result<Bytes> compress(std::span<const std::byte> input) const = 0;

  // Decompresses all of `input`, which must be exactly one complete frame.
  // `expected_size` (when non-zero) must match the decompressed size.
  // Errors: kCorruption for truncated, trailing, or corrupt input, or a size
  // mismatch — never garbage output.
  virtual Result<Bytes> decompress(std::span<const std::byte> input,
                                   uint64_t expected_size = 0) const = 0;
};

// The shared instance for a kind (never null).
const Compressor& compressor_for(Compression kind);

}  // namespace daramjwee
