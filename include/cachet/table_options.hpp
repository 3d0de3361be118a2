// Options for creating a table: its registry name and access mode.
#pragma once

#include <string>

#include "cachet/access.hpp"

namespace cachet {

/// How to create a table.
struct table_options {
  /// Registry name (ETS's named_table); empty for an anonymous table.
  std::string name;
  /// Who besides the owner may read or write directly.
  access mode = access::protected_;
};

} // namespace cachet
