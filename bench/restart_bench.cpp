// Restart latency: a supervised owner is killed, and the clock stops when a
// restarted owner answers a call on its named table. p50/p99 per table
// policy (fresh, heir).
//
// Usage: cachet-restart-bench [crashes]   (default 1000 per policy)
#include <cachet/cachet.hpp>

#include <caf/all.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using kv_owner = cachet::owner_actor<std::uint64_t, std::uint64_t>;

int main(int argc, char** argv) {
  int crashes = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1000;
  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};
  cachet::blocking_caller caller{sys};
  fmt::print("crash -> named table serving again ({} kills per policy)\n",
             crashes);
  fmt::print("{:<8} {:>10} {:>10}\n", "policy", "p50 (us)", "p99 (us)");
  for (auto [policy, name] :
       {std::pair{cachet::table_policy::fresh, "fresh"},
        std::pair{cachet::table_policy::heir, "heir"}}) {
    cachet::supervisor_flags flags;
    flags.intensity = crashes + 1;
    auto sup = cachet::start_supervisor(
      sys, flags,
      {cachet::owner_child<std::uint64_t, std::uint64_t>(
        "owner", {name, cachet::access::public_}, policy)});
    if (!sup) {
      fmt::print("cannot start: {}\n", sys.render(sup.error()));
      return 1;
    }
    auto owner = [&] {
      auto kids = caller.call(*sup, 5s, cachet::which_children_atom_v);
      return kids && !kids->empty() ? kids->front().child : caf::actor{};
    };
    std::vector<double> us;
    for (int i = 0; i < crashes; ++i) {
      auto old = owner();
      auto start = clock_type::now();
      caf::anon_send_exit(old, caf::exit_reason::kill);
      for (;;) {
        auto now = owner();
        if (now && now != old
            && caller.call(caf::actor_cast<kv_owner>(now), 5s,
                           cachet::insert_atom_v, std::uint64_t{1},
                           std::uint64_t(i)))
          break;
      }
      us.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - start)
          .count());
    }
    std::sort(us.begin(), us.end());
    fmt::print("{:<8} {:>10.1f} {:>10.1f}\n", name, us[us.size() / 2],
               us[us.size() * 99 / 100]);
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  }
  return 0;
}
