// Dump and reload throughput (tab2file / file2tab, cachet/dump.hpp): N
// (16 B key, 100 B value) entries dumped from a table, then loaded into a
// fresh owner's table in its init, as a restart from a dump would. Also
// compares direct reads on the reloaded table with reads on the table the
// entries were inserted into one by one: a load is one batch insert, and
// the table it leaves should read as fast.
#include "tasks.hpp"

#if __has_include(<cachet/dump.hpp>)

#  include <unistd.h>

#  include <algorithm>
#  include <cmath>
#  include <cstdio>

#  include <fmt/core.h>

#  include <cachet/dump.hpp>

#  include "structures.hpp"

namespace cachet_bench {

namespace {

using str_table = cachet::table<std::string, std::string>;

struct loader_state {
  static inline const char* name = "cachet_bench.loader";
  std::optional<cachet::owned_table<std::string, std::string>> tab;
  double seconds = 0;
  caf::error failure;
  std::uint64_t count = 0;
};

/// An owner that loads `path` into its new table in its init; answers
/// size_atom with the seconds file2tab took (negative on failure).
caf::behavior loader(caf::stateful_actor<loader_state>* self, std::string name,
                     std::string path) {
  cachet::table_options opts;
  opts.name = std::move(name);
  auto tab = cachet::make_table<std::string, std::string>(self, opts);
  if (tab) {
    self->state.tab.emplace(std::move(*tab));
    auto t0 = clock_type::now();
    auto n = cachet::file2tab(*self->state.tab, path);
    self->state.seconds
      = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (n)
      self->state.count = *n;
    else
      self->state.failure = n.error();
  } else {
    self->state.failure = tab.error();
  }
  return {
    [self](cachet::size_atom) -> double {
      return self->state.failure ? -1.0 : self->state.seconds;
    },
  };
}

/// Where the reads' values end up, so that they are not optimized away.
volatile std::uint64_t read_sink = 0;

/// Direct reads per second of `keys` on `tab`, one thread, `seconds` long.
double read_rate(const str_table& tab, const std::vector<std::string>& keys,
                 double seconds, std::uint64_t& sink) {
  auto t0 = clock_type::now();
  auto until = t0 + std::chrono::duration<double>(seconds);
  std::uint64_t n = 0;
  std::size_t i = 0;
  do {
    for (int j = 0; j < 256; ++j) {
      tab.visit(keys[i], [&](std::string_view v) { sink += consume(v); });
      i = i + 1 == keys.size() ? 0 : i + 1;
    }
    n += 256;
  } while (clock_type::now() < until);
  return static_cast<double>(n)
         / std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// Figures of one table size.
struct size_result {
  std::size_t entries = 0;
  double dump_s = 0;
  double load_s = 0;
  double serve_s = 0;
  double read_ratio = 0;
};

/// Dumps a table of `entries` and loads it into fresh owners `runs` times;
/// medians. Empty `failure` on success.
size_result one_size(caf::actor_system& sys, std::size_t entries,
                     std::size_t runs, double seconds, std::string& failure,
                     std::uint64_t& sink) {
  size_result res;
  res.entries = entries;
  auto tag = fmt::format("bench.reload.{}", entries);
  cachet::table_options opts;
  opts.name = tag + ".source";
  opts.mode = cachet::access_mode::public_;
  auto owner = cachet::spawn_owner<std::string, std::string>(sys, opts);
  if (!owner) {
    failure = "spawn_owner failed: " + sys.render(owner.error());
    return res;
  }
  auto src = *cachet::whereis<std::string, std::string>(sys, opts.name);
  rng r{0xfeed};
  // Up to 65 536 keys, spread evenly over the insertion order: the first
  // ones inserted would have their entries side by side in memory in the
  // source table alone (a reload places entries in walk order), and the
  // comparison would measure that, not the table the load leaves.
  constexpr std::size_t sample_size = 65536;
  const auto every = std::max<std::size_t>(1, entries / sample_size);
  std::vector<std::string> sample;
  for (std::size_t i = 0; i < entries; ++i) {
    auto k = r.next() >> 5;
    if (i % every == 0 && sample.size() < sample_size)
      sample.push_back(key_string(k));
    src.insert(key_string(k), value_string(k));
  }
  // The sample came in insertion order; shuffle it so reads jump around.
  rng s{42};
  for (std::size_t i = sample.size() - 1; i > 0; --i)
    std::swap(sample[i], sample[s.below(i + 1)]);
  char dir_tmpl[] = "/tmp/cachet-bench-dump-XXXXXX";
  if (mkdtemp(dir_tmpl) == nullptr) {
    failure = "cannot create a temporary directory";
    return res;
  }
  std::string path = std::string{dir_tmpl} + "/table.dump";
  std::vector<double> dump_s, load_s, serve_s, ratio;
  cachet::blocking_caller caller{sys};
  for (std::size_t i = 0; i < runs && failure.empty(); ++i) {
    fmt::print(stderr, "reload: dump and load {} entries ({}/{})\n", entries,
               i + 1, runs);
    auto t0 = clock_type::now();
    auto n = cachet::tab2file(src, path);
    dump_s.push_back(
      std::chrono::duration<double>(clock_type::now() - t0).count());
    if (!n) {
      failure = "tab2file failed: " + sys.render(n.error());
      break;
    }
    auto name = fmt::format("{}.loaded.{}", tag, i);
    auto t1 = clock_type::now();
    auto a = sys.spawn(loader, name, path);
    auto secs = caller.call<double>(a, std::chrono::hours{1},
                                    cachet::size_atom_v);
    serve_s.push_back(
      std::chrono::duration<double>(clock_type::now() - t1).count());
    if (!secs || *secs < 0) {
      failure = "file2tab failed";
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      break;
    }
    load_s.push_back(*secs);
    if (auto loaded = cachet::whereis<std::string, std::string>(sys, name)) {
      auto a_rate = read_rate(*loaded, sample, seconds, sink);
      auto b_rate = read_rate(src, sample, seconds, sink);
      ratio.push_back(a_rate / b_rate);
    }
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  std::remove(path.c_str());
  rmdir(dir_tmpl);
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  res.dump_s = median(dump_s);
  res.load_s = median(load_s);
  res.serve_s = median(serve_s);
  res.read_ratio = median(ratio);
  return res;
}

} // namespace

placeholder measure_reload(caf::actor_system& sys, std::size_t entries,
                           std::size_t repeats, double seconds,
                           double budget) {
  placeholder out{"reload", "not_measured", "", nlohmann::json::object()};
  // Sizes grow tenfold up to `entries`; the next size runs only if its load
  // time, projected from the growth seen so far (quadratic until two sizes
  // are known), fits the budget: a load that scales badly shows as a falling
  // rate over sizes instead of a run that never ends.
  std::vector<std::size_t> sizes;
  for (std::size_t n = 10000; n < entries; n *= 10)
    sizes.push_back(n);
  sizes.push_back(entries);
  std::vector<size_result> done;
  std::uint64_t sink = 0;
  std::string failure;
  std::string stopped;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto n = sizes[i];
    bool last = i + 1 == sizes.size();
    if (!done.empty()) {
      auto& prev = done.back();
      double exponent = 2;
      if (done.size() >= 2) {
        auto& pp = done[done.size() - 2];
        exponent = std::max(1.0, std::log(prev.load_s / pp.load_s)
                                   / std::log(static_cast<double>(prev.entries)
                                              / pp.entries));
      }
      double projected = prev.load_s
                         * std::pow(static_cast<double>(n) / prev.entries,
                                    exponent);
      if (projected > budget) {
        stopped = fmt::format("stopped before {} entries: the load would take "
                              "about {:.0f} s (budget {:.0f} s)",
                              n, projected, budget);
        break;
      }
    }
    auto runs = last ? repeats : 1;
    done.push_back(one_size(sys, n, runs, seconds, failure, sink));
    if (!failure.empty())
      break;
  }
  if (done.empty() || !failure.empty()) {
    out.reason = failure.empty() ? stopped : failure;
    return out;
  }
  auto& top = done.back();
  auto e = static_cast<double>(top.entries);
  out.status = "measured";
  auto sizes_json = nlohmann::json::array();
  for (auto& d : done)
    sizes_json.push_back(
      {{"entries", d.entries},
       {"reload_entries_per_sec", static_cast<double>(d.entries) / d.load_s},
       {"reload_seconds", d.load_s},
       {"dump_entries_per_sec", static_cast<double>(d.entries) / d.dump_s},
       {"reads_reloaded_vs_inserted", d.read_ratio}});
  out.values = {
    {"entries", top.entries},
    {"entries_requested", entries},
    {"key_bytes", 16},
    {"value_bytes", 100},
    {"runs", entries == top.entries ? repeats : 1},
    {"dump_entries_per_sec", e / top.dump_s},
    {"reload_entries_per_sec", e / top.load_s},
    {"reload_seconds", top.load_s},
    {"spawn_to_serving_seconds", top.serve_s},
    {"reads_reloaded_vs_inserted", top.read_ratio},
    {"sizes", sizes_json},
  };
  read_sink = sink;
  if (!stopped.empty())
    out.values["note"] = stopped;
  return out;
}

} // namespace cachet_bench

#else

namespace cachet_bench {

placeholder measure_reload(caf::actor_system&, std::size_t, std::size_t,
                           double, double) {
  return {"reload", "not_measured",
          "not measured yet: needs cachet/dump.hpp (tab2file/file2tab)",
          {{"reload_entries_per_sec", nullptr}}};
}

} // namespace cachet_bench

#endif
