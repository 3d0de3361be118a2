// What a run produced, and the ways it is shown: the table on stdout, the
// targets with PASS/MISS, the JSON file and the gnuplot plot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "paths.hpp"

namespace cachet_bench {

struct latency {
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  std::size_t samples = 0;
};

/// One measured cell of one path: the median of its runs.
struct result_row {
  path_id path;
  std::size_t threads = 0;
  std::size_t keys = 0;
  int mix = 100;
  std::string dist;
  std::string value_type;
  double ops_per_sec = 0;
  std::vector<double> runs;   ///< ops/s of each run
  std::string series;         ///< "matrix" or "sweep" (message latency sweep)
  std::uint64_t errors = 0;
  std::string table;          ///< "protected" or "public" where it matters
  std::optional<latency> lat; ///< message paths
};

/// Memory of one structure holding N entries: (16 B key, 100 B value), or
/// u64 -> u64.
struct memory_row {
  std::string structure;
  std::string value_type = "str"; ///< "str" or "u64"
  std::size_t entries = 0;
  double rss_bytes_per_entry = 0;
  std::optional<double> heap_bytes_per_entry; ///< malloc's in-use bytes
  /// cachet: in-use bytes after later writes let the epochs free the nodes
  /// retired by the last growth.
  std::optional<double> settled_heap_bytes_per_entry;
  std::string note;
};

/// A measurement that cannot be taken yet, kept visible in the output.
struct placeholder {
  std::string name;
  std::string status; ///< "measured" or "not_measured"
  std::string reason;
  nlohmann::json values; ///< the figures, once measured
};

struct target {
  target(std::string name, std::string description, std::string compare,
         std::string unit, double goal)
    : name(std::move(name)),
      description(std::move(description)),
      compare(std::move(compare)),
      unit(std::move(unit)),
      goal(goal) {
    // nop
  }

  std::string name;
  std::string description;
  std::string compare; ///< ">=" or "<="
  std::string unit;    ///< "x" (a ratio) or "B/entry", "us"
  double goal = 0;
  std::optional<double> measured; ///< worst cell; empty if not measured
  std::string worst_cell;
  std::string reason; ///< why not measured
  nlohmann::json cells = nlohmann::json::array();

  std::optional<bool> pass() const {
    if (!measured)
      return std::nullopt;
    return compare == ">=" ? *measured >= goal : *measured <= goal;
  }

  /// How far from the goal, as a factor: >= 1 passes.
  std::optional<double> margin() const {
    if (!measured || *measured == 0)
      return std::nullopt;
    return compare == ">=" ? *measured / goal : goal / *measured;
  }
};

struct report {
  nlohmann::json settings;
  nlohmann::json machine;
  std::vector<std::string> missing; ///< peers and tools not available
  std::vector<result_row> rows;
  std::vector<memory_row> memory;
  std::vector<placeholder> restart;
  placeholder reload;
  /// Reads while a table grows, and without growth (growth.cpp).
  placeholder growth;
  std::vector<target> targets;
  double runtime_seconds = 0;
  std::size_t beam_keys = 0;
  /// The cache section (cache.cpp): hit ratios, fetch, snapshot reads.
  nlohmann::json cache = nlohmann::json::object();
  /// The query rows (query.cpp): select family, bag lookups, ratios.
  nlohmann::json query = nlohmann::json::object();
  /// The remote rows (remote.cpp): calls between nodes, partitioned cache.
  nlohmann::json remote = nlohmann::json::object();
};

/// Fills `r.targets` from the rows, memory and growth figures.
void evaluate_targets(report& r);

/// Appends the growth target computed from `r.growth`.
void add_growth_target(report& r);

/// The remote rows' table, on stdout (remote.cpp; print_report calls it).
void print_remote(const nlohmann::json& remote);

/// The readable tables, on stdout.
void print_report(const report& r);

nlohmann::json to_json(const report& r);

/// Writes `png` with gnuplot (script and data next to it); false on failure.
bool write_plot(const report& r, const std::string& png);

} // namespace cachet_bench
