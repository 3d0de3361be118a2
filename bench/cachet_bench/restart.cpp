// Restart latency: a supervised owner of a named table is killed, and the
// clock stops when the name resolves to a table held by the restarted owner
// and a lookup on it succeeds — what a caller holding only the name sees.
// One run per table policy (fresh: a new, empty table; heir: the same table,
// reclaimed from the supervisor). The polling is inside the measured time, so
// the figures are upper bounds.
#include "tasks.hpp"

#include <algorithm>
#include <thread>

#include <cachet/cachet.hpp>

#include <caf/all.hpp>

#include "measure.hpp"
#include "structures.hpp"

namespace cachet_bench {

using kv_table = cachet::table<std::uint64_t, std::uint64_t>;

placeholder measure_restart(caf::actor_system& sys, const std::string& policy,
                            std::size_t crashes) {
  using namespace std::chrono_literals;
  placeholder out{policy, "not_measured", "", {{"p50_us", nullptr},
                                               {"p99_us", nullptr}}};
  auto pol = policy == "heir" ? cachet::table_policy::heir
                              : cachet::table_policy::fresh;
  auto name = "cachet_bench.restart." + policy;
  cachet::supervisor_flags flags;
  flags.intensity = crashes + 1; // every kill is one restart
  cachet::table_options opts;
  opts.name = name;
  opts.mode = cachet::access_mode::public_;
  auto sup = cachet::start_supervisor(
    sys, flags,
    {cachet::owner_child<std::uint64_t, std::uint64_t>("owner", opts, pol)});
  if (!sup) {
    out.reason = "cannot start the supervisor: " + sys.render(sup.error());
    return out;
  }
  // The named table, if a live owner other than `old` holds it and serves.
  auto serving = [&](const caf::actor_addr& old) -> std::optional<kv_table> {
    auto t = cachet::whereis<std::uint64_t, std::uint64_t>(sys, name);
    if (!t || t->owner() == old || t->owner() == sup->address())
      return std::nullopt;
    if (auto v = t->lookup(1); !v)
      return std::nullopt;
    return *t;
  };
  std::vector<float> us;
  us.reserve(crashes);
  for (std::size_t i = 0; i < crashes; ++i) {
    std::optional<kv_table> tab;
    while (!(tab = serving(caf::actor_addr{})))
      std::this_thread::yield(); // the first start, or the previous restart
    auto old = tab->owner();
    auto start = clock_type::now();
    caf::anon_send_exit(caf::actor_cast<caf::actor>(old),
                        caf::exit_reason::kill);
    while (!serving(old)) {
      if (clock_type::now() - start > 5s) {
        out.reason = "the named table was not serving 5 s after a kill";
        caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
        return out;
      }
      std::this_thread::yield();
    }
    us.push_back(
      std::chrono::duration<float, std::micro>(clock_type::now() - start)
        .count());
  }
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  std::sort(us.begin(), us.end());
  out.status = "measured";
  out.values = {{"p50_us", percentile(us, 0.50)},
                {"p99_us", percentile(us, 0.99)},
                {"max_us", us.back()},
                {"crashes", crashes}};
  return out;
}

} // namespace cachet_bench
