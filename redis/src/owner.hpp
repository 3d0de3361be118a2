// The store's owner actor and its supervisor.
//
// The owner creates the public table (or, restarted, takes it back from its
// heir), removes expired keys (active expiry), and in message mode executes
// every command.
// It runs under a one_for_one supervisor that is the table's heir
// (cachet's table_policy::heir): a crash of the owner loses no data and
// direct readers see no gap.
#pragma once

#include <mutex>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>

#include <cachet/supervisor.hpp>

#include "store.hpp"

namespace cachet::redis {

/// A command in message mode: (exec_atom, protocol, client id, the
/// arguments).
using exec_atom = caf::atom_constant<caf::atom("exec")>;
/// EXEC in message mode: (transaction_atom, watch id, client id, protocol,
/// each queued command as its argc then its arguments).
using transaction_atom = caf::atom_constant<caf::atom("multi")>;
/// WATCH in message mode: (watch_atom, watch id, the keys).
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
/// Saves now (SIGTERM with save points): replies "" or the error's text.
using save_atom = caf::atom_constant<caf::atom("save")>;
/// Every second: save points, BGSAVE SCHEDULE.
using save_tick_atom = caf::atom_constant<caf::atom("savetick")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// Where threads find the current owner (it changes on restart).
class owner_slot {
public:
  caf::actor get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return owner_;
  }

  void set(caf::actor x) {
    std::lock_guard<std::mutex> guard{mtx_};
    owner_ = std::move(x);
  }

private:
  mutable std::mutex mtx_;
  caf::actor owner_;
};

/// Asks the current owner to save now and waits; "" or what went wrong.
std::string save_on_owner(caf::actor_system& sys, const owner_slot& slot);

/// Starts the supervisor with the owner under it, wires `env`'s crash_store
/// to the current owner, and waits (bounded) until the owner has created
/// the table and filled `slot`.
caf::expected<supervisor_actor> start_store(caf::actor_system& sys,
                                            server_env& env,
                                            owner_slot& slot);

} // namespace cachet::redis
