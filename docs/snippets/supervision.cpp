// docs/supervision.md: supervisors, the child API and its errors, exit
// reasons, table policies, and heir / give_away / transfer for tables,
// caches and snapshots. main runs each and checks what the guide says.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <unistd.h>

#include "claims.hpp"

using namespace std::chrono_literals;

namespace {

snippets::claims check;

using kv = cachet::owner_actor<std::string, std::string>;

/// Polls `sup` until its child `id` runs as an actor other than `old`.
caf::actor running(cachet::blocking_caller& caller,
                   const cachet::supervisor_actor& sup, const std::string& id,
                   const caf::actor& old = {}) {
  caf::actor found;
  snippets::eventually([&] {
    if (auto kids = caller.call(sup, 1s, cachet::which_children_atom_v))
      for (auto& k : *kids)
        if (k.id == id && k.child && k.child != old)
          found = k.child;
    return static_cast<bool>(found);
  });
  return found;
}

void tree(caf::actor_system& sys) {
  cachet::cache_options<std::string, std::string> sessions_opts;
  sessions_opts.name = "sessions";
  // [tree]
  cachet::supervisor_flags flags;                   // one_for_one, 1 restart in 5 s
  flags.intensity = 3;                              // Elixir's default: 3 in 5 s
  cachet::supervisor_flags nested;
  nested.strategy = cachet::strategy::rest_for_one;
  auto sup = cachet::start_supervisor(sys, flags, {
    cachet::owner_child<std::string, std::string>(  // a generic table owner
      "users", {"users", cachet::access_mode::public_},
      cachet::table_policy::heir),                  // its table survives crashes
    cachet::cache_child("sessions", sessions_opts,  // a cache owner
                        cachet::table_policy::fresh),
    cachet::supervisor_child("workers", nested, {}), // a nested supervisor
  });                                               // returns once all started
  // [tree]
  check(static_cast<bool>(sup), "start_supervisor starts every child");
  // [crash]
  cachet::named_table<std::string, std::string> tab{sys, "users", 1s};
  tab.insert("ada", "lovelace");
  cachet::blocking_caller caller{sys};
  auto kids = caller.call(*sup, 1s, cachet::which_children_atom_v);
  auto users = (*kids)[0].child;                      // the first child: "users"
  caf::anon_send_exit(users, caf::exit_reason::kill); // the owner crashes
  // the supervisor restarts it; with the heir policy the new owner takes the
  // table back: tab.lookup("ada") still finds "lovelace"
  // [crash]
  running(caller, *sup, "users", users);
  auto ada = tab.lookup("ada");
  check(ada && *ada == std::string{"lovelace"}, "heir: no acknowledged write lost");
  // [stop]
  caf::anon_send_exit(*sup, cachet::shutdown_reason); // children stop, last first
  // [stop]
  check(snippets::eventually([&] {
          return !cachet::whereis<std::string, std::string>(sys, "users");
        }),
        "stopping the supervisor stops its children");
}

// [worker]
caf::behavior worker(caf::event_based_actor*, std::string id) {
  return {[id](cachet::lookup_atom) { return id; }}; // any actor will do
}

cachet::child_spec worker_spec(std::string id) {
  cachet::child_spec spec;
  spec.id = id;
  spec.start = [id](const cachet::child_context& ctx)
    -> caf::expected<caf::actor> { return ctx.system.spawn(worker, id); };
  return spec; // permanent, shut down within 5 s, a worker
}
// [worker]

void child_api(caf::actor_system& sys) {
  auto sup = *cachet::start_supervisor(sys, {}, {worker_spec("a")});
  // [child_api]
  cachet::blocking_caller caller{sys};
  auto b = caller.call(sup, 1s, cachet::start_child_atom_v, worker_spec("b"));
  auto dup = caller.call(sup, 1s, cachet::start_child_atom_v, worker_spec("b"));
  // dup: already_started (the context holds the running child)
  caller.call(sup, 1s, cachet::terminate_child_atom_v, std::string{"b"});
  auto kept = caller.call(sup, 1s, cachet::start_child_atom_v, worker_spec("b"));
  // kept: already_present (the spec stays; restart or delete it first)
  auto busy = caller.call(sup, 1s, cachet::delete_child_atom_v, std::string{"a"});
  // busy: child_running
  auto again = caller.call(sup, 1s, cachet::restart_child_atom_v, std::string{"b"});
  auto who = caller.call(sup, 1s, cachet::restart_child_atom_v, std::string{"z"});
  // who: no_such_child
  auto kids = caller.call(sup, 1s, cachet::which_children_atom_v);
  auto counts = caller.call(sup, 1s, cachet::count_children_atom_v);
  // kids: a and b, both running; counts: 2 specs, 2 active, 2 workers
  // [child_api]
  check(b && *b, "start_child");
  check(!dup && dup.error() == cachet::errc::already_started, "already_started");
  check(!kept && kept.error() == cachet::errc::already_present, "already_present");
  check(!busy && busy.error() == cachet::errc::child_running, "child_running");
  check(again && *again, "restart_child");
  check(!who && who.error() == cachet::errc::no_such_child, "no_such_child");
  check(kids && kids->size() == 2 && (*kids)[0].child && (*kids)[1].child,
        "which_children");
  check(counts && counts->specs == 2 && counts->active == 2
          && counts->workers == 2,
        "count_children");
  auto dyn = caller.call(sup, 1s, cachet::start_child_atom_v,
                         caf::make_message(std::string{"x"}));
  check(!dyn && dyn.error() == cachet::errc::wrong_strategy,
        "start_child with arguments: simple_one_for_one only");
  caf::anon_send_exit(sup, cachet::shutdown_reason);
}

void dynamic(caf::actor_system& sys) {
  // [dynamic]
  // One table owner per tenant, started on demand from one template.
  cachet::child_spec tenant;
  tenant.id = "tenant";
  tenant.restart = cachet::restart_type::transient;
  tenant.start = [](const cachet::child_context& ctx)
    -> caf::expected<caf::actor> {
    if (!ctx.args.match_elements<std::string>())
      return caf::make_error(caf::sec::invalid_argument);
    auto owner = cachet::spawn_owner<std::string, std::string>(
      ctx.system, {"tenant:" + ctx.args.get_as<std::string>(0)});
    if (!owner)
      return std::move(owner.error());
    return caf::actor_cast<caf::actor>(*owner);
  };
  cachet::supervisor_flags flags;
  flags.strategy = cachet::strategy::simple_one_for_one;
  flags.max_children = 2;
  auto sup = *cachet::start_supervisor(sys, flags, {tenant});
  cachet::blocking_caller caller{sys};
  auto acme = caller.call(sup, 1s, cachet::start_child_atom_v,
                          caf::make_message(std::string{"acme"}));
  caller.call(sup, 1s, cachet::start_child_atom_v,
              caf::make_message(std::string{"initech"}));
  auto full = caller.call(sup, 1s, cachet::start_child_atom_v,
                          caf::make_message(std::string{"hooli"}));
  // full: max_children
  caller.call(sup, 1s, cachet::terminate_child_atom_v, *acme); // by actor
  // [dynamic]
  check(acme && *acme, "a dynamic child per start_child");
  check(!full && full.error() == cachet::errc::max_children, "max_children");
  check(snippets::eventually([&] {
          return !cachet::whereis<std::string, std::string>(sys, "tenant:acme");
        }),
        "terminate_child by actor");
  auto wrong = caller.call(sup, 1s, cachet::restart_child_atom_v,
                           std::string{"tenant"});
  check(!wrong && wrong.error() == cachet::errc::wrong_strategy, "wrong_strategy");
  caf::anon_send_exit(sup, cachet::shutdown_reason);
}

void failures(caf::actor_system& sys) {
  // [start_failed]
  cachet::table_options reload_opts{"orders"};         // no dump_file set
  auto sup = cachet::start_supervisor(sys, {}, {
    worker_spec("first"),
    cachet::owner_child<std::string, std::string>("orders", reload_opts,
                                                  cachet::table_policy::reload),
  });
  // sup: start_failed, "child orders: ... table_policy::reload needs a
  // dump_file"; "first" was started, then stopped again
  // [start_failed]
  check(!sup && sup.error() == cachet::errc::start_failed, "start_failed");
  auto text = sys.render(sup.error());
  check(text.find("orders") != std::string::npos
          && text.find("dump_file") != std::string::npos,
        "the context names the child and why");
}

void intensity(caf::actor_system& sys) {
  cachet::supervisor_flags flags;
  flags.intensity = 0; // no restart allowed at all
  auto sup = *cachet::start_supervisor(sys, flags, {worker_spec("w")});
  cachet::blocking_caller caller{sys};
  auto w = running(caller, sup, "w");
  caf::scoped_actor self{sys};
  self->monitor(sup);
  caf::anon_send_exit(w, caf::exit_reason::kill);
  caf::error reason;
  self->receive([&](caf::down_msg& down) { reason = down.reason; },
                caf::after(5s) >> [] {});
  // [exit_reasons]
  // A supervisor that gives up exits with OTP's shutdown:
  bool shut = reason == cachet::shutdown_reason;               // true
  // Transient children restart unless the exit was normal or shutdown:
  bool normal = cachet::is_normal_exit(caf::error{})           // true: quit()
                && cachet::is_normal_exit(cachet::shutdown_reason) // true
                && !cachet::is_normal_exit(caf::exit_reason::kill); // abnormal
  // [exit_reasons]
  check(shut, "past its intensity a supervisor exits with shutdown");
  check(normal, "is_normal_exit: none and shutdown");
}

void policies(caf::actor_system& sys) {
  auto dump = (std::filesystem::temp_directory_path()
               / ("cachet-docs-policy-" + std::to_string(::getpid()) + ".dump"))
                .string();
  // [reload]
  cachet::table_options opts{"carts", cachet::access_mode::public_};
  opts.dump_file = dump;   // loaded at start, written on dump_atom and on a
                           // normal shutdown
  auto sup = *cachet::start_supervisor(sys, {}, {
    cachet::owner_child<std::string, std::string>("carts", opts,
                                                  cachet::table_policy::reload)});
  // [reload]
  cachet::blocking_caller caller{sys};
  auto owner = caf::actor_cast<kv>(running(caller, sup, "carts"));
  cachet::named_table<std::string, std::string> carts{sys, "carts", 1s};
  carts.insert("a", "1");
  caller.call(owner, 1s, cachet::dump_atom_v, dump);
  carts.insert("b", "2");
  caf::anon_send_exit(owner, caf::exit_reason::kill);
  running(caller, sup, "carts", caf::actor_cast<caf::actor>(owner));
  auto n = carts.size();
  check(n && *n == 1, "reload: the last dump, not what came after");
  caf::anon_send_exit(sup, cachet::shutdown_reason);
  snippets::eventually([&] {
    return !cachet::whereis<std::string, std::string>(sys, "carts");
  });
  std::filesystem::remove(dump);
}

// [keeper]
// An actor that takes what it is given, or what it inherits.
struct keeper_state {
  std::optional<cachet::owned_table<std::string, int>> tab;
  std::optional<cachet::owned_cache<std::string, int>> cache;
  std::optional<cachet::owned_snapshot<std::string>> snap;
};

caf::behavior keeper(caf::stateful_actor<keeper_state>* self, caf::actor report) {
  return {
    [=](cachet::table_transfer<std::string, int>& t) {
      if (auto owned = t.claim()) // once: a second claim is access_denied
        self->state.tab.emplace(std::move(*owned));
      self->send(report, t.name(), t.data()); // give_away's data or heir_data
    },
    [=](cachet::cache_transfer<std::string, int>& t) {
      if (auto owned = t.claim())
        self->state.cache.emplace(std::move(*owned));
      self->send(report, t.name(), t.data());
    },
    [=](cachet::snapshot_transfer<std::string>& t) {
      if (auto owned = t.claim())
        self->state.snap.emplace(std::move(*owned));
      self->send(report, t.name(), t.data());
    },
  };
}
// [keeper]

/// What a keeper reported: the name and the data of the transfer.
std::pair<std::string, std::string> reported(caf::scoped_actor& self) {
  std::pair<std::string, std::string> out;
  self->receive(
    [&](const std::string& name, const caf::message& data) {
      out.first = name;
      if (data.match_elements<std::string>())
        out.second = data.get_as<std::string>(0);
    },
    caf::after(5s) >> [] {});
  return out;
}

void give_away(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  auto k = self->spawn(keeper, caf::actor{self});
  // [give_away]
  // In the owner (here `self`): hand the table to `k`, with a note.
  auto cart = cachet::make_table<std::string, int>(self.ptr(), {"cart"});
  cart->insert("apples", 3);
  auto moved = cart->give_away(k, caf::make_message(std::string{"yours now"}));
  // k gets a table_transfer and claims it. `cart` keeps the rights of
  // non-owners: reads (protected table), no writes, no second give_away.
  auto read = cart->lookup("apples");                // 3
  auto write = cart->insert("pears", 1);             // access_denied
  auto twice = cart->give_away(k);                   // access_denied
  // [give_away]
  auto note = reported(self);
  check(!moved, "give_away succeeds");
  check(note.first == "cart" && note.second == "yours now",
        "the new owner is told, with the data");
  check(read && *read == 3, "the old capability still reads");
  check(!write && write.error() == cachet::errc::access_denied,
        "the old capability no longer writes");
  check(twice == cachet::errc::access_denied, "nor gives away again");
  // [invalid_owner]
  auto mine = cachet::make_table<std::string, int>(self.ptr(), {"mine"});
  auto to_self = mine->give_away(caf::actor{self});  // invalid_owner
  auto nobody = mine->give_away(caf::actor{});       // invalid_owner
  // nothing changed: `mine` still owns the table and writes to it
  auto still = mine->insert("x", 1);
  // [invalid_owner]
  check(to_self == cachet::errc::invalid_owner && nobody == cachet::errc::invalid_owner,
        "give_away to the owner itself or to nobody: invalid_owner");
  check(static_cast<bool>(still), "after invalid_owner nothing changed");
  auto dead = self->spawn(worker, std::string{"dead"});
  self->monitor(dead);
  caf::anon_send_exit(dead, caf::exit_reason::kill);
  self->receive([](caf::down_msg&) {}, caf::after(5s) >> [] {});
  auto to_dead = mine->give_away(dead);
  check(to_dead == cachet::errc::invalid_owner, "give_away to a dead actor");
  caf::anon_send_exit(k, cachet::shutdown_reason);
}

void heirs(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  auto k = self->spawn(keeper, caf::actor{self});
  // [heir]
  // The table, the cache and the snapshot of an owner that will crash, each
  // with `k` as its heir.
  cachet::table_options t_opts{"stock", cachet::access_mode::public_};
  t_opts.heir = k.address();
  t_opts.heir_data = caf::make_message(std::string{"table"});
  cachet::cache_options<std::string, int> c_opts;
  c_opts.name = "quotes";
  c_opts.heir = k.address();
  c_opts.heir_data = caf::make_message(std::string{"cache"});
  cachet::snapshot_options s_opts;
  s_opts.name = "motd";
  s_opts.heir = k.address();
  s_opts.heir_data = caf::make_message(std::string{"snapshot"});
  auto table_owner = *cachet::spawn_owner<std::string, int>(sys, t_opts);
  auto cache_owner = *cachet::spawn_cache(sys, c_opts);
  auto snap_owner = *cachet::spawn_snapshot(sys, s_opts, std::string{"hello"});
  auto stock = *cachet::whereis<std::string, int>(sys, "stock");
  stock.insert("tea", 5);
  for (auto& owner : {caf::actor_cast<caf::actor>(table_owner),
                      caf::actor_cast<caf::actor>(cache_owner),
                      caf::actor_cast<caf::actor>(snap_owner)})
    caf::anon_send_exit(owner, caf::exit_reason::kill);
  // k is sent a table_transfer, a cache_transfer and a snapshot_transfer:
  // all three live on, and stock.lookup("tea") still finds 5.
  // [heir]
  std::set<std::string> notes;
  for (int i = 0; i < 3; ++i)
    notes.insert(reported(self).second);
  // [heir_back]
  // Once k holds the table: a new owner made with the same name and heir
  // takes it back, data and all (the heir table policy).
  auto back = cachet::spawn_owner<std::string, int>(sys, t_opts);
  // [heir_back]
  check(notes == std::set<std::string>{"table", "cache", "snapshot"},
        "the heir is sent a transfer per resource, with heir_data");
  auto tea = stock.lookup("tea");
  check(tea && *tea == 5, "an inherited table keeps its data");
  auto quotes = cachet::whereis_cache<std::string, int>(sys, "quotes");
  auto motd = cachet::whereis_snapshot<std::string>(sys, "motd");
  check(quotes && quotes->alive() && motd && *motd->acquire()
          && **motd->acquire() == "hello",
        "inherited caches and snapshots live on");
  check(back && stock.alive(), "a new owner with the same name and heir takes it back");
  auto writes = stock.insert("cake", 1);
  check(static_cast<bool>(writes), "the table taken back serves as before");
  caf::anon_send_exit(*back, cachet::shutdown_reason);
  caf::anon_send_exit(k, cachet::shutdown_reason);
}

} // namespace

int main() {
  return snippets::run(check, tree, child_api, dynamic, failures, intensity,
                       policies, give_away, heirs);
}
