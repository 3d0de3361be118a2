// The context of one command and what the command files share: the error
// texts, argument helpers, and the single-key read (of any type, of a
// string, of a hash), read-modify-write and expiry helpers (internal to
// cachet-redis: t_string.cpp, t_hash.cpp, db.cpp, expire.cpp,
// persist.cpp, server_commands.cpp, info.cpp, and commands.cpp, which
// holds the command table and runs each command through a `call`).
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include <cachet/errc.hpp>

#include "commands.hpp"
#include "reply.hpp"
#include "resp_parser.hpp"
#include "store.hpp"

namespace cachet::redis {

using args_t = std::vector<std::string_view>;

inline constexpr std::string_view not_integer
  = "ERR value is not an integer or out of range";
inline constexpr std::string_view syntax_error = "ERR syntax error";
/// The redis version cachet-redis answers as (INFO, HELLO).
inline constexpr std::string_view redis_version = "7.0.0";
inline constexpr std::string_view too_big
  = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr std::string_view wrong_type_text
  = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// ASCII case-insensitive equality (redis's strcasecmp on option names).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// `x` in decimal.
inline std::string ll_text(std::int64_t x) {
  std::string s;
  reply::integer_text(s, x);
  return s;
}

/// The commandstats slot of nothing: an unknown subcommand, which redis
/// counts under no command.
constexpr std::size_t no_slot = command_slots;

/// A command's name and redis arity (n: exactly n arguments, the name
/// included; -n: at least n).
struct command_info {
  std::string_view name;
  int arity;
};

/// Every command, sorted by name.
const std::vector<command_info>& command_list();

/// The name a client calls the command `name` by (rename-command; empty:
/// disabled).
std::string_view client_name(const server_env& env, std::string_view name);

/// The commandstats slot of `name`, a command or a "command|subcommand"
/// that redis counts apart; no_slot if it has none.
std::size_t command_slot(std::string_view name);

/// The name of every slot in use, indexed by slot (INFO commandstats).
const std::vector<std::string_view>& slot_names();

/// One command's invocation: its arguments, where its reply goes, and how
/// it ended (for commandstats).
struct call {
  store_table* table;
  server_env& env;
  session& sess;
  const args_t& argv;
  std::string& out;
  /// The lower-case name, for error texts: "config|get" for a subcommand.
  std::string_view name;
  /// The commandstats slot charged: the subcommand's for a subcommand.
  std::size_t slot;
  exec_result res{};
  /// Refused before it ran (arity, unknown subcommand, DEBUG disabled): a
  /// rejected call in commandstats, not a processed command.
  bool rejected = false;
  /// Replied with an error: a failed call in commandstats.
  bool failed = false;

  /// The connection speaks RESP3 (HELLO 3).
  bool resp3() const {
    return sess.proto == 3;
  }

  /// The null, in the connection's protocol.
  void null() {
    reply::null(out, resp3());
  }

  /// The store (every command but the connection's own has one).
  store_table& tab() const {
    return *table;
  }

  /// A write to `key`: connections that WATCH it fail their EXEC.
  void touch(std::string_view key) {
    env.watches.touch(key);
  }

  /// Replies with the error `text`, counted in errorstats.
  void error(std::string_view text) {
    reply::error(out, text);
    env.stats.local().count_error(text);
    failed = true;
  }

  /// Replies with the error `text` for a command refused before it ran.
  void reject(std::string_view text) {
    error(text);
    rejected = true;
  }

  std::string arity_text() const {
    std::string text = "ERR wrong number of arguments for '";
    text.append(name);
    text += "' command";
    return text;
  }

  void arity_error() {
    error(arity_text());
  }

  void wrong_type() {
    error(wrong_type_text);
  }

