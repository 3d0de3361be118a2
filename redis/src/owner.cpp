// The owner of cachet-redis's table: a GenServer holding the store.
//
// It creates the public table (or, restarted, takes it back from its heir),
// which the load at start fills (load_at_start, persist.cpp), runs active
// expiry and save points, and in message mode executes every command. Active
// expiry keeps no per-key state: each sweep message runs one bounded step
// of the table's scan cursor (active_expire_cycle, expire.cpp) and sends
// the next sweep to itself at once if the step found many keys expired
// (within a quarter of each period's time), else after expire_period.
// Through its own mailbox, so in message mode commands interleave with the
// steps. A restarted owner starts a new walk: there is nothing to rebuild.
#include "owner.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "commands.hpp"
#include "memory.hpp"

namespace cachet::redis {

namespace {

struct owner_state {
  std::optional<owned_store> tab;
  /// The same table through a shared handle: it is public, so this has
  /// every right, and commands and expiry take one handle type.
  std::optional<store_table> shared;
  expire_cycle expiry;
  static inline const char* name = "cachet-redis.owner";
};

caf::behavior store_owner(caf::stateful_actor<owner_state>* self,
                          server_env* env, owner_slot* slot,
                          caf::actor_addr heir) {
  table_options opts;
  opts.name = store_name;
  opts.mode = access_mode::public_;
  opts.heir = heir;
  // As redis's dictExpandAllowed: under maxmemory, the array grows only if
  // the larger one fits under the bound, so a full cache does not evict a
  // slice of its keys to pay for room it will not use.
  opts.may_grow = [env](std::size_t bytes) {
    auto max = env->evict.maxmemory();
    return max == 0
           || used_memory() + static_cast<std::int64_t>(bytes) <= max;
  };
  auto tab = make_table<std::string, value>(self, std::move(opts));
  if (!tab) {
    self->quit(tab.error());
    return {};
  }
  auto& st = self->state;
  st.shared.emplace(tab->share());
  st.tab.emplace(std::move(*tab));
  slot->set(caf::actor_cast<caf::actor>(self));
  self->send(self, sweep_atom::value);
  self->delayed_send(self, std::chrono::seconds{1}, save_tick_atom::value);
  return {
    [=](exec_atom, int proto, std::uint64_t client_id,
        const std::vector<std::string>& args) -> std::string {
      std::vector<std::string_view> views(args.begin(), args.end());
      std::string out;
      // The connection thread admitted the command (AUTH included).
      session admitted;
      admitted.id = client_id; // whose command the slow log shows
      admitted.proto = proto;
      if (!views.empty())
        execute(&*self->state.shared, *env, admitted, views, out);
      return out;
    },
    [=](transaction_atom, std::uint64_t watch_id, std::uint64_t client_id,
        int proto, const std::vector<std::string>& flat) -> std::string {
      std::vector<std::vector<std::string>> queued;
      for (std::size_t i = 0; i < flat.size();) {
        auto argc = std::stoul(flat[i++]);
        auto end = std::min(flat.size(), i + argc);
        queued.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(i),
                            flat.begin() + static_cast<std::ptrdiff_t>(end));
        i = end;
      }
      // The connection thread could not evict: room is made here.
      if (!make_room(*self->state.shared, *env) && needs_memory(*env, queued))
        return "-EXECABORT Transaction discarded because of: "
               + std::string{oom_text} + "\r\n";
      // One message: no other command runs until it is done.
      return run_transaction(*self->state.shared, *env, watch_id, client_id,
                             queued, proto);
    },
    [=](watch_atom, std::uint64_t id,
        const std::vector<std::string>& keys) -> std::string {
      watch_keys(*self->state.shared, *env, id,
                 {keys.begin(), keys.end()});
      return "+OK\r\n";
    },
    [=](sweep_atom) {
      auto& st = self->state;
      env->stats.sample(now_ms()); // INFO's instantaneous rates
      // In direct mode the loops run commands meanwhile: an EXEC must not
      // see keys vanish halfway.
      env->gate.enter(*env->expiry_slot);
      bool again = active_expire_cycle(*st.shared, *env, st.expiry);
      env->gate.leave(*env->expiry_slot);
      if (again)
        self->send(self, sweep_atom::value); // after what the mailbox holds
      else
        self->delayed_send(self, expire_period, sweep_atom::value);
    },
    [=](save_atom) -> std::string {
      auto err = save_now(*self->state.shared, *env);
      return err ? self->system().render(err) : std::string{};
    },
    [=](save_tick_atom) {
      save_tick(*self->state.shared, *env);
      self->delayed_send(self, std::chrono::seconds{1},
                         save_tick_atom::value);
    },
    [=](crash_atom) -> caf::result<void> {
      // DEBUG CRASH-STORE: fail as a bug would, for the supervisor to see.
      throw std::runtime_error("DEBUG CRASH-STORE");
    },
  };
}

} // namespace

std::string save_on_owner(caf::actor_system& sys, const owner_slot& slot) {
  auto owner = slot.get();
  if (!owner)
    return "no owner";
  caf::scoped_actor self{sys};
  std::string result;
  // As long as a save of the whole store may take.
  self->request(owner, std::chrono::minutes{10}, save_atom::value)
    .receive([&](const std::string& err) { result = err; },
             [&](const caf::error& err) { result = sys.render(err); });
  return result;
}

caf::expected<supervisor_actor> start_store(caf::actor_system& sys,
                                            server_env& env,
                                            owner_slot& slot) {
  env.crash_store = [&slot] {
    if (auto owner = slot.get())
      caf::anon_send(owner, crash_atom::value);
  };
  child_spec spec;
  spec.id = "store";
  spec.start = [&env, &slot, starts = std::make_shared<int>(0)](
                 const child_context& ctx) -> caf::expected<caf::actor> {
    if ((*starts)++ > 0)
      env.stats.store_restarts.fetch_add(1, std::memory_order_relaxed);
    return ctx.system.spawn(store_owner, &env, &slot,
                            ctx.supervisor.address());
  };
  supervisor_flags flags;
  flags.strategy = strategy::one_for_one;
  flags.intensity = 10;
  flags.period = std::chrono::seconds{10};
  auto sup = start_supervisor(sys, std::move(flags), {std::move(spec)});
  if (!sup)
    return sup;
  // The owner creates the table and fills the slot in its init, on a
  // scheduler thread. Serving before that would answer the first direct
  // commands "store unavailable" (no table yet), and DEBUG CRASH-STORE
  // would reach no owner.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  for (;;) {
    if (slot.get())
      return sup;
    if (std::chrono::steady_clock::now() > deadline)
      return caf::make_error(errc::no_such_table);
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

} // namespace cachet::redis
