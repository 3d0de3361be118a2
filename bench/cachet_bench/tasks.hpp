// The parts of a run that live outside the throughput matrix: memory probes
// (each in a fresh child process) and the BEAM workloads (an elixir child).
#pragma once

#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "options.hpp"
#include "report.hpp"
#include "workload.hpp"

namespace cachet_bench {

/// Structures the memory probe knows, in the order they are measured.
std::vector<std::string> memory_structures();

/// Child side: inserts `entries` (16 B key, 100 B value) into `structure`
/// and prints one JSON line with the growth. Returns the exit code.
int memory_probe(caf::actor_system& sys, const std::string& structure,
                 std::size_t entries);

/// Parent side: runs one child per structure; failures are noted, not fatal.
std::vector<memory_row> measure_memory(std::size_t entries,
                                       std::vector<std::string>& missing);

/// Dump and reload throughput for up to `entries` (16 B key, 100 B value)
/// entries, median of `repeats`; sizes grow while the projected load time
/// fits `budget` seconds. A placeholder saying why if cachet has no dump
/// API (yet).
placeholder measure_reload(caf::actor_system& sys, std::size_t entries,
                           std::size_t repeats, double seconds, double budget);

/// Restart latency for one table policy ("fresh" or "heir"): `crashes`
/// kills of a supervised owner, each timed until its named table is served
/// by the restarted owner. p50/p99/max in microseconds.
placeholder measure_restart(caf::actor_system& sys, const std::string& policy,
                            std::size_t crashes);

/// What the BEAM run needs to replay cachet's exact op streams.
struct beam_plan {
  std::string script;
  std::size_t keys = 1000;
  std::vector<std::uint64_t> raw_keys;
  std::vector<std::size_t> threads;
  std::vector<std::size_t> callers; ///< GenServer.call sweep (100% reads)
  std::vector<std::size_t> mix;
  std::vector<std::string> dist;
  std::string sweep_dist;
  double seconds = 1;
  double warmup = 0.25;
  std::size_t repeats = 3;
  std::size_t memory_entries = 0; ///< 0: skip BEAM's memory measurement
};

/// Finds elixir on PATH; empty if missing.
std::string find_elixir();

/// Runs bench.exs; appends its rows and memory figures. Returns false (and
/// says why in `missing`) if it could not run. `machine` receives the
/// BEAM's versions.
bool run_beam(const beam_plan& plan, stream_cache& streams,
              std::vector<result_row>& rows, std::vector<memory_row>& memory,
              nlohmann::json& machine, std::vector<std::string>& missing);

} // namespace cachet_bench