  /// redis's error for an unknown subcommand of `command` ("CLIENT").
  void unknown_subcommand(std::string_view command) {
    std::string text = "ERR unknown subcommand '";
    text.append(argv[1].substr(0, 128));
    text += "'. Try ";
    text.append(command);
    text += " HELP.";
    slot = no_slot;
    reject(text);
  }

  void expire_error() {
    std::string text = "ERR invalid expire time in '";
    text.append(name);
    text += "' command";
    error(text);
  }

  /// False (and an error reply) if the table failed.
  template <class T>
  bool ok(const caf::expected<T>& x) {
    if (x)
      return true;
    if (x.error() == cachet::errc::table_gone
        || x.error() == cachet::errc::no_such_table)
      res.store_gone = true;
    error("ERR store unavailable");
    return false;
  }

  /// Parses an integer argument; false (and redis's error) if it is none.
  bool integer_arg(std::string_view s, std::int64_t& x) {
    if (parse_ll(s, x))
      return true;
    error(not_integer);
    return false;
  }

  /// Counts `n` writes (rdb_changes_since_last_save).
  void dirty(std::int64_t n = 1) {
    thread_counters::add(env.stats.local().dirty, n);
  }

  /// A write to `key`: counted, and seen by the connections that WATCH it.
  void wrote(std::string_view key) {
    dirty();
    touch(key);
  }

  /// The end of a read-modify-write of argv[1] whose function may refuse
  /// with `failure`: that error replied, or the write counted. True if the
  /// new value was stored.
  bool finish_update(bool done, std::string_view failure) {
    if (!done)
      return false;
    if (!failure.empty()) {
      error(failure);
      return false;
    }
    wrote(argv[1]);
    return true;
  }

  /// Removes `key` if it is expired at `now`, atomically: a write of the
  /// key landing meanwhile keeps it. True if it removed the key.
  bool erase_expired(std::string_view key, std::int64_t now) {
    slot_ptr gone;
    auto erased = tab().erase_if(key, [&](const value& v) {
      if (!expired(v, now))
        return false;
      gone = v.slot;
      return true;
    });
    env.evict.forget(gone.get());
    return erased && *erased;
  }

  /// `v` gets a slot for `key` while maxmemory is set (evict.hpp); after
  /// the write, `admit(v.slot)` hands it to the policy.
  void give_slot(std::string_view key, value& v) const {
    v.slot = env.evict.make_slot(key);
  }

  void admit(const slot_ptr& s) {
    env.evict.admit(s);
  }

  /// A value that left the table (taken, overwritten as a whole).
  void forget(const value& v) {
    env.evict.forget(v.slot.get());
  }

  /// Counts a key removed for having expired (INFO expired_keys).
  void count_expired() {
    env.stats.expired_keys.fetch_add(1, std::memory_order_relaxed);
  }

  /// Calls `f(const value&)` if `key` is live; true if it was. A key found
  /// expired is removed, as redis does on access (lazy expiry). The read
  /// counts as an access for eviction unless not `touch` (redis's
  /// LOOKUP_NOTOUCH: EXISTS, TYPE, TTL and the like).
  template <class F>
  caf::expected<bool> read(std::string_view key, F&& f, bool touch = true) {
    auto now = now_ms();
    bool live = false;
    auto found = tab().visit(key, [&](const value& v) {
      if (!expired(v, now)) {
        live = true;
        f(v);
        if (touch && v.slot != nullptr)
          env.evict.hit(*v.slot.get());
      }
    });
    if (!found)
      return found;
    if (*found && !live && erase_expired(key, now))
      count_expired();
    return live;
  }

  /// `read` for a command on one type: `f(const value&)` if the key holds
  /// a live value of it (a hash if `hash`, else a string). Whether it did;
  /// nullopt once an error is replied (the store failed, or WRONGTYPE: the
  /// key holds the other type).
  template <class F>
  std::optional<bool> read_typed(std::string_view key, bool hash, F&& f) {
    bool wrong = false;
    auto found = read(key, [&](const value& v) {
      wrong = v.is_string() == hash;
      if (!wrong)
        f(v);
    });
    if (!ok(found))
      return std::nullopt;
    if (wrong) {
      wrong_type();
      return std::nullopt;
    }
    return *found;
  }

