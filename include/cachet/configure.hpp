// Prepares an actor system config for cachet: call `cachet::configure(cfg)`
// once, before constructing the actor system.
//
// It registers cachet's error category (so `sys.render(err)` prints
// "cachet: table_gone") and loads cachet's per-system state as a CAF module:
// the registry of table, cache and snapshot names, created with the system
// and destroyed with it. Naming a table, cache or snapshot, looking one up
// by name, or lending a thread to a blocking call in a system that was not
// configured throws std::logic_error.
//
// Example:
//   caf::actor_system_config cfg;
//   cachet::configure(cfg);
//   caf::actor_system sys{cfg};
#pragma once

#include <caf/fwd.hpp>

namespace cachet {

/// Registers cachet's error category with `cfg` and loads cachet's
/// per-system module. Call once per config, before constructing the system.
void configure(caf::actor_system_config& cfg);

} // namespace cachet
