#include "origin/http/http_reader.h"

#include <algorithm>
#include <array>

#include "net/http_parse.h"

namespace daramjwee::origin {
namespace {

Status net_status(const net::NetError& e, const std::string& what) {
  std::string msg = what + ": " + e.message;
  if (e.kind == net::ErrorKind::kTimeout) return Status::timeout(msg);
  return Status::io_error(msg, e.retryable);
}

class HttpReader final : public Reader {
 public:
  // Yields body bytes [skip, skip + limit) of the transfer; `expected` is
  // the number of body bytes the server promised (nullopt: unknown).
  HttpReader(std::unique_ptr<net::Transfer> t, std::optional<uint64_t> expected, uint64_t skip,
             std::optional<uint64_t> limit, std::string what)
      : t_(std::move(t)), expected_(expected), skip_(skip), limit_(limit), what_(std::move(what)) {}

  Result<size_t> read(std::span<std::byte> out) override {
    if (!error_.is_ok()) return error_;
    if (out.empty()) return size_t{0};
    while (skip_ > 0) {  // the server ignored our Range: discard the prefix
      std::array<std::byte, 65536> scratch;
      size_t want = static_cast<size_t>(std::min<uint64_t>(skip_, scratch.size()));
      size_t n = pull(std::span(scratch.data(), want));
      if (!error_.is_ok()) return error_;
      if (n == 0) return fail(Status::io_error(what_ + ": body ended before the requested offset", true));
      skip_ -= n;
    }
    if (limit_) {
      if (yielded_ == *limit_) return size_t{0};  // the rest is not ours
      out = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), *limit_ - yielded_)));
    }
    size_t n = pull(out);
    if (!error_.is_ok()) return error_;
    yielded_ += n;
    return n;
  }

  std::optional<uint64_t> size_hint() const override {
    if (limit_) return *limit_;
    if (expected_) return *expected_ - std::min(*expected_, skip_);
    return std::nullopt;
  }

 private:
  // Reads from the transfer, checking the body length against `expected_`.
  size_t pull(std::span<std::byte> out) {
    net::NetError err;
    size_t n = t_->read(out, &err);
    if (err.failed()) {
      ignore_error(fail(net_status(err, what_)));
      return 0;
    }
    received_ += n;
    if (expected_ && received_ > *expected_) {
      ignore_error(fail(Status::io_error(what_ + ": body longer than promised (" + std::to_string(*expected_) +
                                " bytes)",
                            true)));
      return 0;
    }
    if (n == 0 && expected_ && received_ < *expected_) {
      ignore_error(fail(Status::io_error(what_ + ": body shorter than promised (" + std::to_string(received_) +
                                " of " + std::to_string(*expected_) + " bytes)",
                            true)));
      return 0;
    }
    return n;
  }
  Status fail(Status s) {
    error_ = std::move(s);
    t_.reset();  // release the connection now (it is discarded mid-body)
    return error_;
  }

  std::unique_ptr<net::Transfer> t_;
  std::optional<uint64_t> expected_;
  uint64_t skip_;
  std::optional<uint64_t> limit_;
  std::string what_;
  uint64_t received_ = 0;  // body bytes from the transfer
  uint64_t yielded_ = 0;   // bytes handed to the caller
  Status error_;
};

class EmptyReader final : public Reader {
 public:
  Result<size_t> read(std::span<std::byte>) override { return size_t{0}; }
  std::optional<uint64_t> size_hint() const override { return 0; }
};

