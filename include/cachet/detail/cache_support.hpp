// Non-template helpers of cachet's caches, implemented in src/cache.cpp: the
// loader threads, the cache registry and the content hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <typeindex>

#include <caf/attachable.hpp>
#include <caf/fwd.hpp>

namespace cachet::detail {

/// Runs `job` on one of cachet's loader threads, never on the caller's
/// thread. The pool is process-wide and grows on demand: a job never waits
/// for another (a hung loader cannot block loads of other keys); a thread
/// idle for a few seconds ends. Thread-safe.
void run_loader(std::function<void()> job);

/// Number of loader threads alive (for tests).
std::size_t loader_threads();

/// XXH3-64 of `size` bytes at `data`.
std::uint64_t hash_bytes(const void* data, std::size_t size) noexcept;

/// Registers a cache's or snapshot's core under (sys, name), unless a live
/// core holds the name; whether it did. One lock covers the check and the
/// insertion.
bool register_cache(const caf::actor_system& sys, const std::string& name,
                    std::type_index type, std::weak_ptr<void> core);

/// Runs `on_exit` when the actor it is attached to exits, and holds what
/// `on_exit` captures: an heir holding a cache keeps it alive with one.
/// Detach with keeper_token(core).
std::unique_ptr<caf::attachable> make_keeper(const void* core,
                                             std::function<void()> on_exit);

/// The token that detaches make_keeper(core, ...).
caf::attachable::token keeper_token(const void* core);

/// Removes (sys, name) if it still maps to `core`.
void unregister_cache(const caf::actor_system& sys, const std::string& name,
                      const void* core);

/// The core registered under (sys, name), or null; sets `wrong_type` if the
/// name holds a cache of another type.
std::shared_ptr<void> find_cache(const caf::actor_system& sys,
                                 const std::string& name, std::type_index type,
                                 bool& wrong_type);

} // namespace cachet::detail
