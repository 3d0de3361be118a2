// Connection and server commands (redis-server 7.0's server.c, acl.c,
// config.c, slowlog.c and debug.c as seen by clients): AUTH, HELLO, CLIENT,
// PING, ECHO, QUIT, TIME, MONITOR, RESET, COMMAND, CONFIG GET, SET and
// RESETSTAT, SLOWLOG, and DEBUG CRASH-STORE. INFO has a file of its own
// (info.cpp).
//
// Subcommands (config|get, command|count, ...) have their own arity and
// commandstats slot, checked and charged before they run (commands.cpp);
// an unknown one is refused then, as redis refuses it, and counts under
// none.
#include "call.hpp"

#include "glob.hpp"

#include <algorithm>
#include <climits>
#include <iterator>
#include <optional>

#include <unistd.h>

namespace cachet::redis {

namespace {

constexpr std::string_view wrongpass
  = "WRONGPASS invalid username-password pair or user is disabled.";

constexpr std::string_view bad_client_name
  = "ERR Client names cannot contain spaces, newlines or special characters.";

/// Whether `user` with `guess` is the default user with its password (any
/// password while none is set: redis's nopass); if so, the connection is
/// authenticated.
bool authenticate(call& c, std::string_view user, std::string_view guess) {
  bool ok = user == "default"
            && (!c.env.pass.required() || c.env.pass.matches(guess));
  c.sess.authenticated |= ok;
  return ok;
}

/// Printable ASCII but the space, as redis's validateClientName.
bool valid_client_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(),
                     [](char ch) { return ch >= '!' && ch <= '~'; });
}

void set_client_name(call& c, std::string_view name) {
  c.sess.name.assign(name.data(), name.size());
  if (c.sess.record != nullptr)
    c.sess.record->set_name(c.sess.name);
}

/// One client as CLIENT LIST shows it (redis 7.0's fields: no pub/sub, one
/// database, the default user); `argv_mem` is what the arguments of its
/// running command hold (0 for a client between commands).
std::string client_line(const client_record& r, std::int64_t now,
                        std::size_t argv_mem) {
  auto get = [](const auto& x) { return x.load(std::memory_order_relaxed); };
  auto active = get(r.active_ms);
  auto queued = get(r.queued);
  auto slot = get(r.last_cmd);
  auto& names = slot_names();
  std::string flags;
  if (get(r.monitor))
    flags += 'O';
  if (queued >= 0)
    flags += 'x';
  if (flags.empty())
    flags = "N";
  // The buffers: one query buffer (qbuf, its free room, rbs and rbp its
  // allocation) and one output buffer (obl its unsent bytes, omem its
  // allocation while replies wait in it; no reply list, so oll=0). tot-mem
  // counts both allocations, waiting or not, and the record.
  auto qbuf = get(r.qbuf);
  auto qalloc = std::max(get(r.qbuf_alloc), qbuf);
  auto unsent = get(r.unsent);
  auto out_alloc = get(r.out_alloc);
  auto omem = unsent > 0 ? out_alloc : 0;
  auto multi_mem = get(r.multi_mem);
  auto n = [](std::size_t x) { return std::to_string(x); };
  std::string line = "id=" + std::to_string(r.id) + " addr=" + r.addr
                     + " laddr=" + r.laddr + " fd=" + std::to_string(r.fd)
                     + " name=" + r.name()
                     + " age=" + ll_text((now - r.created_ms) / 1000)
                     + " idle=" + ll_text((now - active) / 1000)
                     + " flags=" + flags
                     + " db=0 sub=0 psub=0 ssub=0 multi="
                     + std::to_string(queued) + " qbuf=" + n(qbuf)
                     + " qbuf-free=" + n(qalloc - qbuf)
                     + " argv-mem=" + n(argv_mem)
                     + " multi-mem=" + n(multi_mem) + " rbs=" + n(qalloc)
                     + " rbp=" + n(qalloc) + " obl=" + n(unsent)
                     + " oll=0 omem=" + n(omem) + " tot-mem="
                     + n(sizeof(client_record) + qalloc + argv_mem
                         + out_alloc + multi_mem)
                     + " events=" + (get(r.writing) ? "rw" : "r") + " cmd="
                     + std::string{slot < names.size() ? names[slot] : "NULL"}
                     + " user=default redir=-1 resp="
                     + std::to_string(get(r.proto));
  line += '\n';
  return line;
}

