// The command table and `execute` (redis-server 7.0's processCommand and
// call() as seen by clients): look the name up, check the arity, run the
// command, and count it for INFO (commands processed, commandstats).
//
// The commands themselves are by concern, as in redis: t_string.cpp
// (strings and counters), db.cpp (keyspace), expire.cpp (expiry),
// server_commands.cpp and info.cpp (server). A command refused before it
// runs (an unknown name, a wrong arity) is an error reply but no processed
// command; a refused known command counts as a rejected call of its own,
// one that replied with an error as a failed call (redis's
// rejected_calls/failed_calls).
#include "call.hpp"
#include "memory.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iterator>
#include <unordered_map>

namespace cachet::redis {

namespace {

/// What a command is, as redis's command flags say.
enum command_flag : unsigned {
  /// Needs no AUTH (redis's no-auth).
  no_auth = 1,
  /// Works on the connection (its session, the watch registry): runs on
  /// the connection's thread in message mode too.
  conn = 2,
  /// Runs at once inside MULTI instead of being queued.
  immediate = 4,
  /// May take memory: refused under maxmemory when nothing can be evicted
  /// (redis's denyoom).
  denyoom = 8,
  /// Refused inside MULTI (redis's no-multi).
  no_multi = 16,
  /// Runs while the dump loads at start (redis's loading); the others are
  /// refused with LOADING then.
  ok_loading = 32,
  /// Has subcommands (redis's container commands): the subcommand is looked
  /// up and its arity checked before the command runs or is queued.
  container = 64,
  /// Not shown to MONITOR (redis's admin).
  admin = 128,
};

struct command_def {
  std::string_view name;
  void (*run)(call&);
  int arity; // redis's: n exactly, -n at least n (the name included)
  unsigned flags = 0;
};

// Sorted by name, as COMMAND lists them; a command's index is its
// commandstats slot.
constexpr command_def command_table[] = {
  {"append", cmd_append, 3, denyoom},
  {"auth", cmd_auth, -2, no_auth | conn | ok_loading},
  {"bgsave", cmd_bgsave, -1, admin},
  {"bitcount", cmd_bitcount, -2},
  {"bitop", cmd_bitop, -4, denyoom},
  {"bitpos", cmd_bitpos, -3},
  {"client", cmd_client, -2, conn | ok_loading | container},
  {"command", cmd_command, -1, ok_loading | container},
  {"config", cmd_config, -2, ok_loading | container},
  {"copy", cmd_copy, -3, denyoom},
  {"dbsize", cmd_dbsize, 1},
  {"debug", cmd_debug, -2, ok_loading | admin},
  {"decr", cmd_decr, 2, denyoom},
  {"decrby", cmd_decrby, 3, denyoom},
  {"del", cmd_del, -2},
  {"discard", cmd_discard, 1, conn | immediate | ok_loading},
  {"echo", cmd_echo, 2, ok_loading},
  {"exec", cmd_exec, 1, conn | immediate | ok_loading},
  {"exists", cmd_exists, -2},
  {"expire", cmd_expire, -3},
  {"expireat", cmd_expireat, -3},
  {"expiretime", cmd_expiretime, 2},
  {"flushall", cmd_flush, -1},
  {"flushdb", cmd_flush, -1},
  {"get", cmd_get, 2},
  {"getbit", cmd_getbit, 3},
  {"getdel", cmd_getdel, 2},
  {"getex", cmd_getex, -2},
  {"getrange", cmd_getrange, 4},
  {"getset", cmd_getset, 3, denyoom},
  {"hdel", cmd_hdel, -3},
  {"hello", cmd_hello, -1, no_auth | conn | ok_loading},
  {"hexists", cmd_hexists, 3},
  {"hget", cmd_hget, 3},
  {"hgetall", cmd_hgetall, 2},
  {"hincrby", cmd_hincrby, 4, denyoom},
  {"hincrbyfloat", cmd_hincrbyfloat, 4, denyoom},
  {"hkeys", cmd_hkeys, 2},
  {"hlen", cmd_hlen, 2},
  {"hmget", cmd_hmget, -3},
  {"hmset", cmd_hmset, -4, denyoom},
  {"hrandfield", cmd_hrandfield, -2},
  {"hscan", cmd_hscan, -3},
  {"hset", cmd_hset, -4, denyoom},
  {"hsetnx", cmd_hsetnx, 4, denyoom},
  {"hstrlen", cmd_hstrlen, 3},
  {"hvals", cmd_hvals, 2},
  {"incr", cmd_incr, 2, denyoom},
  {"incrby", cmd_incrby, 3, denyoom},
  {"incrbyfloat", cmd_incrbyfloat, 3, denyoom},
  {"info", cmd_info, -1, ok_loading},
  {"keys", cmd_keys, 2},
  {"lastsave", cmd_lastsave, 1, ok_loading},
  {"lcs", cmd_lcs, -3},
  {"memory", cmd_memory, -2, container},
  {"mget", cmd_mget, -2},
  {"monitor", cmd_monitor, 1, conn | ok_loading | admin},
  {"mset", cmd_mset, -3, denyoom},
  {"msetnx", cmd_msetnx, -3, denyoom},
  {"multi", cmd_multi, 1, conn | immediate | ok_loading},
  {"object", cmd_object, -2, container},
  {"persist", cmd_persist, 2},
  {"pexpire", cmd_pexpire, -3},
  {"pexpireat", cmd_pexpireat, -3},
  {"pexpiretime", cmd_pexpiretime, 2},
  {"ping", cmd_ping, -1},
  {"psetex", cmd_psetex, 4, denyoom},
  {"pttl", cmd_pttl, 2},
  {"quit", cmd_quit, -1, no_auth | conn | immediate | ok_loading},
  {"randomkey", cmd_randomkey, 1},
  {"rename", cmd_rename, 3},
  {"renamenx", cmd_renamenx, 3},
  {"reset", cmd_reset, 1, no_auth | conn | immediate | ok_loading},
  {"save", cmd_save, 1, no_multi | admin},
  {"scan", cmd_scan, -2},
  {"select", cmd_select, 2, ok_loading},
  {"set", cmd_set, -3, denyoom},
  {"setbit", cmd_setbit, 4, denyoom},
  {"setex", cmd_setex, 4, denyoom},
  {"setnx", cmd_setnx, 3, denyoom},
  {"setrange", cmd_setrange, 4, denyoom},
  {"shutdown", cmd_shutdown, -1, no_multi | ok_loading | admin},
  {"slowlog", cmd_slowlog, -2, ok_loading | container},
  {"strlen", cmd_strlen, 2},
  {"substr", cmd_getrange, 4},
  {"time", cmd_time, 1, ok_loading},
  {"touch", cmd_touch, -2},
  {"ttl", cmd_ttl, 2},
  {"type", cmd_type, 2},
  {"unlink", cmd_del, -2},
  {"unwatch", cmd_unwatch, 1, conn | ok_loading},
  {"watch", cmd_watch, -2, conn | immediate | ok_loading},
};

constexpr std::size_t command_count = std::size(command_table);

constexpr bool table_sorted() {
  for (std::size_t i = 1; i < command_count; ++i)
    if (!(command_table[i - 1].name < command_table[i].name))
      return false;
  return true;
}

static_assert(table_sorted(), "command_table must be sorted by name");

/// A subcommand: its "command|sub" name, redis's arity (the command's name
/// included) and flags (admin only).
struct subcommand_def {
  std::string_view name;
  int arity;
  unsigned flags = 0;
};

// The subcommands; their commandstats slots follow the commands'.
constexpr subcommand_def subcommand_table[] = {
  {"client|getname", 2},
  {"client|id", 2},
  {"client|info", 2},
  {"client|kill", -3, admin},
  {"client|list", -2, admin},
  {"client|no-evict", 3, admin},
  {"client|reply", 3},
  {"client|setname", 3},
  {"command|count", 2},
  {"command|docs", -2},
  {"command|list", -2},
  {"config|get", -3, admin},
  {"config|resetstat", 2, admin},
  {"config|set", -4, admin},
  {"memory|help", 2},
  {"memory|usage", -3},
  {"object|encoding", 3},
  {"object|freq", 3},
  {"object|help", 2},
  {"object|idletime", 3},
  {"object|refcount", 3},
  {"slowlog|get", -2, admin},
  {"slowlog|help", 2},
  {"slowlog|len", 2, admin},
  {"slowlog|reset", 2, admin},
};

static_assert(command_count + std::size(subcommand_table) <= command_slots,
              "raise command_slots (stats.hpp)");

/// Every command's slot by name (the lookup of every command).
const std::unordered_map<std::string_view, std::size_t>& commands_by_name() {
  static const auto map = [] {
    std::unordered_map<std::string_view, std::size_t> m;
    for (auto& def : command_table)
      m.emplace(def.name, m.size());
    return m;
  }();
  return map;
}

/// Every slot by name, subcommands included.
const std::unordered_map<std::string_view, std::size_t>& slots_by_name() {
  static const auto map = [] {
    std::unordered_map<std::string_view, std::size_t> m;
    for (auto& name : slot_names())
      m.emplace(name, m.size());
    return m;
  }();
  return map;
}

/// redis's unknown-command text: the name, then arguments while the list
/// is under 128 bytes.
std::string unknown_command_text(const args_t& argv) {
  std::string text = "ERR unknown command '";
  text.append(argv[0].substr(0, 128));
  text += "', with args beginning with: ";
  std::string args;
  for (std::size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    auto room = 128 - args.size();
    auto arg = argv[i];
    // printf's %.*s stops at a NUL, as in redis.
    arg = arg.substr(0, std::min(arg.find('\0'), room));
    args += '\'';
    args.append(arg);
    args += "' ";
  }
  text += args;
  return text;
}

/// Whether `arity` (redis's: n exactly, -n at least n) admits `argc`.
bool arity_fits(int arity, std::size_t argc) {
  auto n = static_cast<int>(std::min<std::size_t>(argc, INT_MAX));
  return arity >= 0 ? n == arity : n >= -arity;
}

/// Makes `c`, a container command, its subcommand (argv[1]): its name and
/// slot. False, with redis's error, if there is no such subcommand or the
/// arity is wrong.
bool to_subcommand(call& c) {
  auto sub = c.argv[1];
  auto slot = no_slot;
  if (sub.size() <= 32) { // longer than any: no copy of a huge argument
    std::string full{c.name};
    full += '|';
    for (auto ch : sub)
      full += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    slot = command_slot(full);
  }
  if (slot == no_slot) {
    std::string upper;
    for (auto ch : c.argv[0])
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    c.unknown_subcommand(upper);
    return false;
  }
  auto& def = subcommand_table[slot - command_count];
  c.name = def.name;
  c.slot = slot;
  if (arity_fits(def.arity, c.argv.size()))
    return true;
  c.reject(c.arity_text());
  return false;
}

/// Which arguments of the command `name` (a subcommand's "config|set")
/// are secrets that the slow log and MONITOR show as "(redacted)", as
/// redis's redactClientCommandArgument: AUTH's, HELLO's AUTH pair, CONFIG
/// SET requirepass's value.
std::vector<bool> secret_args(std::string_view name, const args_t& argv) {
  std::vector<bool> secret(argv.size());
  if (name == "auth") {
    std::fill(secret.begin() + 1, secret.end(), true);
  } else if (name == "hello") {
    for (std::size_t j = 2; j + 2 < argv.size(); ++j)
      if (iequals(argv[j], "auth"))
        secret[j + 1] = secret[j + 2] = true;
  } else if (name == "config|set") {
    for (std::size_t j = 2; j + 1 < argv.size(); j += 2)
      if (iequals(argv[j], "requirepass"))
        secret[j + 1] = true;
  }
  return secret;
}

/// The arguments of `c` as the slow log keeps them (redis's
/// slowlogCreateEntry): secrets redacted, at most 32 (the last then says
/// how many more there were), each at most 128 bytes (then how many more).
std::vector<std::string> slow_args(const call& c) {
  constexpr std::size_t max_args = 32;
  constexpr std::size_t max_bytes = 128;
  auto& argv = c.argv;
  auto secret = secret_args(c.name, argv);
  auto n = std::min(argv.size(), max_args);
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t j = 0; j < n; ++j) {
    if (n != argv.size() && j == n - 1) {
      out.push_back("... (" + std::to_string(argv.size() - n + 1)
                    + " more arguments)");
    } else if (secret[j]) {
      out.emplace_back("(redacted)");
    } else if (argv[j].size() > max_bytes) {
      out.emplace_back(argv[j].substr(0, max_bytes));
      out.back() += "... (" + std::to_string(argv[j].size() - max_bytes)
                    + " more bytes)";
    } else {
      out.emplace_back(argv[j]);
    }
  }
  return out;
}

/// The client that sent what `sess` runs: the connection's, or, for a
/// command its connection passed on (EXEC's queue, message mode's owner),
/// found by its id; null if gone.
client_ptr client_of(server_env& env, const session& sess) {
  if (sess.record != nullptr || sess.id == 0)
    return sess.record;
  return env.clients.find(sess.id);
}

/// Logs `c`, which ran for `ticks`, if that reaches slowlog-log-slower-than.
void log_slow(const call& c, std::int64_t ticks) {
  auto us = static_cast<std::int64_t>(static_cast<double>(ticks)
                                      * c.env.stats.ns_per_tick() / 1000.0);
  if (us < c.env.slow.slower_than())
    return;
  auto who = client_of(c.env, c.sess);
  c.env.slow.push(us, slow_args(c), who ? who->addr : std::string{},
                  who ? who->name() : std::string{});
}

/// Appends `s` quoted as redis's sdscatrepr: printable bytes as they are,
/// \\ \" \n \r \t \a \b escaped, the others as \xhh.
void append_repr(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char ch : s) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      default:
        if (std::isprint(ch)) {
          out += static_cast<char>(ch);
        } else {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
          out += buf;
        }
    }
  }
  out += '"';
}

