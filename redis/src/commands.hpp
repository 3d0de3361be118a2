// The command set of cachet-redis: redis-server 7.0's string, keyspace,
// expiry and server commands, with its replies and error texts, run against
// a cachet table; and the active expiry cycle its owner runs.
//
// `execute` runs one command and appends its reply. Connection threads pass
// their handle from `whereis` (direct mode), the owner its `share()` of the
// table (message mode): the table is public, so a shared handle has every
// right. Thread safety: any number of threads may execute commands at once,
// each with its own output buffer; every command is atomic per key, as the
// table's operations are (multi-key commands such as MSETNX and RENAME are
// not isolated as a whole).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store.hpp"

namespace cachet::redis {

/// What a connection carries from one command to the next.
struct session {
  /// AUTH succeeded, or no password was set when the connection came.
  bool authenticated = true;
};

/// What `execute` reports besides the reply.
struct exec_result {
  /// QUIT: close the connection once the reply is sent.
  bool close = false;
  /// The table answered table_gone: the caller should resolve it again.
  bool store_gone = false;
  /// Admitted but not run, for want of a table: send it to the owner.
  bool forward = false;
};

/// Runs `args` (name first; not empty) against `tab` for the connection
/// `sess` and appends the RESP2 reply to `out`; counts it in this thread's
/// INFO figures. A command is looked up (through rename-command), its
/// arity checked, and refused with NOAUTH while `sess` is not
/// authenticated, in redis's order. Without a table (`tab` null: message
/// mode's connection threads) only the connection's own commands (AUTH,
/// QUIT) run; the others, once admitted, come back as `forward`.
exec_result execute(store_table* tab, server_env& env, session& sess,
                    const std::vector<std::string_view>& args,
                    std::string& out);

/// How often active expiry runs when few keys are found expired (redis's
/// hz 10).
constexpr std::chrono::milliseconds expire_period{100};

/// Where active expiry is: its cursor in the table's walk, and the time its
/// steps used in the current period.
struct expire_cycle {
  std::uint64_t cursor = 0;
  std::chrono::steady_clock::time_point period_start{};
  std::chrono::steady_clock::duration used{};
};

/// One step of active expiry (redis's activeExpireCycle over dictScan):
/// examines a bounded number of entries from `cycle.cursor` on, removes
/// those found expired, and advances the cursor (0: a walk ended, the next
/// begins). True if the next step should follow at once: over a quarter of
/// the entries with an expiry were expired, and the steps have used under a
/// quarter of this period; else the next step waits for the next period.
/// Safe from any thread; one caller per `cycle`.
bool active_expire_cycle(store_table& tab, server_env& env,
                         expire_cycle& cycle);

} // namespace cachet::redis