/// What the arguments of the running command hold (CLIENT LIST's argv-mem
/// for the caller's own line; other clients are between commands).
std::size_t argv_bytes(const call& c) {
  std::size_t bytes = 0;
  for (auto arg : c.argv)
    bytes += arg.size();
  return bytes;
}

/// Closes `r`'s connection: at once if it is the caller's (after the
/// reply), else by its loop, which the eventfd write wakes.
void kill_client(call& c, client_record& r) {
  if (c.sess.record.get() == &r) {
    c.res.close = true;
    return;
  }
  r.killed.store(true, std::memory_order_relaxed);
  std::uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(r.wakeup, &one, sizeof(one));
}

/// Checks a CLIENT TYPE filter: false (with redis's error) if unknown;
/// `none` is set for a type no client here has (all are normal ones).
bool client_type(call& c, std::string_view type, bool& none) {
  if (iequals(type, "master") || iequals(type, "replica")
      || iequals(type, "slave") || iequals(type, "pubsub")) {
    none = true;
    return true;
  }
  if (iequals(type, "normal"))
    return true;
  c.error("ERR Unknown client type '" + std::string{type} + "'");
  return false;
}

/// CLIENT LIST [TYPE type] [ID id ...]
void client_list(call& c) {
  std::vector<std::uint64_t> ids;
  bool none = false;
  for (std::size_t j = 2; j < c.argv.size(); ++j) {
    if (iequals(c.argv[j], "type") && j + 1 < c.argv.size()) {
      if (!client_type(c, c.argv[++j], none))
        return;
    } else if (iequals(c.argv[j], "id") && j + 1 < c.argv.size()) {
      for (++j; j < c.argv.size(); ++j) {
        std::int64_t id = 0;
        if (!parse_ll(c.argv[j], id) || id <= 0)
          return c.error("ERR Invalid client ID");
        ids.push_back(static_cast<std::uint64_t>(id));
      }
    } else {
      return c.error(syntax_error);
    }
  }
  if (c.sess.record != nullptr) // its own line shows this command
    c.sess.record->last_cmd.store(c.slot, std::memory_order_relaxed);
  std::string text;
  auto now = now_ms();
  for (auto& r : c.env.clients.all())
    if (!none
        && (ids.empty()
            || std::find(ids.begin(), ids.end(), r->id) != ids.end()))
      text += client_line(*r, now, r == c.sess.record ? argv_bytes(c) : 0);
  reply::verbatim(c.out, text, c.resp3());
}

/// CLIENT KILL addr, or CLIENT KILL [ID id] [ADDR addr] [LADDR addr]
/// [TYPE type] [USER name] [SKIPME yes|no] [MAXAGE secs]
void client_kill(call& c) {
  auto clients = c.env.clients.all();
  if (c.argv.size() == 3) { // the old form: one address, OK or an error
    for (auto& r : clients)
      if (r->addr == c.argv[2]) {
        kill_client(c, *r);
        return reply::ok(c.out);
      }
    return c.error("ERR No such client");
  }
  if (c.argv.size() % 2 != 0)
    return c.error(syntax_error);
  std::optional<std::uint64_t> id;
  std::optional<std::string_view> addr, laddr;
  std::optional<std::int64_t> maxage;
  bool skipme = true, none = false;
  for (std::size_t j = 2; j + 1 < c.argv.size(); j += 2) {
    auto opt = c.argv[j];
    auto val = c.argv[j + 1];
    if (iequals(opt, "id")) {
      std::int64_t x = 0;
      if (!parse_ll(val, x) || x <= 0)
        return c.error("ERR client-id should be greater than 0");
      id = static_cast<std::uint64_t>(x);
    } else if (iequals(opt, "addr")) {
      addr = val;
    } else if (iequals(opt, "laddr")) {
      laddr = val;
    } else if (iequals(opt, "type")) {
      if (!client_type(c, val, none))
        return;
    } else if (iequals(opt, "user")) {
      if (val != "default") // the only user there is
        return c.error("ERR No such user '"
                       + std::string{val.substr(0, val.find('\0'))} + "'");
    } else if (iequals(opt, "skipme")) {
      if (iequals(val, "yes"))
        skipme = true;
      else if (iequals(val, "no"))
        skipme = false;
      else
        return c.error(syntax_error);
    } else if (iequals(opt, "maxage")) {
      std::int64_t x = 0;
      if (!c.integer_arg(val, x))
        return;
      maxage = x;
    } else {
      return c.error(syntax_error);
    }
  }
  std::int64_t killed = 0;
  auto now = now_ms();
  for (auto& r : clients) {
    bool self = c.sess.record == r;
    if (none || (id && r->id != *id) || (addr && r->addr != *addr)
        || (laddr && r->laddr != *laddr) || (skipme && self)
        || (maxage && (now - r->created_ms) / 1000 < *maxage))
      continue;
    kill_client(c, *r);
    ++killed;
  }
  reply::integer(c.out, killed);
}

} // namespace

