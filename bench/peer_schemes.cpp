// cachet-peer-schemes: which memory-reclamation scheme each lock-free peer
// of cachet-bench reads and writes fastest with. It runs libcds's
// FeldmanHashMap (hazard pointers, dynamic hazard pointers, buffered and
// threaded general-purpose RCU), libcds's SplitListMap (HP, DHP: its
// IterableKVList has no RCU flavour) and xenium's two maps (the three
// generic_epoch_based presets, QSBR and hazard pointers) through the same
// adapters, keys, op streams and timing loop as cachet-bench, every repeat
// of a cell interleaved over the schemes. It prints each cell's medians,
// then, per map, each scheme's geometric mean of (its rate / the best
// scheme's rate) over the cells: 1.00 means fastest everywhere.
// cachet-bench runs each map with the scheme of the best overall mean
// (peers.hpp). Not built by default:
//
//   cmake --build build --target cachet-peer-schemes
//   ./build/bench/cachet-peer-schemes [--seconds=0.2] [--repeats=5]
//       [--keys=1000,1000000] [--mix=100,95,50] [--only=feldman]
// The RCU flavours before the set that specializes on them.
#include <cds/urcu/general_buffered.h>
#include <cds/urcu/general_threaded.h>
#include <cds/intrusive/feldman_hashset_rcu.h>
#include <xenium/reclamation/hazard_pointer.hpp>
#include <xenium/reclamation/quiescent_state_based.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cachet_bench/measure.hpp"
#include "cachet_bench/peers.hpp"
#include "cachet_bench/workload.hpp"

