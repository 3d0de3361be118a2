// Large blocks straight from the OS, for the hash engine's group arrays.
#pragma once

#include <cstddef>

namespace cachet::detail {

/// Maps `bytes` of zeroed memory, 2 MiB aligned and advised as huge pages
/// (the kernel backs it with them where transparent huge pages allow).
/// Throws std::bad_alloc if the OS refuses.
void* map_pages(std::size_t bytes);

/// Returns what map_pages(bytes) gave to the OS.
void unmap_pages(void* p, std::size_t bytes) noexcept;

/// Bytes mapped by map_pages and not yet returned, process-wide: memory
/// malloc's statistics do not see (the benchmark adds it to the heap's).
std::size_t mapped_bytes() noexcept;

} // namespace cachet::detail
