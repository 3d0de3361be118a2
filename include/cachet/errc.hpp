// cachet's error codes: every failure a caller can meet is one of these,
// returned as a value (`caf::error` inside `caf::expected`), never thrown.
//
// The enum is registered with CAF as error category "cachet", so an errc
// travels in response messages like CAF's own `sec` codes and compares with
// `==` against a `caf::error`:
//
//   auto v = tab.lookup(key);
//   if (!v && v.error() == cachet::errc::access_denied) ...
//
// `cachet::configure(cfg)` (configure.hpp) registers the category, so that
// `sys.render(err)` prints "cachet: access_denied" instead of a number.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace cachet {

/// Error codes of cachet, registered with CAF as category "cachet".
enum class errc : std::uint8_t {
  /// The handle's rights do not allow this operation in the table's mode.
  access_denied = 1,
  /// The table (or cache, or snapshot) is gone: its owner died with no heir
  /// to take it, or the handle was moved from.
  table_gone,
  /// No live table, cache or snapshot is registered under that name.
  no_such_table,
  /// A live table, cache or snapshot is already registered under that name.
  name_taken,
  /// The name resolves to a table of other key, value or kind types (or to
  /// a cache or snapshot).
  wrong_type,
  /// insert_new: a key of the batch is already present; nothing was inserted.
  key_exists,
  /// The key is not present (update_counter without a default object;
  /// next on a hashed kind, ETS's badarg), or a cache has no index of that
  /// name (get_by, fetch_by).
  no_such_key,
  /// update_counter on a value that is not an integer.
  not_a_counter,
  /// update_counter would leave the range of std::int64_t.
  counter_overflow,
  /// A blocking call got no response within its timeout.
  call_timeout,
  /// A dump file is truncated, corrupt, or of another format, table kind or
  /// key/value type; nothing was loaded.
  bad_file,
  /// The operating system refused a file operation (open, write, fsync,
  /// rename); the context says which and why.
  io_error,
  /// A supervisor's child failed to start (the context names it and says
  /// why); the children started before it were stopped again.
  start_failed,
  /// No child with that id (or actor) under this supervisor.
  no_such_child,
  /// The child is running (restart_child, delete_child).
  child_running,
  /// start_child: a child with that id is running (OTP's already_started;
  /// the context holds the running child).
  already_started,
  /// start_child: a child with that id exists but is not running (OTP's
  /// already_present: restart_child or delete_child it first).
  already_present,
  /// A simple_one_for_one supervisor is at its max_children.
  max_children,
  /// The operation does not apply to this supervisor's strategy (OTP's
  /// {error, simple_one_for_one}).
  wrong_strategy,
  /// A cache's loader threw; the context carries its message. Nothing was
  /// cached, and the next fetch of the key loads again.
  load_failed,
  /// A cache's loader did not finish within the load timeout; its callers
  /// gave up, a late result is dropped, and the next fetch loads again.
  load_timeout,
  /// give_away: the new owner is dead, on another node, or the owner
  /// already (ETS's badarg); nothing changed, the caller still owns it.
  invalid_owner,
  /// An argument the operation cannot take (ETS's badarg): a select
  /// continuation of another table, an empty name for rename; the context
  /// says which.
  invalid_argument,
  /// A type that must cross the network is not registered with CAF on this
  /// node or the peer (cachet::dist::add_table_types); the context names
  /// it. Nothing was sent.
  type_not_registered,
  /// A call to another node found no peer of that name among the live
  /// members (never joined, or declared down).
  no_such_node,
};

/// Returns the enumerator's name, e.g. "access_denied".
std::string to_string(errc x);

} // namespace cachet

CAF_ERROR_CODE_ENUM(cachet::errc, "cachet")
