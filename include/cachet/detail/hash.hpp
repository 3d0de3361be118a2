// cachet's one byte hash (src/hash.cpp): XXH3-64, for string keys and for
// content keys.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cachet::detail {

/// XXH3-64 of `size` bytes at `data`.
std::uint64_t hash_bytes(const void* data, std::size_t size) noexcept;

/// XXH3-64 of `size` bytes at `data` with `seed`.
std::uint64_t hash_bytes(const void* data, std::size_t size,
                         std::uint64_t seed) noexcept;

} // namespace cachet::detail
