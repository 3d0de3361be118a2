// The parts of a run that live outside the throughput matrix: memory probes
// (each in a fresh child process), reads while a table grows, the BEAM
// workloads (an elixir child), the query rows (select family and bag
// lookups, cachet beside the BEAM) and the remote rows (calls between
// nodes, cachet beside the BEAM).
#pragma once

#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "measure.hpp"
#include "options.hpp"
#include "report.hpp"
#include "workload.hpp"

namespace cachet_bench {

/// Structures the memory probe knows, in the order they are measured.
std::vector<std::string> memory_structures();

/// Child side: inserts `entries` (16 B key, 100 B value) into `structure`,
/// or u64 -> u64 entries if it reads "u64:NAME", and prints one JSON line
/// with the growth. Returns the exit code.
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

/// Growth without pauses: a writer thread inserts u64 -> u64 entries into
/// a public table from 1 K to `entries` while a reader thread looks up keys
/// already in it, every read timed; then the same reader on a table
/// pre-filled to `entries` by one batch insert, not growing, about as long.
/// p50/p99/p99.9/max of both, the growth's time and their p99.9 ratio;
/// `note` says why the size is what it is. Threads pinned (cores 0 and 1)
/// if `pin`. Values read go to `sink`.
placeholder measure_growth(caf::actor_system& sys, std::size_t entries,
                           bool pin, const std::string& note,
                           std::uint64_t& sink);

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

/// What the query rows run on, cachet and the BEAM alike.
struct query_plan {
  std::string script; ///< query.exs
  /// The set's keys: entry i is keys[i] -> {i, expires_at(i)}.
  std::vector<std::uint64_t> keys;
  std::size_t bag_keys = 0;      ///< keys[0, bag_keys) hold 4 objects each
  std::vector<op_code> bag_ops;  ///< bag lookups: key indexes, cyclic
  std::int64_t now = 0;          ///< the clock expiry is checked against
  std::size_t repeats = 3;
  double seconds = 0.1;          ///< per bag lookup run
  double warmup = 0.025;
};

/// Runs query.exs on `plan`'s keys; appends its rows (JSON, as cachet's)
/// to `rows`. Returns false (and says why in `missing`) if it could not run.
bool run_beam_query(const query_plan& plan, std::vector<nlohmann::json>& rows,
                    nlohmann::json& machine, std::vector<std::string>& missing);

/// The query rows: select, select_count and select_delete over
/// `cfg.query_entries` entries and bag lookups, each on one thread, beside
/// the BEAM's on one process unless --no-beam; medians of `cfg.repeats`.
/// Returns them as JSON (report::query), ratios included.
nlohmann::json run_query_bench(caf::actor_system& sys, const bench_config& cfg,
                               const timing& times,
                               std::vector<std::string>& missing,
                               nlohmann::json& machine);

/// Appends the select family's target computed from `r.query`.
void add_query_targets(report& r);

/// Child side of the remote rows: node `name` joining `seed`, with the
/// table and the shard the bench calls; prints "port N", serves until
/// stdin closes. Returns the exit code.
int remote_node(caf::actor_system& sys, const std::string& name,
                const std::string& seed);

/// The remote rows (remote.cpp): calls to an owner on another node beside
/// the local message path and direct reads, the partitioned cache over
/// three nodes, and the BEAM's distribution unless --no-beam. Returns them
/// as JSON (report::remote).
nlohmann::json run_remote_bench(caf::actor_system& sys, const bench_config& cfg,
                                const timing& times,
                                std::vector<std::string>& missing,
                                nlohmann::json& machine);

/// Appends the remote targets computed from `r.remote`.
void add_remote_targets(report& r);

} // namespace cachet_bench
