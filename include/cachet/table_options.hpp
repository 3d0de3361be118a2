// Options for creating a table: name, access mode and heir
// (ownership_options), and the generic owner's dump file.
#pragma once

#include <string>

#include "cachet/ownership_options.hpp"

namespace cachet {

/// How to create a table.
struct table_options : ownership_options {
  using ownership_options::ownership_options;

  /// For the generic owner: a dump file (dump.hpp) loaded into the table at
  /// start if it exists, and written on dump_atom and on a normal shutdown.
  std::string dump_file{};
};

} // namespace cachet