namespace cachet_bench {

namespace {

using rcu_buffered = cds::urcu::gc<cds::urcu::general_buffered<>>;
using rcu_threaded = cds::urcu::gc<cds::urcu::general_threaded<>>;

struct settings {
  double seconds = 0.2;
  std::size_t repeats = 5;
  std::vector<std::size_t> keys{1000, 1000000};
  std::vector<int> mixes{100, 95, 50};
  std::string only;
};

/// Medians by map, scheme and cell.
using results = std::map<std::string,
                         std::map<std::string, std::map<std::string, double>>>;

/// One scheme of one map, filled, and how to time it in a cell.
struct candidate {
  std::string map;
  std::string scheme;
  std::function<double(int mix, std::size_t threads)> run;
};

/// One timed run of `m` on `threads` threads, as cachet-bench's run_direct.
template <class KV, class Map>
double run_once(Map& m, const std::vector<typename KV::key_type>& keys,
                const std::vector<const std::vector<op_code>*>& streams,
                const settings& cfg) {
  typename KV::value_type writes[2] = {KV::make_value(1, 1), KV::make_value(2, 2)};
  timing t{std::clamp(cfg.seconds / 4, 0.02, 0.5), cfg.seconds, true};
  auto res = run_threads(
    streams.size(), t,
    [&](std::size_t i, const std::atomic<int>& phase, worker_result& out) {
      [[maybe_unused]] typename thread_scope_of<Map>::type scope;
      std::uint64_t version = std::uint64_t{i} << 40;
      direct_loop(phase, *streams[i], out, [&](op_code code) -> std::uint64_t {
        const auto& k = keys[code & ~write_bit];
        if ((code & write_bit) == 0)
          return m.read(k);
        if constexpr (std::is_same_v<typename KV::value_type, std::uint64_t>)
          m.write(k, ++version);
        else
          m.write(k, writes[++version & 1]);
        return 0;
      });
    });
  double total = 0;
  for (auto& w : res)
    total += w.ops_per_sec;
  return total;
}

template <class KV>
void run_block(std::size_t n, const settings& cfg, stream_cache& streams,
               results& out) {
  using K = typename KV::key_type;
  using V = typename KV::value_type;
  auto raw = make_keys(n);
  std::vector<K> keys;
  keys.reserve(n);
  for (auto k : raw)
    keys.push_back(KV::make_key(k));
  std::vector<candidate> cands;
  auto add = [&](const char* map, const char* scheme, auto tag) {
    using Map = std::remove_pointer_t<decltype(tag)>;
    if (!cfg.only.empty() && std::string{map}.rfind(cfg.only, 0) != 0)
      return;
    std::shared_ptr<Map> m = make_peer<Map>(n);
    for (std::size_t i = 0; i < n; ++i)
      m->put(keys[i], KV::make_value(raw[i], 0));
    auto run = [m, &keys, &streams, n, &cfg](int mix, std::size_t th) {
      std::vector<const std::vector<op_code>*> st;
      for (std::size_t t = 0; t < th; ++t)
        st.push_back(&streams.get(n, "uniform", mix, t));
      return run_once<KV>(*m, keys, st, cfg);
    };
    cands.push_back({map, scheme, run});
  };
  namespace xr = xenium::reclamation;
  add("feldman", "hp",
      static_cast<cds_feldman_map<cds::gc::HP, K, V>*>(nullptr));
  add("feldman", "dhp",
      static_cast<cds_feldman_map<cds::gc::DHP, K, V>*>(nullptr));
  add("feldman", "rcu_buffered",
      static_cast<cds_feldman_map<rcu_buffered, K, V>*>(nullptr));
  add("feldman", "rcu_threaded",
      static_cast<cds_feldman_map<rcu_threaded, K, V>*>(nullptr));
  add("splitlist", "hp",
      static_cast<cds_split_list_map<cds::gc::HP, K, V>*>(nullptr));
  add("splitlist", "dhp",
      static_cast<cds_split_list_map<cds::gc::DHP, K, V>*>(nullptr));
  add("vyukov", "epoch_based",
      static_cast<xenium_vyukov_map<xr::epoch_based<>, K, V>*>(nullptr));
  add("vyukov", "new_epoch_based",
      static_cast<xenium_vyukov_map<xr::new_epoch_based<>, K, V>*>(nullptr));
  add("vyukov", "debra",
      static_cast<xenium_vyukov_map<xr::debra<>, K, V>*>(nullptr));
  add("vyukov", "qsbr",
      static_cast<xenium_vyukov_map<xr::quiescent_state_based, K, V>*>(
        nullptr));
  add("vyukov", "hazard_pointer",
      static_cast<xenium_vyukov_map<xr::hazard_pointer<>, K, V>*>(nullptr));
  add("harris_michael", "epoch_based",
      static_cast<xenium_harris_michael_map<xr::epoch_based<>, K, V>*>(
        nullptr));
  add("harris_michael", "new_epoch_based",
      static_cast<xenium_harris_michael_map<xr::new_epoch_based<>, K, V>*>(
        nullptr));
  add("harris_michael", "debra",
      static_cast<xenium_harris_michael_map<xr::debra<>, K, V>*>(nullptr));
  add("harris_michael", "qsbr",
      static_cast<
        xenium_harris_michael_map<xr::quiescent_state_based, K, V>*>(nullptr));
  add("harris_michael", "hazard_pointer",
      static_cast<xenium_harris_michael_map<xr::hazard_pointer<>, K, V>*>(
        nullptr));
  for (auto mix : cfg.mixes)
    for (std::size_t th : {1, 2}) {
      std::vector<std::vector<double>> rates(cands.size());
      for (std::size_t rep = 0; rep < cfg.repeats; ++rep)
        for (std::size_t j = 0; j < cands.size(); ++j) {
          auto k = (j + rep) % cands.size();
          rates[k].push_back(cands[k].run(mix, th));
        }
      char cell[64];
      std::snprintf(cell, sizeof(cell), "%s %zu keys %d%% reads %zu thr",
                    KV::name, n, mix, th);
      for (std::size_t k = 0; k < cands.size(); ++k) {
        auto rate = median(rates[k]);
        out[cands[k].map][cands[k].scheme][cell] = rate;
        std::printf("%-32s %-16s %-16s %8.2f M ops/s\n", cell,
                    cands[k].map.c_str(), cands[k].scheme.c_str(), rate / 1e6);
      }
      std::fflush(stdout);
    }
}

/// Per map, each scheme's geometric mean of its rate over the best
/// scheme's, cell by cell.
void summarize(const results& res) {
  std::printf("\ngeometric mean of rate / best scheme's rate, over %s\n",
              "every cell (1.00: fastest everywhere)");
  for (auto& [map, schemes] : res) {
    std::map<std::string, double> best;
    for (auto& [scheme, cells] : schemes)
      for (auto& [cell, rate] : cells)
        best[cell] = std::max(best[cell], rate);
    for (auto& [scheme, cells] : schemes) {
      double sum = 0;
      std::size_t n = 0;
      for (auto& [cell, rate] : cells)
        if (rate > 0 && best[cell] > 0) {
          sum += std::log(rate / best[cell]);
          ++n;
        }
      std::printf("%-16s %-16s %.2f (%zu cells)\n", map.c_str(),
                  scheme.c_str(), n > 0 ? std::exp(sum / n) : 0.0, n);
    }
  }
}

std::vector<std::string> split(const char* s) {
  std::vector<std::string> out;
  std::string cur;
  for (; *s != '\0'; ++s) {
    if (*s == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += *s;
    }
  }
  out.push_back(cur);
  return out;
}

bool parse(int argc, char** argv, settings& cfg) {
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) -> const char* {
      auto len = std::strlen(name);
      return std::strncmp(argv[i], name, len) == 0 ? argv[i] + len : nullptr;
    };
    if (auto v = arg("--seconds=")) {
      cfg.seconds = std::atof(v);
    } else if (auto v = arg("--repeats=")) {
      cfg.repeats = std::strtoul(v, nullptr, 10);
    } else if (auto v = arg("--keys=")) {
      cfg.keys.clear();
      for (auto& x : split(v))
        cfg.keys.push_back(std::strtoul(x.c_str(), nullptr, 10));
    } else if (auto v = arg("--mix=")) {
      cfg.mixes.clear();
      for (auto& x : split(v))
        cfg.mixes.push_back(std::atoi(x.c_str()));
    } else if (auto v = arg("--only=")) {
      cfg.only = v;
    } else {
      std::fprintf(stderr,
                   "usage: cachet-peer-schemes [--seconds=0.2] [--repeats=5] "
                   "[--keys=1000,1000000] [--mix=100,95,50] [--only=MAP]\n");
      return false;
    }
  }
  return cfg.seconds > 0 && cfg.repeats > 0;
}

} // namespace

} // namespace cachet_bench

int main(int argc, char** argv) {
  using namespace cachet_bench;
  settings cfg;
  if (!parse(argc, argv, cfg))
    return 2;
  // Every collector exists before this thread attaches, so it is attached
  // to all of them; the workers attach through cds_thread.
  cds::Initialize();
  {
    cds::gc::HP hp{16, 300};
    cds::gc::DHP dhp{16};
    rcu_buffered buffered;
    rcu_threaded threaded;
    cds::threading::Manager::attachThread();
    stream_cache streams;
    results res;
    for (auto n : cfg.keys) {
      // Streams first: the cache is not safe to fill from the workers.
      for (auto mix : cfg.mixes)
        for (std::size_t t = 0; t < 2; ++t)
          streams.get(n, "uniform", mix, t);
      run_block<u64_types>(n, cfg, streams, res);
      run_block<str_types>(n, cfg, streams, res);
    }
    summarize(res);
    cds::threading::Manager::detachThread();
  }
  cds::Terminate();
  return 0;
}
