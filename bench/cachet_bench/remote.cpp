// The remote rows: a call to an owner on another node over loopback (CAF's
// middleman and BASP), beside the local message path and a direct read; the
// partitioned cache over three nodes; and the BEAM's own distribution (two
// elixir nodes, beam/remote.exs) in the same run. The other cachet nodes
// are this binary in child processes (--remote-node), each holding the same
// table and a shard; the BEAM's nodes register with an epmd this bench
// starts on 127.0.0.1. Every process started here is stopped by its PID.
//
// Keys are 0..999 (u64 -> u64, value = key) on every side; each caller
// replays its own cyclic sequence of random keys.
#include "tasks.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/core.h>

#include <cachet/cachet.hpp>
#include <cachet/dist/node.hpp>
#include <cachet/dist/partitioned_cache.hpp>
#include <cachet/dist/remote.hpp>

#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "child_process.hpp"

namespace cachet_bench {

namespace {

using u64 = std::uint64_t;
using owner_type = cachet::owner_actor<u64, u64>;
using cachet_support::child_process;
using namespace std::chrono_literals;

constexpr const char* table_name = "remote_bench";
constexpr const char* cache_name = "remote_links";
constexpr std::size_t key_count = 1000;
constexpr std::size_t pipeline_window = 64;
constexpr std::size_t batch_keys = 100;
constexpr auto call_timeout = 5s;
/// How long a child node or a BEAM node may take to come up.
constexpr auto start_timeout = 20s;

/// Lookups of every key, spread as a caller's random sequence.
std::vector<u64> key_sequence(const std::vector<u64>& keys, u64 seed) {
  std::vector<u64> seq(65536);
  rng r{seed};
  for (auto& k : seq)
    k = keys[r.below(keys.size())];
  return seq;
}

/// One caller's loop: `op(key, sink)` for each key of `keys` from `offset`,
/// cyclic, a batch between looks at the phase; if `Sample`, every
/// latency_sample-th call is timed. `op` returns false on an error.
template <bool Sample, class Op>
void call_loop(const std::atomic<int>& phase, const std::vector<u64>& keys,
               std::size_t offset, worker_result& out, Op& op) {
  // Slow calls (a round trip over the network) look at the phase each time.
  constexpr std::size_t batch = Sample ? 1 : 16;
  window w{phase};
  std::uint64_t done = 0;
  std::uint64_t sink = 0;
  std::size_t pos = offset % keys.size();
  while (w.tick(done, out)) {
    for (std::size_t i = 0; i < batch; ++i) {
      auto k = keys[pos];
      pos = pos + 1 == keys.size() ? 0 : pos + 1;
      bool ok;
      if (Sample && timed_call(done + i) && w.measuring()) {
        auto t0 = clock_type::now();
        ok = op(k, sink);
        out.latency_us.push_back(std::chrono::duration<float, std::micro>(
                                   clock_type::now() - t0)
                                   .count());
      } else {
        ok = op(k, sink);
      }
      out.errors += ok ? 0 : 1;
    }
    done += batch;
  }
  out.sink = sink;
}

/// One row's setting and how to run it once.
struct bench_case {
  nlohmann::json meta; ///< path, what, callers
  std::function<std::vector<worker_result>()> run_once;
};

/// A case whose `callers` threads each make their op with `make_op()` (a
/// blocking_caller per thread, say) and run call_loop over `keys`.
template <bool Sample, class MakeOp>
bench_case threads_case(const char* path, const char* what,
                        std::size_t callers, const timing& t,
                        const std::vector<u64>& keys, MakeOp make_op) {
  return {{{"path", path}, {"what", what}, {"callers", callers}},
          [=, &keys] {
            return run_threads(callers, t, [&](std::size_t i,
                                               const std::atomic<int>& phase,
                                               worker_result& out) {
              auto op = make_op();
              call_loop<Sample>(phase, keys, i * 7919, out, op);
            });
          }};
}

/// What a pipelining actor shares with the thread that times it.
struct pipeline_run {
  std::atomic<int> phase{run_phase::warming};
  worker_result out;
  std::promise<void> done;
};

struct pipeline_state {
  cachet::request_timer timer;
  std::size_t pos = 0;
  std::uint64_t answered = 0;
  std::size_t in_flight = 0;
  bool stopping = false;
  std::optional<window> w;
  static inline const char* name = "cachet-bench.pipeline";
};

using pipeline_actor = caf::stateful_actor<pipeline_state>;

/// Keeps `pipeline_window` lookups in flight to `dest` until the phase says
/// stop, then waits for the last answers and quits.
void pipeline(pipeline_actor* self, owner_type dest,
              std::shared_ptr<const std::vector<u64>> keys,
              std::shared_ptr<pipeline_run> run) {
  auto& st = self->state;
  st.w.emplace(run->phase);
  auto next = std::make_shared<std::function<void()>>();
  *next = [self, dest, keys, run, next] {
    auto& st = self->state;
    if (!st.stopping && !st.w->tick(st.answered, run->out))
      st.stopping = true;
    if (st.stopping) {
      if (st.in_flight == 0) {
        run->done.set_value();
        self->quit();
      }
      return;
    }
    auto k = (*keys)[st.pos];
    st.pos = st.pos + 1 == keys->size() ? 0 : st.pos + 1;
    ++st.in_flight;
    st.timer.request(self, dest, call_timeout, cachet::lookup_atom_v, k)
      .then(
        [self, run, next](std::optional<u64>& v) {
          --self->state.in_flight;
          ++self->state.answered;
          run->out.sink += v ? *v : 0;
          (*next)();
        },
        [self, run, next](caf::error&) {
          --self->state.in_flight;
          ++run->out.errors;
          (*next)();
        });
  };
  for (std::size_t i = 0; i < pipeline_window; ++i)
    (*next)();
}

bench_case pipeline_case(caf::actor_system& sys, const char* path,
                         const char* what, owner_type dest, const timing& t,
                         const std::vector<u64>& keys) {
  auto shared = std::make_shared<const std::vector<u64>>(keys);
  return {{{"path", path},
           {"what", what},
           {"callers", 1},
           {"in_flight", pipeline_window}},
          [&sys, dest, shared, t] {
            auto run = std::make_shared<pipeline_run>();
            auto done = run->done.get_future();
            sys.spawn(pipeline, dest, shared, run);
            drive(run->phase, t);
            if (done.wait_for(call_timeout * 2) != std::future_status::ready)
              ++run->out.errors;
            return std::vector<worker_result>{run->out};
          }};
}

/// Runs every case `repeats` times, interleaved (each repeat starts one
/// case later, so that a burst of noise does not land on one case only),
/// and returns one row per case: medians, latency percentiles, errors.
std::vector<nlohmann::json> run_cases(std::vector<bench_case>& cases,
                                      std::size_t repeats) {
  struct acc {
    std::vector<double> runs;
    std::vector<float> lat;
    std::uint64_t errors = 0;
  };
  std::vector<acc> accs(cases.size());
  for (std::size_t rep = 0; rep < repeats; ++rep)
    for (std::size_t j = 0; j < cases.size(); ++j) {
      auto k = (j + rep) % cases.size();
      double total = 0;
      for (auto& w : cases[k].run_once()) {
        if (w.measured)
          total += w.ops_per_sec;
        else
          ++accs[k].errors;
        accs[k].errors += w.errors;
        accs[k].lat.insert(accs[k].lat.end(), w.latency_us.begin(),
                           w.latency_us.end());
      }
      accs[k].runs.push_back(total);
    }
  std::vector<nlohmann::json> rows;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    auto row = cases[k].meta;
    auto& a = accs[k];
    row["calls_per_sec"] = median(a.runs);
    row["runs"] = a.runs;
    row["errors"] = a.errors;
    if (!a.lat.empty()) {
      std::sort(a.lat.begin(), a.lat.end());
      row["p50_us"] = percentile(a.lat, 0.5);
      row["p99_us"] = percentile(a.lat, 0.99);
      row["samples"] = a.lat.size();
    }
    fmt::print(stderr, "remote: {} x{}: {:.4g} calls/s{}\n",
               row.value("path", ""), row.value("callers", 0),
               median(a.runs),
               a.lat.empty() ? std::string{}
                             : fmt::format(", p50 {:.1f} us, p99 {:.1f} us",
                                           row.value("p50_us", 0.0),
                                           row.value("p99_us", 0.0)));
    rows.push_back(std::move(row));
  }
  return rows;
}

/// A free TCP port on 127.0.0.1 (for epmd); 0 if none.
std::uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
      && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/// True once something accepts connections on 127.0.0.1:`port`.
bool await_listener(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::string self_exe() {
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string{buf, static_cast<std::size_t>(n)} : std::string{};
}

/// The BEAM's rows: epmd on a free loopback port, node b serving, node a
/// measuring; every line of a's output that is a "remote" row is appended.
bool run_beam_remote(const bench_config& cfg, const timing& t,
                     std::vector<nlohmann::json>& rows,
                     nlohmann::json& machine, std::string& why) {
  auto elixir = find_elixir();
  std::string script
    = std::string{CACHET_BENCH_SOURCE_DIR} + "/beam/remote.exs";
  if (!cfg.beam_script.empty()) {
    auto slash = cfg.beam_script.rfind('/');
    script = (slash == std::string::npos ? std::string{}
                                         : cfg.beam_script.substr(0, slash + 1))
             + "remote.exs";
  }
  if (access(script.c_str(), R_OK) != 0) {
    why = "script not found: " + script;
    return false;
  }
  auto epmd_bin = std::string{"/usr/bin/epmd"};
  if (access(epmd_bin.c_str(), X_OK) != 0) {
    why = "epmd not found (Debian's erlang-base ships it)";
    return false;
  }
  auto port = free_port();
  if (port == 0) {
    why = "no free loopback port for epmd";
    return false;
  }
  child_process epmd{{epmd_bin, "-address", "127.0.0.1", "-port",
                      std::to_string(port)}};
  if (!await_listener(port, 5000ms)) {
    why = "epmd did not start";
    return false;
  }
  std::vector<std::string> env{"ERL_EPMD_PORT=" + std::to_string(port)};
  auto node_argv = [&](const char* name, std::vector<std::string> args) {
    std::vector<std::string> argv{elixir,   "--name",   name,
                                  "--cookie", "cachet_bench",
                                  "--erl",
                                  "-kernel inet_dist_use_interface "
                                  "{127,0,0,1}",
                                  script};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  child_process b{node_argv("cachet_bench_b@127.0.0.1",
                            {"serve", "--keys", std::to_string(key_count)}),
                  env};
  auto ready = b.read_line(start_timeout);
  if (!ready || ready->find("ready") == std::string::npos) {
    why = "BEAM node b did not start";
    return false;
  }
  fmt::print(stderr, "beam: node b up (pid {}), epmd pid {} on port {}\n",
             b.pid(), epmd.pid(), port);
  child_process a{node_argv(
                    "cachet_bench_a@127.0.0.1",
                    {"measure", "--peer", "cachet_bench_b@127.0.0.1", "--keys",
                     std::to_string(key_count), "--seconds",
                     std::to_string(t.seconds), "--warmup",
                     std::to_string(t.warmup), "--repeats",
                     std::to_string(cfg.repeats), "--window",
                     std::to_string(pipeline_window)}),
                  env};
  std::size_t got = 0;
  // The whole measurement: cases x repeats x (warm-up + run), plus start-up.
  auto budget = std::chrono::milliseconds{static_cast<long>(
    (t.seconds + t.warmup) * 1000 * static_cast<double>(cfg.repeats) * 8
    + 30000)};
  auto deadline = clock_type::now() + budget;
  while (clock_type::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    auto line = a.read_line(left);
    if (!line)
      break;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(*line);
    } catch (const std::exception&) {
      fmt::print(stderr, "beam: {}\n", *line);
      continue;
    }
    auto kind = j.value("kind", std::string{});
    if (kind == "system") {
      machine["beam"]["otp_release"] = j.value("otp_release", "");
      machine["beam"]["erts_version"] = j.value("erts_version", "");
    } else if (kind == "remote") {
      j.erase("kind");
      auto runs = j.value("runs", std::vector<double>{});
      fmt::print(stderr, "beam: {} x{}: {:.4g} calls/s, p50 {:.1f} us, "
                         "p99 {:.1f} us\n",
                 j.value("path", ""), j.value("callers", 0),
                 j.value("calls_per_sec", 0.0), j.value("p50_us", 0.0),
                 j.value("p99_us", 0.0));
      rows.push_back(std::move(j));
      ++got;
    }
  }
  auto rc = a.finish(5000ms);
  b.finish(5000ms);
  epmd.stop();
  if (got == 0 || rc != 0) {
    why = fmt::format("remote.exs failed (exit status {}, {} rows; see "
                      "stderr)",
                      rc, got);
    return false;
  }
  return true;
}

const nlohmann::json* find_row(const nlohmann::json& rows,
                               const std::string& path, std::size_t callers) {
  for (auto& r : rows)
    if (r.value("path", "") == path
        && r.value("callers", std::size_t{0}) == callers)
      return &r;
  return nullptr;
}

double rate_of(const nlohmann::json* r) {
  return r ? r->value("calls_per_sec", 0.0) : 0.0;
}

} // namespace

int remote_node(caf::actor_system& sys, const std::string& name,
                const std::string& seed) {
  auto owner = cachet::spawn_owner<u64, u64>(sys, {table_name});
  if (!owner) {
    fmt::print(stderr, "remote node {}: {}\n", name,
               sys.render(owner.error()));
    return 1;
  }
  auto stop_owner = [&] {
    caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  };
  {
    cachet::blocking_caller caller{sys};
    for (u64 k = 0; k < key_count; ++k)
      if (!caller.call(*owner, call_timeout, cachet::insert_atom_v, k, k)) {
        stop_owner();
        return 1;
      }
  }
  cachet::dist::node_options opts;
  opts.name = name;
  opts.seeds = {seed};
  auto n = cachet::dist::node::start(sys, opts);
  if (!n) {
    fmt::print(stderr, "remote node {}: {}\n", name, sys.render(n.error()));
    stop_owner();
    return 1;
  }
  cachet::dist::partition_options<u64, u64> popts;
  popts.shard.name = cache_name;
  popts.loader = [](const u64& k) { return k; };
  popts.timeout = call_timeout;
  auto part = cachet::dist::partition<u64, u64>::start(*n, popts);
  if (!part) {
    fmt::print(stderr, "remote node {}: {}\n", name, sys.render(part.error()));
    stop_owner();
    return 1;
  }
  fmt::print("port {}\n", n->port());
  std::fflush(stdout);
  // Serves until the bench closes our stdin (or dies).
  std::string line;
  while (std::getline(std::cin, line)) {
    // nop
  }
  stop_owner();
  return 0;
}

nlohmann::json run_remote_bench(caf::actor_system& sys,
                                const bench_config& cfg, const timing& given,
                                std::vector<std::string>& missing,
                                nlohmann::json& machine) {
  using nlohmann::json;
  // Callers are not pinned: the other nodes share the same cores.
  auto t = given;
  t.pin = false;
  json out{{"status", "measured"},
           {"keys", key_count},
           {"repeats", cfg.repeats},
           {"in_flight", pipeline_window},
           {"batch_keys", batch_keys},
           {"nodes", 3},
           {"transport", "CAF 0.17.6 middleman (BASP over TCP), 127.0.0.1"}};
  auto fail = [&](std::string why) {
    missing.push_back("remote rows: " + why);
    return json{{"status", "not_measured"}, {"reason", why}};
  };
  cachet::dist::node_options self_opts;
  self_opts.name = "bench";
  auto n = cachet::dist::node::start(sys, self_opts);
  if (!n)
    return fail("cannot start the bench's node: " + sys.render(n.error()));
  auto exe = self_exe();
  std::vector<child_process> children;
  for (auto* name : {"b", "c"}) {
    std::vector<std::string> argv{
      exe, std::string{"--remote-node="} + name,
      "--remote-seed=" + n->self().host + ":" + std::to_string(n->port())};
    argv.insert(argv.end(), cfg.caf_args.begin(), cfg.caf_args.end());
    children.emplace_back(std::move(argv));
    auto line = children.back().read_line(start_timeout);
    if (!line || line->rfind("port ", 0) != 0)
      return fail(fmt::format("node {} did not start", name));
  }
  if (!n->await_members(2, start_timeout))
    return fail("nodes b and c did not join");
  // This node's copies: a table with an owner for the local message path
  // and direct reads, and its shard of the partitioned cache.
  auto local_owner = cachet::spawn_owner<u64, u64>(sys, {"remote_bench_local"});
  if (!local_owner)
    return fail("local owner: " + sys.render(local_owner.error()));
  struct stop_at_exit {
    owner_type o;
    ~stop_at_exit() {
      caf::anon_send_exit(o, caf::exit_reason::user_shutdown);
    }
  } stop_local{*local_owner};
  std::vector<u64> keys;
  for (u64 k = 0; k < key_count; ++k)
    keys.push_back(k);
  cachet::blocking_caller setup{sys};
  for (auto k : keys)
    if (!setup.call(*local_owner, call_timeout, cachet::insert_atom_v, k, k))
      return fail("cannot fill the local table");
  auto local_table = cachet::whereis<u64, u64>(sys, "remote_bench_local");
  auto remote_owner = cachet::dist::whereis_owner<u64, u64>(*n, "b", table_name,
                                                           call_timeout);
  if (!local_table || !remote_owner)
    return fail("cannot find the tables");
  cachet::dist::partition_options<u64, u64> popts;
  popts.shard.name = cache_name;
  popts.loader = [](const u64& k) { return k; };
  popts.timeout = call_timeout;
  auto part = cachet::dist::partition<u64, u64>::start(*n, popts);
  if (!part)
    return fail("partition: " + sys.render(part.error()));
  std::vector<u64> local_keys;
  std::vector<u64> remote_keys;
  std::vector<std::pair<u64, u64>> all;
  {
    cachet::dist::partitioned_cache<u64, u64> pc{*part};
    for (auto k : keys) {
      (pc.home(k) == n->name() ? local_keys : remote_keys).push_back(k);
      all.emplace_back(k, k);
    }
    if (!pc.put_many(all))
      return fail("cannot fill the partitioned cache");
  }
  auto shard = cachet::whereis_cache<u64, u64>(sys, cache_name);
  if (!shard)
    return fail("cannot find the local shard");
  out["local_keys"] = local_keys.size();
  auto seq = key_sequence(keys, 0x5eed);
  auto local_seq = key_sequence(local_keys, 0x10ca1);
  auto remote_seq = key_sequence(remote_keys, 0x4e40);
  // Batches of 100 keys from every home; a call's "key" is a batch index.
  std::vector<std::vector<u64>> batches(64);
  std::vector<u64> batch_index;
  {
    rng r{0xba7c};
    for (std::size_t i = 0; i < batches.size(); ++i) {
      for (std::size_t j = 0; j < batch_keys; ++j)
        batches[i].push_back(keys[r.below(keys.size())]);
      batch_index.push_back(i);
    }
  }

  auto caller_op = [&sys](owner_type dest) {
    return [&sys, dest] {
      return [dest, c = std::make_shared<cachet::blocking_caller>(sys)](
               u64 k, std::uint64_t& sink) {
        auto v = c->call(dest, call_timeout, cachet::lookup_atom_v, k);
        if (!v || !*v)
          return false;
        sink += **v;
        return true;
      };
    };
  };
  auto partitioned_get = [&part] {
    return [pc = std::make_shared<cachet::dist::partitioned_cache<u64, u64>>(
              *part)](u64 k, std::uint64_t& sink) {
      auto v = pc->get(k);
      if (!v || !*v)
        return false;
      sink += **v;
      return true;
    };
  };
  std::vector<bench_case> cases;
  auto table = *local_table;
  cases.push_back(threads_case<false>(
    "direct_read", "table lookup on this node, direct", 1, t, seq, [table] {
      return [table](u64 k, std::uint64_t& sink) {
        auto v = table.lookup(k);
        if (!v || !*v)
          return false;
        sink += **v;
        return true;
      };
    }));
  for (std::size_t callers : {1, 2}) {
    cases.push_back(threads_case<true>("local_call",
                                       "blocking_caller -> owner on this node",
                                       callers, t, seq,
                                       caller_op(*local_owner)));
    cases.push_back(threads_case<true>("remote_call",
                                       "blocking_caller -> owner on node b",
                                       callers, t, seq,
                                       caller_op(*remote_owner)));
  }
  cases.push_back(pipeline_case(sys, "local_pipelined",
                                "actor -> owner on this node, 64 in flight",
                                *local_owner, t, seq));
  cases.push_back(pipeline_case(sys, "remote_pipelined",
                                "actor -> owner on node b, 64 in flight",
                                *remote_owner, t, seq));
  auto local_cache = *shard;
  cases.push_back(threads_case<false>(
    "shard_get_direct", "cache get on this node's shard, direct", 1, t,
    local_seq, [local_cache] {
      return [c = local_cache](u64 k, std::uint64_t& sink) mutable {
        auto v = c.get(k);
        if (!v || !*v)
          return false;
        sink += **v;
        return true;
      };
    }));
  cases.push_back(threads_case<false>("partitioned_get_local",
                                      "partitioned get, key homed here", 1, t,
                                      local_seq, partitioned_get));
  cases.push_back(threads_case<true>("partitioned_get_remote",
                                     "partitioned get, key homed on b or c",
                                     1, t, remote_seq, partitioned_get));
  cases.push_back(threads_case<true>(
    "partitioned_get_many", "get_many of 100 keys over 3 nodes", 1, t,
    batch_index, [&part, &batches] {
      return [pc = std::make_shared<cachet::dist::partitioned_cache<u64, u64>>(
                *part),
              &batches](u64 i, std::uint64_t& sink) {
        auto vs = pc->get_many(batches[i]);
        if (!vs || vs->size() != batch_keys)
          return false;
        for (auto& v : *vs)
          sink += v ? *v : 0;
        return true;
      };
    }));
  cases.push_back(threads_case<true>(
    "partitioned_get_sequential", "the same 100 keys, one get at a time", 1,
    t, batch_index, [&part, &batches] {
      return [pc = std::make_shared<cachet::dist::partitioned_cache<u64, u64>>(
                *part),
              &batches](u64 i, std::uint64_t& sink) {
        for (auto k : batches[i]) {
          auto v = pc->get(k);
          if (!v || !*v)
            return false;
          sink += **v;
        }
        return true;
      };
    }));
  fmt::print(stderr, "remote: nodes bench, b (pid {}), c (pid {}); {} cases "
                     "x {} runs\n",
             children[0].pid(), children[1].pid(), cases.size(), cfg.repeats);
  auto rows = run_cases(cases, cfg.repeats);
  for (auto& c : children)
    c.finish(5000ms);
  children.clear();

  std::string why;
  if (cfg.no_beam)
    why = "skipped (--no-beam)";
  else if (find_elixir().empty())
    why = "elixir not installed (make bench-deps)";
  else
    run_beam_remote(cfg, t, rows, machine, why);
  if (!why.empty()) {
    missing.push_back("beam_dist_genserver_call, beam_dist_erpc, "
                      "beam_dist_pipelined: "
                      + why);
    out["beam_reason"] = why;
  }
  out["results"] = rows;
  return out;
}

void add_remote_targets(report& r) {
  using nlohmann::json;
  auto& q = r.remote;
  const auto& rows = q.value("results", json::array());
  auto measured = q.value("status", "") == "measured";
  auto no_data = [&](target& t, const char* what) {
    t.reason = !measured ? q.value("reason", std::string{"not measured"})
                         : what;
  };
  // cachet's remote call beside the BEAM's distributed GenServer.call.
  target rate{"remote_call_vs_beam_dist_call",
              "calls/s of a blocking_caller's call to an owner on another "
              "node >= GenServer.call({name, node}) between two BEAM nodes, "
              "1 and 2 callers, loopback (worst)",
              ">=", "x", 1.0};
  target p99{"remote_call_p99_vs_beam_dist_call",
             "p99 latency of that call <= the BEAM's (shown as BEAM p99 / "
             "cachet p99), 1 and 2 callers (worst)",
             ">=", "x", 1.0};
  for (std::size_t callers : {1, 2}) {
    auto* a = find_row(rows, "remote_call", callers);
    auto* b = find_row(rows, "beam_dist_genserver_call", callers);
    if (!a || !b || rate_of(b) <= 0)
      continue;
    auto ratio = rate_of(a) / rate_of(b);
    auto cell = fmt::format("{} caller{}", callers, callers > 1 ? "s" : "");
    rate.cells.push_back({{"cell", cell}, {"ratio", ratio}});
    if (!rate.measured || ratio < *rate.measured) {
      rate.measured = ratio;
      rate.worst_cell = fmt::format("{}: cachet {:.0f} calls/s vs BEAM {:.0f}",
                                    cell, rate_of(a), rate_of(b));
    }
    auto pa = a->value("p99_us", 0.0);
    auto pb = b->value("p99_us", 0.0);
    if (pa <= 0)
      continue;
    auto pr = pb / pa;
    p99.cells.push_back({{"cell", cell}, {"ratio", pr}});
    if (!p99.measured || pr < *p99.measured) {
      p99.measured = pr;
      p99.worst_cell = fmt::format("{}: cachet p99 {:.1f} us vs BEAM {:.1f} us",
                                   cell, pa, pb);
    }
  }
  if (!rate.measured) {
    no_data(rate, "no BEAM distribution rows");
    p99.reason = rate.reason;
  }
  r.targets.push_back(std::move(rate));
  r.targets.push_back(std::move(p99));

  // Routing costs little: a partitioned get of a remote key vs a bare call.
  target routed{"partitioned_remote_get_vs_remote_call",
                "a partitioned-cache get of a key homed on another node takes "
                "<= 1.2x a bare remote call (shown as remote call's calls/s "
                "over the get's), 1 caller",
                "<=", "x", 1.2};
  if (auto *a = find_row(rows, "remote_call", 1),
      *b = find_row(rows, "partitioned_get_remote", 1);
      a && b && rate_of(b) > 0) {
    routed.measured = rate_of(a) / rate_of(b);
    routed.worst_cell = fmt::format("remote call {:.0f} calls/s, partitioned "
                                    "get {:.0f}",
                                    rate_of(a), rate_of(b));
  } else {
    no_data(routed, "rows missing");
  }
  r.targets.push_back(std::move(routed));

  target local{"partitioned_local_get_vs_direct",
               "a partitioned-cache get of a key homed on this node >= 0.8x "
               "a direct get on this node's shard, 1 thread",
               ">=", "x", 0.8};
  if (auto *a = find_row(rows, "partitioned_get_local", 1),
      *b = find_row(rows, "shard_get_direct", 1);
      a && b && rate_of(b) > 0) {
    local.measured = rate_of(a) / rate_of(b);
    local.worst_cell = fmt::format("partitioned {:.3g} M gets/s, direct "
                                   "{:.3g} M",
                                   rate_of(a) / 1e6, rate_of(b) / 1e6);
  } else {
    no_data(local, "rows missing");
  }
  r.targets.push_back(std::move(local));

  target batch{"get_many_vs_sequential_gets",
               "get_many of 100 keys spread over 3 nodes >= 10x as many "
               "batches/s as 100 sequential gets of the same keys",
               ">=", "x", 10};
  if (auto *a = find_row(rows, "partitioned_get_many", 1),
      *b = find_row(rows, "partitioned_get_sequential", 1);
      a && b && rate_of(b) > 0) {
    batch.measured = rate_of(a) / rate_of(b);
    batch.worst_cell = fmt::format("get_many {:.0f} batches/s, sequential "
                                   "{:.0f}",
                                   rate_of(a), rate_of(b));
  } else {
    no_data(batch, "rows missing");
  }
  r.targets.push_back(std::move(batch));
}

void print_remote(const nlohmann::json& q) {
  if (q.value("status", "") != "measured") {
    fmt::print("\nremote rows: {}\n", q.value("reason", "not measured"));
    return;
  }
  fmt::print("\nremote rows: 3 cachet nodes in 3 processes on 127.0.0.1 "
             "(this one, b, c), {} keys u64 -> u64; BEAM: 2 nodes on "
             "127.0.0.1; median of {} runs, latency of 1 call in {}\n",
             q.value("keys", 0), q.value("repeats", 0), latency_sample);
  fmt::print("{:<30}{:<50}{:>8}{:>13}{:>10}{:>10}\n", "path", "what",
             "callers", "calls/s", "p50 us", "p99 us");
  std::uint64_t errors = 0;
  for (auto& row : q.value("results", nlohmann::json::array())) {
    auto us = [&](const char* k) {
      return row.contains(k) ? fmt::format("{:.1f}", row.value(k, 0.0))
                             : std::string{"-"};
    };
    fmt::print("{:<30}{:<50}{:>8}{:>13.0f}{:>10}{:>10}\n",
               row.value("path", ""), row.value("what", ""),
               row.value("callers", 0), row.value("calls_per_sec", 0.0),
               us("p50_us"), us("p99_us"));
    errors += row.value("errors", std::uint64_t{0});
  }
  if (q.contains("beam_reason"))
    fmt::print("BEAM distribution rows: {}\n", q.value("beam_reason", ""));
  if (errors > 0)
    fmt::print("warning: {} remote calls failed\n", errors);
}

} // namespace cachet_bench