  /// read_typed for strings: `f(std::string_view bytes)`.
  template <class F>
  std::optional<bool> read_string(std::string_view key, F&& f) {
    return read_typed(key, false, [&](const value& v) { f(v.bytes()); });
  }

  /// read_typed for hashes: `f(const hash_object&)` under the hash's
  /// shared lock.
  template <class F>
  std::optional<bool> read_hash(std::string_view key, F&& f) {
    return read_typed(key, true, [&](const value& v) {
      std::shared_lock<std::shared_mutex> guard{v.hash()->mutex()};
      f(std::as_const(*v.hash()));
    });
  }

  /// `upsert` for a command that edits a string: a live key of another
  /// type is left as it is and WRONGTYPE replied; `f` sees a dead key as
  /// an empty string. True if `f` ran, false once an error is replied.
  template <class F>
  bool upsert_string(std::string_view key, F&& f) {
    bool wrong = false;
    bool done = upsert(key, [&](value& v, bool live) {
      wrong = live && !v.is_string();
      if (wrong)
        return false;
      if (!live)
        v.set_bytes({});
      return f(v, live);
    });
    if (done && wrong)
      wrong_type();
    return done && !wrong;
  }

  /// Atomic read-modify-write of one key: `f(value& v, bool live)` edits
  /// `v` (a copy of the live value if `live`, else a fresh or expired one to
  /// overwrite) and returns whether to store it when the key is absent.
  /// When the key is present, leaving `v` unchanged stores it unchanged.
  /// `update` if the key is present, else `insert_new`, retried if another
  /// client inserted the key in between.
  template <class F>
  bool upsert(std::string_view key, F&& f) {
    for (;;) {
      auto now = now_ms();
      slot_ptr adopted; // a key from before maxmemory was set gets a slot
      auto updated = tab().update(key, [&](value& v) {
        f(v, !expired(v, now));
        if (v.slot == nullptr && env.evict.tracking()) {
          give_slot(key, v);
          adopted = v.slot;
        }
      });
      if (!ok(updated))
        return false;
      if (*updated) {
        admit(adopted);
        return true;
      }
      value fresh;
      if (!f(fresh, false))
        return true;
      give_slot(key, fresh);
      auto slot = fresh.slot;
      auto inserted = tab().insert_new(key, std::move(fresh));
      if (inserted) {
        admit(slot);
        return true;
      }
      if (inserted.error() != cachet::errc::key_exists)
        return ok(inserted);
      // Someone inserted the key meanwhile: update it instead.
    }
  }
};

/// redis's string2ld, strict: no leading space, no trailing garbage, no NaN,
/// and the whole length consumed (an embedded NUL is garbage too).
bool parse_ld(std::string_view s, long double& out);

/// redis's ld2string(LD_STR_HUMAN): 17 decimals, trailing zeros dropped.
std::string format_ld(long double v);

/// INCRBY's and HINCRBY's sum: `cur + incr` in `sum`, or redis's error.
std::string_view add_ll(std::int64_t cur, std::int64_t incr,
                        std::int64_t& sum);

/// INCRBYFLOAT's and HINCRBYFLOAT's sum: `cur + incr` as text in `text`,
/// or redis's error.
std::string_view add_ld(long double cur, long double incr, std::string& text);

/// redis's parseScanCursorOrReply: a decimal unsigned long, strtoul's way
/// (so "-1" is the largest cursor), no leading space, nothing after.
bool parse_cursor(std::string_view text, std::uint64_t& cursor);

/// SCAN's and HSCAN's options: COUNT, MATCH and (SCAN only) TYPE.
struct scan_options {
  std::int64_t count = 10;
  std::string_view pattern = "*";
  std::optional<std::string> type; // lower case

