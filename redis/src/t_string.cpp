// String and counter commands (redis-server 7.0's t_string.c as seen by
// clients): GET, SET and its options, SETNX, SETEX, PSETEX, GETSET, GETDEL,
// GETEX, MGET, MSET, MSETNX, APPEND, STRLEN, GETRANGE, SETRANGE, and the
// INCR/DECR family.
//
// Reads use `visit` (no copy: the reply is encoded straight from the stored
// bytes). Read-modify-write commands (INCR, APPEND, SET NX/XX/GET/KEEPTTL,
// ...) go through `call::upsert`, so each is atomic per key. Expired entries
// count as absent everywhere, and writes replace them.
#include "call.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace cachet::redis {

bool parse_ld(std::string_view s, long double& out) {
  char buf[5 * 1024];
  if (s.empty() || s.size() >= sizeof(buf))
    return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  errno = 0;
  char* end = nullptr;
  long double v = std::strtold(buf, &end);
  if (std::isspace(static_cast<unsigned char>(buf[0]))
      || end != buf + s.size()
      || (errno == ERANGE
          && (v == HUGE_VALL || v == -HUGE_VALL
              || std::fpclassify(v) == FP_ZERO))
      || std::isnan(v))
    return false;
  out = v;
  return true;
}

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

std::string_view add_ll(std::int64_t cur, std::int64_t incr,
                        std::int64_t& sum) {
  if ((incr < 0 && cur < 0 && incr < LLONG_MIN - cur)
      || (incr > 0 && cur > 0 && incr > LLONG_MAX - cur))
    return "ERR increment or decrement would overflow";
  sum = cur + incr;
  return {};
}

std::string_view add_ld(long double cur, long double incr, std::string& text) {
  cur += incr;
  if (std::isnan(cur) || std::isinf(cur))
    return "ERR increment would produce NaN or Infinity";
  text = format_ld(cur);
  return {};
}