// AUTH [username] password: the default user is the only one, with
// requirepass as its password. A connection stays authenticated when the
// password changes, as in redis.
void cmd_auth(call& c) {
  if (c.argv.size() > 3)
    return c.error(syntax_error);
  auto user = c.argv.size() == 3 ? c.argv[1] : std::string_view{"default"};
  auto guess = c.argv.back();
  if (c.argv.size() == 2 && !c.env.pass.required())
    return c.error("ERR AUTH <password> called without any password "
                   "configured for the default user. Are you sure your "
                   "configuration is correct?");
  if (!authenticate(c, user, guess))
    return c.error(wrongpass);
  reply::ok(c.out);
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]: picks
// the protocol (2 or 3) and answers with what the server is, as a map.
void cmd_hello(call& c) {
  std::int64_t ver = 0;
  std::size_t next = 1;
  if (c.argv.size() >= 2) {
    if (!parse_ll(c.argv[1], ver))
      return c.error("ERR Protocol version is not an integer or out of range");
    if (ver < 2 || ver > 3)
      return c.error("NOPROTO unsupported protocol version");
    next = 2;
  }
  for (auto j = next; j < c.argv.size(); ++j) {
    auto more = c.argv.size() - 1 - j;
    auto opt = c.argv[j];
    if (iequals(opt, "auth") && more >= 2) {
      if (!authenticate(c, c.argv[j + 1], c.argv[j + 2]))
        return c.error(wrongpass);
      j += 2;
    } else if (iequals(opt, "setname") && more >= 1) {
      auto name = c.argv[++j];
      if (!valid_client_name(name))
        return c.error(bad_client_name);
      set_client_name(c, name);
    } else {
      return c.error("ERR Syntax error in HELLO option '"
                     + std::string{opt.substr(0, 128)} + "'");
    }
  }
  if (!c.sess.authenticated)
    return c.error("NOAUTH HELLO must be called with the client already "
                   "authenticated, otherwise the HELLO AUTH <user> <pass> "
                   "option can be used to authenticate the client and select "
                   "the RESP protocol version at the same time");
  if (ver != 0)
    c.sess.proto = static_cast<int>(ver);
  reply::map(c.out, 7, c.resp3());
  reply::bulk(c.out, "server");
  reply::bulk(c.out, "redis");
  reply::bulk(c.out, "version");
  reply::bulk(c.out, redis_version);
  reply::bulk(c.out, "proto");
  reply::integer(c.out, c.sess.proto);
  reply::bulk(c.out, "id");
  reply::integer(c.out, static_cast<std::int64_t>(c.sess.id));
  reply::bulk(c.out, "mode");
  reply::bulk(c.out, "standalone");
  reply::bulk(c.out, "role");
  reply::bulk(c.out, "master");
  reply::bulk(c.out, "modules");
  reply::array(c.out, 0);
}