  /// Reads them from argv[first] on (TYPE only if `keys`); false once an
  /// error is replied.
  bool parse(call& c, std::size_t first, bool keys);

  /// Whether `name` matches MATCH.
  bool matches(std::string_view name) const;
};

// -- the commands, by file (each `cmd_x` runs X) ------------------------------

// multi.cpp: transactions.
void cmd_multi(call& c);
void cmd_exec(call& c);
void cmd_discard(call& c);
void cmd_watch(call& c);
void cmd_unwatch(call& c);

// server_commands.cpp: connection and server commands.
void cmd_auth(call& c);
void cmd_hello(call& c);
void cmd_client(call& c);
void cmd_ping(call& c);
void cmd_echo(call& c);
void cmd_time(call& c);
void cmd_quit(call& c);
void cmd_reset(call& c);
void cmd_monitor(call& c);
void cmd_command(call& c);
void cmd_config(call& c);
void cmd_debug(call& c);
void cmd_slowlog(call& c);

// t_hash.cpp: hashes.
void cmd_hset(call& c);
void cmd_hmset(call& c);
void cmd_hsetnx(call& c);
void cmd_hget(call& c);
void cmd_hmget(call& c);
void cmd_hgetall(call& c);
void cmd_hkeys(call& c);
void cmd_hvals(call& c);
void cmd_hdel(call& c);
void cmd_hexists(call& c);
void cmd_hlen(call& c);
void cmd_hstrlen(call& c);
void cmd_hincrby(call& c);
void cmd_hincrbyfloat(call& c);
void cmd_hscan(call& c);
void cmd_hrandfield(call& c);

// persist.cpp: saving.
void cmd_save(call& c);
void cmd_bgsave(call& c);
void cmd_lastsave(call& c);
void cmd_shutdown(call& c);

// info.cpp
void cmd_info(call& c);

// object.cpp: what a key's value is and holds.
void cmd_object(call& c);
void cmd_memory(call& c);

// t_string.cpp: strings and counters.
void cmd_get(call& c);
void cmd_set(call& c);
void cmd_setnx(call& c);
void cmd_setex(call& c);
void cmd_psetex(call& c);
void cmd_getset(call& c);
void cmd_getdel(call& c);
void cmd_getex(call& c);
void cmd_mget(call& c);
void cmd_mset(call& c);
void cmd_msetnx(call& c);
void cmd_append(call& c);
void cmd_strlen(call& c);
void cmd_getrange(call& c);
void cmd_setrange(call& c);
void cmd_incr(call& c);
void cmd_decr(call& c);
void cmd_incrby(call& c);
void cmd_decrby(call& c);
void cmd_incrbyfloat(call& c);
void cmd_lcs(call& c);

// bitops.cpp: bits of strings.
void cmd_setbit(call& c);
void cmd_getbit(call& c);
void cmd_bitcount(call& c);
void cmd_bitpos(call& c);
void cmd_bitop(call& c);

// db.cpp: the keyspace.
void cmd_select(call& c);
void cmd_dbsize(call& c);
void cmd_flush(call& c);
void cmd_del(call& c);
void cmd_exists(call& c);
void cmd_touch(call& c);
void cmd_type(call& c);
void cmd_rename(call& c);
void cmd_renamenx(call& c);
void cmd_randomkey(call& c);
void cmd_copy(call& c);
void cmd_keys(call& c);
void cmd_scan(call& c);

// expire.cpp: expiry.
void cmd_expire(call& c);
void cmd_pexpire(call& c);
void cmd_expireat(call& c);
void cmd_pexpireat(call& c);
void cmd_ttl(call& c);
void cmd_pttl(call& c);
void cmd_persist(call& c);
void cmd_expiretime(call& c);
void cmd_pexpiretime(call& c);

} // namespace cachet::redis
