// cachet-bench's cache section: hit ratios of the eviction policies against
// Belady's optimum, fetch throughput, and constant-snapshot reads beside
// table reads and message reads.
#pragma once

#include <caf/actor_system.hpp>

#include <nlohmann/json.hpp>

#include "options.hpp"
#include "report.hpp"

namespace cachet_bench {

/// Runs the cache measurements, prints their tables and returns them as
/// JSON (report::cache).
nlohmann::json run_cache_bench(caf::actor_system& sys, const bench_config& cfg);

/// Appends the hit_ratio_* targets computed from `r.cache`.
void add_cache_targets(report& r);

} // namespace cachet_bench
