// The query rows: ETS's select family over a set of N entries, and lookups
// on a bag with 4 objects per key; cachet's direct calls on one thread
// beside ETS's on one BEAM process (beam/query.exs), on the same keys and
// values. Entry i is keys[i] -> {i, expires_at(i)}: `value % 100 == 0`
// matches 1% of the entries, and 10% are expired, which a purge (Cachex's
// janitor: select_delete on the expiry) removes. The select family times
// whole calls over the table, so its rate is entries visited per second.
#include "tasks.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include <fmt/core.h>

#include <cachet/cachet.hpp>

#include <caf/scoped_actor.hpp>

namespace cachet_bench {

namespace {

/// A cached value with its expiry, as Cachex keeps {key, value, touched,
/// ttl}; ETS holds {key, value, expires_at}.
struct item {
  std::uint64_t value;
  std::int64_t expires_at;
};

/// A fixed clock (ms since the epoch), so both sides expire the same entries.
constexpr std::int64_t query_now = 1700000000000;

/// query.exs matches on exactly this many objects per key.
constexpr std::size_t objects_per_key = 4;

/// Entry i's expiry: every tenth entry is expired. Keep in step with
/// query.exs.
std::int64_t expires_at(std::size_t i) {
  auto jitter = static_cast<std::int64_t>(i % 1000);
  return i % 10 == 5 ? query_now - 1 - jitter : query_now + 60000 + jitter;
}

constexpr std::size_t failed = static_cast<std::size_t>(-1);

/// `repeats` timed calls of `call() -> matched`, each followed by an
/// untimed `restore()`; a call that fails or does not match `expect` counts
/// as an error. No warm-up call: a walk of a million entries misses the
/// caches on every call alike.
template <class Call, class Restore>
nlohmann::json timed(const char* path, const char* what, std::size_t entries,
                     std::size_t expect, std::size_t repeats, Call call,
                     Restore restore) {
  std::vector<double> runs;
  std::uint64_t errors = 0;
  std::size_t matched = 0;
  for (std::size_t r = 0; r < repeats; ++r) {
    auto t0 = clock_type::now();
    matched = call();
    runs.push_back(
      std::chrono::duration<double>(clock_type::now() - t0).count());
    restore();
    errors += matched == expect ? 0 : 1;
  }
  auto secs = median(runs);
  fmt::print(stderr, "query: {} {:.2f} ms, {} matched\n", path, secs * 1e3,
             matched);
  auto [lo, hi] = std::minmax_element(runs.begin(), runs.end());
  return {{"path", path},        {"what", what},
          {"entries", entries},  {"matched", matched},
          {"seconds", secs},     {"runs", runs},
          {"rows_per_sec", static_cast<double>(entries) / secs},
          {"spread", *hi / *lo}, {"errors", errors}};
}

/// The cachet rows, in the order of the BEAM's.
std::vector<nlohmann::json> cachet_side(caf::actor_system& sys,
                                        const query_plan& plan,
                                        const timing& times) {
  std::vector<nlohmann::json> rows;
  const auto& keys = plan.keys;
  const auto n = keys.size();
  // Callers' handles on public tables, as Cachex's tables are public.
  caf::scoped_actor self{sys};
  cachet::table_options opts;
  opts.mode = cachet::access_mode::public_;
  {
    auto owned = cachet::make_table<std::uint64_t, item>(self.ptr(), opts);
    if (!owned)
      throw std::runtime_error("make_table: " + sys.render(owned.error()));
    auto tab = owned->share();
    fmt::print(stderr, "query: {} entries into a cachet set\n", n);
    std::vector<std::size_t> purged;
    std::size_t one_pct = 0;
    for (std::size_t i = 0; i < n; ++i) {
      tab.insert(keys[i], item{i, expires_at(i)});
      one_pct += i % 100 == 0 ? 1 : 0;
      if (expires_at(i) < query_now)
        purged.push_back(i);
    }
    auto none = [] {};
    rows.push_back(timed(
      "query_select", "select: value % 100 == 0 -> key", n, one_pct,
      plan.repeats,
      [&] {
        auto r = tab.select(
          [](std::uint64_t k, const item& v) -> std::optional<std::uint64_t> {
            if (v.value % 100 == 0)
              return k;
            return std::nullopt;
          });
        return r ? r->size() : failed;
      },
      none));
    rows.push_back(timed(
      "query_select_count", "select_count: value % 100 == 0", n, one_pct,
      plan.repeats,
      [&] {
        auto r = tab.select_count(
          [](std::uint64_t, const item& v) { return v.value % 100 == 0; });
        return r ? *r : failed;
      },
      none));
    // Each call starts from the full table: the purged entries go back,
    // untimed.
    auto now = query_now;
    rows.push_back(timed(
      "query_select_delete", "select_delete: expires_at < now (10%)", n,
      purged.size(), plan.repeats,
      [&] {
        auto r = tab.select_delete(
          [now](std::uint64_t, const item& v) { return v.expires_at < now; });
        return r ? *r : failed;
      },
      [&] {
        for (auto i : purged)
          tab.insert(keys[i], item{i, expires_at(i)});
      }));
  } // the set dies with its handle here, before the bag fills

  using bag_kind = cachet::bag<>;
  auto owned = cachet::make_table<std::uint64_t, std::uint64_t, bag_kind>(
    self.ptr(), opts);
  if (!owned)
    throw std::runtime_error("make_table: " + sys.render(owned.error()));
  auto bag = owned->share();
  fmt::print(stderr, "query: {} keys x {} objects into a cachet bag\n",
             plan.bag_keys, objects_per_key);
  for (std::size_t i = 0; i < plan.bag_keys; ++i)
    for (std::size_t j = 0; j < objects_per_key; ++j)
      bag.insert(keys[i], std::uint64_t{objects_per_key * i + j});
  std::vector<double> runs;
  std::uint64_t errors = 0;
  for (std::size_t r = 0; r < plan.repeats; ++r) {
    auto res = run_threads(1, times, [&](std::size_t,
                                         const std::atomic<int>& phase,
                                         worker_result& out) {
      direct_loop(phase, plan.bag_ops, out, [&](op_code i) -> std::uint64_t {
        auto xs = bag.lookup(keys[i]);
        if (!xs || xs->size() != objects_per_key) {
          ++errors;
          return 0;
        }
        return xs->back();
      });
    });
    runs.push_back(res[0].measured ? res[0].ops_per_sec : 0);
    errors += res[0].measured ? 0 : 1;
  }
  auto [lo, hi] = std::minmax_element(runs.begin(), runs.end());
  fmt::print(stderr, "query: query_bag_lookup {:.3g} M ops/s\n",
             median(runs) / 1e6);
  rows.push_back({{"path", "query_bag_lookup"},
                  {"what", "lookup on a bag, random keys"},
                  {"keys", plan.bag_keys},
                  {"objects_per_key", objects_per_key},
                  {"ops_per_sec", median(runs)},
                  {"runs", runs},
                  {"spread", *lo > 0 ? *hi / *lo : 0},
                  {"errors", errors}});
  return rows;
}

const nlohmann::json* row_of(const nlohmann::json& rows,
                             const std::string& path) {
  for (auto& r : rows)
    if (r.value("path", "") == path)
      return &r;
  return nullptr;
}

} // namespace

nlohmann::json run_query_bench(caf::actor_system& sys, const bench_config& cfg,
                               const timing& times,
                               std::vector<std::string>& missing,
                               nlohmann::json& machine) {
  using nlohmann::json;
  query_plan plan;
  // Beside bench.exs, wherever that is.
  const auto& given = cfg.beam_script;
  auto slash = given.rfind('/');
  plan.script = given.empty() ? std::string{CACHET_BENCH_SOURCE_DIR}
                                  + "/beam/query.exs"
                : slash == std::string::npos
                  ? std::string{"query.exs"}
                  : given.substr(0, slash + 1) + "query.exs";
  plan.keys = make_keys(cfg.query_entries);
  plan.bag_keys = cfg.query_entries / objects_per_key;
  plan.bag_ops.resize(stream_len);
  rng r{0xba9};
  for (auto& op : plan.bag_ops)
    op = static_cast<op_code>(r.below(plan.bag_keys));
  plan.now = query_now;
  plan.repeats = cfg.repeats;
  plan.seconds = times.seconds;
  plan.warmup = times.warmup;
  json out{{"status", "measured"},
           {"entries", cfg.query_entries},
           {"bag_keys", plan.bag_keys},
           {"objects_per_key", objects_per_key},
           {"repeats", plan.repeats},
           {"now", plan.now}};
  // Both sides on one core, the same one: cores of a shared machine differ
  // (here by up to 30%), and the goal is per core. The BEAM inherits the
  // pin, and so does the bag lookups' thread, which run_threads leaves
  // unpinned here.
  std::optional<core_pin> one_core;
  if (times.pin)
    one_core.emplace(1);
  auto same_core = times;
  same_core.pin = false;
  auto rows = cachet_side(sys, plan, same_core);
  // Why there are no BEAM rows, if there are none: what `missing` says.
  std::string no_beam;
  if (cfg.no_beam)
    no_beam = "skipped (--no-beam)";
  else if (find_elixir().empty())
    no_beam = "elixir not installed (make bench-deps)";
  if (!no_beam.empty())
    missing.push_back("beam_ets_select, beam_ets_select_count, "
                      "beam_ets_select_delete, beam_ets_bag_lookup: "
                      + no_beam);
  if (!no_beam.empty() || !run_beam_query(plan, rows, machine, missing))
    out["beam_reason"] = missing.back();
  out["results"] = rows;
  // Ratios of cachet's rate over the BEAM's, row by row.
  auto& ratios = out["ratios"] = json::array();
  for (auto* name : {"select", "select_count", "select_delete", "bag_lookup"}) {
    auto* a = row_of(out["results"], fmt::format("query_{}", name));
    auto* b = row_of(out["results"], fmt::format("beam_ets_{}", name));
    if (a == nullptr || b == nullptr)
      continue;
    auto rate = [](const json& x) {
      return x.value("rows_per_sec", x.value("ops_per_sec", 0.0));
    };
    if (rate(*b) <= 0)
      continue;
    json j{{"name", name},
           {"cachet", a->at("path")},
           {"beam", b->at("path")},
           {"cachet_rate", rate(*a)},
           {"beam_rate", rate(*b)},
           {"ratio", rate(*a) / rate(*b)},
           {"target", std::string{name} != "bag_lookup"}};
    if (a->contains("matched")) {
      // Both sides ran the same predicate on the same entries.
      j["matched_equal"] = a->at("matched") == b->value("matched", json{});
      if (!j["matched_equal"].get<bool>())
        fmt::print(stderr, "warning: {}: cachet and the BEAM matched different "
                           "counts\n",
                   name);
    }
    ratios.push_back(std::move(j));
  }
  return out;
}

void add_query_targets(report& r) {
  target t{"select_family_vs_beam_ets_1_thread",
           "select (1% of values), select_count and select_delete (10% "
           "expired) over the whole table >= 10x :ets.select, "
           ":ets.select_count and :ets.select_delete with the equivalent "
           "match spec, one thread vs one BEAM process (worst of the three)",
           ">=", "x", 10};
  auto& q = r.query;
  for (auto& c : q.value("ratios", nlohmann::json::array())) {
    if (!c.value("target", false))
      continue;
    auto ratio = c.value("ratio", 0.0);
    auto cell = c;
    cell["cell"] = fmt::format("{}, {} entries", c.value("name", ""),
                               q.value("entries", 0));
    t.cells.push_back(std::move(cell));
    if (!t.measured || ratio < *t.measured) {
      t.measured = ratio;
      t.worst_cell = fmt::format(
        "{} over {} entries: {} {:.3g} M rows/s vs {} {:.3g} M rows/s",
        c.value("name", ""), q.value("entries", 0), c.value("cachet", ""),
        c.value("cachet_rate", 0.0) / 1e6, c.value("beam", ""),
        c.value("beam_rate", 0.0) / 1e6);
    }
  }
  if (!t.measured)
    t.reason = q.value("status", "") != "measured"
                 ? q.value("reason", std::string{"query rows not measured"})
                 : q.value("beam_reason", std::string{"no BEAM query rows"});
  r.targets.push_back(std::move(t));
}

} // namespace cachet_bench
