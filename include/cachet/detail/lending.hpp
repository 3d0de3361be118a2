// Running an actor on the thread that wakes it (thread lending).
//
// CAF hands an actor that a message wakes to its scheduler, and a scheduler
// worker that sleeps takes a futex wake-up (15-30 us on a small VM) to
// notice. A thread that is awake anyway and about to wait for the actor (a
// blocking caller) or has nothing better to do for a few microseconds (the
// middleman's multiplexer, for a table operation that arrived from the
// network) can run the actor itself, as a CAF worker does for an actor one
// of its own actors wakes. CAF's mailbox protocol still lets one thread run
// an actor at a time: only the enqueue that unblocks a mailbox schedules
// the actor, so its messages stay serialized.
#pragma once

#include <atomic>
#include <cstddef>

#include <caf/fwd.hpp>

namespace cachet::detail {

/// The execution unit of `sys` that lends threads: pass it to an enqueue
/// inside a lend_scope. It lives as long as the system's cachet module (an
/// actor keeps a pointer to the unit that last ran it). Needs
/// cachet::configure (std::logic_error otherwise).
caf::execution_unit* lent_unit(caf::actor_system& sys);

/// While alive, an enqueue on this thread that passes lent_unit() and wakes
/// its receiver runs the receiver here for at most `budget` messages; if
/// more remain, the receiver goes to the scheduler. Actors the lent one
/// wakes in turn go to the scheduler as usual. At most one wake-up per
/// scope is served here.
class lend_scope {
public:
  explicit lend_scope(std::size_t budget) noexcept;
  ~lend_scope();

  lend_scope(const lend_scope&) = delete;
  lend_scope& operator=(const lend_scope&) = delete;

private:
  std::size_t saved_;
};

/// The execution unit of `sys` that delivers messages from other nodes (the
/// middleman's multiplexer once a node has started; null before). Owners
/// compare an enqueue's unit against it to tell a message from the network.
std::atomic<caf::execution_unit*>& network_unit_of(caf::actor_system& sys);

/// The execution unit of `sys` for an enqueue made on the network unit's
/// thread: the actor it wakes runs on that thread too, for one message,
/// once the current delivery has returned (CAF delivers under a lock of its
/// own, which a handler must not run under), instead of going to a
/// scheduler worker; then, if more messages wait, to the scheduler.
caf::execution_unit* network_lender(caf::actor_system& sys);

} // namespace cachet::detail
