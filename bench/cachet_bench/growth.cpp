// Growth without pauses: one writer thread inserts into a public u64 -> u64
// table from 1 K to N entries while one reader thread looks up keys already
// in it, timing every read; then the same reader code runs on a second
// table pre-filled to N entries by one batch insert, which sizes the table
// once, so that nothing grows or is left half-migrated. The p99.9 of the
// reads during growth over the p99.9 without it is what a reader pays for
// the table's growth, however the engine grows.
//
// Keys are a bijection of their index (splitmix64's finalizer), so the
// reader makes any present key from an index below the published count,
// and no key array of N entries is needed. Every read is timed with the
// fenced TSC (measure.hpp: about 48 ns a read, so the p50 carries it, the
// tail is what matters), into a log-linear histogram exact to 3%. Every
// key read is present: a read that does not find it, or fails, is counted
// (`misses`, `errors`).
#include "tasks.hpp"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <cachet/cachet.hpp>

#include <caf/all.hpp>

#include "measure.hpp"
#include "structures.hpp"

namespace cachet_bench {

namespace {

using u64_table = cachet::table<std::uint64_t, std::uint64_t>;

/// Key number i: distinct for distinct i (splitmix64's steps are all
/// invertible).
std::uint64_t growth_key(std::uint64_t i) noexcept {
  return rng{i}.next();
}

struct reader_result {
  latency_histogram hist;
  std::uint64_t misses = 0;
  std::uint64_t errors = 0;
  std::uint64_t sink = 0;
  std::uint64_t t0 = 0;
  std::uint64_t t1 = 0;
  clock_type::time_point c0;
  clock_type::time_point c1;
};

/// Looks up random present keys (index below `count`) until `stop`,
/// timing each lookup.
void read_until(const u64_table& tab, const std::atomic<std::uint64_t>& count,
                const std::atomic<bool>& stop, bool pin, reader_result& out) {
  if (pin)
    pin_to_core(1);
  rng r{0x9031};
  out.c0 = clock_type::now();
  out.t0 = ticks_begin();
  while (!stop.load(std::memory_order_relaxed)) {
    // 64 reads between looks at the flag, as the throughput loops do.
    for (int i = 0; i < 64; ++i) {
      auto n = count.load(std::memory_order_acquire);
      auto k = growth_key(r.below(n));
      std::uint64_t v = 0;
      auto a = ticks_begin();
      auto found = tab.visit(k, [&](std::uint64_t x) { v = x; });
      auto b = ticks_end();
      out.hist.add(b - a);
      if (!found)
        ++out.errors;
      else if (!*found)
        ++out.misses;
      else
        out.sink += v;
    }
  }
  out.t1 = ticks_end();
  out.c1 = clock_type::now();
}

nlohmann::json summary(const reader_result& r) {
  auto per_ns = tick_rate(r.t0, r.c0, r.t1, r.c1);
  auto us = [per_ns](std::uint64_t t) {
    return static_cast<double>(t) / per_ns / 1e3;
  };
  return {{"reads", r.hist.count()},
          {"misses", r.misses},
          {"errors", r.errors},
          {"p50_us", us(r.hist.percentile(0.5))},
          {"p99_us", us(r.hist.percentile(0.99))},
          {"p999_us", us(r.hist.percentile(0.999))},
          {"max_us", us(r.hist.max())}};
}

/// A public u64 -> u64 table named `name` and its owner.
struct growth_table {
  cachet::owner_actor<std::uint64_t, std::uint64_t> owner;
  std::optional<u64_table> tab;
};

std::optional<growth_table> make_table(caf::actor_system& sys,
                                       const std::string& name,
                                       std::string& why) {
  cachet::table_options opts;
  opts.name = name;
  opts.mode = cachet::access_mode::public_;
  auto owner = cachet::spawn_owner<std::uint64_t, std::uint64_t>(sys, opts);
  if (!owner) {
    why = "spawn_owner failed: " + sys.render(owner.error());
    return std::nullopt;
  }
  return growth_table{*owner,
                      *cachet::whereis<std::uint64_t, std::uint64_t>(sys,
                                                                     name)};
}

} // namespace

placeholder measure_growth(caf::actor_system& sys, std::size_t entries,
                           bool pin, const std::string& note,
                           std::uint64_t& sink) {
  constexpr std::size_t start_entries = 1000;
  placeholder out{"growth", "not_measured", "", {}};
  if (entries <= start_entries) {
    out.reason = fmt::format("--growth-entries must exceed {}", start_entries);
    return out;
  }
  auto grown = make_table(sys, "cachet_bench.growth", out.reason);
  if (!grown)
    return out;
  auto& tab = *grown->tab;
  for (std::uint64_t i = 0; i < start_entries; ++i)
    tab.insert(growth_key(i), i);
  std::atomic<std::uint64_t> count{start_entries};
  std::atomic<bool> stop{false};
  // During growth: the writer (core 0) inserts while the reader (core 1)
  // reads what is already in.
  reader_result during;
  std::thread reader{[&] { read_until(tab, count, stop, pin, during); }};
  std::uint64_t failed = 0;
  double growth_seconds = 0;
  std::thread writer{[&] {
    if (pin)
      pin_to_core(0);
    auto g0 = clock_type::now();
    for (std::uint64_t i = start_entries; i < entries; ++i) {
      if (!tab.insert(growth_key(i), i))
        ++failed;
      // Publishing every 64 inserts keeps the writer's own cost low.
      if ((i & 63) == 63)
        count.store(i + 1, std::memory_order_release);
    }
    count.store(entries, std::memory_order_release);
    growth_seconds
      = std::chrono::duration<double>(clock_type::now() - g0).count();
  }};
  writer.join();
  stop.store(true, std::memory_order_relaxed);
  reader.join();
  auto size = tab.size();
  caf::anon_send_exit(grown->owner, caf::exit_reason::user_shutdown);
  grown.reset();
  if (failed > 0 || !size || *size != entries) {
    out.reason = fmt::format("the growth table lost inserts ({} failed)",
                             failed);
    return out;
  }
  // Without growth: a second table, pre-filled to the final size by one
  // batch insert (a batch sizes the table for itself first, so nothing is
  // left to migrate), and the same reader code, for as long as the growth
  // took (0.2 to 5 s).
  auto full = make_table(sys, "cachet_bench.growth.full", out.reason);
  if (!full)
    return out;
  {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> batch;
    batch.reserve(entries);
    for (std::uint64_t i = 0; i < entries; ++i)
      batch.emplace_back(growth_key(i), i);
    if (!full->tab->insert(std::move(batch))) {
      caf::anon_send_exit(full->owner, caf::exit_reason::user_shutdown);
      out.reason = "the batch insert into the full table failed";
      return out;
    }
  }
  reader_result steady;
  stop.store(false, std::memory_order_relaxed);
  std::thread again{[&] { read_until(*full->tab, count, stop, pin, steady); }};
  sleep_seconds(std::clamp(growth_seconds, 0.2, 5.0));
  stop.store(true, std::memory_order_relaxed);
  again.join();
  caf::anon_send_exit(full->owner, caf::exit_reason::user_shutdown);
  sink += during.sink + steady.sink;
  out.status = "measured";
  auto d = summary(during);
  auto s = summary(steady);
  auto ratio = s["p999_us"].get<double>() > 0
                 ? d["p999_us"].get<double>() / s["p999_us"].get<double>()
                 : 0.0;
  out.values = {{"start_entries", start_entries},
                {"entries", entries},
                {"growth_seconds", growth_seconds},
                {"inserts_per_sec",
                 static_cast<double>(entries - start_entries)
                   / growth_seconds},
                {"timed", "every read (fenced TSC, about 48 ns a read "
                          "included)"},
                {"during_growth", d},
                {"no_growth", s},
                {"p999_ratio", ratio}};
  if (!note.empty())
    out.values["note"] = note;
  return out;
}

} // namespace cachet_bench