/// Whether the command or subcommand in `slot` is hidden from MONITOR.
bool is_admin(std::size_t slot) {
  if (slot < command_count)
    return (command_table[slot].flags & admin) != 0;
  return slot != no_slot
         && (subcommand_table[slot - command_count].flags & admin) != 0;
}

/// Counts a command that was looked up: refused, or run for `ticks`.
void record(thread_counters& t, const call& c, std::int64_t ticks) {
  if (c.rejected) {
    if (c.slot != no_slot)
      thread_counters::add(t.per_command[c.slot].rejected);
    return;
  }
  thread_counters::add(t.commands);
  auto& s = t.per_command[c.slot];
  thread_counters::add(s.calls);
  thread_counters::add(s.ticks, ticks);
  if (c.failed)
    thread_counters::add(s.failed);
}

/// Whether `def`, run by `sess`, is refused when used_memory is over
/// maxmemory and nothing can be evicted (redis's processCommand): a
/// denyoom command, anything queued in MULTI but EXEC, DISCARD and QUIT,
/// and an EXEC whose queue holds a denyoom command.
bool refused_when_full(const server_env& env, const command_def& def,
                       const session& sess) {
  if (def.run == cmd_exec)
    return needs_memory(env, sess.queued);
  if (sess.in_multi && def.run != cmd_discard && def.run != cmd_quit)
    return true;
  return (def.flags & denyoom) != 0;
}

