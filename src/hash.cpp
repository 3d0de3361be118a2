// cachet's string hash. XXH3 is inlined into this one function, so a lookup
// pays one direct call rather than a call through libxxhash's PLT.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cachet/detail/hash.hpp"

namespace cachet::detail {

std::uint64_t hash_bytes(const void* data, std::size_t size) noexcept {
  return XXH3_64bits(data, size);
}

std::uint64_t hash_bytes(const void* data, std::size_t size,
                         std::uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(data, size, seed);
}

std::uint64_t hash_u64(std::uint64_t x, std::uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(&x, sizeof x, seed);
}

void hash_u64_seeded(std::uint64_t x, const std::uint64_t* seeds,
                     std::uint64_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = XXH3_64bits_withSeed(&x, sizeof x, seeds[i]);
}

} // namespace cachet::detail
