// Turns the measured rows into the targets' verdicts, the stdout tables, the
// JSON document and the gnuplot plot. Every comparison is a ratio of two
// rows of the same run, never against a number measured elsewhere.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <fmt/core.h>

namespace cachet_bench {

namespace {

// -- finding rows -------------------------------------------------------------

struct cell {
  std::size_t threads;
  std::size_t keys;
  int mix;
  std::string dist;
  std::string value_type;
};

std::string keys_label(std::size_t n) {
  if (n >= 1000000 && n % 1000000 == 0)
    return fmt::format("{}M", n / 1000000);
  if (n >= 1000 && n % 1000 == 0)
    return fmt::format("{}K", n / 1000);
  return std::to_string(n);
}

std::string describe(const cell& c) {
  return fmt::format("{} {} keys {} {}% reads {} thread{}", c.value_type,
                     keys_label(c.keys), c.dist, c.mix, c.threads,
                     c.threads == 1 ? "" : "s");
}

const result_row* find(const report& r, path_id p, const cell& c) {
  const result_row* found = nullptr;
  for (auto& row : r.rows)
    if (row.path == p && row.threads == c.threads && row.keys == c.keys
        && row.mix == c.mix && row.dist == c.dist
        && row.value_type == c.value_type) {
      if (row.series == "matrix")
        return &row;
      found = &row;
    }
  return found;
}

/// Every distinct cell measured for any path.
std::vector<cell> cells_of(const report& r) {
  std::set<std::tuple<std::string, std::size_t, std::string, int, std::size_t>>
    seen;
  std::vector<cell> out;
  for (auto& row : r.rows)
    if (seen.emplace(row.value_type, row.keys, row.dist, row.mix, row.threads)
          .second)
      out.push_back({row.threads, row.keys, row.mix, row.dist, row.value_type});
  return out;
}

double ops(const result_row* row) {
  return row != nullptr ? row->ops_per_sec : 0;
}

/// Best of several paths at a cell.
template <class Paths>
const result_row* best_of(const report& r, const Paths& ps, const cell& c) {
  const result_row* best = nullptr;
  for (auto p : ps)
    if (auto* row = find(r, p, c); row && row->ops_per_sec > ops(best))
      best = row;
  return best;
}

const result_row* best_of(const report& r, std::initializer_list<path_id> ps,
                          const cell& c) {
  return best_of<std::initializer_list<path_id>>(r, ps, c);
}

/// Whether `ratio` meets target `t`'s goal.
bool meets(const target& t, double ratio) {
  return t.compare == ">=" ? ratio >= t.goal : ratio <= t.goal;
}

/// A ratio target over cells: `num / den` at each cell selected by `pick`;
/// the target's measure is the worst ratio (the smallest for an "at least"
/// goal, the largest for an "at most" one).
void ratio_target(report& r, target t, std::function<bool(const cell&)> pick,
                  std::function<const result_row*(const cell&)> num,
                  std::function<const result_row*(const cell&)> den,
                  std::string missing_reason) {
  for (auto& c : cells_of(r)) {
    if (!pick(c))
      continue;
    auto* a = num(c);
    auto* b = den(c);
    if (a == nullptr || b == nullptr || b->ops_per_sec <= 0)
      continue;
    double ratio = a->ops_per_sec / b->ops_per_sec;
    t.cells.push_back({{"cell", describe(c)},
                       {"ratio", ratio},
                       {"numerator", {{"path", to_string(a->path)},
                                      {"ops_per_sec", a->ops_per_sec}}},
                       {"denominator", {{"path", to_string(b->path)},
                                        {"ops_per_sec", b->ops_per_sec}}}});
    auto worse = t.compare == ">=" ? ratio < t.measured.value_or(ratio + 1)
                                   : ratio > t.measured.value_or(ratio - 1);
    if (worse) {
      t.measured = ratio;
      t.worst_cell = fmt::format("{}: {} {:.3g} M/s vs {} {:.3g} M/s",
                                 describe(c), to_string(a->path),
                                 a->ops_per_sec / 1e6, to_string(b->path),
                                 b->ops_per_sec / 1e6);
    }
  }
  if (!t.measured)
    t.reason = std::move(missing_reason);
  r.targets.push_back(std::move(t));
}

/// Largest over smallest run of a row: how steady the machine was.
double spread(const result_row& row) {
  if (row.runs.empty())
    return 1;
  auto [lo, hi] = std::minmax_element(row.runs.begin(), row.runs.end());
  return *lo > 0 ? *hi / *lo : 0;
}

constexpr double noisy_spread = 2.0;

std::string mops(double x) {
  x /= 1e6;
  if (x <= 0)
    return "-";
  if (x >= 100)
    return fmt::format("{:.0f}", x);
  if (x >= 10)
    return fmt::format("{:.1f}", x);
  if (x >= 1)
    return fmt::format("{:.2f}", x);
  return fmt::format("{:.3f}", x);
}

std::string ratio_str(double x) {
  if (x >= 100)
    return fmt::format("{:.0f}x", x);
  if (x >= 10)
    return fmt::format("{:.1f}x", x);
  return fmt::format("{:.2f}x", x);
}

template <class T>
std::vector<T> sorted_unique(std::vector<T> xs) {
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  return xs;
}

std::string value_label(const std::string& vt) {
  return vt == "u64" ? "u64 -> u64" : "16 B string -> 100 B string";
}

const nlohmann::json* query_row(const nlohmann::json& q,
                                const std::string& path) {
  auto rows = q.find("results");
  if (rows == q.end())
    return nullptr;
  for (auto& row : *rows)
    if (row.value("path", "") == path)
      return &row;
  return nullptr;
}

/// The query rows: cachet's and the BEAM's side by side, with their ratio.
void print_query(const nlohmann::json& q) {
  if (q.value("status", "") != "measured") {
    fmt::print("\nquery rows: {}\n", q.value("reason", "not measured"));
    return;
  }
  auto n = q.value("entries", std::size_t{0});
  fmt::print("\nquery rows, one thread vs one BEAM process: {} entries u64 -> "
             "{{u64 value, i64 expires_at}}, in ETS {{key, value, "
             "expires_at}} in a public set\n"
             "median of {} calls, each over the whole table; M rows/s: "
             "entries visited per second\n",
             keys_label(n), q.value("repeats", 0));
  fmt::print("{:<40}{:>8}{:>11}{:>10}{:>11}{:>10}{:>9}\n", "row", "matched",
             "cachet ms", "M rows/s", "BEAM ms", "M rows/s", "ratio");
  auto ratio_of = [&](const std::string& name) -> std::string {
    for (auto& r : q.value("ratios", nlohmann::json::array()))
      if (r.value("name", "") == name)
        return ratio_str(r.value("ratio", 0.0));
    return "-";
  };
  for (auto* name : {"select", "select_count", "select_delete"}) {
    auto* a = query_row(q, fmt::format("query_{}", name));
    auto* b = query_row(q, fmt::format("beam_ets_{}", name));
    if (a == nullptr)
      continue;
    auto ms = [](const nlohmann::json* r) {
      return r ? fmt::format("{:.2f}", r->value("seconds", 0.0) * 1e3)
               : std::string{"-"};
    };
    auto rate = [](const nlohmann::json* r) {
      return r ? mops(r->value("rows_per_sec", 0.0)) : std::string{"-"};
    };
    fmt::print("{:<40}{:>8}{:>11}{:>10}{:>11}{:>10}{:>9}\n",
               a->value("what", ""), a->value("matched", 0), ms(a), rate(a),
               ms(b), rate(b), ratio_of(name));
  }
  if (auto* a = query_row(q, "query_bag_lookup")) {
    auto* b = query_row(q, "beam_ets_bag_lookup");
    fmt::print("bag lookup, {} keys x {} objects, random keys (M lookups/s): "
               "cachet {}, BEAM {}: {} (no target: measured only)\n",
               keys_label(a->value("keys", std::size_t{0})),
               a->value("objects_per_key", 0),
               mops(a->value("ops_per_sec", 0.0)),
               b ? mops(b->value("ops_per_sec", 0.0)) : std::string{"-"},
               ratio_of("bag_lookup"));
  }
  std::uint64_t errors = 0;
  for (auto& row : q.value("results", nlohmann::json::array()))
    errors += row.value("errors", std::uint64_t{0});
  if (errors > 0)
    fmt::print("warning: {} query calls failed or matched an unexpected "
               "count\n",
               errors);
}

/// Reads while a table grows, beside reads on it full.
void print_growth(const placeholder& g) {
  if (g.status != "measured") {
    fmt::print("\ngrowth: {}\n", g.reason);
    return;
  }
  auto& v = g.values;
  fmt::print("\ngrowth: a public u64 -> u64 table grown from {} to {} "
             "entries by one writer in {:.2f} s ({} M inserts/s); one reader "
             "looks up present keys, {}\n",
             v.value("start_entries", 0), v.value("entries", 0),
             v.value("growth_seconds", 0.0),
             mops(v.value("inserts_per_sec", 0.0)),
             v.value("timed", std::string{}));
  if (v.contains("note"))
    fmt::print("  {}\n", v.value("note", ""));
  fmt::print("{:<24}{:>12}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "reads (us)",
             "reads", "p50", "p99", "p99.9", "max", "missed");
  std::uint64_t missed = 0;
  for (auto* which : {"during_growth", "no_growth"}) {
    auto& x = v.at(which);
    auto m = x.value("misses", std::uint64_t{0})
             + x.value("errors", std::uint64_t{0});
    missed += m;
    fmt::print("{:<24}{:>12}{:>10.2f}{:>10.2f}{:>10.2f}{:>10.1f}{:>10}\n",
               std::string{which} == "during_growth" ? "during growth"
                                                     : "pre-filled, no growth",
               x.value("reads", std::uint64_t{0}), x.value("p50_us", 0.0),
               x.value("p99_us", 0.0), x.value("p999_us", 0.0),
               x.value("max_us", 0.0), m);
  }
  fmt::print("p99.9 growing / pre-filled: {:.2f}x\n",
             v.value("p999_ratio", 0.0));
  if (missed > 0)
    fmt::print("warning: {} lookups of keys already inserted did not find "
               "them (missed: not found or an error)\n",
               missed);
}

} // namespace

// -- targets --------------------------------------------------------------------

namespace {

/// The mailbox as the bottleneck, shown as scaling: the message path's
/// throughput (the better of actor and thread callers at each count) at 2
/// and at 16 callers over 1 caller; at most 1.1x, i.e. flat, with the p99
/// beside it growing instead.
void add_message_scaling(report& r) {
  target t{"message_scaling",
           "message-path throughput (best of actor and thread callers) at 2 "
           "and 16 callers <= 1.1x that at 1 caller: one mailbox, flat; the "
           "p99 grows instead",
           "<=", "x", 1.1};
  auto& sw = r.settings["sweep_cell"];
  auto at = [&](std::size_t n) {
    cell c{n, sw.value("keys", std::size_t{0}), 100,
           sw.value("dist", std::string{}),
           sw.value("value_type", std::string{})};
    return best_of(r, {path_id::message_actor, path_id::message_thread}, c);
  };
  auto p99 = [](const result_row* row) {
    return row->lat ? fmt::format("p99 {:.1f} us", row->lat->p99_us)
                    : std::string{"p99 -"};
  };
  auto* one = at(1);
  std::string text;
  if (one != nullptr && one->ops_per_sec > 0) {
    text = fmt::format("1 caller: {} {:.3g} M/s, {}", to_string(one->path),
                       one->ops_per_sec / 1e6, p99(one));
    for (std::size_t n : {2, 16}) {
      auto* row = at(n);
      if (row == nullptr)
        continue;
      auto ratio = row->ops_per_sec / one->ops_per_sec;
      text += fmt::format("; {} callers: {} {:.3g} M/s ({:.2f}x), {}", n,
                          to_string(row->path), row->ops_per_sec / 1e6, ratio,
                          p99(row));
      t.cells.push_back(
        {{"callers", n},
         {"ratio", ratio},
         {"path", to_string(row->path)},
         {"ops_per_sec", row->ops_per_sec},
         {"p99_us", row->lat ? nlohmann::json(row->lat->p99_us) : nullptr},
         {"one_caller", {{"path", to_string(one->path)},
                         {"ops_per_sec", one->ops_per_sec},
                         {"p99_us", one->lat ? nlohmann::json(one->lat->p99_us)
                                             : nullptr}}}});
      if (!t.measured || ratio > *t.measured)
        t.measured = ratio;
    }
  }
  if (t.measured)
    t.worst_cell = text;
  else
    t.reason = "needs a message path at 1 caller and at 2 or 16 (--callers)";
  r.targets.push_back(std::move(t));
}

} // namespace

void add_growth_target(report& r) {
  target t{"growth_read_p999_ratio",
           "p99.9 of direct reads while one writer grows a u64 table from "
           "1K entries <= 4x the p99.9 on a table pre-filled to the final "
           "size (one batch insert), not growing",
           "<=", "x", 4.0};
  auto& g = r.growth;
  if (g.status == "measured") {
    auto& v = g.values;
    auto d = v.at("during_growth");
    auto s = v.at("no_growth");
    t.measured = v.at("p999_ratio").get<double>();
    t.worst_cell = fmt::format(
      "{} -> {} entries in {:.2f} s: p99.9 {:.2f} us growing, {:.2f} us "
      "pre-filled (max {:.1f} us vs {:.1f} us)",
      v.value("start_entries", 0), v.value("entries", 0),
      v.value("growth_seconds", 0.0), d.value("p999_us", 0.0),
      s.value("p999_us", 0.0), d.value("max_us", 0.0), s.value("max_us", 0.0));
    auto cell = v;
    cell["ratio"] = *t.measured;
    t.cells.push_back(std::move(cell));
  } else {
    t.reason = g.reason.empty() ? std::string{"growth not measured"}
                                : g.reason;
  }
  r.targets.push_back(std::move(t));
}

void evaluate_targets(report& r) {
  r.targets.clear();
  auto row_of = [&r](path_id p) {
    return [&r, p](const cell& c) { return find(r, p, c); };
  };
  auto direct_read = [&r](const cell& c) {
    return find(r, c.mix == 100 ? path_id::direct_protected
                                : path_id::direct_public,
                c);
  };
  auto best_peer = [&r](const cell& c) {
    return best_of(r, concurrent_peers, c);
  };
  auto best_flat = [&r](const cell& c) { return best_of(r, flat_ceilings, c); };
  auto beam_reason = r.beam_keys == 0
                       ? std::string{"BEAM not run (needs elixir; see --beam)"}
                       : std::string{"no matching BEAM row"};
  for (std::size_t n : {1, 2})
    ratio_target(
      r,
      {fmt::format("direct_vs_beam_ets_lookup_{}_thread{}", n,
                   n == 1 ? "" : "s"),
       fmt::format("direct reads >= 10x BEAM :ets.lookup at {} thread{}, u64, "
                   "100% reads",
                   n, n == 1 ? "" : "s"),
       ">=", "x", 10},
      [n](const cell& c) { return c.threads == n && c.mix == 100; },
      row_of(path_id::direct_protected), row_of(path_id::beam_ets_lookup),
      beam_reason);
  for (std::size_t n : {std::size_t{1000}, std::size_t{1000000}})
    ratio_target(
      r,
      {fmt::format("direct_vs_best_cpp_peer_{}_keys", keys_label(n)),
       fmt::format("direct >= 1.0x the best concurrent C++ peer (shared_mutex, "
                   "tbb, libcuckoo, tbb unordered, cds feldman, cds "
                   "splitlist, xenium vyukov, xenium harris_michael), {} "
                   "keys, 100/95/50% reads, 1 and 2 threads (worst cell over "
                   "value types and distributions; direct_protected at 100%, "
                   "direct_public otherwise)",
                   keys_label(n)),
       ">=", "x", 1.0},
      [n](const cell& c) {
        return c.keys == n && (c.mix == 100 || c.mix == 95 || c.mix == 50)
               && (c.threads == 1 || c.threads == 2);
      },
      direct_read, best_peer,
      fmt::format("needs {} keys, 100/95/50% reads, direct and a peer",
                  keys_label(n)));
  ratio_target(
    r,
    {"direct_vs_best_flat_ceiling",
     "direct reads >= 0.8x the best unsynchronized flat map (boost "
     "unordered_flat_map, absl flat_hash_map), 100% reads (worst cell)",
     ">=", "x", 0.8},
    [](const cell& c) { return c.mix == 100; },
    row_of(path_id::direct_protected), best_flat,
    "needs direct_protected and ceiling_boost_flat or ceiling_absl_flat at "
    "100% reads (libboost1.81-dev, libabsl-dev)");
  ratio_target(
    r,
    {"direct_vs_unsync_ceiling",
     "direct reads >= 0.6x the unsynchronized std::unordered_map, 100% reads "
     "(worst cell)",
     ">=", "x", 0.6},
    [](const cell& c) { return c.mix == 100; },
    row_of(path_id::direct_protected), row_of(path_id::ceiling_unsync),
    "needs direct_protected and ceiling_unsync at 100% reads");
  ratio_target(
    r,
    {"direct_scaling_2_threads",
     "direct reads at 2 threads >= 1.9x those at 1 thread, 100% reads "
     "(worst cell)",
     ">=", "x", 1.9},
    [](const cell& c) { return c.threads == 2 && c.mix == 100; },
    row_of(path_id::direct_protected),
    [&r](const cell& c) {
      auto one = c;
      one.threads = 1;
      return find(r, path_id::direct_protected, one);
    },
    "needs direct_protected at 1 and 2 threads, 100% reads");
  add_message_scaling(r);
  ratio_target(
    r,
    {"message_actor_vs_beam_genserver_call",
     "message path from actors >= 2x BEAM GenServer.call (worst cell)", ">=",
     "x", 2.0},
    [](const cell&) { return true; }, row_of(path_id::message_actor),
    row_of(path_id::beam_genserver_call), beam_reason);
  ratio_target(
    r,
    {"message_thread_vs_beam_genserver_call",
     "blocking call from plain threads >= 1x BEAM GenServer.call (worst cell)",
     ">=", "x", 1.0},
    [](const cell&) { return true; }, row_of(path_id::message_thread),
    row_of(path_id::beam_genserver_call), beam_reason);
  for (auto* vt : {"str", "u64"}) {
    auto str = std::string{vt} == "str";
    target mem{str ? "bytes_per_entry" : "bytes_per_entry_u64",
               str ? "<= 150 bytes per entry for 1M x (16 B key, 100 B "
                     "value), RSS growth"
                   : "<= 32 bytes per entry for 1M x (u64 key, u64 value), "
                     "RSS growth",
               "<=", "B/entry", str ? 150.0 : 32.0};
    for (auto& m : r.memory)
      if (m.structure == "cachet" && m.value_type == vt) {
        mem.measured = m.rss_bytes_per_entry;
        mem.worst_cell = fmt::format("{} entries", m.entries);
        mem.cells.push_back({{"structure", m.structure},
                             {"value_type", m.value_type},
                             {"entries", m.entries},
                             {"rss_bytes_per_entry", m.rss_bytes_per_entry}});
      }
    if (!mem.measured)
      mem.reason = "memory not measured (--no-memory)";
    r.targets.push_back(std::move(mem));
  }
  add_growth_target(r);
  for (auto* which : {"fresh", "heir"}) {
    target t{fmt::format("restart_p99_{}", which),
             fmt::format("crash -> named table serving again, p99 <= 1 ms, "
                         "restart policy {}",
                         which),
             "<=", "us", 1000};
    for (auto& p : r.restart)
      if (p.name == which) {
        if (p.status == "measured") {
          t.measured = p.values.at("p99_us").get<double>();
          t.worst_cell = fmt::format("p50 {:.0f} us, p99 over {} kills",
                                     p.values.at("p50_us").get<double>(),
                                     p.values.at("crashes").get<std::size_t>());
          t.cells.push_back(p.values);
        } else {
          t.reason = p.reason;
        }
      }
    if (!t.measured && t.reason.empty())
      t.reason = "restart latency not measured";
    r.targets.push_back(std::move(t));
  }
}

// -- stdout ---------------------------------------------------------------------

void print_report(const report& r) {
  auto& s = r.settings;
  fmt::print("cachet-bench: {} cores, {}; {}\n",
             r.machine.value("cores", 0),
             r.machine.value("model", std::string{"?"}),
             r.machine.value("compiler", std::string{"?"}));
  fmt::print("throughput in millions of ops/s: median of {} runs of {:.2f} s "
             "(after {:.2f} s warm-up) per cell\n",
             s.value("repeats", 0), s.value("seconds", 0.0),
             s.value("warmup_seconds", 0.0));
  // One block per value type, key count and distribution; columns are the
  // mixes and thread counts.
  std::vector<std::string> vts;
  std::vector<std::size_t> keys;
  std::vector<std::string> dists;
  std::vector<int> mixes;
  std::vector<std::size_t> threads;
  for (auto& row : r.rows) {
    if (row.series != "matrix")
      continue;
    if (std::find(vts.begin(), vts.end(), row.value_type) == vts.end())
      vts.push_back(row.value_type);
    if (std::find(dists.begin(), dists.end(), row.dist) == dists.end())
      dists.push_back(row.dist);
    keys.push_back(row.keys);
    mixes.push_back(row.mix);
    threads.push_back(row.threads);
  }
  keys = sorted_unique(keys);
  mixes = sorted_unique(mixes);
  std::reverse(mixes.begin(), mixes.end());
  threads = sorted_unique(threads);
  const int col = 9;
  bool any_noisy = false;
  for (auto& vt : vts)
    for (auto n : keys)
      for (auto& d : dists) {
        bool any = false;
        for (auto& row : r.rows)
          any = any
                || (row.series == "matrix" && row.value_type == vt
                    && row.keys == n && row.dist == d);
        if (!any)
          continue;
        fmt::print("\n{}, {} keys, {}\n", value_label(vt), keys_label(n), d);
        fmt::print("{:<28}", "");
        for (auto m : mixes)
          fmt::print("{:>{}} ", fmt::format("{}% reads", m),
                     col * static_cast<int>(threads.size()) - 1);
        fmt::print("\n{:<28}", "path");
        for (std::size_t i = 0; i < mixes.size(); ++i)
          for (auto t : threads)
            fmt::print("{:>{}} ", fmt::format("{} thr", t), col - 1);
        fmt::print("\n");
        for (auto p : all_paths) {
          bool has = false;
          std::string line = fmt::format("{:<28}", to_string(p));
          for (auto m : mixes)
            for (auto t : threads) {
              auto* row = find(r, p, {t, n, m, d, vt});
              has = has || row != nullptr;
              auto noisy = row != nullptr && spread(*row) > noisy_spread;
              any_noisy = any_noisy || noisy;
              line += fmt::format("{:>{}}{}",
                                  row ? mops(row->ops_per_sec) : "-", col - 1,
                                  noisy ? "~" : " ");
            }
          if (has)
            fmt::print("{}\n", line);
        }
      }
  if (any_noisy)
    fmt::print("~ its runs differ by more than {}x: the machine was busy; "
               "compare with care\n",
               noisy_spread);
  // The message path as callers grow.
  bool any_lat = false;
  for (auto& row : r.rows)
    any_lat = any_lat || row.lat.has_value();
  if (any_lat) {
    auto& sw = s["sweep_cell"];
    fmt::print("\nmessage path as callers grow ({}, {} keys, {}, 100% reads); "
               "latency per call in us\n",
               value_label(sw.value("value_type", std::string{})),
               keys_label(sw.value("keys", std::size_t{0})),
               sw.value("dist", std::string{}));
    fmt::print("{:<28}{:>8}{:>11}{:>10}{:>10}{:>10}\n", "path", "callers",
               "M ops/s", "p50", "p99", "p99.9");
    for (auto p : {path_id::message_actor, path_id::message_thread,
                   path_id::beam_genserver_call, path_id::direct_protected}) {
      std::vector<const result_row*> rs;
      for (auto& row : r.rows)
        if (row.path == p && row.value_type == sw.value("value_type", "")
            && row.keys == sw.value("keys", std::size_t{0})
            && row.dist == sw.value("dist", "") && row.mix == 100)
          rs.push_back(&row);
      std::sort(rs.begin(), rs.end(), [](auto* x, auto* y) {
        return x->threads < y->threads;
      });
      for (auto* row : rs) {
        if (row->lat)
          fmt::print("{:<28}{:>8}{:>11}{:>10.1f}{:>10.1f}{:>10.1f}\n",
                     to_string(p), row->threads, mops(row->ops_per_sec),
                     row->lat->p50_us, row->lat->p99_us, row->lat->p999_us);
        else
          fmt::print("{:<28}{:>8}{:>11}{:>10}{:>10}{:>10}\n", to_string(p),
                     row->threads, mops(row->ops_per_sec), "", "", "");
      }
    }
  }
  for (auto* vt : {"str", "u64"}) {
    std::vector<const memory_row*> ms;
    for (auto& m : r.memory)
      if (m.value_type == vt)
        ms.push_back(&m);
    if (ms.empty())
      continue;
    fmt::print("\nmemory per entry, {} x {}, growth after inserting\n",
               ms.front()->entries,
               std::string{vt} == "str" ? "(16 B key, 100 B value)"
                                        : "(u64 key, u64 value)");
    fmt::print("{:<32}{:>10}{:>10}  {}\n", "structure", "RSS B", "heap B",
               "note");
    for (auto* m : ms)
      fmt::print("{:<32}{:>10.1f}{:>10}  {}\n", m->structure,
                 m->rss_bytes_per_entry,
                 m->heap_bytes_per_entry
                   ? fmt::format("{:.1f}", *m->heap_bytes_per_entry)
                   : "-",
                 m->note);
  }
  print_growth(r.growth);
  fmt::print("\n");
  for (auto& p : r.restart)
    fmt::print("restart latency ({}): {}\n", p.name,
               p.status == "measured" ? p.values.dump() : p.reason);
  if (r.reload.status == "measured") {
    auto& v = r.reload.values;
    fmt::print("dump and reload, {} x (16 B key, 100 B value), median of {}: "
               "tab2file {} M entries/s, file2tab {} M entries/s ({:.2f} s); "
               "reads on the reloaded table {:.2f}x those on the table "
               "filled by single inserts\n",
               v.value("entries", 0), v.value("runs", 0),
               mops(v.value("dump_entries_per_sec", 0.0)),
               mops(v.value("reload_entries_per_sec", 0.0)),
               v.value("reload_seconds", 0.0),
               v.value("reads_reloaded_vs_inserted", 0.0));
    for (auto& z : v.value("sizes", nlohmann::json::array()))
      fmt::print("  {:>9} entries: file2tab {} M entries/s, reads after "
                 "reload {:.2f}x\n",
                 z.value("entries", 0),
                 mops(z.value("reload_entries_per_sec", 0.0)),
                 z.value("reads_reloaded_vs_inserted", 0.0));
    if (v.contains("note"))
      fmt::print("  {}\n", v.value("note", ""));
  } else {
    fmt::print("reload from a dump: {}\n", r.reload.reason);
  }
  print_query(r.query);
  print_remote(r.remote);
  fmt::print("\ntargets (each a ratio within this run; worst cell shown)\n");
  for (auto& t : r.targets) {
    auto pass = t.pass();
    std::string verdict = !pass ? "----" : *pass ? "PASS" : "MISS";
    std::string measured;
    if (t.measured)
      measured = t.unit == "x" ? ratio_str(*t.measured)
                               : fmt::format("{:.1f} {}", *t.measured, t.unit);
    std::string goal = t.unit == "x"
                         ? fmt::format("{} {}", t.compare, ratio_str(t.goal))
                         : fmt::format("{} {} {}", t.compare, t.goal, t.unit);
    fmt::print("  {} {:<40} {:>12}  goal {:<14}", verdict, t.name,
               t.measured ? measured : "-", goal);
    if (auto m = t.margin())
      fmt::print(" ({:.2f}x of goal)", *m);
    fmt::print("\n");
    if (t.measured && t.unit == "x" && !t.cells.empty()) {
      std::size_t ok = 0;
      for (auto& c : t.cells)
        ok += meets(t, c.value("ratio", 0.0)) ? 1 : 0;
      fmt::print("       {} of {} cells meet the goal; worst: {}\n", ok,
                 t.cells.size(), t.worst_cell);
    }
    if (!t.measured)
      fmt::print("       {}{}\n",
                 t.reason.rfind("not measured", 0) == 0 ? "" : "not measured: ",
                 t.reason);
  }
  if (!r.missing.empty()) {
    fmt::print("\nnot measured:\n");
    for (auto& m : r.missing)
      fmt::print("  {}\n", m);
  }
  fmt::print("\nruntime {:.1f} s\n", r.runtime_seconds);
}

// -- JSON -------------------------------------------------------------------------

nlohmann::json to_json(const report& r) {
  using nlohmann::json;
  json out;
  out["schema"] = "cachet-bench/1";
  out["settings"] = r.settings;
  out["machine"] = r.machine;
  out["missing"] = r.missing;
  out["paths"] = json::object();
  for (auto p : all_paths)
    out["paths"][std::string{to_string(p)}] = std::string{describe(p)};
  auto& rows = out["results"] = json::array();
  for (auto& row : r.rows) {
    json j{{"path", to_string(row.path)},
           {"threads", row.threads},
           {"keys", row.keys},
           {"mix", row.mix},
           {"dist", row.dist},
           {"value_type", row.value_type},
           {"ops_per_sec", row.ops_per_sec},
           {"runs", row.runs},
           {"spread", spread(row)},
           {"series", row.series},
           {"errors", row.errors}};
    if (!row.table.empty())
      j["table"] = row.table;
    if (row.lat) {
      j["p50_us"] = row.lat->p50_us;
      j["p99_us"] = row.lat->p99_us;
      j["p999_us"] = row.lat->p999_us;
      j["latency_samples"] = row.lat->samples;
    }
    rows.push_back(std::move(j));
  }
  auto& mem = out["memory"] = json::array();
  for (auto& m : r.memory) {
    auto str = m.value_type == "str";
    json j{{"structure", m.structure},
           {"value_type", m.value_type},
           {"entries", m.entries},
           {"key_bytes", str ? 16 : 8},
           {"value_bytes", str ? 100 : 8},
           {"rss_bytes_per_entry", m.rss_bytes_per_entry}};
    j["heap_bytes_per_entry"] = m.heap_bytes_per_entry
                                  ? json(*m.heap_bytes_per_entry)
                                  : json(nullptr);
    if (m.settled_heap_bytes_per_entry)
      j["settled_heap_bytes_per_entry"] = *m.settled_heap_bytes_per_entry;
    if (!m.note.empty())
      j["note"] = m.note;
    mem.push_back(std::move(j));
  }
  auto ph = [](const placeholder& p) {
    json j{{"status", p.status}};
    if (!p.reason.empty())
      j["reason"] = p.reason;
    for (auto& [k, v] : p.values.items())
      j[k] = v;
    return j;
  };
  out["restart"] = json::object();
  for (auto& p : r.restart)
    out["restart"][p.name] = ph(p);
  out["reload"] = ph(r.reload);
  out["growth"] = ph(r.growth);
  out["cache"] = r.cache;
  out["query"] = r.query;
  out["remote"] = r.remote;
  auto& ts = out["targets"] = json::array();
  for (auto& t : r.targets) {
    json j{{"name", t.name},
           {"description", t.description},
           {"goal", t.goal},
           {"compare", t.compare},
           {"unit", t.unit},
           {"status", t.measured ? "measured" : "not_measured"}};
    j["measured"] = t.measured ? json(*t.measured) : json(nullptr);
    auto pass = t.pass();
    j["pass"] = pass ? json(*pass) : json(nullptr);
    auto margin = t.margin();
    j["margin"] = margin ? json(*margin) : json(nullptr);
    if (!t.worst_cell.empty())
      j["worst_cell"] = t.worst_cell;
    if (!t.reason.empty())
      j["reason"] = t.reason;
    j["cells"] = t.cells;
    ts.push_back(std::move(j));
  }
  out["runtime_seconds"] = r.runtime_seconds;
  return out;
}

// -- plot --------------------------------------------------------------------------

bool write_plot(const report& r, const std::string& png) {
  auto& sw = r.settings["sweep_cell"];
  auto vt = sw.value("value_type", std::string{"u64"});
  auto n = sw.value("keys", std::size_t{1000});
  auto d = sw.value("dist", std::string{"uniform"});
  auto base = png.size() > 4 && png.substr(png.size() - 4) == ".png"
                ? png.substr(0, png.size() - 4)
                : png;
  auto script = base + ".gp";
  std::ofstream gp{script};
  if (!gp)
    return false;
  // Throughput per path against threads, and the message path's latency
  // against callers: one datablock per line.
  // Scaling: throughput at n over throughput at 1, for the paths the sweep
  // runs at every caller count (direct_scaling_2_threads, message_scaling).
  std::vector<std::pair<std::string, std::string>> tput, lat, scale;
  for (auto p : all_paths) {
    std::map<std::size_t, const result_row*> pts;
    for (auto& row : r.rows)
      if (row.path == p && row.value_type == vt && row.keys == n
          && row.dist == d && row.mix == 100
          && (!pts.count(row.threads) || row.series == "matrix"))
        pts[row.threads] = &row;
    if (pts.empty())
      continue;
    auto name = std::string{to_string(p)};
    std::string data, lat_data, scale_data;
    auto one = pts.count(1) ? pts[1]->ops_per_sec : 0.0;
    for (auto& [t, row] : pts) {
      data += fmt::format("{} {}\n", t, row->ops_per_sec);
      if (row->lat)
        lat_data += fmt::format("{} {} {}\n", t, row->lat->p50_us,
                                row->lat->p99_us);
      if (one > 0)
        scale_data += fmt::format("{} {}\n", t, row->ops_per_sec / one);
    }
    tput.emplace_back(name, data);
    if (!lat_data.empty())
      lat.emplace_back(name, lat_data);
    if (pts.size() > 2 && !scale_data.empty())
      scale.emplace_back(name, scale_data);
  }
  if (tput.empty())
    return false;
  for (auto& [name, data] : tput)
    gp << "$t_" << name << " << EOD\n" << data << "EOD\n";
  for (auto& [name, data] : lat)
    gp << "$l_" << name << " << EOD\n" << data << "EOD\n";
  for (auto& [name, data] : scale)
    gp << "$s_" << name << " << EOD\n" << data << "EOD\n";
  auto machine = fmt::format("{} cores, {}", r.machine.value("cores", 0),
                             r.machine.value("model", std::string{"?"}));
  // Fixed colours: cachet's direct paths blue, the peers warm, the ceiling
  // black, the message paths red/purple, the BEAM green.
  auto style = [](const std::string& name) -> std::string {
    static const std::map<std::string, std::string> styles{
      {"direct_protected", "lc rgb '#1f4fb4' lw 3 pt 5"},
      {"direct_public", "lc rgb '#3fa7d6' lw 2 pt 4"},
      {"peer_shared_mutex", "lc rgb '#8c8c8c' lw 2 pt 6"},
      {"peer_tbb", "lc rgb '#b5a300' lw 2 pt 8"},
      {"peer_libcuckoo", "lc rgb '#f08a24' lw 2 pt 10"},
      {"peer_tbb_unordered", "lc rgb '#7a6a00' lw 2 pt 12"},
      {"peer_cds_feldman", "lc rgb '#c0392b' lw 2 dt 4 pt 14"},
      {"peer_cds_splitlist", "lc rgb '#e67e73' lw 2 dt 4 pt 15"},
      {"peer_xenium_vyukov", "lc rgb '#8e5a2b' lw 2 dt 5 pt 3"},
      {"peer_xenium_harris_michael", "lc rgb '#c49a6c' lw 2 dt 5 pt 2"},
      {"ceiling_unsync", "lc rgb '#000000' lw 2 dt 2 pt 1"},
      {"ceiling_boost_flat", "lc rgb '#404040' lw 2 dt 3 pt 1"},
      {"ceiling_absl_flat", "lc rgb '#707070' lw 2 dt 3 pt 1"},
      {"message_actor", "lc rgb '#d62728' lw 3 pt 7"},
      {"message_thread", "lc rgb '#8e44ad' lw 3 pt 9"},
      {"beam_genserver_call", "lc rgb '#1e9e3a' lw 3 dt 2 pt 11"},
      {"beam_ets_lookup", "lc rgb '#7ed87e' lw 3 dt 2 pt 13"},
    };
    auto i = styles.find(name);
    return i != styles.end() ? i->second : "lw 2";
  };
  gp << "set terminal pngcairo size 2000,680 noenhanced font ',10'\n"
     << "set output '" << png << "'\n"
     << "set multiplot layout 1,3 title '"
     << fmt::format("cachet-bench: {}, {} keys, {}, 100% reads ({})",
                    value_label(vt), keys_label(n), d, machine)
     << "'\n"
     << "set logscale x 2\nset logscale y 10\nset grid\n"
     << "set xrange [0.85:19]\nset xtics (1,2,4,8,16)\n"
     << "set format y '%.0s%c'\n"
     << "set bmargin 11\n"
     << "set key at screen 0.17, screen 0.01 center bottom maxrows 6 width 1\n"
     << "set xlabel 'threads (callers for message paths)'\n"
     << "set ylabel 'operations per second (log)'\n"
     << "set title 'throughput: direct reads scale, the mailbox stays flat'\n"
     << "plot ";
  for (std::size_t i = 0; i < tput.size(); ++i) {
    auto& name = tput[i].first;
    gp << (i ? ", " : "") << "$t_" << name << " using 1:2 with linespoints "
       << style(name) << " title '" << name << "'";
  }
  gp << "\n";
  if (!lat.empty()) {
    gp << "set title 'message path: latency per call (solid p50, dashed "
          "p99)'\n"
       << "set ylabel 'microseconds (log)'\nset xlabel 'callers'\n"
       << "set format y '%g'\n"
       << "set key at screen 0.5, screen 0.01 center bottom maxrows 6 width 1\n"
       << "plot ";
    for (std::size_t i = 0; i < lat.size(); ++i) {
      auto& name = lat[i].first;
      auto st = style(name);
      gp << (i ? ", " : "") << "$l_" << name
         << " using 1:2 with linespoints " << st << " title '" << name
         << " p50', $l_" << name << " using 1:3 with linespoints " << st
         << " dt 2 title '" << name << " p99'";
    }
    gp << "\n";
  }
  if (!scale.empty()) {
    // Log-log: linear scaling is the diagonal, a flat mailbox the line at 1.
    gp << "set title 'scaling: throughput at n over throughput at 1 "
          "(direct_scaling_2_threads, message_scaling)'\n"
       << "set ylabel 'x of 1 thread / caller (log)'\nset xlabel 'threads "
          "(callers for message paths)'\n"
       << "set logscale y 2\nset yrange [0.0625:32]\n"
       << "set ytics ('1/16' 0.0625, '1/8' 0.125, '1/4' 0.25, '1/2' 0.5, 1, "
          "2, 4, 8, 16, 32)\nset format y '%g'\n"
       << "set key at screen 0.83, screen 0.01 center bottom maxrows 6 "
          "width 1\n"
       << "plot x with lines dt 3 lc rgb '#999999' title 'linear', ";
    for (std::size_t i = 0; i < scale.size(); ++i) {
      auto& name = scale[i].first;
      gp << (i ? ", " : "") << "$s_" << name << " using 1:2 with linespoints "
         << style(name) << " title '" << name << "'";
    }
    gp << "\n";
  }
  gp << "unset multiplot\n";
  gp.close();
  std::remove(png.c_str());
  auto cmd = fmt::format("gnuplot '{}' 2>&1", script);
  auto* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr)
    return false;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe) != nullptr)
    fmt::print(stderr, "gnuplot: {}", buf);
  auto rc = pclose(pipe);
  std::ifstream check{png};
  return rc == 0 && check.good();
}

} // namespace cachet_bench
