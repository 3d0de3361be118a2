// The command set of cachet-redis: redis-server 7.0's string, keyspace,
// expiry and server commands, with its replies and error texts, run against
// a cachet table; and the active expiry cycle its owner runs.
//
// `execute` runs one command and appends its reply. Connection threads pass
// their handle from `whereis` (direct mode), the owner its `share()` of the
// table (message mode): the table is public, so a shared handle has every
// right. Thread safety: any number of threads may execute commands at once,
// each with its own output buffer; every command is atomic per key, as the
// table's operations are, and EXEC, MSETNX and RENAME are isolated as a
// whole (transactions.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store.hpp"

namespace cachet::redis {

/// What a connection carries from one command to the next.
struct session {
  /// CLIENT ID (0: not a client's, as EXEC's own), and CLIENT SETNAME's.
  std::uint64_t id = 0;
  std::string name;
  /// AUTH succeeded, or no password was set when the connection came.
  bool authenticated = true;
  /// After MULTI: the commands queued for EXEC, and whether one was
  /// refused while queuing (EXEC then aborts).
  bool in_multi = false;
  bool multi_refused = false;
  std::vector<std::vector<std::string>> queued;
  /// This connection's id among the watchers (0: it never watched).
  std::uint64_t watch_id = 0;
  /// EXEC's own session for the queue it runs: admitted as it was queued,
  /// not checked against maxmemory again.
  bool in_exec = false;
  /// The protocol the replies speak: 2, or 3 after HELLO 3.
  int proto = 2;
  /// MONITOR: the connection is in env.monitors.
  bool monitor = false;
  /// CLIENT REPLY OFF; SKIP (the next command's reply is dropped: skip_next
  /// while the SKIP runs, skip while the next one does).
  bool reply_off = false;
  bool reply_skip_next = false;
  bool reply_skip = false;
  /// What other threads see of the connection (null for EXEC's and the
  /// owner's own sessions).
  client_ptr record;
};

/// What `execute` reports besides the reply.
struct exec_result {
  /// QUIT: close the connection once the reply is sent.
  bool close = false;
  /// The table answered table_gone: the caller should resolve it again.
  bool store_gone = false;
  /// Admitted but not run, for want of a table: send it to the owner.
  bool forward = false;
  /// EXEC without a table: send the session's queue to the owner
  /// (run_transaction), then end the transaction (end_transaction).
  bool forward_exec = false;
  /// WATCH without a table: send the keys and the session's watch id to
  /// the owner (watch_keys), which replies.
  bool forward_watch = false;
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

/// EXEC's work for the client `client_id`: unless a key `watch_id`
/// watches was written (a null array then), runs `queued` in order and
/// returns their replies as one array, in protocol `proto`. The caller
/// isolates it (exec_gate, or the owner's mailbox).
std::string run_transaction(store_table& tab, server_env& env,
                            std::uint64_t watch_id, std::uint64_t client_id,
                            const std::vector<std::vector<std::string>>& queued,
                            int proto);

/// Whether a queue holds a command that may take memory (redis's denyoom):
/// EXEC is refused with it when maxmemory is full.
bool needs_memory(const server_env& env,
                  const std::vector<std::vector<std::string>>& queued);

/// redis's error for a command refused under maxmemory.
inline constexpr std::string_view oom_text
  = "OOM command not allowed when used memory > 'maxmemory'.";

/// WATCH's work: `id` watches `keys`, each with its expiry now.
void watch_keys(store_table& tab, server_env& env, std::uint64_t id,
                const std::vector<std::string_view>& keys);

/// Leaves MULTI (EXEC, DISCARD, an aborted EXEC) and unwatches every key.
void end_transaction(server_env& env, session& sess);

/// MONITOR: gives every monitor the line of the command `argv` (named
/// `name`, a subcommand as "config|set") that `sess` ran.
void feed_monitors(server_env& env, const session& sess,
                   const std::vector<std::string_view>& argv,
                   std::string_view name);

/// Evicts keys while used_memory is over maxmemory, by the policy
/// (evict.hpp); false if it stays over with nothing left to evict
/// (noeviction, a volatile policy with no key that has an expiry, or a
/// bound under what the server holds besides its keys).
bool make_room(store_table& tab, server_env& env);

/// Bytes make_room does not evict for (INFO's mem_not_counted_for_evict):
/// what writes replaced, deleted or evicted and readers still hold (a
/// BGSAVE's image holds everything until written), and the save's image.
std::int64_t not_counted_for_evict(const server_env& env) noexcept;

/// About what `key` with value `v` holds: its bytes, the table's entry and
/// its slot (MEMORY USAGE).
std::int64_t key_memory(std::string_view key, const value& v);

/// Links every key into the queues of a policy that keeps them (after
/// evictor::configure said so), giving a slot to keys that have none.
void adopt_keys(store_table& tab, server_env& env);

/// Saves a point-in-time image of the store now (persist.hpp), after the
/// save in flight if any; the error if it failed.
caf::error save_now(store_table& tab, server_env& env);

/// The load at start (redis's loading phase), while the server already
/// answers: reads the dump file and verifies its checksums, then decodes
/// and inserts its keys (but the expired) into the store a batch at a
/// time, counting them and the file's bytes for INFO, until done or
/// `stop`. The caller brackets it with persist.begin_loading and
/// end_loading. The error if the file is bad (nothing inserted then, or,
/// for an entry that fails to decode although the checksums held, the keys
/// before it), if an insert failed, or if `stop` ended it (a part inserted
/// then).
caf::error load_at_start(server_env& env, const std::atomic<bool>& stop);

/// The owner's check, every second: starts a BGSAVE when a save point is
/// due or one was scheduled.
void save_tick(store_table& tab, server_env& env);

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
