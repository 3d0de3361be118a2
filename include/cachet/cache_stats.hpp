// A cache's counters (cache::stats, or stats_atom to its owner).
#pragma once

#include <cstdint>

#include <caf/meta/type_name.hpp>

namespace cachet {

/// A cache's counters since it was created.
struct cache_stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  /// Loader runs that ended without an error (a fetch_by loader that found
  /// no entry included).
  std::uint64_t loads = 0;
  /// Loader runs that threw or timed out.
  std::uint64_t load_failures = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  /// Entries and their total weight now (expired ones not yet swept
  /// included), and the most ever held at once: never above the bounds.
  std::uint64_t entries = 0;
  std::uint64_t weight = 0;
  std::uint64_t peak_entries = 0;
  std::uint64_t peak_weight = 0;

  /// hits / (hits + misses), 0 before the first read.
  double hit_ratio() const noexcept {
    auto n = hits + misses;
    return n == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(n);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cache_stats& x) {
  return f(caf::meta::type_name("cachet.cache_stats"), x.hits, x.misses,
           x.loads, x.load_failures, x.evictions, x.expirations, x.entries,
           x.weight, x.peak_entries, x.peak_weight);
}

} // namespace cachet
