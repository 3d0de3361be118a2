// Options for creating a table: registry name, access_mode mode, heir.
#pragma once

#include <string>

#include <caf/actor_addr.hpp>
#include <caf/message.hpp>

#include "cachet/access_mode.hpp"

namespace cachet {

/// How to create a table.
struct table_options {
  /// Registry name (ETS's named_table); empty for an anonymous table.
  std::string name;
  /// Who besides the owner may read or write directly.
  access_mode mode = access_mode::protected_;
  /// ETS's heir: when the owner dies and the heir is alive, the table and its
  /// data pass to the heir (sent a table_transfer with `heir_data`) instead
  /// of dying. An owner restarted under the same name and heir takes it back
  /// (make_table, spawn_owner). See supervisor.hpp's table policies.
  caf::actor_addr heir{};
  caf::message heir_data{};
  /// For the generic owner: a dump file (dump.hpp) loaded into the table at
  /// start if it exists, and written on dump_atom and on a normal shutdown.
  std::string dump_file{};
};

} // namespace cachet
