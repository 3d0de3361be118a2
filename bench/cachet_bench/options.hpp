// cachet-bench's command line, in CAF's config style: the options are those
// of a caf::actor_system_config, so CAF's own (--scheduler.max-threads=...)
// work too, and --help lists them all.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

namespace cachet_bench {

class bench_config : public caf::actor_system_config {
public:
  std::vector<std::size_t> threads{1, 2};
  std::vector<std::size_t> keys{1000, 1000000};
  std::vector<std::size_t> mix{100, 95, 50};
  std::vector<std::string> dist{"uniform", "zipf"};
  std::vector<std::string> values{"u64", "str"};
  std::vector<std::size_t> callers{1, 2, 4, 8, 16};
  std::vector<std::string> paths;
  double seconds = 0.5;
  std::size_t repeats = 3;
  std::size_t memory_entries = 1000000;
  std::size_t crashes = 1000;
  std::size_t query_entries = 1000000;
  std::size_t growth_entries = 16000000;
  std::string json;
  std::string plot;
  bool quick = false;
  bool beam = false;
  bool no_beam = false;
  bool no_pin = false;
  bool no_memory = false;
  bool no_timeout = false;
  bool caf_timeout = false;
  bool no_cache = false;
  bool no_query = false;
  bool query_only = false;
  bool no_remote = false;
  bool remote_only = false;
  bool no_growth = false;
  bool growth_only = false;
  std::string beam_script;
  std::string memory_probe;
  std::string remote_node;
  std::string remote_seed;
  /// CAF's own options given on the command line (--scheduler.*,
  /// --middleman.*), passed on to the child nodes of the remote rows.
  std::vector<std::string> caf_args;

  bench_config() {
    opt_group{custom_options_, "global"}
      .add(threads, "threads", "thread counts of the matrix, e.g. 1,2")
      .add(keys, "keys", "key counts, e.g. 1000,1000000")
      .add(mix, "mix", "percent reads, e.g. 100,95,50")
      .add(dist, "dist", "key distributions: uniform, zipf (Zipf 0.99)")
      .add(values, "values",
           "value types: u64 (u64 -> u64), str (16 B -> 100 B strings)")
      .add(callers, "callers",
           "callers for the message-path latency sweep, e.g. 1,2,4,8,16")
      .add(paths, "paths", "only these paths (default: all available)")
      .add(seconds, "seconds", "measured seconds per run (default 0.5)")
      .add(repeats, "repeats", "runs per cell; the median is reported")
      .add(memory_entries, "memory-entries",
           "entries for the memory measurement (default 1000000)")
      .add(crashes, "crashes",
           "owner kills per table policy for the restart latency (default "
           "1000; 0 skips it)")
      .add(json, "json", "write the results as JSON to this file")
      .add(plot, "plot", "write a throughput plot (PNG, gnuplot) to this file")
      .add(quick, "quick",
           "short settings: 0.1 s x 3 runs, uniform, 100/95 % reads, "
           "growth to 1M entries")
      .add(beam, "beam", "run the BEAM workloads (bench/beam/bench.exs); "
                         "default: when elixir is installed")
      .add(no_beam, "no-beam", "skip the BEAM workloads")
      .add(no_pin, "no-pin", "do not pin direct-path threads to cores")
      .add(no_timeout, "no-timeout",
           "message_actor: requests without a timeout (default: 5 s, kept "
           "by a cachet::request_timer per client)")
      .add(caf_timeout, "caf-timeout",
           "message_actor: 5 s timeouts from CAF's request(dest, 5s, ...), "
           "one actor-clock event per request")
      .add(no_cache, "no-cache",
           "skip the cache section (hit ratios, fetch, snapshot reads)")
      .add(no_memory, "no-memory", "skip the memory and dump/reload measurements")
      .add(query_entries, "query-entries",
           "entries of the query rows' set (default 1000000; their bag "
           "holds as many objects, 4 per key)")
      .add(no_query, "no-query",
           "skip the query rows (select family, bag lookups)")
      .add(query_only, "query-only",
           "run only the query rows, cachet's and the BEAM's")
      .add(no_remote, "no-remote",
           "skip the remote rows (calls between nodes, partitioned cache, "
           "BEAM distribution)")
      .add(remote_only, "remote-only",
           "run only the remote rows, cachet's and the BEAM's")
      .add(growth_entries, "growth-entries",
           "entries the growth measurement grows a u64 table to, from 1000 "
           "(default 16000000; --quick 1000000)")
      .add(no_growth, "no-growth",
           "skip the growth measurement (reads while a table grows)")
      .add(growth_only, "growth-only", "run only the growth measurement")
      .add(beam_script, "beam-script",
           "path of bench.exs, query.exs beside it (default: source tree)")
      .add(memory_probe, "memory-probe",
           "internal: measure one structure's memory in this process")
      .add(remote_node, "remote-node",
           "internal: serve the remote rows as this node")
      .add(remote_seed, "remote-seed",
           "internal: the node --remote-node joins (host:port)");
  }

  /// Keeps CAF's scheduler and middleman options for the child nodes.
  void keep_caf_args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
      if (std::strncmp(argv[i], "--scheduler.", 12) == 0
          || std::strncmp(argv[i], "--middleman.", 12) == 0
          || std::strncmp(argv[i], "--work-stealing.", 16) == 0)
        caf_args.emplace_back(argv[i]);
  }

  /// Applies --quick's settings to every option not given explicitly.
  void apply_quick(int argc, char** argv) {
    if (!quick)
      return;
    auto given = [&](const char* name) {
      auto len = std::strlen(name);
      for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--", 2) == 0
            && std::strncmp(argv[i] + 2, name, len) == 0
            && (argv[i][2 + len] == '=' || argv[i][2 + len] == '\0'))
          return true;
      return false;
    };
    if (!given("seconds"))
      seconds = 0.1;
    if (!given("mix"))
      mix = {100, 95};
    if (!given("dist"))
      dist = {"uniform"};
    if (!given("crashes"))
      crashes = 300;
    if (!given("growth-entries"))
      growth_entries = 1000000;
  }
};

} // namespace cachet_bench
