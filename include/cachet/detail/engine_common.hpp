// Pieces shared by cachet's two table engines (hash and skip list).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

namespace cachet::detail {

/// How reads show a stored key or value without copying it: `const T&`,
/// except std::string, shown as std::string_view because the hash engine
/// keeps a string's bytes inline in its entry.
template <class T>
struct view_of {
  using type = const T&;
};

template <>
struct view_of<std::string> {
  using type = std::string_view;
};

template <class T>
using view_t = typename view_of<T>::type;

/// What a write function decides to do with the key it was shown.
enum class write_action : std::uint8_t {
  keep,  ///< leave the table as it is
  put,   ///< store the value the function produced
  erase, ///< remove the key
};

/// Outcome of an engine operation; the handle layer maps it to errc.
enum class op_status : std::uint8_t {
  ok,
  gone,      ///< the table was retired
  rejected,  ///< the write function refused (its reason is in its capture)
  no_key,    ///< next(key) on a hashed kind: the key is not in the table
};

/// A value type whose objects own one block of bytes (a string's, say) may
/// have the hash engine keep that block in the entry's node, one
/// allocation per entry instead of two and one cache miss less per read,
/// by specializing node_tail with `enabled = true` and
///   static std::size_t size(const V& v) noexcept: bytes the block needs
///     (0: v keeps nothing in the node);
///   static V place(const V& v, char* at): a V equal to v whose block is
///     written at `at` (size(v) bytes, 8-aligned) and never freed by it;
///     a move of it keeps borrowing the block, a copy owns its bytes.
template <class V>
struct node_tail {
  static constexpr bool enabled = false;
};

/// Heap bytes a stored key or value owns beyond its own object, for a
/// table's memory accounting: a std::string's buffer unless it is inline
/// (small-string optimization), a std::vector's elements and theirs. Other
/// types count as owning nothing.
template <class T>
struct heap_size {
  static std::size_t of(const T&) noexcept {
    return 0;
  }
};

template <class C, class Tr, class A>
struct heap_size<std::basic_string<C, Tr, A>> {
  static std::size_t of(const std::basic_string<C, Tr, A>& x) noexcept {
    auto* p = reinterpret_cast<const char*>(x.data());
    auto* self = reinterpret_cast<const char*>(&x);
    if (p >= self && p < self + sizeof(x))
      return 0;
    return (x.capacity() + 1) * sizeof(C);
  }
};

template <class T, class A>
struct heap_size<std::vector<T, A>> {
  static std::size_t of(const std::vector<T, A>& x) noexcept {
    auto n = x.capacity() * sizeof(T);
    for (const auto& y : x)
      n += heap_size<T>::of(y);
    return n;
  }
};

template <class T>
std::size_t heap_bytes(const T& x) noexcept {
  return heap_size<T>::of(x);
}

/// Spins politely while a batch writer holds a sequence odd.
inline void seq_pause(unsigned& spins) {
  if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    std::this_thread::yield();
  }
}

/// Seqlock read side for batch isolation: waits out a batch in progress and
/// returns the even sequence to validate against.
inline std::uint32_t seq_begin(const std::atomic<std::uint32_t>& seq) {
  unsigned spins = 0;
  for (;;) {
    auto s = seq.load(std::memory_order_acquire);
    if ((s & 1) == 0)
      return s;
    seq_pause(spins);
  }
}

/// True if no batch writer touched `seq` since `seq_begin` returned `s`.
inline bool seq_valid(const std::atomic<std::uint32_t>& seq, std::uint32_t s) {
  std::atomic_thread_fence(std::memory_order_acquire);
  return seq.load(std::memory_order_relaxed) == s;
}

/// Finalizer for hashes: std::hash of an integer is the identity. Half of
/// MurmurHash3's fmix64, then the halves swapped: a key's group comes from
/// the top 32 bits, and the top of key * constant is a Weyl sequence, which
/// spreads consecutive keys evenly at some table sizes and piles them up at
/// others (57% of 3-slot groups overflowing at a load of 0.8, against 22%
/// for random keys). The low half, where the shift folded the top back in,
/// spreads them nearly as random keys spread (28% at most), for a rotate;
/// a second multiply (all of fmix64) did as well and cost 1 K-key u64
/// reads 8%.
inline std::size_t mix_hash(std::size_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h << 32 | h >> 32;
}

/// The bits of `x` in reverse order (bit 0 becomes bit 63): the order of
/// Redis's SCAN cursor over a power-of-two bucket array.
inline std::uint64_t reverse_bits(std::uint64_t x) noexcept {
  x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
  x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
  x = ((x >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((x & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(x);
}

/// The bucket after `cursor` in reverse-binary order over `mask + 1`
/// buckets (Redis's dictScan step); 0 after the last one.
inline std::uint64_t next_cursor(std::uint64_t cursor,
                                 std::uint64_t mask) noexcept {
  cursor |= ~mask;
  return reverse_bits(reverse_bits(cursor) + 1);
}

/// Walks visit a hashed table a grain at a time: `walk_grain` adjacent
/// buckets (eight cache lines of heads, so a walk reads the bucket array in
/// runs), the grains in reverse-binary order of their index. A grain of an
/// array that doubles is two grains of the new one holding the same
/// entries, so a walk goes on from the same grain across growth, as Redis's
/// dictScan does bucket by bucket. No bucket array is smaller than a grain.
constexpr std::uint64_t walk_grain = 64;

/// The first bucket of the grain after the one that starts at `bucket`, in
/// walk order over `mask + 1` buckets; 0 after the last grain.
inline std::uint64_t next_grain(std::uint64_t bucket,
                                std::uint64_t mask) noexcept {
  return next_cursor(bucket / walk_grain, mask / walk_grain) * walk_grain;
}

/// The bucket after `bucket` in walk order over `mask + 1` buckets; 0 after
/// the last.
inline std::uint64_t next_bucket(std::uint64_t bucket,
                                 std::uint64_t mask) noexcept {
  ++bucket;
  return bucket % walk_grain != 0 ? bucket
                                  : next_grain(bucket - walk_grain, mask);
}

} // namespace cachet::detail
