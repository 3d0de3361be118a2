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

/// hash_bytes(&x, 8, seed), with XXH3's path for 8 bytes chosen at compile
/// time.
std::uint64_t hash_u64(std::uint64_t x, std::uint64_t seed) noexcept;

/// out[i] = hash_u64(x, seeds[i]) for i < n, in one call (rendezvous
/// hashing scores every member per key).
void hash_u64_seeded(std::uint64_t x, const std::uint64_t* seeds,
                     std::uint64_t* out, std::size_t n) noexcept;

} // namespace cachet::detail
