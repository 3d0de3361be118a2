// Large blocks straight from the OS, for the hash engine's group arrays.
#pragma once

#include <cstddef>

namespace cachet::detail {

/// Maps `bytes` of zeroed memory, 2 MiB aligned. Its first `huge` bytes
/// (rounded down to whole huge pages) are advised as huge pages, which the
/// kernel uses where transparent huge pages allow; the rest is kept in
/// small pages, so that memory taken a little at a time (an overflow pool)
/// is committed 4 KiB at a time, not 2 MiB. Throws std::bad_alloc if the
/// OS refuses.
void* map_pages(std::size_t bytes, std::size_t huge = ~std::size_t{0});

/// Returns what map_pages(bytes) gave to the OS.
void unmap_pages(void* p, std::size_t bytes) noexcept;

/// Bytes mapped by map_pages and not yet returned, process-wide: memory
/// malloc's statistics do not see (the benchmark adds it to the heap's).
std::size_t mapped_bytes() noexcept;

} // namespace cachet::detail