/// The command a client's (lower-case) `name` calls, through
/// rename-command: no_slot for an unknown name, and for a command's own
/// name once it was renamed or disabled.
std::size_t resolve(const server_env& env, std::string_view name) {
  for (auto& [from, to] : env.config.renames) {
    if (iequals(to, name) && !to.empty())
      return commands_by_name().at(from);
    if (from == name)
      return no_slot;
  }
  auto& commands = commands_by_name();
  auto i = commands.find(name);
  return i != commands.end() ? i->second : no_slot;
}

/// The command a client's `name` (any case) calls, through resolve.
std::size_t lookup(const server_env& env, std::string_view name) {
  char lower[32];
  if (name.size() >= sizeof(lower))
    return no_slot;
  for (std::size_t i = 0; i < name.size(); ++i)
    lower[i] = static_cast<char>(
      std::tolower(static_cast<unsigned char>(name[i])));
  return resolve(env, std::string_view{lower, name.size()});
}

/// Whether there is room under maxmemory, after evicting what the policy
/// allows. Without a table (message mode's connection threads, which only
/// queue for MULTI here) nothing can be evicted: room unless noeviction
/// holds and used_memory is over.
bool room_for(store_table* tab, server_env& env) {
  if (tab != nullptr)
    return make_room(*tab, env);
  return env.persist.loading()
         || env.evict.policy() != maxmemory_policy::noeviction
         || used_memory() <= env.evict.maxmemory();
}

} // namespace