// Checks the response's validators against the pin. `total` is the
// object's full size if known.
Status check_pin(const net::ResponseHead& h, const Pin& pin, std::optional<uint64_t> total,
                 const std::string& what) {
  if (pin.kind == Pin::kNone) return Status::ok();
  bool conflict = false;
  if (pin.kind == Pin::kLastModified) {
    const std::string* v = h.find("last-modified", &conflict);
    auto lm = v && !conflict ? net::parse_http_date(*v) : std::nullopt;
    if (!lm || *lm != pin.lm_seconds || (pin.lm_size && total && *total != *pin.lm_size))
      return Status::changed_at_origin(what + ": Last-Modified or size differs from the pinned version");
    return Status::ok();
  }
  const std::string* v = h.find("etag", &conflict);
  auto tag = v && !conflict ? net::parse_etag(*v) : std::nullopt;
  bool same = tag && (pin.kind == Pin::kStrongEtag ? !tag->weak && tag->text == pin.etag
                                                   : net::etag_weak_equal(tag->text, pin.etag));
  if (!same) return Status::changed_at_origin(what + ": ETag differs from the pinned version");
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Reader>> open_http_reader(std::unique_ptr<net::Transfer> t, ByteRange range,
                                                 const Pin& pin, std::string what) {
  const net::ResponseHead& h = t->head();
  bool ranged = range.offset > 0 || range.length.has_value();
  bool conflict = false;
  std::optional<uint64_t> content_length;
  if (const std::string* cl = h.find("content-length", &conflict)) {
    content_length = conflict ? std::nullopt : net::parse_content_length(*cl);
    if (!content_length) return Status::io_error(what + ": malformed Content-Length", false);
  }
  switch (h.status) {
    case 200: {
      if (Status s = check_pin(h, pin, content_length, what); !s.is_ok()) return s;
      // A full body: the server ignored (or did not need) our Range.
      uint64_t skip = range.offset;
      if (content_length && skip >= *content_length)
        return std::unique_ptr<Reader>(new EmptyReader());
      std::optional<uint64_t> limit = range.length;
      if (limit && content_length) limit = std::min(*limit, *content_length - skip);
      return std::unique_ptr<Reader>(new HttpReader(std::move(t), content_length, skip, limit, what));
    }
    case 206: {
      if (!ranged) return Status::io_error(what + ": 206 answer to a request without Range", false);
      const std::string* v = h.find("content-range", &conflict);
      auto cr = v && !conflict ? net::parse_content_range(*v) : std::nullopt;
      if (!cr || !cr->satisfied)
        return Status::io_error(what + ": 206 without a valid single Content-Range", false);
      if (Status s = check_pin(h, pin, cr->complete, what); !s.is_ok()) return s;
      bool ok = cr->first == range.offset;
      if (range.length) {
        uint64_t want_last = range.offset + *range.length - 1;
        ok = ok && (cr->last == want_last ||
                    (cr->last < want_last && cr->complete && cr->last + 1 == *cr->complete));
      } else {
        ok = ok && (!cr->complete || cr->last + 1 == *cr->complete);
      }
      if (!ok) return Status::io_error(what + ": Content-Range does not match the requested range", false);
      if (content_length && *content_length != cr->length())
        return Status::io_error(what + ": Content-Length disagrees with Content-Range", false);
      return std::unique_ptr<Reader>(
          new HttpReader(std::move(t), cr->length(), 0, std::nullopt, what));
    }
    case 416: {
      const std::string* v = h.find("content-range", &conflict);
      auto cr = v && !conflict ? net::parse_content_range(*v) : std::nullopt;
      if (cr && !cr->satisfied && cr->complete && range.offset >= *cr->complete) {
        if (pin.kind == Pin::kLastModified && pin.lm_size && *pin.lm_size != *cr->complete)
          return Status::changed_at_origin(what + ": size differs from the pinned version");
        return std::unique_ptr<Reader>(new EmptyReader());  // reading at or past the end
      }
      return Status::io_error(what + ": HTTP 416", false);
    }
    case 404:
    case 410:
      return Status::not_found(what + ": HTTP " + std::to_string(h.status));
    case 401:
    case 403:
    case 407:
      return Status::permission_denied(what + ": HTTP " + std::to_string(h.status));
    case 412:
      return Status::changed_at_origin(what + ": HTTP 412 (the pinned version changed)");
    default:
      return Status::io_error(what + ": HTTP " + std::to_string(h.status), h.status >= 500);
  }
}

}  // namespace daramjwee::origin
