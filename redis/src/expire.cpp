// Expiry (redis-server 7.0's expire.c as seen by clients): EXPIRE, PEXPIRE,
// EXPIREAT, PEXPIREAT with NX/XX/GT/LT, TTL, PTTL, PERSIST, and active
// expiry.
//
// A key's expiry lives in its value, so nothing else tracks it: a key is
// removed for having expired either lazily, when a command finds it expired
// (call::read), or actively, by the owner's walk over the table with the
// scan cursor (redis's activeExpireCycle over dictScan). Both remove with
// `erase_if(key, expired at now)`, never take-and-put-back: a write of the
// key that lands between the test and the removal keeps the key, so no
// acknowledged write is lost and no reader sees a live key missing.
#include "call.hpp"

#include <algorithm>
#include <climits>

namespace cachet::redis {

namespace {

/// Entries one active expiry step examines: bounded, so that in message
/// mode a step holds the owner's mailbox for microseconds only.
constexpr std::size_t expire_step_entries = 256;

/// The share of a step's entries with an expiry that, found expired, has
/// the next step follow at once (redis 6's 25%): expired keys then stay a
/// bounded fraction of the keys with a TTL.
constexpr std::size_t again_percent = 25;

/// The share of each period that active expiry may use when steps follow
/// each other at once (redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC).
constexpr int budget_percent = 25;

enum expire_flags : unsigned { e_nx = 1, e_xx = 2, e_gt = 4, e_lt = 8 };

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `base` is added to the argument
/// (now, or 0 for the AT forms), in seconds if `seconds`.
void expire_generic(call& c, std::int64_t base, bool seconds) {
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
  auto updated = c.tab().update(key, [&](value& v) {
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
  if (set) {
    c.wrote(key);
    // redis deletes the key at once (a deletion, not an expiry).
    auto later = now_ms();
    if (when <= later)
      c.erase_expired(key, later);
  }
  reply::integer(c.out, set ? 1 : 0);
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 if the key is absent, -1 if
/// it has no expiry, else the time it has left (`absolute`: the time it
/// expires at), in seconds or, if `ms`, milliseconds.
void ttl_generic(call& c, bool ms, bool absolute = false) {
  std::int64_t at = -1;
  auto found = c.read(
    c.argv[1], [&](const value& v) { at = v.expire_at; }, false);
  if (!c.ok(found))
    return;
  if (!*found)
    return reply::integer(c.out, -2);
  if (at == 0)
    return reply::integer(c.out, -1);
  if (absolute)
    return reply::integer(c.out, ms ? at : at / 1000);
  auto ttl = std::max<std::int64_t>(at - now_ms(), 0);
  reply::integer(c.out, ms ? ttl : (ttl + 500) / 1000);
}

/// Examines one step of entries from `cursor` on and removes the expired
/// ones; true if over again_percent of those with an expiry were expired.
bool expire_step(store_table& tab, server_env& env, std::uint64_t& cursor) {
  auto now = now_ms();
  std::size_t with_ttl = 0;
  std::vector<std::string> due;
  // The keys are copied out and removed after the step, so that the walk's
  // function only reads (table.hpp promises nothing of writes made from
  // inside a walk).
  auto next = tab.scan(cursor, expire_step_entries,
                       [&](std::string_view k, const value& v) {
                         if (v.expire_at == 0)
                           return;
                         ++with_ttl;
                         if (expired(v, now))
                           due.emplace_back(k);
                       });
  if (!next)
    return false; // the table is gone: the restarted owner walks the new one
  cursor = *next;
  for (auto& k : due) {
    slot_ptr gone;
    auto erased = tab.erase_if(k, [&](const value& v) {
      if (!expired(v, now))
        return false;
      gone = v.slot;
      return true;
    });
    env.evict.forget(gone.get());
    if (erased && *erased)
      env.stats.expired_keys.fetch_add(1, std::memory_order_relaxed);
  }
  return with_ttl > 0 && due.size() * 100 > with_ttl * again_percent;
}

} // namespace

bool active_expire_cycle(store_table& tab, server_env& env,
                         expire_cycle& cycle) {
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  if (start - cycle.period_start >= expire_period) {
    cycle.period_start = start;
    cycle.used = clock::duration::zero();
  }
  bool again = expire_step(tab, env, cycle.cursor);
  cycle.used += clock::now() - start;
  return again && cycle.used < expire_period * budget_percent / 100;
}

void cmd_expire(call& c) {
  expire_generic(c, now_ms(), true);
}

void cmd_pexpire(call& c) {
  expire_generic(c, now_ms(), false);
}

void cmd_expireat(call& c) {
  expire_generic(c, 0, true);
}

void cmd_pexpireat(call& c) {
  expire_generic(c, 0, false);
}

void cmd_ttl(call& c) {
  ttl_generic(c, false);
}

void cmd_pttl(call& c) {
  ttl_generic(c, true);
}

void cmd_expiretime(call& c) {
  ttl_generic(c, false, true);
}

void cmd_pexpiretime(call& c) {
  ttl_generic(c, true, true);
}

void cmd_persist(call& c) {
  bool cleared = false;
  auto now = now_ms();
  auto updated = c.tab().update(c.argv[1], [&](value& v) {
    cleared = !expired(v, now) && v.expire_at != 0;
    if (cleared)
      v.expire_at = 0;
  });
  if (!c.ok(updated))
    return;
  if (cleared)
    c.wrote(c.argv[1]);
  reply::integer(c.out, cleared ? 1 : 0);
}

} // namespace cachet::redis
