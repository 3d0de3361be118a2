// What ETS's info/1 and all/0 tell about tables.
//
// `tab.info()` describes one table; `cachet::all_tables(sys)` lists every
// live table of an actor system, named or not (caches and snapshots are not
// listed: they are not ETS tables). Neither needs read rights: as in ETS, a
// private table's description is public.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "cachet/access_mode.hpp"

namespace cachet {

/// A table's description (ETS info/1).
struct table_info {
  /// The registry name; empty if the table is anonymous.
  std::string name;
  /// "set", "ordered_set", "bag" or "duplicate_bag".
  std::string kind;
  access_mode mode = access_mode::protected_;
  /// Objects held (for bags: objects, not keys, as ETS counts).
  std::size_t size = 0;
  /// Bytes the table holds from the allocator: its entries (nodes, links,
  /// the inline bytes of std::string keys and values in set tables, and
  /// the heap blocks of std::string and std::vector keys and values) and
  /// its bucket array. Allocator overhead per block and memory awaiting
  /// reclamation are not counted; heap blocks owned by other key and value
  /// types are not seen.
  std::size_t memory = 0;
  caf::actor_addr owner;
  /// The heir given at creation, if any (ETS's heir option).
  caf::actor_addr heir;
};

/// Every live table of `sys` (ETS all/0), in no particular order. Tables of
/// a system that was not configured (cachet::configure) are not known.
std::vector<table_info> all_tables(caf::actor_system& sys);

} // namespace cachet
