// The owner of cachet-redis's table: a GenServer holding the store.
//
// Active expiry, as redis's activeExpireCycle but without sampling: every
// key given an expiry is reported to the owner (track_atom), which keeps a
// min-heap of (expire_at, key). Each tick removes at most `sweep_batch` due
// keys and, if more are due, runs again right away through its own mailbox,
// so a burst of expiries never blocks other messages for long. A heap entry
// whose key was re-set or got a later expiry is stale and skipped.
//
// table.hpp has no conditional erase, so a due key is removed with take();
// if the taken value turns out live (re-set in between), it is put back with
// insert_new, which keeps any newer write. A reader may miss the key during
// that instant; no write is lost.
#include "owner.hpp"

#include <chrono>
#include <queue>
#include <stdexcept>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "commands.hpp"

namespace cachet::redis {

namespace {

constexpr std::size_t sweep_batch = 256;
constexpr auto sweep_period = std::chrono::milliseconds{100};

using due_entry = std::pair<std::int64_t, std::string>;

struct owner_state {
  std::optional<owned_store> tab;
  std::priority_queue<due_entry, std::vector<due_entry>, std::greater<>> due;
  static inline const char* name = "cachet-redis.owner";
};

/// Removes up to sweep_batch due keys; true if more are due.
bool sweep(owner_state& st, server_env& env) {
  auto now = now_ms();
  for (std::size_t n = 0; n < sweep_batch; ++n) {
    if (st.due.empty() || st.due.top().first > now)
      return false;
    auto key = std::move(const_cast<due_entry&>(st.due.top()).second);
    st.due.pop();
    bool is_due = false;
    st.tab->visit(key, [&](const value& v) { is_due = expired(v, now); });
    if (!is_due)
      continue; // gone, re-set, or given a later expiry: a stale entry
    auto taken = st.tab->take(key);
    if (!taken || !*taken)
      continue;
    if (expired(**taken, now))
      env.stats.expired_keys.fetch_add(1, std::memory_order_relaxed);
    else
      st.tab->insert_new(key, std::move(**taken)); // re-set meanwhile
  }
  return !st.due.empty() && st.due.top().first <= now;
}

caf::behavior store_owner(caf::stateful_actor<owner_state>* self,
                          server_env* env, owner_slot* slot,
                          caf::actor_addr heir) {
  table_options opts;
  opts.name = store_name;
  opts.mode = access_mode::public_;
  opts.heir = heir;
  auto tab = make_table<std::string, value>(self, std::move(opts));
  if (!tab) {
    self->quit(tab.error());
    return {};
  }
  auto& st = self->state;
  st.tab.emplace(std::move(*tab));
  // Reachable before the walk: a key given a TTL meanwhile is then tracked
  // twice (harmless: sweeps check the stored expiry), never not at all.
  slot->set(caf::actor_cast<caf::actor>(self));
  // A restarted owner inherits the table: rebuild its expiry heap (one walk,
  // once per restart).
  st.tab->for_each([&](std::string_view k, const value& v) {
    if (v.expire_at != 0)
      st.due.emplace(v.expire_at, k);
  });
  self->delayed_send(self, sweep_period, sweep_atom::value);
  return {
    [=](exec_atom, const std::vector<std::string>& args) -> std::string {
      std::vector<std::string_view> views(args.begin(), args.end());
      std::string out;
      if (!views.empty())
        execute(*self->state.tab, *env, views, out);
      return out;
    },
    [=](track_atom, std::string& key, std::int64_t at) {
      self->state.due.emplace(at, std::move(key));
    },
    [=](sweep_atom) {
      if (sweep(self->state, *env))
        self->send(self, sweep_atom::value); // more due: after the mailbox
      else
        self->delayed_send(self, sweep_period, sweep_atom::value);
    },
    [=](crash_atom) -> caf::result<void> {
      // DEBUG CRASH-STORE: fail as a bug would, for the supervisor to see.
      throw std::runtime_error("DEBUG CRASH-STORE");
    },
  };
}

} // namespace

caf::expected<supervisor_actor> start_store(caf::actor_system& sys,
                                            server_env& env,
                                            owner_slot& slot) {
  env.track_expiry = [&slot](const std::string& key, std::int64_t at) {
    if (auto owner = slot.get())
      caf::anon_send(owner, track_atom::value, key, at);
  };
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
  // scheduler thread. Serving before the slot is filled would drop the
  // expiry tracking (and DEBUG CRASH-STORE) of the first commands.
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
