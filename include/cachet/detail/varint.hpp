// Sizes as LEB128 varints: 7 bits a byte, low bits first, the high bit set
// on every byte but the last. A size below 128 takes one byte, which is why
// the engine and cachet-redis put one in front of inline bytes.
#pragma once

#include <cstddef>

namespace cachet::detail {

/// Bytes put_varint writes for `x`.
inline std::size_t varint_size(std::size_t x) noexcept {
  std::size_t n = 1;
  while (x >= 0x80) {
    x >>= 7;
    ++n;
  }
  return n;
}

/// Writes `x` at `out`; returns the byte after it.
inline char* put_varint(char* out, std::size_t x) noexcept {
  while (x >= 0x80) {
    *out++ = static_cast<char>((x & 0x7f) | 0x80);
    x >>= 7;
  }
  *out++ = static_cast<char>(x);
  return out;
}

/// Reads a varint at `in` into `x`; returns the byte after it.
inline const char* get_varint(const char* in, std::size_t& x) noexcept {
  x = 0;
  unsigned shift = 0;
  for (;;) {
    auto b = static_cast<unsigned char>(*in++);
    x |= std::size_t{b & 0x7fu} << shift;
    if (b < 0x80)
      return in;
    shift += 7;
  }
}

} // namespace cachet::detail
