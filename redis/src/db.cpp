// Keyspace commands (redis-server 7.0's db.c as seen by clients): SELECT,
// DBSIZE, FLUSHDB/FLUSHALL, DEL/UNLINK, EXISTS, TYPE, RENAME, RENAMENX,
// COPY, KEYS, SCAN.
//
// KEYS is one walk of the whole table, O(N) as in redis. SCAN is a cursor
// over the table's buckets (`table::scan`, redis's dictScan): each call does
// work bounded by COUNT whatever the table's size, and a walk from 0 back to
// 0 returns every key present for all of it at least once, however the
// table grows meanwhile.
#include "call.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>

#include "glob.hpp"

namespace cachet::redis {

namespace {

/// SCAN's COUNT is a hint: this many entries at most per step whatever the
/// client asks, so that one call cannot walk a huge table at once.
constexpr std::int64_t max_scan_count = 1 << 20;

} // namespace

bool parse_cursor(std::string_view text, std::uint64_t& cursor) {
  std::string s{text};
  errno = 0;
  char* end = nullptr;
  cursor = std::strtoull(s.c_str(), &end, 10);
  return !s.empty() && !std::isspace(static_cast<unsigned char>(s[0]))
         && end == s.c_str() + s.size() && errno != ERANGE;
}

bool scan_options::parse(call& c, std::size_t first, bool keys) {
  auto& a = c.argv;
  for (std::size_t i = first; i < a.size();) {
    auto left = a.size() - i;
    if (iequals(a[i], "count") && left >= 2) {
      if (!c.integer_arg(a[i + 1], count))
        return false;
      if (count < 1) {
        c.error(syntax_error);
        return false;
      }
      count = std::min(count, max_scan_count);
      i += 2;
    } else if (iequals(a[i], "match") && left >= 2) {
      pattern = a[i + 1];
      i += 2;
    } else if (keys && iequals(a[i], "type") && left >= 2) {
      type.emplace(a[i + 1]);
      for (auto& ch : *type)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      i += 2;
    } else {
      c.error(syntax_error);
      return false;
    }
  }
  return true;
}

bool scan_options::matches(std::string_view name) const {
  return pattern == "*" || glob_match(pattern, name);
}

void cmd_select(call& c) {
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

void cmd_dbsize(call& c) {
  auto n = c.tab().size();
  if (c.ok(n))
    reply::integer(c.out, static_cast<std::int64_t>(*n));
}

void cmd_flush(call& c) {
  if (c.argv.size() > 2
      || (c.argv.size() == 2 && !iequals(c.argv[1], "sync")
          && !iequals(c.argv[1], "async")))
    return c.error(syntax_error);
  // As in redis 7.0, a watched key counts as written only if the flush
  // removed it live: not one that was absent, nor one that had expired.
  std::vector<std::string> removed;
  auto now = now_ms();
  for (auto& key : c.env.watches.watched_keys()) {
    auto found = c.tab().visit(key, [&](const value& v) {
      if (!expired(v, now))
        removed.push_back(key);
    });
    if (!c.ok(found))
      return;
  }
  auto n = c.tab().size();
  if (!c.ok(n) || !c.ok(c.tab().clear()))
    return;
  c.env.evict.drain();
  c.dirty(static_cast<std::int64_t>(*n));
  for (auto& key : removed)
    c.touch(key);
  reply::ok(c.out);
}

void cmd_del(call& c) {
  std::int64_t n = 0;
  auto now = now_ms();
  for (std::size_t i = 1; i < c.argv.size(); ++i) {
    auto taken = c.tab().take(c.argv[i]);
    if (!c.ok(taken))
      return;
    if (!*taken)
      continue;
    c.forget(**taken);
    if (expired(**taken, now)) {
      c.count_expired(); // redis expires it on lookup, then deletes nothing
    } else {
      ++n;
      c.touch(c.argv[i]);
    }
  }
  c.dirty(n);
  reply::integer(c.out, n);
}

namespace {

/// How many of the keys are live, each read counting as an access if
/// `touch`; the count replied unless the store failed.
void count_live(call& c, bool touch) {
  std::int64_t n = 0;
  for (std::size_t i = 1; i < c.argv.size(); ++i) {
    auto found = c.read(c.argv[i], [](const value&) {}, touch);
    if (!c.ok(found))
      return;
    n += *found ? 1 : 0;
  }
  reply::integer(c.out, n);
}

} // namespace

void cmd_exists(call& c) {
  count_live(c, false);
}

void cmd_touch(call& c) {
  count_live(c, true);
}

void cmd_type(call& c) {
  std::string_view type = "none";
  auto found = c.read(
    c.argv[1], [&](const value& v) { type = v.type_name(); }, false);
  if (c.ok(found))
    reply::simple(c.out, type);
}

namespace {

/// RENAME, or RENAMENX if `nx` (which leaves a live destination alone).
void rename_now(call& c, bool nx) {
  std::string src{c.argv[1]};
  std::string dst{c.argv[2]};
  if (src == dst) {
    auto found = c.read(src, [](const value&) {});
    if (!c.ok(found))
      return;
    if (!*found)
      return c.error("ERR no such key");
    return nx ? reply::integer(c.out, 0) : reply::ok(c.out);
  }
  if (nx) {
    auto there = c.read(dst, [](const value&) {});
    if (!c.ok(there))
      return;
    if (*there) {
      auto found = c.read(src, [](const value&) {});
      if (!c.ok(found))
        return;
      if (!*found)
        return c.error("ERR no such key");
      return reply::integer(c.out, 0);
    }
  }
  auto taken = c.tab().take(src);
  if (!c.ok(taken))
    return;
  if (!*taken)
    return c.error("ERR no such key");
  c.forget(**taken);
  if (expired(**taken, now_ms())) {
    c.count_expired();
    return c.error("ERR no such key");
  }
  // The slot names its key: the destination gets one of its own.
  c.give_slot(dst, **taken);
  auto slot = (*taken)->slot;
  if (!c.ok(c.tab().insert(dst, std::move(**taken))))
    return;
  c.admit(slot);
  c.dirty();
  c.touch(src);
  c.touch(dst);
  nx ? reply::integer(c.out, 1) : reply::ok(c.out);
}

} // namespace

void cmd_rename(call& c) {
  // The source goes and the destination comes as one: no other command
  // sees the key in neither place, or in both.
  c.env.gate.isolated(gate_slot, [&] { rename_now(c, false); });
}

void cmd_renamenx(call& c) {
  c.env.gate.isolated(gate_slot, [&] { rename_now(c, true); });
}

// COPY source destination [DB db] [REPLACE]: the value and its expiry.
void cmd_copy(call& c) {
  bool replace = false;
  for (std::size_t i = 3; i < c.argv.size(); ++i) {
    if (iequals(c.argv[i], "replace")) {
      replace = true;
    } else if (iequals(c.argv[i], "db") && i + 1 < c.argv.size()) {
      std::int64_t db = 0;
      if (!c.integer_arg(c.argv[++i], db))
        return;
      if (db != 0)
        return c.error("ERR DB index is out of range");
    } else {
      return c.error(syntax_error);
    }
  }
  std::string src{c.argv[1]};
  std::string dst{c.argv[2]};
  if (src == dst)
    return c.error("ERR source and destination objects are the same");
  c.env.gate.isolated(gate_slot, [&] {
    std::optional<value> got;
    auto found = c.read(src, [&](const value& v) {
      got = v;
      if (!v.is_string()) { // the copy's fields are its own
        std::shared_lock<std::shared_mutex> guard{v.hash()->mutex()};
        got->set_hash(v.hash()->clone());
      }
    });
    if (!c.ok(found))
      return;
    if (!*found)
      return reply::integer(c.out, 0);
    if (!replace) {
      auto there = c.read(dst, [](const value&) {});
      if (!c.ok(there))
        return;
      if (*there)
        return reply::integer(c.out, 0);
    }
    c.give_slot(dst, *got);
    auto slot = got->slot;
    if (!c.ok(c.tab().insert(dst, std::move(*got))))
      return;
    c.admit(slot);
    c.wrote(dst);
    reply::integer(c.out, 1);
  });
}

// RANDOMKEY: scan steps from a random cursor (a random point of the
// keyspace's hash order) until one shows a live key; nil once the walk came
// round to where it started.
void cmd_randomkey(call& c) {
  thread_local std::uint64_t state = 0x9e3779b97f4a7c15 ^ now_ms();
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  auto start = (state >> 32) | 1; // 0 would start a walk at its beginning
  auto cursor = start;
  bool wrapped = false;
  auto now = now_ms();
  for (;;) {
    std::optional<std::string> key;
    auto next = c.tab().scan(cursor, 16,
                             [&](std::string_view k, const value& v) {
                               if (!key && !expired(v, now))
                                 key.emplace(k);
                             });
    if (!c.ok(next))
      return;
    if (key)
      return reply::bulk(c.out, *key);
    if (*next == 0) {
      if (wrapped)
        return c.null();
      wrapped = true; // on from the beginning, up to `start`
    } else if (wrapped && *next >= start) {
      return c.null();
    }
    cursor = *next;
  }
}

void cmd_keys(call& c) {
  auto pattern = c.argv[1];
  bool all = pattern == "*";
  auto now = now_ms();
  std::vector<std::string> keys;
  auto walked = c.tab().for_each([&](std::string_view k, const value& v) {
    if (!expired(v, now) && (all || glob_match(pattern, k)))
      keys.emplace_back(k);
  });
  if (!c.ok(walked))
    return;
  reply::array(c.out, static_cast<std::int64_t>(keys.size()));
  for (auto& k : keys)
    reply::bulk(c.out, k);
}

// redis's scanGenericCommand: one step of the table's cursor, then MATCH
// and TYPE applied to what the step returned, so a reply may hold fewer
// keys than COUNT, or none, with a nonzero cursor. Expired keys are left
// out, and removed as redis does on access.
void cmd_scan(call& c) {
  std::uint64_t cursor = 0;
  if (!parse_cursor(c.argv[1], cursor))
    return c.error("ERR invalid cursor");
  scan_options opts;
  if (!opts.parse(c, 2, true))
    return;
  auto now = now_ms();
  std::vector<std::string> keys;
  std::vector<std::string> stale;
  auto next = c.tab().scan(
    cursor, static_cast<std::size_t>(opts.count),
    [&](std::string_view k, const value& v) {
      if (expired(v, now))
        stale.emplace_back(k);
      else if ((!opts.type || *opts.type == v.type_name()) && opts.matches(k))
        keys.emplace_back(k);
    });
  if (!c.ok(next))
    return;
  for (auto& k : stale)
    if (c.erase_expired(k, now))
      c.count_expired();
  reply::array(c.out, 2);
  reply::bulk(c.out, std::to_string(*next));
  reply::array(c.out, static_cast<std::int64_t>(keys.size()));
  for (auto& k : keys)
    reply::bulk(c.out, k);
}

} // namespace cachet::redis