std::string_view client_name(const server_env& env, std::string_view name) {
  for (auto& [from, to] : env.config.renames)
    if (from == name)
      return to;
  return name;
}

const std::vector<command_info>& command_list() {
  static const auto list = [] {
    std::vector<command_info> xs;
    for (auto& def : command_table)
      xs.push_back({def.name, def.arity});
    return xs;
  }();
  return list;
}

const std::vector<std::string_view>& slot_names() {
  static const auto names = [] {
    std::vector<std::string_view> xs;
    for (auto& def : command_table)
      xs.push_back(def.name);
    for (auto& sub : subcommand_table)
      xs.push_back(sub.name);
    return xs;
  }();
  return names;
}

bool needs_memory(const server_env& env,
                  const std::vector<std::vector<std::string>>& queued) {
  for (auto& cmd : queued) {
    auto slot = cmd.empty() ? no_slot : lookup(env, cmd[0]);
    if (slot != no_slot && (command_table[slot].flags & denyoom))
      return true;
  }
  return false;
}

void feed_monitors(server_env& env, const session& sess, const args_t& argv,
                   std::string_view name) {
  if (env.persist.loading())
    return; // as redis: nothing is fed while the dump loads
  auto us = now_us();
  char stamp[48];
  std::snprintf(stamp, sizeof(stamp), "+%lld.%06lld [0 ",
                static_cast<long long>(us / 1000000),
                static_cast<long long>(us % 1000000));
  std::string line = stamp;
  if (auto who = client_of(env, sess))
    line += who->addr;
  line += "] ";
  auto secret = secret_args(name, argv);
  for (std::size_t j = 0; j < argv.size(); ++j) {
    if (j != 0)
      line += ' ';
    append_repr(line, secret[j] ? std::string_view{"(redacted)"} : argv[j]);
  }
  line += "\r\n";
  env.monitors.feed(line);
}