namespace {

// -- SET's options ------------------------------------------------------------

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
bool parse_set_options(call& c, std::size_t first, bool for_set,
                       unsigned& flags, std::string_view& expire) {
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
bool expire_ms(call& c, std::string_view arg, unsigned flags, std::int64_t& at) {
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

/// SET's (`for_set`) and GETEX's options from argv[first] on, and the
/// absolute expiry they set in `at` (0: none); false, with the error
/// replied, if they are bad.
bool expiry_options(call& c, std::size_t first, bool for_set, unsigned& flags,
                    std::int64_t& at) {
  std::string_view expire;
  if (!parse_set_options(c, first, for_set, flags, expire))
    return false;
  return !(flags & any_expire) || expire_ms(c, expire, flags, at);
}

/// SET's core, for SET, SETNX, SETEX, PSETEX and GETSET: stores `val` under
/// `key` with expiry `at` (0: none) by `flags`; true if it stored. `old`
/// (if given) receives the live value it replaced; `failed` is set if the
/// table failed or, with `old`, the key holds another type (the error is
/// then replied). Without `old`, SET replaces a value of any type.
bool set_value(call& c, std::string_view key, std::string_view val,
               unsigned flags, std::int64_t at, std::optional<std::string>* old,
               bool& failed) {
  failed = false;
  if ((flags & (f_nx | f_xx | f_get | f_keepttl)) == 0
      && !c.env.evict.tracking()) {
    // The plain SET: one insert, key and value copied once into the table.
    // (Under maxmemory it goes through upsert, which keeps the key's slot.)
    if (!c.ok(c.tab().insert(key, value::string(val, at)))) {
      failed = true;
      return false;
    }
    c.wrote(key);
    return true;
  }
  bool stored = false;
  bool wrong = false;
  auto done = c.upsert(key, [&](value& v, bool live) {
    stored = false;
    // SET's GET reads the key as GET does, before any other option.
    wrong = old != nullptr && live && !v.is_string();
    if (wrong)
      return false;
    if (old != nullptr) {
      if (live)
        *old = std::string{v.bytes()};
      else
        old->reset();
    }
    if ((flags & f_nx) && live)
      return false;
    if ((flags & f_xx) && !live)
      return false;
    v.expire_at = (flags & f_keepttl) && live ? v.expire_at : at;
    v.set_bytes(val);
    stored = true;
    return true;
  });
  if (done && wrong)
    c.wrong_type();
  if (!done || wrong) {
    failed = true;
    return false;
  }
  if (stored)
    c.wrote(key);
  return stored;
}

void setex_generic(call& c, unsigned unit) {
  std::int64_t at = 0;
  if (!expire_ms(c, c.argv[2], unit, at))
    return;
  bool failed = false;
  set_value(c, c.argv[1], c.argv[3], 0, at, nullptr, failed);
  if (!failed)
    reply::ok(c.out);
}

/// INCRBY's and INCRBYFLOAT's read-modify-write of a number kept as text:
/// `next(bytes, live, text)` puts the new value's text in `text`, or
/// returns the error to reply. True if the new value was stored.
template <class Next>
bool update_number(call& c, Next next, std::string& text) {
  std::string_view failure;
  bool done = c.upsert_string(c.argv[1], [&](value& v, bool live) {
    failure = next(v.bytes(), live, text);
    if (!failure.empty())
      return false;
    if (!live)
      v.expire_at = 0;
    v.set_bytes(text);
    return true;
  });
  return c.finish_update(done, failure);
}

void incr_by(call& c, std::int64_t incr) {
  std::int64_t result = 0;
  std::string text;
  auto next = [&](std::string_view bytes, bool live,
                  std::string& out) -> std::string_view {
    std::int64_t cur = 0;
    if (live && !parse_ll(bytes, cur))
      return not_integer;
    auto failure = add_ll(cur, incr, result);
    if (failure.empty())
      out = ll_text(result);
    return failure;
  };
  if (update_number(c, next, text))
    reply::integer(c.out, result);
}

} // namespace

void cmd_get(call& c) {
  auto found = c.read_string(
    c.argv[1], [&](std::string_view bytes) { reply::bulk(c.out, bytes); });
  if (!found)
    return;
  if (*found) {
    thread_counters::add(c.env.stats.local().keyspace_hits);
  } else {
    thread_counters::add(c.env.stats.local().keyspace_misses);
    c.null();
  }
}

void cmd_set(call& c) {
  unsigned flags = 0;
  std::int64_t at = 0;
  if (!expiry_options(c, 3, true, flags, at))
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
      c.null();
  } else if (stored) {
    reply::ok(c.out);
  } else {
    c.null();
  }
}

void cmd_setnx(call& c) {
  bool failed = false;
  bool stored = set_value(c, c.argv[1], c.argv[2], f_nx, 0, nullptr, failed);
  if (!failed)
    reply::integer(c.out, stored ? 1 : 0);
}

void cmd_setex(call& c) {
  setex_generic(c, f_ex);
}

void cmd_psetex(call& c) {
  setex_generic(c, f_px);
}

void cmd_getset(call& c) {
  std::optional<std::string> old;
  bool failed = false;
  set_value(c, c.argv[1], c.argv[2], f_get, 0, &old, failed);
  if (failed)
    return;
  if (old)
    reply::bulk(c.out, *old);
  else
    c.null();
}

void cmd_getdel(call& c) {
  // Taken only if it is a string: another type stays, with WRONGTYPE.
  auto now = now_ms();
  std::optional<value> taken;
  bool wrong = false;
  auto erased = c.tab().erase_if(c.argv[1], [&](const value& v) {
    wrong = !expired(v, now) && !v.is_string();
    if (!wrong)
      taken = v;
    return !wrong;
  });
  if (!c.ok(erased))
    return;
  if (wrong)
    return c.wrong_type();
  if (!taken)
    return c.null();
  c.forget(*taken);
  if (expired(*taken, now)) {
    c.count_expired(); // redis expires it on lookup, then finds nothing
    return c.null();
  }
  c.wrote(c.argv[1]);
  reply::bulk(c.out, taken->bytes());
}

void cmd_getex(call& c) {
  unsigned flags = 0;
  std::int64_t at = 0;
  std::string_view expire;
  if (!parse_set_options(c, 2, false, flags, expire))
    return;
  std::string key{c.argv[1]};
  // As redis: the options' names first, then the key (absent: nil), then
  // the expire time's value.
  if (flags & any_expire) {
    auto found = c.read_string(key, [](std::string_view) {});
    if (!found)
      return;
    if (!*found)
      return c.null();
    if (!expire_ms(c, expire, flags, at))
      return;
  }
  if (!(flags & (any_expire | f_persist))) {
    auto found = c.read_string(
      key, [&](std::string_view bytes) { reply::bulk(c.out, bytes); });
    if (found && !*found)
      c.null();
    return;
  }
  std::optional<std::string> got;
  bool wrong = false;
  auto now = now_ms();
  auto updated = c.tab().update(key, [&](value& v) {
    got.reset();
    wrong = !expired(v, now) && !v.is_string();
    if (expired(v, now) || wrong)
      return;
    got = std::string{v.bytes()};
    v.expire_at = (flags & f_persist) ? 0 : std::max<std::int64_t>(at, 1);
  });
  if (!c.ok(updated))
    return;
  if (wrong)
    return c.wrong_type();
  if (!got)
    return c.null();
  reply::bulk(c.out, *got);
  c.wrote(key);
  // A time already past deletes the key, as redis does (not an expiry).
  if ((flags & f_persist) == 0 && at <= now_ms())
    c.erase_expired(key, now_ms());
}

void cmd_mget(call& c) {
  reply::array(c.out, static_cast<std::int64_t>(c.argv.size() - 1));
  for (std::size_t i = 1; i < c.argv.size(); ++i) {
    bool replied = false; // a key of another type is nil, as in redis
    c.read(c.argv[i], [&](const value& v) {
      if (v.is_string()) {
        reply::bulk(c.out, v.bytes());
        replied = true;
      }
    });
    if (!replied)
      c.null();
  }
}

namespace {

/// MSET's and MSETNX's store of every key-value pair of argv, in one batch;
/// false (with the error replied) if the table failed.
bool store_pairs(call& c) {
  std::vector<std::pair<std::string, value>> entries;
  entries.reserve(c.argv.size() / 2);
  std::vector<slot_ptr> slots;
  for (std::size_t i = 1; i + 1 < c.argv.size(); i += 2) {
    entries.emplace_back(std::string{c.argv[i]},
                         value::string(std::string{c.argv[i + 1]}, 0));
    c.give_slot(c.argv[i], entries.back().second);
    if (entries.back().second.slot != nullptr)
      slots.push_back(entries.back().second.slot);
  }
  auto n = static_cast<std::int64_t>(entries.size());
  if (!c.ok(c.tab().insert(std::move(entries))))
    return false;
  for (auto& s : slots)
    c.admit(s);
  c.dirty(n);
  for (std::size_t i = 1; i + 1 < c.argv.size(); i += 2)
    c.touch(c.argv[i]);
  return true;
}

} // namespace

void cmd_mset(call& c) {
  if (c.argv.size() % 2 == 0)
    return c.arity_error();
  if (store_pairs(c))
    reply::ok(c.out);
}

void cmd_msetnx(call& c) {
  if (c.argv.size() % 2 == 0)
    return c.arity_error();
  // The check and the stores as one: no other command between them.
  c.env.gate.isolated(gate_slot, [&] {
    for (std::size_t i = 1; i < c.argv.size(); i += 2) {
      auto found = c.read(c.argv[i], [](const value&) {});
      if (!c.ok(found))
        return;
      if (*found)
        return reply::integer(c.out, 0);
    }
    if (store_pairs(c))
      reply::integer(c.out, 1);
  });
}

void cmd_append(call& c) {
  auto add = c.argv[2];
  std::int64_t len = 0;
  bool too_long = false;
  auto max = c.env.config.proto_max_bulk_len;
  bool done = c.upsert_string(c.argv[1], [&](value& v, bool live) {
    too_long = false;
    if (!live)
      v = value{};
    auto old = v.bytes();
    if (static_cast<std::int64_t>(old.size() + add.size()) > max) {
      too_long = true;
      return false;
    }
    len = static_cast<std::int64_t>(old.size() + add.size());
    v.set_bytes(old, add);
    if (live)
      v.mark_in_place(); // a new key is written whole, as redis's SET
    return true;
  });
  if (!done)
    return;
  if (too_long)
    return c.error(too_big);
  c.wrote(c.argv[1]);
  reply::integer(c.out, len);
}

void cmd_strlen(call& c) {
  std::int64_t len = 0;
  auto found = c.read_string(c.argv[1], [&](std::string_view bytes) {
    len = static_cast<std::int64_t>(bytes.size());
  });
  if (found)
    reply::integer(c.out, len);
}

void cmd_getrange(call& c) {
  std::int64_t start = 0, end = 0;
  if (!c.integer_arg(c.argv[2], start) || !c.integer_arg(c.argv[3], end))
    return;
  bool replied = false;
  auto found = c.read_string(c.argv[1], [&](std::string_view bytes) {
    auto len = static_cast<std::int64_t>(bytes.size());
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
    reply::bulk(c.out, std::string_view{bytes}.substr(
                         static_cast<std::size_t>(s),
                         static_cast<std::size_t>(e - s + 1)));
  });
  if (found && !replied)
    reply::bulk(c.out, "");
}

void cmd_setrange(call& c) {
  std::int64_t offset = 0;
  if (!c.integer_arg(c.argv[2], offset))
    return;
  if (offset < 0)
    return c.error("ERR offset is out of range");
  auto val = c.argv[3];
  auto max = c.env.config.proto_max_bulk_len;
  bool too_long = false;
  bool wrote = false;
  std::int64_t len = 0;
  bool done = c.upsert_string(c.argv[1], [&](value& v, bool live) {
    too_long = false;
    wrote = false;
    if (!live)
      v = value{};
    len = static_cast<std::int64_t>(v.bytes().size());
    if (val.empty())
      return false; // nothing to write: the length as it is
    if (offset > max - static_cast<std::int64_t>(val.size())) {
      too_long = true;
      return false;
    }
    auto end = static_cast<std::size_t>(offset) + val.size();
    std::string bytes{v.bytes()};
    if (bytes.size() < end)
      bytes.resize(end, '\0');
    bytes.replace(static_cast<std::size_t>(offset), val.size(), val.data(),
                  val.size());
    v.set_bytes(bytes);
    v.mark_in_place(); // a new key too: redis makes it raw from the start
    len = static_cast<std::int64_t>(bytes.size());
    wrote = true;
    return true;
  });
  if (!done)
    return;
  if (too_long)
    return c.error(too_big);
  if (wrote)
    c.wrote(c.argv[1]);
  reply::integer(c.out, len);
}

void cmd_incr(call& c) {
  incr_by(c, 1);
}

void cmd_decr(call& c) {
  incr_by(c, -1);
}

void cmd_incrby(call& c) {
  std::int64_t n = 0;
  if (c.integer_arg(c.argv[2], n))
    incr_by(c, n);
}

void cmd_decrby(call& c) {
  std::int64_t n = 0;
  if (!c.integer_arg(c.argv[2], n))
    return;
  if (n == LLONG_MIN)
    return c.error("ERR decrement would overflow");
  incr_by(c, -n);
}

void cmd_incrbyfloat(call& c) {
  std::string text;
  auto next = [&](std::string_view bytes, bool live,
                  std::string& out) -> std::string_view {
    long double cur = 0, incr = 0;
    if ((live && !parse_ld(bytes, cur)) || !parse_ld(c.argv[2], incr))
      return "ERR value is not a valid float";
    return add_ld(cur, incr, out);
  };
  if (update_number(c, next, text))
    reply::bulk(c.out, text);
}

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest
// common subsequence of two strings (absent keys are empty), by redis's
// dynamic programme over (len1 + 1) x (len2 + 1) counters, refused when
// that table would exceed proto-max-bulk-len. With IDX, the matching
// ranges from the end backwards, as redis lists them.
void cmd_lcs(call& c) {
  std::string a, b;
  bool strings = true;
  auto get = [&](std::string_view key, std::string& bytes) {
    return c.ok(c.read(key, [&](const value& v) {
      strings = strings && v.is_string();
      bytes = v.bytes();
    }));
  };
  if (!get(c.argv[1], a) || !get(c.argv[2], b))
    return;
  if (!strings)
    return c.error("ERR The specified keys must contain string values");
  bool getlen = false, getidx = false, withmatchlen = false;
  std::int64_t minmatchlen = 0;
  for (std::size_t j = 3; j < c.argv.size(); ++j) {
    auto opt = c.argv[j];
    if (iequals(opt, "idx")) {
      getidx = true;
    } else if (iequals(opt, "len")) {
      getlen = true;
    } else if (iequals(opt, "withmatchlen")) {
      withmatchlen = true;
    } else if (iequals(opt, "minmatchlen") && j + 1 < c.argv.size()) {
      if (!c.integer_arg(c.argv[++j], minmatchlen))
        return;
      minmatchlen = std::max<std::int64_t>(minmatchlen, 0);
    } else {
      return c.error(syntax_error);
    }
  }
  if (getidx && getlen)
    return c.error(
      "ERR If you want both the length and indexes, please just use IDX.");
  auto alen = a.size(), blen = b.size();
  auto cells = static_cast<unsigned __int128>(alen + 1) * (blen + 1);
  if (cells * sizeof(std::uint32_t)
      > static_cast<unsigned __int128>(c.env.config.proto_max_bulk_len))
    return c.error("ERR Insufficient memory, transient memory for LCS "
                   "exceeds proto-max-bulk-len");
  // lcs(i, j): the LCS length of a's first i bytes and b's first j.
  std::vector<std::uint32_t> table((alen + 1) * (blen + 1));
  auto lcs = [&](std::size_t i, std::size_t j) -> std::uint32_t& {
    return table[j * (alen + 1) + i];
  };
  for (std::size_t i = 1; i <= alen; ++i)
    for (std::size_t j = 1; j <= blen; ++j)
      lcs(i, j) = a[i - 1] == b[j - 1] ? lcs(i - 1, j - 1) + 1
                                       : std::max(lcs(i - 1, j), lcs(i, j - 1));
  auto total = lcs(alen, blen);
  if (getlen)
    return reply::integer(c.out, total);
  // Back from the end: the subsequence, and the contiguous ranges.
  std::string result(total, '\0');
  std::string matches;
  std::int64_t ranges = 0;
  auto idx = total;
  std::size_t astart = alen, aend = 0, bstart = 0, bend = 0; // alen: none
  for (std::size_t i = alen, j = blen; i > 0 && j > 0;) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      result[--idx] = a[i - 1];
      if (astart == alen) {
        astart = aend = i - 1;
        bstart = bend = j - 1;
      } else {
        // Consecutive matches run backwards through both strings.
        --astart;
        --bstart;
      }
      emit = astart == 0 || bstart == 0;
      --i;
      --j;
    } else {
      if (lcs(i - 1, j) > lcs(i, j - 1))
        --i;
      else
        --j;
      emit = astart != alen;
    }
    if (!emit)
      continue;
    auto len = static_cast<std::int64_t>(aend - astart + 1);
    if (getidx && (minmatchlen == 0 || len >= minmatchlen)) {
      reply::array(matches, withmatchlen ? 3 : 2);
      reply::array(matches, 2);
      reply::integer(matches, static_cast<std::int64_t>(astart));
      reply::integer(matches, static_cast<std::int64_t>(aend));
      reply::array(matches, 2);
      reply::integer(matches, static_cast<std::int64_t>(bstart));
      reply::integer(matches, static_cast<std::int64_t>(bend));
      if (withmatchlen)
        reply::integer(matches, len);
      ++ranges;
    }
    astart = alen;
  }
  if (!getidx)
    return reply::bulk(c.out, result);
  reply::map(c.out, 2, c.resp3());
  reply::bulk(c.out, "matches");
  reply::array(c.out, ranges);
  c.out += matches;
  reply::bulk(c.out, "len");
  reply::integer(c.out, total);
}

} // namespace cachet::redis
