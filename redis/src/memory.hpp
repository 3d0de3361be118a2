// used_memory: the bytes cachet-redis holds, counted at every allocation as
// redis's zmalloc counts them, not estimated from the keys.
//
// memory.cpp replaces the global operator new and delete (every variant) in
// the cachet-redis binary: each adds or subtracts the block's usable size
// (malloc_usable_size) to a counter of the calling thread, which joins the
// process-wide total in steps of at most `flush_step` bytes. So a read of
// the total costs one load, an allocation no shared write but once per
// step, and the total is off by at most `flush_step` per thread. The group
// arrays cachet's tables map from the OS (detail::mapped_bytes) are added.
// Memory that C code takes with malloc (libc's own, CAF's few) is not
// counted.
#pragma once

#include <cstdint>

namespace cachet::redis {

/// How far a thread's own count may drift from the total before it joins.
constexpr std::int64_t flush_step = 16 * 1024;

/// Bytes allocated through operator new and not yet freed (within
/// flush_step per thread), plus the table's mapped pages.
std::int64_t used_memory() noexcept;

} // namespace cachet::redis
