// lz4 frame and identity compressors. The frame format is used (not raw
// blocks) because it records the content size and a content checksum, so a
// truncated or bit-flipped frame is reported instead of decoded to garbage.
#include <lz4frame.h>

#include <fmt/format.h>

#include "core/compressor.h"

namespace daramjwee {
namespace {

class NoneCompressor final : public Compressor {
 public:
  Compression kind() const override { return Compression::kNone; }
  std::string_view name() const override { return "none"; }
  Result<Bytes> compress(std::span<const std::byte> in) const override {
    return Bytes::copy_of(in);
  }
  Result<Bytes> decompress(std::span<const std::byte> in, uint64_t expected) const override {
    if (expected && in.size() != expected)
      return Status::corruption(fmt::format("size {} != expected {}", in.size(), expected));
    return Bytes::copy_of(in);
  }
};

class Lz4Compressor final : public Compressor {
 public:
  Compression kind() const override { return Compression::kLz4; }
  std::string_view name() const override { return "lz4"; }

  Result<Bytes> compress(std::span<const std::byte> in) const override {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.contentSize = in.size();
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
    Bytes out(bound);
    size_t n = LZ4F_compressFrame(out.data(), bound, in.data(), in.size(), &prefs);
    if (LZ4F_isError(n)) return Status::internal(fmt::format("lz4: {}", LZ4F_getErrorName(n)));
    out.resize(n);
    return out;
  }

  Result<Bytes> decompress(std::span<const std::byte> in, uint64_t expected) const override {
    LZ4F_dctx* dctx = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
      return Status::internal("lz4: cannot create context");
    std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> guard(
        dctx, LZ4F_freeDecompressionContext);

    LZ4F_frameInfo_t info{};
    size_t consumed = in.size();
    size_t hint = LZ4F_getFrameInfo(dctx, &info, in.data(), &consumed);
    if (LZ4F_isError(hint))
      return Status::corruption(fmt::format("lz4 header: {}", LZ4F_getErrorName(hint)));
    uint64_t size = info.contentSize;
    if (size == 0 && expected) size = expected;
    if (expected && info.contentSize && info.contentSize != expected)
      return Status::corruption(
          fmt::format("lz4 content size {} != expected {}", info.contentSize, expected));
    Bytes out(std::max<uint64_t>(size, 1));
    size_t pos = consumed, produced = 0;
    while (pos < in.size()) {
      size_t src_n = in.size() - pos;
      size_t dst_n = out.capacity() - produced;
      if (dst_n == 0) {  // size unknown or lying: grow, bounded by the frame
        out.resize(produced);
        out.reserve(out.capacity() * 2);
        dst_n = out.capacity() - produced;
      }
      size_t r = LZ4F_decompress(dctx, out.data() + produced, &dst_n, in.data() + pos, &src_n,
                                 nullptr);
      if (LZ4F_isError(r))
        return Status::corruption(fmt::format("lz4: {}", LZ4F_getErrorName(r)));
      pos += src_n;
      produced += dst_n;
      if (r == 0) {  // frame complete, checksum verified
        if (pos != in.size()) return Status::corruption("lz4: trailing bytes after frame");
        out.resize(produced);
        if (expected && produced != expected)
          return Status::corruption(fmt::format("lz4 size {} != expected {}", produced, expected));
        return out;
      }
      if (src_n == 0 && dst_n == 0) break;
    }
    return Status::corruption("lz4: truncated frame");
  }
};

}  // namespace

const Compressor& compressor_for(Compression kind) {
  static const NoneCompressor none;
  static const Lz4Compressor lz4;
  return kind == Compression::kLz4 ? static_cast<const Compressor&>(lz4) : none;
}

}  // namespace daramjwee
