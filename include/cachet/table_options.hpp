// Options for creating a table: name, access mode and heir
// (ownership_options), the generic owner's dump file, and a guard on the
// growth of a hashed table's array.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "cachet/ownership_options.hpp"

namespace cachet {

/// How to create a table.
struct table_options : ownership_options {
  using ownership_options::ownership_options;

  /// For the generic owner: a dump file (dump.hpp) loaded into the table at
  /// start if it exists, and written on dump_atom and on a normal shutdown.
  std::string dump_file{};

  /// For the hashed kinds: asked before the table's array of groups grows,
  /// with the bytes the larger array takes; false keeps the array (its
  /// groups chain overflow groups) until the table holds twice what the
  /// array was sized for, when it grows regardless. For a table under a
  /// memory budget, as redis's dictExpandAllowed keeps a dict from growing
  /// past maxmemory. Empty: the table grows whenever it fills. Set when
  /// the table is created; a table taken back from its heir keeps its own.
  std::function<bool(std::size_t)> may_grow{};
};

} // namespace cachet
