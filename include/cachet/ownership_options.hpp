// The options every table, cache and snapshot has: its registry name, its
// access mode and its heir (ETS's named_table, protection and heir). The
// options of each kind extend them (table_options, cache_options,
// snapshot_options).
//
// Example:
//   cachet::table_options opts{"scores", cachet::access_mode::public_};
#pragma once

#include <string>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/message.hpp>

#include "cachet/access_mode.hpp"

namespace cachet {

/// Name, access mode and heir of a table, cache or snapshot. Built as
/// `{"name"}`, `{"name", mode}` or `{"name", mode, heir, heir_data}`, or
/// field by field.
struct ownership_options {
  ownership_options(std::string name = {},
                    access_mode mode = access_mode::protected_,
                    caf::actor_addr heir = {}, caf::message heir_data = {})
    : name(std::move(name)),
      mode(mode),
      heir(std::move(heir)),
      heir_data(std::move(heir_data)) {
    // nop
  }

  /// Registry name (ETS's named_table); empty for an anonymous one. Tables,
  /// caches and snapshots share one namespace per actor system.
  std::string name;
  /// Who besides the owner may read or write directly.
  access_mode mode;
  /// ETS's heir: when the owner dies and the heir is alive, the resource and
  /// its data pass to the heir, which is sent a transfer (transfer.hpp)
  /// carrying `heir_data`, instead of dying. An owner created later under
  /// the same name and heir takes it back (the heir table policy).
  caf::actor_addr heir;
  caf::message heir_data;
};

} // namespace cachet
