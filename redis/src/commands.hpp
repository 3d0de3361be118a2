// The command set of cachet-redis: redis-server 7.0's string and keyspace
// commands, with its replies and error texts, run against a cachet table.
//
// `execute` runs one command and appends its reply. It is a template over
// the table handle: connection threads pass their `store_table` (direct
// mode), the owner its `owned_store` (message mode). Thread safety: any
// number of threads may execute commands at once, each with its own output
// buffer; every command is atomic per key, as the table's operations are
// (multi-key commands such as MSETNX and RENAME are not isolated as a
// whole).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store.hpp"

namespace cachet::redis {

/// What `execute` reports besides the reply.
struct exec_result {
  /// QUIT: close the connection once the reply is sent.
  bool close = false;
  /// The table answered table_gone: the caller should resolve it again.
  bool store_gone = false;
};

/// Runs `args` (name first; not empty) against `tab` and appends the RESP2
/// reply to `out`.
template <class Table>
exec_result execute(Table& tab, server_env& env,
                    const std::vector<std::string_view>& args,
                    std::string& out);

/// Appends the INFO text for `section` ("" or "default": the four sections).
void info_text(server_env& env, std::string_view section, std::string& out);

} // namespace cachet::redis
