// Redis commands on a cachet table (redis-server 7.0's t_string.c, db.c,
// expire.c and server.c, as seen by clients).
//
// Each command reads the table with `visit` (no copy: the reply is encoded
// straight from the stored bytes) and writes with single-key operations.
// Read-modify-write commands (INCR, APPEND, SET NX/XX/GET/KEEPTTL, ...) use
// `upsert`: `update` if the key is present, else `insert_new`, retried if
// another client inserted the key in between, so each is atomic per key.
// Expired entries count as absent everywhere; writes replace them. A key
// given an expiry is reported to the owner (`track_expiry`), which removes it
// once it is due.
#include "commands.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_map>

#include "glob.hpp"
#include "reply.hpp"
#include "resp_parser.hpp"

#include <unistd.h>

namespace cachet::redis {

namespace {

using args_t = std::vector<std::string_view>;

const char* not_integer = "ERR value is not an integer or out of range";
const char* syntax_error = "ERR syntax error";
const char* too_big
  = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// Keys for lookups: one reused string per thread, so that a GET allocates
/// nothing (table lookups take a `const std::string&`).
const std::string& scratch_key(std::string_view k) {
  thread_local std::string buf;
  buf.assign(k.data(), k.size());
  return buf;
}

/// redis's string2ld, strict: no leading space, no trailing garbage, no NaN.
bool parse_ld(std::string_view s, long double& out) {
  char buf[5 * 1024];
  if (s.empty() || s.size() >= sizeof(buf))
    return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  errno = 0;
  char* end = nullptr;
  long double v = std::strtold(buf, &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) || *end != '\0'
      || (errno == ERANGE
          && (v == HUGE_VALL || v == -HUGE_VALL
              || std::fpclassify(v) == FP_ZERO))
      || std::isnan(v))
    return false;
  out = v;
  return true;
}

/// redis's ld2string(LD_STR_HUMAN): 17 decimals, trailing zeros dropped.
std::string format_ld(long double v) {
  char buf[5 * 1024];
  int len = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (len <= 0 || static_cast<std::size_t>(len) >= sizeof(buf))
    return {};
  if (std::memchr(buf, '.', static_cast<std::size_t>(len)) != nullptr) {
    while (buf[len - 1] == '0')
      --len;
    if (buf[len - 1] == '.')
      --len;
  }
  if (len == 2 && buf[0] == '-' && buf[1] == '0')
    return "0";
  return std::string(buf, static_cast<std::size_t>(len));
}

std::string ll_text(std::int64_t x) {
  std::string s;
  reply::integer_text(s, x);
  return s;
}

/// One command's invocation.
template <class Table>
struct call {
  Table& tab;
  server_env& env;
  const args_t& argv;
  std::string& out;
  exec_result res;
  std::string_view name; // lower-case, for error texts

