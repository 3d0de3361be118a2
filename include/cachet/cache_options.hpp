// How to create a cache (cache.hpp): its name, access mode and heir, its
// bounds and eviction policy, TTLs and sweeping, loaders, secondary indexes
// and removal listener. Every field has a usable default: an unbounded
// protected cache without TTL.
//
// Example:
//   cachet::cache_options<std::string, std::string> opts;
//   opts.name = "links";
//   opts.max_entries = 10'000;
//   opts.ttl = std::chrono::minutes{5};
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cachet/ownership_options.hpp"

namespace cachet {

/// The clock of a cache's TTLs; tests substitute their own (cache_options).
using cache_clock = std::chrono::steady_clock;

/// How a bounded cache picks the entry to evict.
enum class eviction_policy : std::uint8_t {
  /// S3-FIFO: scan-resistant; hits cost one relaxed atomic store, no lock.
  s3fifo,
  /// Least recently used: the textbook baseline; every hit takes the cache's
  /// write lock to reorder the list.
  lru,
};

/// Why an entry left a cache (told to the removal listener).
enum class removal_cause : std::uint8_t {
  explicit_, ///< invalidate or clear
  replaced,  ///< a put of the same key, or of another key taking its
             ///< unique index key
  expired,   ///< its TTL ran out (found by a sweep)
  evicted,   ///< the size bound needed room
};

/// "explicit", "replaced", "expired" or "evicted".
inline std::string to_string(removal_cause x) {
  switch (x) {
    case removal_cause::explicit_: return "explicit";
    case removal_cause::replaced: return "replaced";
    case removal_cause::expired: return "expired";
    case removal_cause::evicted: return "evicted";
  }
  return "removal_cause(" + std::to_string(static_cast<int>(x)) + ")";
}

/// A secondary unique index (IdentityCache's cache_index): `key_of` gives
/// the entry's index key, or nullopt if the entry is not indexed.
template <class K, class V>
struct cache_index {
  std::string name;
  std::function<std::optional<std::string>(const K&, const V&)> key_of;
};

/// How to create a cache.
///
/// Name, mode and heir (ownership_options) as for tables: private caches
/// allow no direct access, protected ones direct reads, public ones direct
/// writes too. An heir holds the whole cache (entries, indexes, eviction
/// state, stats) while the owner restarts, as cache_child's heir policy
/// does with the supervisor; readers and public writers see no gap.
template <class K, class V>
struct cache_options : ownership_options {
  /// Bound on the number of entries; 0: none.
  std::size_t max_entries = 0;
  /// Bound on the sum of the entries' weights; 0: none.
  std::uint64_t max_weight = 0;
  /// An entry's weight (default: 1). Called under the cache's write lock:
  /// it must not use the cache.
  std::function<std::uint64_t(const K&, const V&)> weigher;
  /// The eviction policy of a bounded cache.
  eviction_policy policy = eviction_policy::s3fifo;
  /// Default time to live of an entry; zero: entries do not expire.
  std::chrono::nanoseconds ttl{0};
  /// Reading an entry renews its TTL (a fragment cache's "touch").
  bool touch_on_read = false;
  /// How often the owner sweeps expired entries (spawn_cache's owner; a
  /// custom owner calls sweep itself). Zero: never.
  std::chrono::milliseconds sweep_interval{1000};
  /// At most this many expiry records examined per sweep (bounded work).
  std::size_t sweep_batch = 1024;
  /// How long fetch callers wait for a loader; zero: forever.
  std::chrono::milliseconds load_timeout{5000};
  /// The clock of TTLs; default cache_clock::now. Tests pass their own.
  std::function<cache_clock::time_point()> clock;
  /// Told of every removal with its cause, on the thread that removed the
  /// entry (a loader thread for a fetch's eviction), after the cache's locks
  /// are released and before the operation that removed it returns.
  std::function<void(const K&, const V&, removal_cause)> on_removal;
  /// Secondary unique indexes (get_by, fetch_by).
  std::vector<cache_index<K, V>> indexes;
};

/// The function a fetch runs on a miss; its exception fails the fetch with
/// errc::load_failed. Local messages only.
template <class K, class V>
struct cache_loader {
  std::function<V(const K&)> fn;
};

/// The function a fetch_by runs on a miss: the entry (key and value) whose
/// index key is its argument, or nullopt if there is none (IdentityCache's
/// `fetch_by_email` querying `WHERE email = ?`). Its exception fails the
/// fetch_by with errc::load_failed. Local messages only.
template <class K, class V>
struct cache_index_loader {
  std::function<std::optional<std::pair<K, V>>(const std::string&)> fn;
};

} // namespace cachet