std::size_t command_slot(std::string_view name) {
  auto& map = slots_by_name();
  auto i = map.find(name);
  return i != map.end() ? i->second : no_slot;
}

exec_result execute(store_table* tab, server_env& env, session& sess,
                    const args_t& argv, std::string& out) {
  auto& counters = env.stats.local();
  auto slot = lookup(env, argv[0]);
  if (slot == no_slot) {
    auto text = unknown_command_text(argv);
    reply::error(out, text);
    counters.count_error(text);
    sess.multi_refused |= sess.in_multi;
    return {};
  }
  auto& def = command_table[slot];
  call c{tab, env, sess, argv, out, def.name, slot};
  if (sess.record != nullptr)
    sess.record->last_cmd.store(slot, std::memory_order_relaxed);
  std::int64_t ticks = 0;
  if (!arity_fits(def.arity, argv.size())) {
    c.reject(c.arity_text());
    sess.multi_refused |= sess.in_multi;
  } else if ((def.flags & container) && argv.size() >= 2
             && !to_subcommand(c)) {
    sess.multi_refused |= sess.in_multi;
  } else if (!sess.authenticated && !(def.flags & no_auth)) {
    c.reject("NOAUTH Authentication required.");
  } else if (!(def.flags & ok_loading) && env.persist.loading()) {
    c.reject("LOADING Redis is loading the dataset in memory");
    sess.multi_refused |= sess.in_multi;
  } else if (!sess.in_exec && env.evict.maxmemory() != 0
             && !room_for(tab, env) && refused_when_full(env, def, sess)) {
    if (def.run == cmd_exec) {
      end_transaction(env, sess);
      c.reject(std::string{"EXECABORT Transaction discarded because of: "}
               + std::string{oom_text});
    } else {
      c.reject(oom_text);
      sess.multi_refused |= sess.in_multi;
    }
  } else if (sess.in_multi && (def.flags & no_multi)) {
    c.reject("ERR Command not allowed inside a transaction");
    sess.multi_refused = true;
  } else if (sess.in_multi && !(def.flags & immediate)) {
    // Counted when EXEC runs it.
    sess.queued.emplace_back(argv.begin(), argv.end());
    reply::simple(out, "QUEUED");
    if (auto& rec = sess.record; rec != nullptr) {
      rec->queued.store(static_cast<int>(sess.queued.size()),
                        std::memory_order_relaxed);
      std::size_t bytes = sizeof(std::vector<std::string>);
      for (auto& arg : sess.queued.back())
        bytes += sizeof(std::string) + arg.capacity();
      rec->multi_mem.fetch_add(bytes, std::memory_order_relaxed);
    }
    return {};
  } else if (tab == nullptr && !(def.flags & conn)) {
    return {false, false, true}; // counted where it runs
  } else {
    auto start = cycle_now();
    def.run(c);
    // A TSC read on another core may be behind: never a negative time.
    ticks = std::max<std::int64_t>(cycle_now() - start, 0);
    // EXEC is not logged, the commands it ran are (redis's skip_slowlog).
    if (env.slow.may_log(ticks) && def.run != cmd_exec && !c.rejected)
      log_slow(c, ticks);
    // Shown once it ran, as redis shows it; message mode's EXEC once the
    // owner ran its queue (server.cpp).
    if (env.monitors.any() && !is_admin(c.slot) && !c.res.forward_exec
        && !c.rejected)
      feed_monitors(env, sess, argv, c.name);
  }
  record(counters, c, ticks);
  if (auto& rec = sess.record; rec != nullptr) {
    // For CLIENT LIST: a subcommand's own name, MULTI's queue, HELLO's
    // protocol.
    rec->last_cmd.store(c.slot, std::memory_order_relaxed);
    rec->queued.store(sess.in_multi ? static_cast<int>(sess.queued.size())
                                    : -1,
                      std::memory_order_relaxed);
    rec->proto.store(sess.proto, std::memory_order_relaxed);
  }
  return c.res;
}

} // namespace cachet::redis