// CLIENT ID, GETNAME, SETNAME, NO-EVICT, REPLY, INFO: what a connection
// says of and asks for itself; LIST and KILL: the others (clients.hpp).
void cmd_client(call& c) {
  auto sub = c.argv[1];
  if (iequals(sub, "id")) {
    reply::integer(c.out, static_cast<std::int64_t>(c.sess.id));
  } else if (iequals(sub, "getname")) {
    if (c.sess.name.empty())
      c.null();
    else
      reply::bulk(c.out, c.sess.name);
  } else if (iequals(sub, "setname")) {
    auto name = c.argv[2];
    if (!valid_client_name(name))
      return c.error(bad_client_name);
    set_client_name(c, name);
    reply::ok(c.out);
  } else if (iequals(sub, "list")) {
    client_list(c);
  } else if (iequals(sub, "info")) {
    if (c.sess.record == nullptr)
      return reply::verbatim(c.out, "", c.resp3());
    c.sess.record->last_cmd.store(c.slot, std::memory_order_relaxed);
    reply::verbatim(c.out,
                    client_line(*c.sess.record, now_ms(), argv_bytes(c)),
                    c.resp3());
  } else if (iequals(sub, "kill")) {
    client_kill(c);
  } else if (iequals(sub, "reply")) {
    // ON replies; OFF and SKIP do not (the loop drops what follows).
    auto mode = c.argv[2];
    if (iequals(mode, "on")) {
      c.sess.reply_off = c.sess.reply_skip = false;
      reply::ok(c.out);
    } else if (iequals(mode, "off")) {
      c.sess.reply_off = true;
    } else if (iequals(mode, "skip")) {
      c.sess.reply_skip_next = !c.sess.reply_off;
    } else {
      c.error(syntax_error);
    }
  } else if (iequals(sub, "no-evict")) {
    // Accepted as redis takes it; cachet-redis never evicts clients.
    if (!iequals(c.argv[2], "on") && !iequals(c.argv[2], "off"))
      return c.error(syntax_error);
    reply::ok(c.out);
  } else {
    c.unknown_subcommand("CLIENT");
  }
}

void cmd_ping(call& c) {
  if (c.argv.size() > 2)
    return c.arity_error();
  if (c.argv.size() == 2)
    reply::bulk(c.out, c.argv[1]);
  else
    reply::simple(c.out, "PONG");
}

// TIME: unix seconds and the microseconds within the second, as bulks.
void cmd_time(call& c) {
  auto us = now_us();
  reply::array(c.out, 2);
  reply::bulk(c.out, ll_text(us / 1000000));
  reply::bulk(c.out, ll_text(us % 1000000));
}

void cmd_echo(call& c) {
  reply::bulk(c.out, c.argv[1]);
}

void cmd_quit(call& c) {
  reply::ok(c.out);
  c.res.close = true;
}

namespace {

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]:
// every command as clients call it, each followed by its subcommands
// ("config|get"). A pattern matches each name apart, in any case, as
// redis's; cachet-redis has no modules and no ACL categories, so those
// filters match nothing.
void command_names(call& c) {
  std::optional<std::string_view> pattern;
  bool none = false;
  if (c.argv.size() != 2) {
    if (c.argv.size() != 5 || !iequals(c.argv[2], "filterby"))
      return c.error(syntax_error);
    auto kind = c.argv[3];
    if (iequals(kind, "pattern"))
      pattern = c.argv[4];
    else if (iequals(kind, "module") || iequals(kind, "aclcat"))
      none = true;
    else
      return c.error(syntax_error);
  }
  std::vector<std::string> names;
  if (!none) {
    auto keep = [&](std::string name) {
      if (!pattern || glob_match(*pattern, name, true))
        names.push_back(std::move(name));
    };
    auto& all = slot_names();
    for (auto& cmd : command_list()) {
      auto name = client_name(c.env, cmd.name);
      if (name.empty())
        continue;
      keep(std::string{name});
      std::string prefix{cmd.name};
      prefix += '|';
      for (auto& sub : all)
        if (sub.substr(0, prefix.size()) == prefix)
          keep(std::string{name} + std::string{sub.substr(prefix.size() - 1)});
    }
  }
  reply::array(c.out, static_cast<std::int64_t>(names.size()));
  for (auto& name : names)
    reply::bulk(c.out, name);
}

} // namespace

// MONITOR: from now on the connection is sent a line for every command
// any client runs (commands.cpp's feed_monitors; its loop sends them when
// woken), but for the administrative ones, as redis's.
void cmd_monitor(call& c) {
  if (c.sess.in_exec || c.sess.record == nullptr)
    return c.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
  if (c.sess.monitor)
    return; // already monitoring: no reply at all, as redis
  c.sess.monitor = true;
  c.sess.record->monitor.store(true, std::memory_order_relaxed);
  c.env.monitors.add(c.sess.record);
  reply::ok(c.out);
}

