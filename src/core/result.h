// Result<T>: a T or a non-OK Status. The C++20 stand-in for std::expected
// (meson 1.0 in Debian 12 cannot select c++23), with the same spelling for
// the parts we use: has_value(), operator*, ->, value(), error().
//
// A cache miss is never an error: stores return Result<std::optional<T>>.
// Thread-safety: as for the contained T.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "core/status.h"

namespace daramjwee {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : v_(std::in_place_index<1>, std::move(error)) {  // NOLINT
    assert(!std::get<1>(v_).is_ok() && "Result built from an OK Status");
  }
  template <typename... Args>
  explicit Result(std::in_place_t, Args&&... args)
      : v_(std::in_place_index<0>, std::forward<Args>(args)...) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Requires: !has_value().
  const Status& error() const& { assert(!has_value()); return std::get<1>(v_); }
  Status&& error() && { assert(!has_value()); return std::get<1>(std::move(v_)); }
  // The error, or OK when there is a value.
  Status status() const { return has_value() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace daramjwee