  void error(std::string_view text) {
    reply::error(out, text);
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

  void expire_error() {
    std::string text = "ERR invalid expire time in '";
    text.append(name);
    text += "' command";
    error(text);
  }

  void arity_error() {
    std::string text = "ERR wrong number of arguments for '";
    text.append(name);
    text += "' command";
    error(text);
  }

  bool integer_arg(std::string_view s, std::int64_t& x) {
    if (parse_ll(s, x))
      return true;
    error(not_integer);
    return false;
  }

  void track(const std::string& key, std::int64_t at) {
    if (at > 0 && env.track_expiry)
      env.track_expiry(key, at);
  }

  /// Calls `f(const value&)` if `key` is live; true if it was. A key found
  /// expired is removed, as redis does on access.
  template <class F>
  caf::expected<bool> read(std::string_view key, F&& f) {
    auto now = now_ms();
    bool live = false;
    auto& k = scratch_key(key);
    auto found = tab.visit(k, [&](const value& v) {
      if (!expired(v, now)) {
        live = true;
        f(v);
      }
    });
    if (!found)
      return found;
    if (*found && !live)
      remove_expired(k);
    return live;
  }

  /// Removes `key` if it is expired. table.hpp has no conditional erase:
  /// take it, and put it back if a client re-set it in between (insert_new
  /// keeps any newer write still).
  void remove_expired(const std::string& key) {
    auto taken = tab.take(key);
    if (!taken || !*taken)
      return;
    if (expired(**taken, now_ms()))
      env.stats.expired_keys.fetch_add(1, std::memory_order_relaxed);
    else
      tab.insert_new(key, std::move(**taken));
  }

  /// Atomic read-modify-write of one key: `f(value& v, bool live)` edits
  /// `v` (a copy of the live value if `live`, else a fresh or expired one to
  /// overwrite) and returns whether to store it when the key is absent.
  /// When the key is present, leaving `v` unchanged stores it unchanged.
  template <class F>
  bool upsert(const std::string& key, F&& f) {
    for (;;) {
      auto now = now_ms();
      auto updated = tab.update(key, [&](value& v) { f(v, !expired(v, now)); });
      if (!ok(updated))
        return false;
      if (*updated)
        return true;
      value fresh;
      if (!f(fresh, false))
        return true;
      auto inserted = tab.insert_new(key, std::move(fresh));
      if (inserted)
        return true;
      if (inserted.error() != cachet::errc::key_exists)
        return ok(inserted);
      // Someone inserted the key meanwhile: update it instead.
    }
  }
};

// -- expiry options -----------------------------------------------------------

enum set_flags : unsigned {
  f_nx = 1,
  f_xx = 2,
  f_get = 4,
  f_keepttl = 8,
  f_persist = 16,
  f_ex = 32,
  f_px = 64,
  f_exat = 128,
  f_pxat = 256,
};

constexpr unsigned any_expire = f_ex | f_px | f_exat | f_pxat;

/// redis's parseExtendedStringArgumentsOrReply, for SET (`for_set`) and
/// GETEX; options start at argv[first].
template <class C>
bool parse_set_options(C& c, std::size_t first, bool for_set, unsigned& flags,
                       std::string_view& expire) {
  auto& a = c.argv;
  for (std::size_t j = first; j < a.size(); ++j) {
    auto opt = a[j];
    bool has_next = j + 1 < a.size();
    if (for_set && iequals(opt, "nx") && !(flags & f_xx)) {
      flags |= f_nx;
    } else if (for_set && iequals(opt, "xx") && !(flags & f_nx)) {
      flags |= f_xx;
    } else if (for_set && iequals(opt, "get")) {
      flags |= f_get;
    } else if (for_set && iequals(opt, "keepttl") && !(flags & f_persist)
               && !(flags & any_expire)) {
      flags |= f_keepttl;
    } else if (!for_set && iequals(opt, "persist") && !(flags & any_expire)
               && !(flags & f_keepttl)) {
      flags |= f_persist;
    } else if (has_next && !(flags & (f_keepttl | f_persist))
               && ((iequals(opt, "ex") && !(flags & (any_expire & ~f_ex)))
                   || (iequals(opt, "px") && !(flags & (any_expire & ~f_px)))
                   || (iequals(opt, "exat")
                       && !(flags & (any_expire & ~f_exat)))
                   || (iequals(opt, "pxat")
                       && !(flags & (any_expire & ~f_pxat))))) {
      flags &= ~any_expire;
      if (iequals(opt, "ex"))
        flags |= f_ex;
      else if (iequals(opt, "px"))
        flags |= f_px;
      else if (iequals(opt, "exat"))
        flags |= f_exat;
      else
        flags |= f_pxat;
      expire = a[++j];
    } else {
      c.error(syntax_error);
      return false;
    }
  }
  return true;
}

/// redis's getExpireMillisecondsOrReply: the absolute expiry in unix ms.
template <class C>
bool expire_ms(C& c, std::string_view arg, unsigned flags, std::int64_t& at) {
  std::int64_t x = 0;
  if (!c.integer_arg(arg, x))
    return false;
  bool seconds = flags & (f_ex | f_exat);
  if (x <= 0 || (seconds && x > LLONG_MAX / 1000)) {
    c.expire_error();
    return false;
  }
  if (seconds)
    x *= 1000;
  if (flags & (f_ex | f_px)) {
    auto now = now_ms();
    if (x > LLONG_MAX - now) {
      c.expire_error();
      return false;
    }
    x += now;
  }
  at = x;
  return true;
}

// -- connection and server ----------------------------------------------------

template <class T>
void cmd_ping(call<T>& c) {
  if (c.argv.size() > 2)
    return c.arity_error();
  if (c.argv.size() == 2)
    reply::bulk(c.out, c.argv[1]);
  else
    reply::simple(c.out, "PONG");
}

template <class T>
void cmd_echo(call<T>& c) {
  reply::bulk(c.out, c.argv[1]);
}

template <class T>
void cmd_quit(call<T>& c) {
  reply::ok(c.out);
  c.res.close = true;
}

template <class T>
void cmd_select(call<T>& c) {
  std::int64_t id = 0;
  if (!parse_ll(c.argv[1], id))
    return c.error(not_integer);
  if (id < INT_MIN || id > INT_MAX)
    return c.error("ERR value is out of range, value must between "
                   "-2147483648 and 2147483647");
  if (id != 0)
    return c.error("ERR DB index is out of range");
  reply::ok(c.out);
}

struct command_def;
const std::vector<std::pair<std::string_view, int>>& command_arities();

template <class T>
void cmd_command(call<T>& c) {
  auto& table = command_arities();
  if (c.argv.size() == 1) {
    // COMMAND: [name, arity, flags, first key, last key, step] per command;
    // clients read no more than that.
    reply::array(c.out, static_cast<std::int64_t>(table.size()));
    for (auto& [name, arity] : table) {
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
  if (iequals(sub, "count") && c.argv.size() == 2) {
    reply::integer(c.out, static_cast<std::int64_t>(table.size()));
  } else if (iequals(sub, "docs")) {
    reply::array(c.out, 0); // redis-cli then just has no hints
  } else if (iequals(sub, "list") && c.argv.size() == 2) {
    reply::array(c.out, static_cast<std::int64_t>(table.size()));
    for (auto& entry : table)
      reply::bulk(c.out, entry.first);
  } else {
    std::string text = "ERR unknown subcommand '";
    text.append(sub.substr(0, 128));
    text += "'. Try COMMAND HELP.";
    c.error(text);
  }
}

template <class T>
void cmd_config(call<T>& c) {
  auto sub = c.argv[1];
  if (!iequals(sub, "get")) {
    std::string text = "ERR unknown subcommand '";
    text.append(sub.substr(0, 128));
    text += "'. Try CONFIG HELP.";
    return c.error(text);
  }
  if (c.argv.size() < 3) {
    c.name = "config|get";
    return c.arity_error();
  }
  auto& cfg = c.env.config;
  const std::pair<std::string, std::string> params[] = {
    {"appendonly", "no"},
    {"bind", cfg.bind},
    {"databases", "1"},
    {"maxclients", ll_text(cfg.maxclients)},
    {"port", ll_text(cfg.port)},
    {"proto-max-bulk-len", ll_text(cfg.proto_max_bulk_len)},
    {"save", ""},
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
  reply::array(c.out, static_cast<std::int64_t>(hits.size() * 2));
  for (auto* p : hits) {
    reply::bulk(c.out, p->first);
    reply::bulk(c.out, p->second);
  }
}

template <class T>
void cmd_info(call<T>& c) {
  std::string text;
  if (c.argv.size() == 1) {
    info_text(c.env, "default", text);
  } else {
    for (std::size_t i = 1; i < c.argv.size(); ++i)
      info_text(c.env, c.argv[i], text);
  }
  reply::bulk(c.out, text);
}

template <class T>
void cmd_dbsize(call<T>& c) {
  auto n = c.tab.size();
  if (c.ok(n))
    reply::integer(c.out, static_cast<std::int64_t>(*n));
}

template <class T>
void cmd_flush(call<T>& c) {
  if (c.argv.size() > 2
      || (c.argv.size() == 2 && !iequals(c.argv[1], "sync")
          && !iequals(c.argv[1], "async")))
    return c.error(syntax_error);
  if (c.ok(c.tab.clear()))
    reply::ok(c.out);
}

template <class T>
void cmd_debug(call<T>& c) {
  if (!c.env.config.enable_debug_command)
    return c.error(
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

// -- strings ------------------------------------------------------------------

template <class T>
void cmd_get(call<T>& c) {
  auto found = c.read(c.argv[1],
                      [&](const value& v) { reply::bulk(c.out, v.bytes); });
  if (!c.ok(found))
    return;
  if (*found) {
    thread_counters::add(c.env.stats.local().keyspace_hits);
  } else {
    thread_counters::add(c.env.stats.local().keyspace_misses);
    reply::null(c.out);
  }
}

/// SET's core, for SET, SETNX, SETEX, PSETEX and GETSET: stores `val` under
/// `key` with expiry `at` (0: none) by `flags`; true if it stored.
template <class T>
bool set_value(call<T>& c, std::string_view key_view, std::string_view val,
               unsigned flags, std::int64_t at, std::optional<std::string>* old,
               bool& failed) {
  std::string key{key_view};
  failed = false;
  if ((flags & (f_nx | f_xx | f_get | f_keepttl)) == 0) {
    // The plain SET: one insert, key and value copied once into the table
    // (the key is kept only when the owner must hear of its expiry).
    auto res = at > 0 ? c.tab.insert(key, value{std::string{val}, at})
                      : c.tab.insert(std::move(key), value{std::string{val}, 0});
    if (!c.ok(res)) {
      failed = true;
      return false;
    }
    c.track(key, at);
    return true;
  }
  bool stored = false;
  std::int64_t final_at = at;
  auto done = c.upsert(key, [&](value& v, bool live) {
    if (old != nullptr) {
      if (live)
        *old = v.bytes;
      else
        old->reset();
    }
    stored = false;
    if ((flags & f_nx) && live)
      return false;
    if ((flags & f_xx) && !live)
      return false;
    final_at = (flags & f_keepttl) && live ? v.expire_at : at;
    v.bytes.assign(val.data(), val.size());
    v.expire_at = final_at;
    stored = true;
    return true;
  });
  if (!done) {
    failed = true;
    return false;
  }
  if (stored)
    c.track(key, final_at);
  return stored;
}

template <class T>
void cmd_set(call<T>& c) {
  unsigned flags = 0;
  std::string_view expire;
  if (!parse_set_options(c, 3, true, flags, expire))
    return;
  std::int64_t at = 0;
  if ((flags & any_expire) && !expire_ms(c, expire, flags, at))
    return;
  std::optional<std::string> old;
  bool failed = false;
  bool stored = set_value(c, c.argv[1], c.argv[2], flags, at,
                          (flags & f_get) ? &old : nullptr, failed);
  if (failed)
    return;
  if (flags & f_get) {
    if (old)
      reply::bulk(c.out, *old);
    else
      reply::null(c.out);
  } else if (stored) {
    reply::ok(c.out);
  } else {
    reply::null(c.out);
  }
}

template <class T>
void cmd_setnx(call<T>& c) {
  bool failed = false;
  bool stored = set_value(c, c.argv[1], c.argv[2], f_nx, 0, nullptr, failed);
  if (!failed)
    reply::integer(c.out, stored ? 1 : 0);
}

template <class T>
void cmd_setex_generic(call<T>& c, unsigned unit) {
  std::int64_t at = 0;
  if (!expire_ms(c, c.argv[2], unit, at))
    return;
  bool failed = false;
  set_value(c, c.argv[1], c.argv[3], 0, at, nullptr, failed);
  if (!failed)
    reply::ok(c.out);
}

template <class T>
void cmd_setex(call<T>& c) {
  cmd_setex_generic(c, f_ex);
}

template <class T>
void cmd_psetex(call<T>& c) {
  cmd_setex_generic(c, f_px);
}

template <class T>
void cmd_getset(call<T>& c) {
  std::optional<std::string> old;
  bool failed = false;
  set_value(c, c.argv[1], c.argv[2], f_get, 0, &old, failed);
  if (failed)
    return;
  if (old)
    reply::bulk(c.out, *old);
  else
    reply::null(c.out);
}

template <class T>
void cmd_getdel(call<T>& c) {
  auto taken = c.tab.take(scratch_key(c.argv[1]));
  if (!c.ok(taken))
    return;
  if (*taken && !expired(**taken, now_ms()))
    reply::bulk(c.out, (*taken)->bytes);
  else
    reply::null(c.out);
}

template <class T>
void cmd_getex(call<T>& c) {
  unsigned flags = 0;
  std::string_view expire;
  if (!parse_set_options(c, 2, false, flags, expire))
    return;
  std::int64_t at = 0;
  if ((flags & any_expire) && !expire_ms(c, expire, flags, at))
    return;
  std::string key{c.argv[1]};
  if (!(flags & (any_expire | f_persist))) {
    auto found = c.read(key, [&](const value& v) { reply::bulk(c.out, v.bytes); });
    if (c.ok(found) && !*found)
      reply::null(c.out);
    return;
  }
  std::optional<std::string> got;
  auto now = now_ms();
  auto updated = c.tab.update(key, [&](value& v) {
    got.reset();
    if (expired(v, now))
      return;
    got = v.bytes;
    v.expire_at = (flags & f_persist) ? 0 : std::max<std::int64_t>(at, 1);
  });
  if (!c.ok(updated))
    return;
  if (!got)
    return reply::null(c.out);
  reply::bulk(c.out, *got);
  if ((flags & f_persist) == 0 && at <= now_ms())
    c.remove_expired(key);
  else if ((flags & f_persist) == 0)
    c.track(key, at);
}

template <class T>
void cmd_mget(call<T>& c) {
  reply::array(c.out, static_cast<std::int64_t>(c.argv.size() - 1));
  for (std::size_t i = 1; i < c.argv.size(); ++i) {
    auto found = c.read(c.argv[i],
                        [&](const value& v) { reply::bulk(c.out, v.bytes); });
    if (!found || !*found)
      reply::null(c.out);
  }
}

template <class T>
void cmd_mset(call<T>& c) {
  if (c.argv.size() % 2 == 0)
    return c.arity_error();
  std::vector<std::pair<std::string, value>> entries;
  entries.reserve(c.argv.size() / 2);
  for (std::size_t i = 1; i + 1 < c.argv.size(); i += 2)
    entries.emplace_back(std::string{c.argv[i]},
                         value{std::string{c.argv[i + 1]}, 0});
  if (c.ok(c.tab.insert(std::move(entries))))
    reply::ok(c.out);
}

template <class T>
void cmd_msetnx(call<T>& c) {
  if (c.argv.size() % 2 == 0)
    return c.arity_error();
  for (std::size_t i = 1; i < c.argv.size(); i += 2) {
    auto found = c.read(c.argv[i], [](const value&) {});
    if (!c.ok(found))
      return;
    if (*found)
      return reply::integer(c.out, 0);
  }
  std::vector<std::pair<std::string, value>> entries;
  for (std::size_t i = 1; i + 1 < c.argv.size(); i += 2)
    entries.emplace_back(std::string{c.argv[i]},
                         value{std::string{c.argv[i + 1]}, 0});
  if (c.ok(c.tab.insert(std::move(entries))))
    reply::integer(c.out, 1);
}

template <class T>
void cmd_append(call<T>& c) {
  auto add = c.argv[2];
  std::int64_t len = 0;
  bool too_long = false;
  auto max = c.env.config.proto_max_bulk_len;
  bool done = c.upsert(std::string{c.argv[1]}, [&](value& v, bool live) {
    too_long = false;
    if (!live)
      v = value{};
    if (static_cast<std::int64_t>(v.bytes.size() + add.size()) > max) {
      too_long = true;
      return false;
    }
    v.bytes.append(add.data(), add.size());
    len = static_cast<std::int64_t>(v.bytes.size());
    return true;
  });
  if (!done)
    return;
  if (too_long)
    return c.error(too_big);
  reply::integer(c.out, len);
}

template <class T>
void cmd_strlen(call<T>& c) {
  std::int64_t len = 0;
  auto found = c.read(c.argv[1], [&](const value& v) {
    len = static_cast<std::int64_t>(v.bytes.size());
  });
  if (c.ok(found))
    reply::integer(c.out, len);
}

template <class T>
void cmd_getrange(call<T>& c) {
  std::int64_t start = 0, end = 0;
  if (!c.integer_arg(c.argv[2], start) || !c.integer_arg(c.argv[3], end))
    return;
  bool replied = false;
  auto found = c.read(c.argv[1], [&](const value& v) {
    auto len = static_cast<std::int64_t>(v.bytes.size());
    auto s = start, e = end;
    if (s < 0 && e < 0 && s > e)
      return;
    if (s < 0)
      s += len;
    if (e < 0)
      e += len;
    if (s < 0)
      s = 0;
    if (e < 0)
      e = 0;
    if (e >= len)
      e = len - 1;
    if (s > e || len == 0)
      return;
    replied = true;
    reply::bulk(c.out, std::string_view{v.bytes}.substr(
                         static_cast<std::size_t>(s),
                         static_cast<std::size_t>(e - s + 1)));
  });
  if (c.ok(found) && !replied)
    reply::bulk(c.out, "");
}

template <class T>
void cmd_setrange(call<T>& c) {
  std::int64_t offset = 0;
  if (!c.integer_arg(c.argv[2], offset))
    return;
  if (offset < 0)
    return c.error("ERR offset is out of range");
  auto val = c.argv[3];
  auto max = c.env.config.proto_max_bulk_len;
  bool too_long = false;
  std::int64_t len = 0;
  bool done = c.upsert(std::string{c.argv[1]}, [&](value& v, bool live) {
    too_long = false;
    if (!live)
      v = value{};
    len = static_cast<std::int64_t>(v.bytes.size());
    if (val.empty())
      return false; // nothing to write: the length as it is
    if (offset > max - static_cast<std::int64_t>(val.size())) {
      too_long = true;
      return false;
    }
    auto end = static_cast<std::size_t>(offset) + val.size();
    if (v.bytes.size() < end)
      v.bytes.resize(end, '\0');
    v.bytes.replace(static_cast<std::size_t>(offset), val.size(), val.data(),
                    val.size());
    len = static_cast<std::int64_t>(v.bytes.size());
    return true;
  });
  if (!done)
    return;
  if (too_long)
    return c.error(too_big);
  reply::integer(c.out, len);
}

template <class T>
void incr_by(call<T>& c, std::int64_t incr) {
  const char* failure = nullptr;
  std::int64_t result = 0;
  bool done = c.upsert(std::string{c.argv[1]}, [&](value& v, bool live) {
    failure = nullptr;
    std::int64_t cur = 0;
    if (live && !parse_ll(v.bytes, cur)) {
      failure = not_integer;
      return false;
    }
    if ((incr < 0 && cur < 0 && incr < LLONG_MIN - cur)
        || (incr > 0 && cur > 0 && incr > LLONG_MAX - cur)) {
      failure = "ERR increment or decrement would overflow";
      return false;
    }
    result = cur + incr;
    if (!live)
      v.expire_at = 0;
    v.bytes = ll_text(result);
    return true;
  });
  if (!done)
    return;
  if (failure != nullptr)
    return c.error(failure);
  reply::integer(c.out, result);
}

template <class T>
void cmd_incr(call<T>& c) {
  incr_by(c, 1);
}

template <class T>
void cmd_decr(call<T>& c) {
  incr_by(c, -1);
}

template <class T>
void cmd_incrby(call<T>& c) {
  std::int64_t n = 0;
  if (c.integer_arg(c.argv[2], n))
    incr_by(c, n);
}

template <class T>
void cmd_decrby(call<T>& c) {
  std::int64_t n = 0;
  if (!c.integer_arg(c.argv[2], n))
    return;
  if (n == LLONG_MIN)
    return c.error("ERR decrement would overflow");
  incr_by(c, -n);
}

template <class T>
void cmd_incrbyfloat(call<T>& c) {
  const char* failure = nullptr;
  std::string result;
  bool done = c.upsert(std::string{c.argv[1]}, [&](value& v, bool live) {
    failure = nullptr;
    long double cur = 0, incr = 0;
    if ((live && !parse_ld(v.bytes, cur)) || !parse_ld(c.argv[2], incr)) {
      failure = "ERR value is not a valid float";
      return false;
    }
    cur += incr;
    if (std::isnan(cur) || std::isinf(cur)) {
      failure = "ERR increment would produce NaN or Infinity";
      return false;
    }
    result = format_ld(cur);
    if (!live)
      v.expire_at = 0;
    v.bytes = result;
    return true;
  });
  if (!done)
    return;
  if (failure != nullptr)
    return c.error(failure);
  reply::bulk(c.out, result);
}

// -- keyspace -----------------------------------------------------------------

template <class T>
void cmd_del(call<T>& c) {
  std::int64_t n = 0;
  auto now = now_ms();
  for (std::size_t i = 1; i < c.argv.size(); ++i) {
    auto taken = c.tab.take(scratch_key(c.argv[i]));
    if (!c.ok(taken))
      return;
    if (*taken && !expired(**taken, now))
      ++n;
  }
  reply::integer(c.out, n);
}

template <class T>
void cmd_exists(call<T>& c) {
  std::int64_t n = 0;
  for (std::size_t i = 1; i < c.argv.size(); ++i) {
    auto found = c.read(c.argv[i], [](const value&) {});
    if (!c.ok(found))
      return;
    n += *found ? 1 : 0;
  }
  reply::integer(c.out, n);
}

template <class T>
void cmd_type(call<T>& c) {
  auto found = c.read(c.argv[1], [](const value&) {});
  if (c.ok(found))
    reply::simple(c.out, *found ? "string" : "none");
}

template <class T>
void cmd_rename(call<T>& c) {
  std::string src{c.argv[1]};
  std::string dst{c.argv[2]};
  if (src == dst) {
    auto found = c.read(src, [](const value&) {});
    if (!c.ok(found))
      return;
    if (!*found)
      return c.error("ERR no such key");
    return reply::ok(c.out);
  }
  auto taken = c.tab.take(src);
  if (!c.ok(taken))
    return;
  if (!*taken || expired(**taken, now_ms()))
    return c.error("ERR no such key");
  auto at = (*taken)->expire_at;
  if (!c.ok(c.tab.insert(dst, std::move(**taken))))
    return;
  c.track(dst, at);
  reply::ok(c.out);
}

template <class T>
void cmd_keys(call<T>& c) {
  auto pattern = c.argv[1];
  bool all = pattern == "*";
  auto now = now_ms();
  std::vector<std::string> keys;
  auto walked = c.tab.for_each([&](std::string_view k, const value& v) {
    if (!expired(v, now) && (all || glob_match(pattern, k)))
      keys.emplace_back(k);
  });
  if (!c.ok(walked))
    return;
  reply::array(c.out, static_cast<std::int64_t>(keys.size()));
  for (auto& k : keys)
    reply::bulk(c.out, k);
}

/// A key's place in SCAN's order: its hash, shifted so that 0 stays the
/// start-and-end cursor.
std::uint64_t scan_position(std::string_view key) {
  return (std::hash<std::string_view>{}(key) >> 1) + 1;
}

// SCAN walks keys in hash order: a cursor is the smallest position still to
// return, so every key present for the whole scan is returned at least once
// however the table changes. table.hpp offers no resumable iteration, so
// each call walks the whole table, keeping the COUNT smallest positions.
template <class T>
void cmd_scan(call<T>& c) {
  auto& a = c.argv;
  std::string cursor_text{a[1]};
  errno = 0;
  char* end = nullptr;
  auto cursor = std::strtoull(cursor_text.c_str(), &end, 10);
  if (cursor_text.empty()
      || std::isspace(static_cast<unsigned char>(cursor_text[0]))
      || *end != '\0' || errno == ERANGE)
    return c.error("ERR invalid cursor");
  std::int64_t count = 10;
  std::string_view pattern;
  bool use_pattern = false;
  bool only_none = false;
  for (std::size_t i = 2; i < a.size();) {
    auto left = a.size() - i;
    if (iequals(a[i], "count") && left >= 2) {
      if (!c.integer_arg(a[i + 1], count))
        return;
      if (count < 1)
        return c.error(syntax_error);
      i += 2;
    } else if (iequals(a[i], "match") && left >= 2) {
      pattern = a[i + 1];
      use_pattern = pattern != "*";
      i += 2;
    } else if (iequals(a[i], "type") && left >= 2) {
      only_none = !iequals(a[i + 1], "string");
      i += 2;
    } else {
      return c.error(syntax_error);
    }
  }
  using item = std::pair<std::uint64_t, std::string>;
  std::priority_queue<item> best; // the count+1 smallest positions >= cursor
  auto keep = static_cast<std::size_t>(std::min<std::int64_t>(count, 1 << 20))
              + 1;
  auto now = now_ms();
  auto walked = c.tab.for_each([&](std::string_view k, const value& v) {
    if (expired(v, now))
      return;
    auto pos = scan_position(k);
    if (pos < cursor)
      return;
    if (best.size() < keep) {
      best.emplace(pos, k);
    } else if (pos < best.top().first) {
      best.pop();
      best.emplace(pos, k);
    }
  });
  if (!c.ok(walked))
    return;
  std::vector<item> found;
  found.reserve(best.size());
  while (!best.empty()) {
    found.push_back(std::move(const_cast<item&>(best.top())));
    best.pop();
  }
  std::reverse(found.begin(), found.end());
  std::uint64_t next = 0;
  if (found.size() == keep) {
    next = found.back().first; // the first key not returned
    found.pop_back();
  }
  std::vector<std::string*> out;
  for (auto& [pos, key] : found)
    if (!only_none && (!use_pattern || glob_match(pattern, key)))
      out.push_back(&key);
  reply::array(c.out, 2);
  reply::bulk(c.out, std::to_string(next));
  reply::array(c.out, static_cast<std::int64_t>(out.size()));
  for (auto* k : out)
    reply::bulk(c.out, *k);
}

enum expire_flags : unsigned { e_nx = 1, e_xx = 2, e_gt = 4, e_lt = 8 };

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `base` is added to the argument
/// (now, or 0 for the AT forms), in seconds if `seconds`.
template <class T>
void expire_generic(call<T>& c, std::int64_t base, bool seconds) {
  unsigned flags = 0;
  for (std::size_t j = 3; j < c.argv.size(); ++j) {
    auto opt = c.argv[j];
    if (iequals(opt, "nx"))
      flags |= e_nx;
    else if (iequals(opt, "xx"))
      flags |= e_xx;
    else if (iequals(opt, "gt"))
      flags |= e_gt;
    else if (iequals(opt, "lt"))
      flags |= e_lt;
    else
      return c.error("ERR Unsupported option " + std::string{opt});
  }
  if ((flags & e_nx) && (flags & (e_xx | e_gt | e_lt)))
    return c.error(
      "ERR NX and XX, GT or LT options at the same time are not compatible");
  if ((flags & e_gt) && (flags & e_lt))
    return c.error("ERR GT and LT options at the same time are not compatible");
  std::int64_t when = 0;
  if (!c.integer_arg(c.argv[2], when))
    return;
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
      return c.expire_error();
    when *= 1000;
  }
  if (when > LLONG_MAX - base)
    return c.expire_error();
  when += base;
  bool set = false;
  std::string key{c.argv[1]};
  auto now = now_ms();
  auto updated = c.tab.update(key, [&](value& v) {
    set = false;
    if (expired(v, now))
      return;
    auto cur = v.expire_at; // 0: persistent, an infinite TTL
    if ((flags & e_nx) && cur != 0)
      return;
    if ((flags & e_xx) && cur == 0)
      return;
    if ((flags & e_gt) && (cur == 0 || when <= cur))
      return;
    if ((flags & e_lt) && cur != 0 && when >= cur)
      return;
    // A time in the past expires the key now (0 would mean "never").
    v.expire_at = std::max<std::int64_t>(when, 1);
    set = true;
  });
  if (!c.ok(updated))
    return;
  if (set && when <= now_ms())
    c.remove_expired(key); // redis deletes it at once
  else if (set)
    c.track(key, when);
  reply::integer(c.out, set ? 1 : 0);
}

template <class T>
void cmd_expire(call<T>& c) {
  expire_generic(c, now_ms(), true);
}

template <class T>
void cmd_pexpire(call<T>& c) {
  expire_generic(c, now_ms(), false);
}

template <class T>
void cmd_expireat(call<T>& c) {
  expire_generic(c, 0, true);
}

template <class T>
void cmd_pexpireat(call<T>& c) {
  expire_generic(c, 0, false);
}

template <class T>
void ttl_generic(call<T>& c, bool ms) {
  std::int64_t at = -1;
  auto found = c.read(c.argv[1], [&](const value& v) { at = v.expire_at; });
  if (!c.ok(found))
    return;
  if (!*found)
    return reply::integer(c.out, -2);
  if (at == 0)
    return reply::integer(c.out, -1);
  auto ttl = std::max<std::int64_t>(at - now_ms(), 0);
  reply::integer(c.out, ms ? ttl : (ttl + 500) / 1000);
}

template <class T>
void cmd_ttl(call<T>& c) {
  ttl_generic(c, false);
}

template <class T>
void cmd_pttl(call<T>& c) {
  ttl_generic(c, true);
}

template <class T>
void cmd_persist(call<T>& c) {
  bool cleared = false;
  auto now = now_ms();
  auto updated = c.tab.update(scratch_key(c.argv[1]), [&](value& v) {
    cleared = !expired(v, now) && v.expire_at != 0;
    if (cleared)
      v.expire_at = 0;
  });
  if (c.ok(updated))
    reply::integer(c.out, cleared ? 1 : 0);
}

// -- dispatch -----------------------------------------------------------------

template <class T>
struct command_entry {
  void (*run)(call<T>&);
  int arity; // redis's: n exactly, -n at least n (the name included)
};

template <class T>
const std::unordered_map<std::string_view, command_entry<T>>& commands() {
  static const std::unordered_map<std::string_view, command_entry<T>> table{
    {"ping", {cmd_ping<T>, -1}},
    {"echo", {cmd_echo<T>, 2}},
    {"quit", {cmd_quit<T>, -1}},
    {"select", {cmd_select<T>, 2}},
    {"command", {cmd_command<T>, -1}},
    {"config", {cmd_config<T>, -2}},
    {"info", {cmd_info<T>, -1}},
    {"dbsize", {cmd_dbsize<T>, 1}},
    {"flushdb", {cmd_flush<T>, -1}},
    {"flushall", {cmd_flush<T>, -1}},
    {"debug", {cmd_debug<T>, -2}},
    {"get", {cmd_get<T>, 2}},
    {"set", {cmd_set<T>, -3}},
    {"setnx", {cmd_setnx<T>, 3}},
    {"setex", {cmd_setex<T>, 4}},
    {"psetex", {cmd_psetex<T>, 4}},
    {"getset", {cmd_getset<T>, 3}},
    {"getdel", {cmd_getdel<T>, 2}},
    {"getex", {cmd_getex<T>, -2}},
    {"mget", {cmd_mget<T>, -2}},
    {"mset", {cmd_mset<T>, -3}},
    {"msetnx", {cmd_msetnx<T>, -3}},
    {"append", {cmd_append<T>, 3}},
    {"strlen", {cmd_strlen<T>, 2}},
    {"getrange", {cmd_getrange<T>, 4}},
    {"setrange", {cmd_setrange<T>, 4}},
    {"incr", {cmd_incr<T>, 2}},
    {"decr", {cmd_decr<T>, 2}},
    {"incrby", {cmd_incrby<T>, 3}},
    {"decrby", {cmd_decrby<T>, 3}},
    {"incrbyfloat", {cmd_incrbyfloat<T>, 3}},
    {"del", {cmd_del<T>, -2}},
    {"unlink", {cmd_del<T>, -2}},
    {"exists", {cmd_exists<T>, -2}},
    {"type", {cmd_type<T>, 2}},
    {"rename", {cmd_rename<T>, 3}},
    {"keys", {cmd_keys<T>, 2}},
    {"scan", {cmd_scan<T>, -2}},
    {"expire", {cmd_expire<T>, -3}},
    {"pexpire", {cmd_pexpire<T>, -3}},
    {"expireat", {cmd_expireat<T>, -3}},
    {"pexpireat", {cmd_pexpireat<T>, -3}},
    {"ttl", {cmd_ttl<T>, 2}},
    {"pttl", {cmd_pttl<T>, 2}},
    {"persist", {cmd_persist<T>, 2}},
  };
  return table;
}

const std::vector<std::pair<std::string_view, int>>& command_arities() {
  static const auto list = [] {
    std::vector<std::pair<std::string_view, int>> xs;
    for (auto& [name, entry] : commands<store_table>())
      xs.emplace_back(name, entry.arity);
    std::sort(xs.begin(), xs.end());
    return xs;
  }();
  return list;
}

void unknown_command(std::string& out, const args_t& argv) {
  // redis: the name and then arguments while the list is under 128 bytes.
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
  reply::error(out, text);
}

} // namespace

void info_text(server_env& env, std::string_view section, std::string& out) {
  auto& st = env.stats;
  auto& cfg = env.config;
  auto all = section.empty() || iequals(section, "default")
             || iequals(section, "all") || iequals(section, "everything");
  auto line = [&](std::string_view k, const std::string& v) {
    out.append(k);
    out += ':';
    out += v;
    out.append("\r\n", 2);
  };
  auto num = [](std::int64_t x) { return ll_text(x); };
  auto load = [](const std::atomic<std::int64_t>& x) {
    return x.load(std::memory_order_relaxed);
  };
  auto begin = [&](const char* title) {
    if (!out.empty())
      out.append("\r\n", 2);
    out += "# ";
    out += title;
    out.append("\r\n", 2);
  };
  auto uptime = (now_ms() - st.start_ms) / 1000;
  if (all || iequals(section, "server")) {
    begin("Server");
    line("redis_version", "7.0.0");
    line("cachet_redis_version", "0.1.0");
    line("redis_mode", "standalone");
    line("multiplexing_api", "epoll");
    line("cachet_mode", cfg.message_mode ? "message" : "direct");
    line("event_loops", num(env.loops));
    line("process_id", num(::getpid()));
    line("tcp_port", num(cfg.port));
    line("uptime_in_seconds", num(uptime));
    line("uptime_in_days", num(uptime / 86400));
  }
  if (all || iequals(section, "clients")) {
    begin("Clients");
    line("connected_clients", num(load(st.connected_clients)));
    line("maxclients", num(cfg.maxclients));
  }
  if (all || iequals(section, "memory")) {
    begin("Memory");
    std::int64_t rss = 0;
    if (auto* f = std::fopen("/proc/self/statm", "r")) {
      long pages = 0, resident = 0;
      if (std::fscanf(f, "%ld %ld", &pages, &resident) == 2)
        rss = resident * ::sysconf(_SC_PAGESIZE);
      std::fclose(f);
    }
    line("used_memory_rss", num(rss));
    line("client_output_buffer_limit", num(cfg.output_buffer_limit));
    line("proto_max_bulk_len", num(cfg.proto_max_bulk_len));
  }
  if (all || iequals(section, "stats")) {
    begin("Stats");
    line("total_connections_received", num(load(st.total_connections)));
    line("total_commands_processed", num(st.sum(&thread_counters::commands)));
    line("total_net_input_bytes",
         num(st.sum(&thread_counters::net_input_bytes)));
    line("total_net_output_bytes",
         num(st.sum(&thread_counters::net_output_bytes)));
    line("rejected_connections", num(load(st.rejected_connections)));
    line("expired_keys", num(load(st.expired_keys)));
    line("keyspace_hits", num(st.sum(&thread_counters::keyspace_hits)));
    line("keyspace_misses", num(st.sum(&thread_counters::keyspace_misses)));
    line("cachet_store_restarts", num(load(st.store_restarts)));
  }
}

template <class Table>
exec_result execute(Table& tab, server_env& env, const args_t& argv,
                    std::string& out) {
  thread_counters::add(env.stats.local().commands);
  char lower[32];
  auto name = argv[0];
  const command_entry<Table>* cmd = nullptr;
  if (name.size() < sizeof(lower)) {
    for (std::size_t i = 0; i < name.size(); ++i)
      lower[i] = static_cast<char>(
        std::tolower(static_cast<unsigned char>(name[i])));
    auto& table = commands<Table>();
    auto i = table.find(std::string_view{lower, name.size()});
    if (i != table.end())
      cmd = &i->second;
  }
  if (cmd == nullptr) {
    unknown_command(out, argv);
    return {};
  }
  call<Table> c{tab, env, argv, out, {}, std::string_view{lower, name.size()}};
  auto argc = static_cast<int>(std::min<std::size_t>(argv.size(), INT_MAX));
  if ((cmd->arity > 0 && cmd->arity != argc)
      || (cmd->arity < 0 && argc < -cmd->arity)) {
    c.arity_error();
    return {};
  }
  cmd->run(c);
  return c.res;
}

template exec_result execute<store_table>(store_table&, server_env&,
                                          const args_t&, std::string&);
template exec_result execute<owned_store>(owned_store&, server_env&,
                                          const args_t&, std::string&);

} // namespace cachet::redis