// RESET: the connection as it came (redis's resetCommand): out of MONITOR,
// a transaction discarded and every watch dropped, no name, RESP2, and not
// authenticated while a password is set.
void cmd_reset(call& c) {
  if (c.sess.monitor) {
    c.env.monitors.remove(c.sess.id);
    c.sess.monitor = false;
    c.sess.record->monitor.store(false, std::memory_order_relaxed);
    c.sess.record->take_feed(); // what was fed before the RESET is dropped
  }
  end_transaction(c.env, c.sess);
  c.sess.reply_off = c.sess.reply_skip_next = false;
  set_client_name(c, {});
  c.sess.proto = 2;
  c.sess.authenticated = !c.env.pass.required();
  reply::simple(c.out, "RESET");
}

void cmd_command(call& c) {
  // What clients call the commands: rename-command renames, or hides.
  std::vector<std::pair<std::string_view, int>> list;
  for (auto& cmd : command_list())
    if (auto name = client_name(c.env, cmd.name); !name.empty())
      list.emplace_back(name, cmd.arity);
  if (c.argv.size() == 1) {
    // COMMAND: [name, arity, flags, first key, last key, step] per command;
    // clients read no more than that.
    reply::array(c.out, static_cast<std::int64_t>(list.size()));
    for (auto& [name, arity] : list) {
      reply::array(c.out, 6);
      reply::bulk(c.out, name);
      reply::integer(c.out, arity);
      reply::array(c.out, 0);
      reply::integer(c.out, 0);
      reply::integer(c.out, 0);
      reply::integer(c.out, 0);
    }
    return;
  }
  auto sub = c.argv[1];
  if (iequals(sub, "count")) {
    reply::integer(c.out, static_cast<std::int64_t>(list.size()));
  } else if (iequals(sub, "docs")) {
    reply::map(c.out, 0, c.resp3()); // redis-cli then just has no hints
  } else if (iequals(sub, "list")) {
    command_names(c);
  } else {
    c.unknown_subcommand("COMMAND");
  }
}

