// cachet-bench: cachet's message and direct paths, the C++ peers and the
// BEAM, side by side in one run on the same keys and op streams; prints a
// table and the targets' verdicts, and writes JSON and a plot on request.
//
// Usage: cachet-bench [--quick] [--threads=1,2] [--keys=1000,1000000]
//          [--mix=100,95,50] [--dist=uniform,zipf] [--seconds=1]
//          [--json=FILE] [--plot=FILE.png] [--beam | --no-beam]
//          [--no-query | --query-only] [--no-remote | --remote-only]
//          [--no-growth | --growth-only] [--help]
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>

#include <fmt/core.h>

#include <cachet/cachet.hpp>
#include <cachet/dist/node.hpp>
#include <cachet/dist/partitioned_cache.hpp>

#include <caf/all.hpp>

#include "cache.hpp"
#include "options.hpp"
#include "report.hpp"
#include "structures.hpp"
#include "tasks.hpp"

#ifdef CACHET_BENCH_HAVE_TBB
#  include <tbb/version.h>
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
#  include <cds/version.h>
#endif
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
#  include <boost/version.hpp>
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
#  include <absl/base/config.h>
#endif

namespace cachet_bench {

namespace {

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos)
        return line.substr(line.find_first_not_of(' ', pos + 1));
    }
  return "unknown";
}