/// CONFIG SET param value [param value ...]: requirepass, protected-mode,
/// maxmemory's, hash-max-listpack-*, save and slowlog's, at run time (dir and
/// dbfilename are refused, as redis's protected configs); all or nothing,
/// as in redis.
void config_set(call& c) {
  if (c.argv.size() % 2 != 0)
    return c.error(syntax_error);
  auto failed = [&](std::string_view param, std::string_view why) {
    c.error("ERR CONFIG SET failed (possibly related to argument '"
            + std::string{param.substr(0, 128)} + "') - " + std::string{why});
  };
  const std::string_view known[] = {"requirepass", "protected-mode",
                                    "maxmemory", "maxmemory-policy",
                                    "maxmemory-samples",
                                    "hash-max-listpack-entries",
                                    "hash-max-listpack-value",
                                    "hash-max-ziplist-entries",
                                    "hash-max-ziplist-value", "dir",
                                    "dbfilename", "save",
                                    "slowlog-log-slower-than",
                                    "slowlog-max-len"};
  bool seen[std::size(known)] = {};
  for (std::size_t i = 2; i < c.argv.size(); i += 2) {
    auto* at = std::find_if(std::begin(known), std::end(known),
                            [&](auto name) { return iequals(name, c.argv[i]); });
    if (at == std::end(known))
      return c.error("ERR Unknown option or number of arguments for CONFIG "
                     "SET - '"
                     + std::string{c.argv[i].substr(0, 128)} + "'");
    auto k = static_cast<std::size_t>(at - std::begin(known));
    if (seen[k])
      return failed(c.argv[i], "duplicate parameter");
    seen[k] = true;
  }
  std::optional<std::string> pass;
  std::optional<bool> protect;
  auto& evict = c.env.evict;
  auto maxmemory = evict.maxmemory();
  auto policy = evict.policy();
  std::optional<std::int64_t> samples;
  std::optional<std::int64_t> entries, longest; // hash-max-listpack-*
  std::optional<std::vector<save_point>> points;
  std::optional<std::int64_t> slower_than, slow_len;
  for (std::size_t i = 2; i < c.argv.size(); i += 2) {
    auto param = c.argv[i];
    auto val = c.argv[i + 1];
    if (iequals(param, "requirepass")) {
      pass.emplace(val);
    } else if (iequals(param, "maxmemory")) {
      auto bytes = parse_memory(val);
      if (!bytes)
        return failed(param, "argument must be a memory value");
      maxmemory = *bytes;
    } else if (iequals(param, "maxmemory-policy")) {
      auto p = parse_policy(val);
      if (!p)
        return failed(param, "argument(s) must be one of the following: "
                               + std::string{policy_names});
      policy = *p;
    } else if (iequals(param, "maxmemory-samples")) {
      std::int64_t n = 0;
      if (!parse_ll(val, n))
        return failed(param, "argument couldn't be parsed into an integer");
      if (n < 1 || n > INT_MAX)
        return failed(param, "argument must be between 1 and 2147483647 "
                             "inclusive");
      samples = n;
    } else if (iequals(param, "slowlog-log-slower-than")
               || iequals(param, "slowlog-max-len")) {
      std::int64_t n = 0;
      if (!parse_ll(val, n))
        return failed(param, "argument couldn't be parsed into an integer");
      bool len = iequals(param, "slowlog-max-len");
      if (n < (len ? 0 : -1))
        return failed(param, len ? "argument must be between 0 and "
                                   "9223372036854775807 inclusive"
                                 : "argument must be between -1 and "
                                   "9223372036854775807 inclusive");
      (len ? slow_len : slower_than) = n;
    } else if (iequals(param, "dir") || iequals(param, "dbfilename")) {
      // As redis 7.0's protected configs: where the server writes files is
      // no client's to choose (--dir and --dbfilename set it).
      return failed(param, "can't set protected config");
    } else if (iequals(param, "save")) {
      std::vector<save_point> parsed;
      if (!parse_save_points(val, parsed))
        return failed(param, "Invalid save parameters");
      points = std::move(parsed);
    } else if (param.size() > 8 && iequals(param.substr(0, 8), "hash-max")
               && iequals(param.substr(param.size() - 5), "value")) {
      longest = parse_memory(val); // a memory value in redis, as maxmemory
      if (!longest)
        return failed(param, "argument must be a memory value");
    } else if (param.size() > 8 && iequals(param.substr(0, 8), "hash-max")) {
      std::int64_t n = 0;
      if (!parse_ll(val, n))
        return failed(param, "argument couldn't be parsed into an integer");
      if (n < 0)
        return failed(param, "argument must be between 0 and "
                             "9223372036854775807 inclusive");
      entries = n;
    } else if (iequals(val, "yes") || iequals(val, "no")) {
      protect = iequals(val, "yes");
    } else {
      return failed(param, "argument must be 'yes' or 'no'");
    }
  }
  if (pass)
    c.env.pass.set(std::move(*pass));
  if (protect)
    c.env.protected_mode.store(*protect, std::memory_order_relaxed);
  if (samples)
    evict.set_samples(static_cast<int>(*samples));
  if (points)
    c.env.persist.set_save_points(std::move(*points));
  if (entries)
    c.env.listpack.entries.store(static_cast<std::size_t>(*entries));
  if (longest)
    c.env.listpack.value.store(static_cast<std::size_t>(*longest));
  if (slower_than)
    c.env.slow.set_slower_than(*slower_than);
  if (slow_len)
    c.env.slow.set_max_len(*slow_len);
  if (evict.configure(maxmemory, policy))
    adopt_keys(c.tab(), c.env);
  reply::ok(c.out);
}

void cmd_config(call& c) {
  if (iequals(c.argv[1], "set"))
    return config_set(c);
  if (iequals(c.argv[1], "resetstat")) {
    c.env.stats.reset();
    c.env.evict.evicted_keys.store(0, std::memory_order_relaxed);
    return reply::ok(c.out);
  }
  if (!iequals(c.argv[1], "get"))
    return c.unknown_subcommand("CONFIG");
  auto& cfg = c.env.config;
  auto hash_entries = static_cast<std::int64_t>(c.env.listpack.entries.load());
  auto hash_value = static_cast<std::int64_t>(c.env.listpack.value.load());
  const std::pair<std::string, std::string> params[] = {
    {"appendonly", "no"},
    {"bind", cfg.bind},
    {"databases", "1"},
    {"dbfilename", c.env.persist.dbfilename()},
    {"dir", c.env.persist.dir()},
    {"hash-max-listpack-entries", ll_text(hash_entries)},
    {"hash-max-listpack-value", ll_text(hash_value)},
    {"hash-max-ziplist-entries", ll_text(hash_entries)},
    {"hash-max-ziplist-value", ll_text(hash_value)},
    {"maxclients", ll_text(cfg.maxclients)},
    {"maxmemory", ll_text(c.env.evict.maxmemory())},
    {"maxmemory-policy", std::string{policy_name(c.env.evict.policy())}},
    {"maxmemory-samples", ll_text(c.env.evict.samples())},
    {"port", ll_text(cfg.port)},
    {"protected-mode",
     c.env.protected_mode.load(std::memory_order_relaxed) ? "yes" : "no"},
    {"proto-max-bulk-len", ll_text(cfg.proto_max_bulk_len)},
    {"requirepass", c.env.pass.get()},
    {"save", save_points_text(c.env.persist.save_points())},
    {"slowlog-log-slower-than", ll_text(c.env.slow.slower_than())},
    {"slowlog-max-len", ll_text(c.env.slow.max_len())},
    {"client-output-buffer-limit",
     "normal " + ll_text(cfg.output_buffer_limit) + " "
       + ll_text(cfg.output_buffer_limit) + " 0"},
  };
  std::vector<const std::pair<std::string, std::string>*> hits;
  for (auto& p : params)
    for (std::size_t i = 2; i < c.argv.size(); ++i)
      if (glob_match(c.argv[i], p.first, true)) {
        hits.push_back(&p);
        break;
      }
  reply::map(c.out, static_cast<std::int64_t>(hits.size()), c.resp3());
  for (auto* p : hits) {
    reply::bulk(c.out, p->first);
    reply::bulk(c.out, p->second);
  }
}

// SLOWLOG GET [count] | LEN | RESET | HELP (slowlog.hpp).
void cmd_slowlog(call& c) {
  auto sub = c.argv[1];
  auto& log = c.env.slow;
  if (iequals(sub, "help")) {
    constexpr std::string_view lines[] = {
      "SLOWLOG <subcommand> [<arg> ...]. Subcommands are:",
      "GET [<count>]",
      "    The newest <count> entries (10 unless given; -1: all). Each is",
      "    id, unix time, microseconds taken, arguments, client address,",
      "    client name.",
      "LEN",
      "    How many entries the log holds.",
      "RESET",
      "    Empties the log.",
      "HELP",
      "    Prints this help.",
    };
    reply::array(c.out, static_cast<std::int64_t>(std::size(lines)));
    for (auto line : lines)
      reply::simple(c.out, line);
  } else if (iequals(sub, "len")) {
    reply::integer(c.out, static_cast<std::int64_t>(log.size()));
  } else if (iequals(sub, "reset")) {
    log.reset();
    reply::ok(c.out);
  } else if (iequals(sub, "get") && c.argv.size() <= 3) {
    std::int64_t count = 10;
    if (c.argv.size() == 3
        && (!parse_ll(c.argv[2], count) || count < -1))
      return c.error("ERR count should be greater than or equal to -1");
    auto entries = log.newest(count < 0 ? SIZE_MAX
                                        : static_cast<std::size_t>(count));
    reply::array(c.out, static_cast<std::int64_t>(entries.size()));
    for (auto& e : entries) {
      reply::array(c.out, 6);
      reply::integer(c.out, e.id);
      reply::integer(c.out, e.unix_s);
      reply::integer(c.out, e.duration_us);
      reply::array(c.out, static_cast<std::int64_t>(e.args.size()));
      for (auto& arg : e.args)
        reply::bulk(c.out, arg);
      reply::bulk(c.out, e.peer);
      reply::bulk(c.out, e.name);
    }
  } else {
    c.error("ERR unknown subcommand or wrong number of arguments for '"
            + std::string{sub.substr(0, 128)} + "'. Try SLOWLOG HELP.");
  }
}

void cmd_debug(call& c) {
  if (!c.env.config.enable_debug_command)
    return c.reject(
      "ERR DEBUG command not allowed. If the enable-debug-command option is "
      "set to \"local\", you can run it from a local connection, otherwise "
      "you need to set this option in the configuration file, and then "
      "restart the server.");
  if (iequals(c.argv[1], "crash-store") && c.env.crash_store) {
    c.env.crash_store();
    return reply::ok(c.out);
  }
  c.error("ERR unknown subcommand or wrong number of arguments for '"
          + std::string{c.argv[1].substr(0, 128)} + "'. Try DEBUG HELP.");
}

} // namespace cachet::redis