nlohmann::json machine_info(caf::actor_system& sys) {
  nlohmann::json m;
  m["cores"] = std::thread::hardware_concurrency();
  m["model"] = cpu_model();
#if defined(__clang__)
  m["compiler"] = std::string{"clang++ "} + __clang_version__;
#elif defined(__GNUC__)
  m["compiler"] = std::string{"g++ "} + __VERSION__;
#else
  m["compiler"] = "unknown";
#endif
  utsname u;
  if (uname(&u) == 0)
    m["kernel"] = std::string{u.sysname} + " " + u.release;
  m["build_type"] = CACHET_BENCH_BUILD_TYPE;
  m["caf_version"] = fmt::format("{}.{}.{}", CAF_MAJOR_VERSION,
                                 CAF_MINOR_VERSION, CAF_PATCH_VERSION);
  m["caf_scheduler_workers"] = sys.scheduler().num_workers();
#ifdef CACHET_BENCH_HAVE_TBB
  m["tbb"] = TBB_VERSION_STRING;
#else
  m["tbb"] = nullptr;
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
  m["libcuckoo"] = "found";
#else
  m["libcuckoo"] = nullptr;
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
  m["libcds"] = CDS_VERSION_STRING;
#else
  m["libcds"] = nullptr;
#endif
#ifdef CACHET_BENCH_HAVE_XENIUM
  m["xenium"] = "found";
#else
  m["xenium"] = nullptr;
#endif
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
  m["boost"] = fmt::format("{}.{}.{}", BOOST_VERSION / 100000,
                           BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
#else
  m["boost"] = nullptr;
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
  m["abseil"] = ABSL_LTS_RELEASE_VERSION;
#else
  m["abseil"] = nullptr;
#endif
  auto now = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m["date"] = buf;
  return m;
}

/// The Debian package a path was built without, or nullptr if it is in.
const char* missing_package(path_id p) {
  switch (p) {
#ifndef CACHET_BENCH_HAVE_TBB
    case path_id::peer_tbb:
    case path_id::peer_tbb_unordered: return "libtbb-dev (TBB)";
#endif
#ifndef CACHET_BENCH_HAVE_LIBCUCKOO
    case path_id::peer_libcuckoo: return "libcuckoo-dev";
#endif
#ifndef CACHET_BENCH_HAVE_LIBCDS
    case path_id::peer_cds_feldman:
    case path_id::peer_cds_splitlist: return "libcds-dev";
#endif
#ifndef CACHET_BENCH_HAVE_XENIUM
    case path_id::peer_xenium_vyukov:
    case path_id::peer_xenium_harris_michael: return "libxenium-dev";
#endif
#ifndef CACHET_BENCH_HAVE_BOOST_FLAT
    case path_id::ceiling_boost_flat: return "libboost1.81-dev (Boost 1.81)";
#endif
#ifndef CACHET_BENCH_HAVE_ABSL
    case path_id::ceiling_absl_flat: return "libabsl-dev (abseil)";
#endif
    default: return nullptr;
  }
}

/// Runs the matrix, the sweep, the BEAM and the memory probes.
class runner {
public:
  runner(bench_config& cfg, caf::actor_system& sys, report& rep)
    : cfg_(cfg), sys_(sys), rep_(rep), start_(clock_type::now()) {
    auto warm = std::clamp(cfg.seconds / 4, 0.02, 0.5);
    timing_ = {warm, cfg.seconds, !cfg.no_pin};
    std::set<std::string> only(cfg.paths.begin(), cfg.paths.end());
    for (auto p : all_paths) {
      if (!only.empty() && only.count(std::string{to_string(p)}) == 0)
        continue;
      if (auto* pkg = missing_package(p)) {
        rep_.missing.push_back(fmt::format("{}: {} not found at build time",
                                           to_string(p), pkg));
        continue;
      }
      selected_.push_back(p);
    }
    sweep_vt_ = std::find(cfg.values.begin(), cfg.values.end(), "u64")
                    != cfg.values.end()
                  ? "u64"
                  : cfg.values.front();
    sweep_keys_ = *std::min_element(cfg.keys.begin(), cfg.keys.end());
    sweep_dist_ = cfg.dist.front();
    for (auto c : cfg.callers)
      if (!has_mix(100)
          || std::find(cfg.threads.begin(), cfg.threads.end(), c)
               == cfg.threads.end())
        sweep_callers_.push_back(c);
    cells_total_ = cfg.values.size() * cfg.keys.size() * cfg.dist.size()
                     * cfg.mix.size() * cfg.threads.size()
                   + sweep_callers_.size();
  }

  const timing& times() const {
    return timing_;
  }

  const std::vector<std::size_t>& sweep_callers() const {
    return sweep_callers_;
  }

  nlohmann::json sweep_cell() const {
    return {{"value_type", sweep_vt_},
            {"keys", sweep_keys_},
            {"dist", sweep_dist_},
            {"mix", 100}};
  }

  bool wants(path_id p) const {
    return std::find(selected_.begin(), selected_.end(), p) != selected_.end();
  }

  void run_matrix() {
    for (auto& vt : cfg_.values)
      for (auto n : cfg_.keys) {
        if (vt == "u64")
          run_block<u64_types>(n);
        else
          run_block<str_types>(n);
      }
  }

  void run_beam_side() {
    bool wanted = wants(path_id::beam_genserver_call)
                  || wants(path_id::beam_ets_lookup);
    if (!wanted)
      return;
    if (cfg_.no_beam) {
      rep_.missing.push_back("beam_genserver_call, beam_ets_lookup: skipped "
                             "(--no-beam)");
      return;
    }
    beam_plan plan;
    plan.script = cfg_.beam_script.empty()
                    ? std::string{CACHET_BENCH_SOURCE_DIR} + "/beam/bench.exs"
                    : cfg_.beam_script;
    plan.keys = std::find(cfg_.keys.begin(), cfg_.keys.end(), 1000)
                    != cfg_.keys.end()
                  ? 1000
                  : sweep_keys_;
    plan.raw_keys = keys_of(plan.keys);
    plan.threads = cfg_.threads;
    if (wants(path_id::beam_genserver_call))
      plan.callers = sweep_callers_;
    plan.mix = cfg_.mix;
    plan.dist = cfg_.dist;
    plan.sweep_dist = sweep_dist_;
    plan.seconds = timing_.seconds;
    plan.warmup = timing_.warmup;
    plan.repeats = cfg_.repeats;
    plan.memory_entries = cfg_.no_memory ? 0 : cfg_.memory_entries;
    if (run_beam(plan, streams_, rep_.rows, rep_.memory, rep_.machine,
                 rep_.missing))
      rep_.beam_keys = plan.keys;
  }

  void run_memory() {
    if (cfg_.no_memory)
      return;
    auto rows = measure_memory(cfg_.memory_entries, rep_.missing);
    // cachet first, then the peers, then the BEAM (already measured).
    rows.insert(rows.end(), rep_.memory.begin(), rep_.memory.end());
    rep_.memory = std::move(rows);
  }

  std::uint64_t sink() const {
    return sink_;
  }

private:
  bool has_mix(std::size_t m) const {
    return std::find(cfg_.mix.begin(), cfg_.mix.end(), m) != cfg_.mix.end();
  }

  const std::vector<std::uint64_t>& keys_of(std::size_t n) {
    auto& k = keys_[n];
    if (k.empty())
      k = make_keys(n);
    return k;
  }

  double elapsed() const {
    return std::chrono::duration<double>(clock_type::now() - start_).count();
  }

  template <class Types>
  void run_block(std::size_t n) {
    const auto& raw = keys_of(n);
    auto t0 = clock_type::now();
    block<Types> b{sys_, raw, [this](path_id p) { return wants(p); },
                   [&](const char* what) {
                     fmt::print(stderr, "[{:6.1f} s] filling {} {} keys: {}\n",
                                elapsed(), Types::name, n, what);
                   }};
    using timeout = typename block<Types>::actor_timeout;
    if (cfg_.no_timeout)
      b.set_actor_timeout(timeout::none);
    else if (cfg_.caf_timeout)
      b.set_actor_timeout(timeout::caf);
    fmt::print(stderr, "[{:6.1f} s] {} {} keys: filled in {:.1f} s\n",
               elapsed(), Types::name, n,
               std::chrono::duration<double>(clock_type::now() - t0).count());
    for (auto& d : cfg_.dist)
      for (auto m : cfg_.mix)
        for (auto t : cfg_.threads) {
          std::vector<path_id> ps;
          for (auto p : selected_)
            if (!is_beam(p) && supports(p, static_cast<int>(m), t))
              ps.push_back(p);
          run_cell(b, Types::name, n, d, static_cast<int>(m), t, "matrix", ps);
        }
    if (Types::name == sweep_vt_ && n == sweep_keys_) {
      std::vector<path_id> ps;
      for (auto p : {path_id::direct_protected, path_id::message_actor,
                     path_id::message_thread})
        if (wants(p))
          ps.push_back(p);
      for (auto c : sweep_callers_)
        run_cell(b, Types::name, n, sweep_dist_, 100, c, "sweep", ps);
    }
  }

  template <class Block>
  void run_cell(Block& b, const std::string& vt, std::size_t n,
                const std::string& dist, int mix, std::size_t threads,
                const char* series, const std::vector<path_id>& ps) {
    ++cells_done_;
    if (ps.empty())
      return;
    std::vector<const std::vector<op_code>*> st;
    for (std::size_t t = 0; t < threads; ++t)
      st.push_back(&streams_.get(n, dist, mix, t));
    struct acc {
      std::vector<double> runs;
      std::uint64_t errors = 0;
      std::vector<float> lat;
    };
    std::vector<acc> accs(ps.size());
    // Repeats interleave the paths, each repeat starting one path later, so
    // that a burst of noise does not land on one path's runs only.
    for (std::size_t rep = 0; rep < cfg_.repeats; ++rep)
      for (std::size_t j = 0; j < ps.size(); ++j) {
        auto k = (j + rep) % ps.size();
        auto res = b.run(ps[k], st, timing_);
        double total = 0;
        for (auto& w : res) {
          if (w.measured)
            total += w.ops_per_sec;
          else
            ++accs[k].errors;
          accs[k].errors += w.errors;
          sink_ += w.sink;
          accs[k].lat.insert(accs[k].lat.end(), w.latency_us.begin(),
                             w.latency_us.end());
        }
        accs[k].runs.push_back(total);
      }
    std::string line;
    for (std::size_t k = 0; k < ps.size(); ++k) {
      result_row row;
      row.path = ps[k];
      row.threads = threads;
      row.keys = n;
      row.mix = mix;
      row.dist = dist;
      row.value_type = vt;
      row.runs = accs[k].runs;
      row.ops_per_sec = median(accs[k].runs);
      row.series = series;
      row.errors = accs[k].errors;
      if (ps[k] == path_id::direct_protected)
        row.table = "protected";
      else if (ps[k] == path_id::direct_public)
        row.table = "public";
      else if (is_message(ps[k]))
        row.table = "protected";
      if (is_message(ps[k])) {
        auto& l = accs[k].lat;
        std::sort(l.begin(), l.end());
        row.lat = latency{percentile(l, 0.5), percentile(l, 0.99),
                          percentile(l, 0.999), l.size()};
      }
      if (row.errors > 0)
        fmt::print(stderr, "warning: {} had {} failed operations\n",
                   to_string(ps[k]), row.errors);
      line += fmt::format(" {}={:.3g}", to_string(ps[k]),
                          row.ops_per_sec / 1e6);
      rep_.rows.push_back(std::move(row));
    }
    fmt::print(stderr, "[{:6.1f} s] cell {}/{} {} {} keys {} {}% {} thr{} "
                       "(M ops/s):{}\n",
               elapsed(), cells_done_, cells_total_, vt, n, dist, mix, threads,
               std::string{series} == "sweep" ? " (sweep)" : "", line);
  }

  bench_config& cfg_;
  caf::actor_system& sys_;
  report& rep_;
  clock_type::time_point start_;
  timing timing_;
  std::vector<path_id> selected_;
  stream_cache streams_;
  std::map<std::size_t, std::vector<std::uint64_t>> keys_;
  std::string sweep_vt_;
  std::size_t sweep_keys_ = 1000;
  std::string sweep_dist_;
  std::vector<std::size_t> sweep_callers_;
  std::size_t cells_total_ = 0;
  std::size_t cells_done_ = 0;
  std::uint64_t sink_ = 0;
};

/// Empty if the options make sense, else what is wrong.
std::string check(const bench_config& cfg) {
  auto bad_list = [](auto& xs) { return xs.empty(); };
  if (bad_list(cfg.threads) || bad_list(cfg.keys) || bad_list(cfg.mix)
      || bad_list(cfg.dist) || bad_list(cfg.values))
    return "--threads, --keys, --mix, --dist and --values need at least one "
           "value";
  for (auto t : cfg.threads)
    if (t == 0 || t > 256)
      return "--threads: 1 to 256";
  for (auto t : cfg.callers)
    if (t == 0 || t > 256)
      return "--callers: 1 to 256";
  for (auto n : cfg.keys)
    if (n == 0 || n >= (std::size_t{1} << 31))
      return "--keys: 1 to 2^31 - 1";
  for (auto m : cfg.mix)
    if (m > 100)
      return "--mix: percent reads, 0 to 100";
  for (auto& d : cfg.dist)
    if (d != "uniform" && d != "zipf")
      return "--dist: uniform or zipf, not " + d;
  for (auto& v : cfg.values)
    if (v != "u64" && v != "str")
      return "--values: u64 or str, not " + v;
  for (auto& p : cfg.paths)
    if (!path_from_string(p))
      return "--paths: unknown path " + p;
  if (!(cfg.seconds > 0))
    return "--seconds must be positive";
  if (cfg.repeats == 0)
    return "--repeats must be at least 1";
  if (cfg.memory_entries == 0)
    return "--memory-entries must be at least 1";
  if (cfg.query_entries < 100 || cfg.query_entries >= (std::size_t{1} << 31))
    return "--query-entries: 100 to 2^31 - 1";
  if (cfg.no_query && cfg.query_only)
    return "--no-query and --query-only contradict each other";
  if (cfg.no_remote && cfg.remote_only)
    return "--no-remote and --remote-only contradict each other";
  if (cfg.query_only + cfg.remote_only + cfg.growth_only > 1)
    return "--query-only, --remote-only and --growth-only contradict each "
           "other";
  if (cfg.no_growth && cfg.growth_only)
    return "--no-growth and --growth-only contradict each other";
  if (cfg.growth_entries <= 1000
      || cfg.growth_entries >= (std::size_t{1} << 34))
    return "--growth-entries: 1001 to 2^34 - 1";
  if (cfg.beam && cfg.no_beam)
    return "--beam and --no-beam contradict each other";
  if (cfg.no_timeout && cfg.caf_timeout)
    return "--no-timeout and --caf-timeout contradict each other";
  return {};
}

int run(int argc, char** argv) {
  bench_config cfg;
  // A node for the remote rows: the middleman, and the table's types.
  cachet::dist::configure(cfg);
  cachet::dist::add_partition_types<std::uint64_t, std::uint64_t>(cfg);
  if (auto err = cfg.parse(argc, argv)) {
    fmt::print(stderr, "cachet-bench: {} (try --help)\n", caf::to_string(err));
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  cfg.apply_quick(argc, argv);
  cfg.keep_caf_args(argc, argv);
  if (auto what = check(cfg); !what.empty()) {
    fmt::print(stderr, "cachet-bench: {}\n", what);
    return 2;
  }
#ifdef CACHET_BENCH_HAVE_LIBCDS
  cds_runtime cds_rt; // before the first libcds map, after the last
#endif
  caf::actor_system sys{cfg};
  if (!cfg.memory_probe.empty())
    return memory_probe(sys, cfg.memory_probe, cfg.memory_entries);
  if (!cfg.remote_node.empty())
    return remote_node(sys, cfg.remote_node, cfg.remote_seed);
  if (cfg.beam && find_elixir().empty()) {
    fmt::print(stderr, "cachet-bench: --beam needs elixir (Debian package "
                       "elixir; make bench-deps)\n");
    return 2;
  }
  auto start = clock_type::now();
  std::uint64_t growth_sink = 0;
  report rep;
  rep.machine = machine_info(sys);
  runner run{cfg, sys, rep};
  std::string command;
  for (int i = 0; i < argc; ++i)
    command += (i ? " " : "") + std::string{argv[i]};
  rep.settings = {{"command", command},
                  {"threads", cfg.threads},
                  {"keys", cfg.keys},
                  {"mix", cfg.mix},
                  {"dist", cfg.dist},
                  {"value_types", cfg.values},
                  {"callers", cfg.callers},
                  {"seconds", cfg.seconds},
                  {"warmup_seconds", run.times().warmup},
                  {"repeats", cfg.repeats},
                  {"quick", cfg.quick},
                  {"pinned", run.times().pin},
                  {"stream_ops", stream_len},
                  {"zipf_theta", 0.99},
                  {"call_timeout_seconds", 5},
                  {"actor_request_timeout",
                   cfg.no_timeout    ? "infinite"
                   : cfg.caf_timeout ? "5s (CAF request timeout)"
                                     : "5s (cachet::request_timer)"},
                  {"memory_entries", cfg.memory_entries},
                  {"restart_crashes", cfg.crashes},
                  {"query_entries", cfg.query_entries},
                  {"growth_entries", cfg.growth_entries},
                  {"sweep_cell", run.sweep_cell()}};
  // --query-only, --remote-only, --growth-only: those rows alone, each
  // other part said to be skipped.
  const char* skipped = cfg.query_only    ? "skipped (--query-only)"
                        : cfg.remote_only ? "skipped (--remote-only)"
                        : cfg.growth_only ? "skipped (--growth-only)"
                                          : nullptr;
  if (!skipped) {
    run.run_matrix();
    run.run_beam_side();
    run.run_memory();
  }
  if (!cfg.no_growth && (!skipped || cfg.growth_only)) {
    fmt::print(stderr, "growth: a u64 table from 1000 to {} entries, one "
                       "writer, one reader\n",
               cfg.growth_entries);
    auto note = cfg.quick ? fmt::format("--quick grows to {} entries; the "
                                        "default is 16000000",
                                        cfg.growth_entries)
                          : std::string{};
    rep.growth = measure_growth(sys, cfg.growth_entries, run.times().pin,
                                note, growth_sink);
  } else {
    rep.growth = {"growth", "not_measured",
                  skipped ? skipped : "skipped (--no-growth)", {}};
  }
  for (auto* which : {"fresh", "heir"}) {
    if (cfg.crashes == 0 || skipped) {
      rep.restart.push_back({which, "not_measured",
                             skipped ? skipped : "skipped (--crashes=0)",
                             {{"p50_us", nullptr}, {"p99_us", nullptr}}});
      continue;
    }
    fmt::print(stderr, "restart latency ({}, {} kills)\n", which, cfg.crashes);
    rep.restart.push_back(measure_restart(sys, which, cfg.crashes));
  }
  if (!cfg.no_memory && !skipped)
    rep.reload = measure_reload(sys, cfg.memory_entries,
                                cfg.quick ? 1 : std::min<std::size_t>(
                                  cfg.repeats, 3),
                                std::min(cfg.seconds, 0.2),
                                cfg.quick ? 3.0 : 30.0);
  else
    rep.reload = {"reload", "not_measured",
                  skipped ? skipped : "skipped (--no-memory)",
                  {{"reload_entries_per_sec", nullptr}}};
  if (!cfg.no_cache && !skipped)
    rep.cache = run_cache_bench(sys, cfg);
  if (!cfg.no_query && !cfg.remote_only && !cfg.growth_only)
    rep.query = run_query_bench(sys, cfg, run.times(), rep.missing,
                                rep.machine);
  else
    rep.query = {{"status", "not_measured"},
                 {"reason", cfg.no_query ? "skipped (--no-query)"
                                         : std::string{skipped}}};
  if (!cfg.no_remote && !cfg.query_only && !cfg.growth_only)
    rep.remote = run_remote_bench(sys, cfg, run.times(), rep.missing,
                                  rep.machine);
  else
    rep.remote = {{"status", "not_measured"},
                  {"reason", cfg.no_remote ? "skipped (--no-remote)"
                                           : std::string{skipped}}};
  if (!skipped) {
    evaluate_targets(rep);
    add_cache_targets(rep);
  } else if (cfg.growth_only) {
    add_growth_target(rep);
  }
  if (!cfg.remote_only && !cfg.growth_only)
    add_query_targets(rep);
  if (!cfg.query_only && !cfg.growth_only)
    add_remote_targets(rep);
  rep.runtime_seconds
    = std::chrono::duration<double>(clock_type::now() - start).count();
  print_report(rep);
  int rc = 0;
  if (!cfg.json.empty()) {
    std::ofstream out{cfg.json};
    out << to_json(rep).dump(2) << '\n';
    if (!out) {
      fmt::print(stderr, "cachet-bench: cannot write {}\n", cfg.json);
      rc = 1;
    } else {
      fmt::print("wrote {}\n", cfg.json);
    }
  }
  if (!cfg.plot.empty()) {
    if (write_plot(rep, cfg.plot)) {
      fmt::print("wrote {}\n", cfg.plot);
    } else {
      fmt::print(stderr, "cachet-bench: no plot (is gnuplot installed? make "
                         "bench-deps)\n");
    }
  }
  // Every value read went into the sink; using it keeps the reads alive.
  if (run.sink() + growth_sink == 42)
    fmt::print(stderr, "(sink)\n");
  return rc;
}

} // namespace

} // namespace cachet_bench

int main(int argc, char** argv) {
  try {
    return cachet_bench::run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cachet-bench: {}\n", e.what());
    return 1;
  }
}
