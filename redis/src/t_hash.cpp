// Hash commands (redis-server 7.0's t_hash.c as seen by clients): HSET,
// HMSET, HSETNX, HGET, HMGET, HGETALL, HKEYS, HVALS, HDEL, HEXISTS, HLEN,
// HSTRLEN, HINCRBY, HINCRBYFLOAT, HSCAN, HRANDFIELD.
//
// A hash is a value holding a hash_object (hash.hpp). Writes go through
// `call::upsert` and edit the object under its lock while the table holds
// the key's write lock, so each is atomic per key; HDEL runs in `erase_if`,
// so the key goes in the same stroke as its last field and no one ever
// sees an empty hash. Every command answers WRONGTYPE for a string key, and
// the string commands do the same for a hash.
#include "call.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <random>
#include <unordered_set>

namespace cachet::redis {

namespace {

using hash_lock = std::unique_lock<std::shared_mutex>;

/// Edits the hash at `key`: `edit(hash_object&)` under the hash's lock,
/// on a new hash if the key is absent; `edit` returns false to leave it as
/// it was (a new hash is then not stored). False once an error is replied
/// (WRONGTYPE, the store failed).
template <class Edit>
bool edit_hash(call& c, std::string_view key, Edit&& edit) {
  // A live hash is edited in place, under the key's write lock (erase_if's
  // predicate, which keeps the key): the value itself does not change.
  bool wrong = false;
  bool edited = false;
  auto now = now_ms();
  auto kept = c.tab().erase_if(key, [&](const value& v) {
    if (expired(v, now))
      return false;
    wrong = v.is_string();
    if (!wrong) {
      hash_lock guard{v.hash()->mutex()};
      edit(*v.hash());
      edited = true;
    }
    return false;
  });
  if (!c.ok(kept))
    return false;
  if (wrong)
    c.wrong_type();
  if (wrong || edited)
    return !wrong;
  // Absent or expired: a new hash, unless someone made one meanwhile.
  bool done = c.upsert(key, [&](value& v, bool live) {
    wrong = live && v.is_string();
    if (wrong)
      return false;
    if (live) {
      hash_lock guard{v.hash()->mutex()};
      return edit(*v.hash());
    }
    hash_ptr fresh{new hash_object};
    if (!edit(*fresh))
      return false; // an expired value stays as it was, and reads as absent
    v = value{};
    v.set_hash(std::move(fresh));
    return true;
  });
  if (done && wrong)
    c.wrong_type();
  return done && !wrong;
}

/// HSET's and HMSET's store of the field-value pairs from argv[2]; the
/// number of new fields, or -1 once an error is replied.
std::int64_t set_pairs(call& c) {
  if (c.argv.size() % 2 != 0) {
    c.arity_error();
    return -1;
  }
  std::int64_t created = 0;
  bool done = edit_hash(c, c.argv[1], [&](hash_object& h) {
    created = 0;
    for (std::size_t i = 2; i + 1 < c.argv.size(); i += 2)
      created += h.set(c.argv[i], c.argv[i + 1], c.env.listpack) ? 1 : 0;
    return true;
  });
  if (!done)
    return -1;
  c.dirty(static_cast<std::int64_t>(c.argv.size() - 2) / 2);
  c.touch(c.argv[1]);
  return created;
}

/// Replies with the field's value, or null.
void field_reply(call& c, const hash_object& h, std::string_view field) {
  if (auto* v = h.find(field))
    reply::bulk(c.out, *v);
  else
    c.null();
}

/// HGETALL (`fields` and `values`), HKEYS and HVALS.
void get_all(call& c, bool fields, bool values) {
  bool both = fields && values;
  auto found = c.read_hash(c.argv[1], [&](const hash_object& h) {
    auto n = static_cast<std::int64_t>(h.size());
    if (both)
      reply::map(c.out, n, c.resp3());
    else
      reply::array(c.out, n);
    h.for_each([&](const std::string& field, const std::string& value) {
      if (fields)
        reply::bulk(c.out, field);
      if (values)
        reply::bulk(c.out, value);
    });
  });
  if (found && !*found) {
    if (both)
      reply::map(c.out, 0, c.resp3());
    else
      reply::array(c.out, 0);
  }
}

/// A count-of-fields answer (HLEN, HEXISTS, HSTRLEN): `f(hash)`, 0 for an
/// absent key.
template <class F>
void count_reply(call& c, F&& f) {
  std::int64_t n = 0;
  auto found = c.read_hash(c.argv[1],
                           [&](const hash_object& h) { n = f(h); });
  if (found)
    reply::integer(c.out, n);
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

/// The most a reply may grow to: an answer past the client output buffer
/// limit (4 GiB without one) is refused rather than built, where redis
/// would build it and then close the client.
std::size_t reply_budget(const call& c) {
  auto limit = c.env.config.output_buffer_limit;
  return limit > 0 ? static_cast<std::size_t>(limit) : std::size_t{4} << 30;
}

/// The position of a field of `h` (which has one), drawn uniformly: slots
/// are drawn until one holds a field, so every field is equally likely.
std::size_t random_position(const hash_object& h) {
  std::uniform_int_distribution<std::size_t> pick{0, h.positions() - 1};
  for (;;)
    if (auto i = pick(rng()); h.at(i) != nullptr)
      return i;
}

/// HRANDFIELD key count [WITHVALUES] on the hash `h`: |count| fields,
/// distinct if count > 0 (in iteration order), drawn with repeats if
/// negative (in draw order), as redis does.
void random_fields(call& c, const hash_object& h, std::int64_t count,
                   bool withvalues) {
  auto size = h.size();
  bool distinct = count > 0;
  auto n = static_cast<std::uint64_t>(distinct ? count : -count);
  if (distinct)
    n = std::min<std::uint64_t>(n, size);
  auto start = c.out.size();
  auto emit = [&](std::size_t i) {
    auto& [field, value] = *h.at(i);
    if (withvalues && c.resp3())
      reply::array(c.out, 2);
    reply::bulk(c.out, field);
    if (withvalues)
      reply::bulk(c.out, value);
  };
  auto len = static_cast<std::int64_t>(n);
  reply::array(c.out, withvalues && !c.resp3() ? 2 * len : len);
  auto budget = start + reply_budget(c);
  if (distinct) {
    // n distinct positions of fields, replied in order: drawn one by one
    // while they are few, else a partial shuffle of all of them.
    std::vector<std::size_t> order;
    if (2 * n <= size) {
      std::unordered_set<std::size_t> picked;
      while (picked.size() < n)
        picked.insert(random_position(h));
      order.assign(picked.begin(), picked.end());
    } else {
      for (std::size_t i = 0; i < h.positions(); ++i)
        if (h.at(i) != nullptr)
          order.push_back(i);
      for (std::size_t k = 0; k < n; ++k)
        std::swap(order[k], order[std::uniform_int_distribution<std::size_t>{
                                k, order.size() - 1}(rng())]);
      order.resize(n);
    }
    std::sort(order.begin(), order.end());
    for (auto i : order)
      emit(i);
  } else {
    for (std::uint64_t k = 0; k < n && c.out.size() <= budget; ++k)
      emit(random_position(h));
  }
  if (c.out.size() > budget) {
    c.out.resize(start);
    c.error("ERR reply exceeds the client output buffer limit");
  }
}

/// HINCRBY's and HINCRBYFLOAT's read-modify-write of a field kept as
/// text: `next(field or null, text)` puts the new value's text in `text`,
/// or returns the error to reply. True if the new value was stored.
template <class Next>
bool update_field(call& c, Next next, std::string& text) {
  std::string_view failure;
  bool done = edit_hash(c, c.argv[1], [&](hash_object& h) {
    failure = next(h.find(c.argv[2]), text);
    if (!failure.empty())
      return false;
    h.set(c.argv[2], text, c.env.listpack);
    return true;
  });
  return c.finish_update(done, failure);
}

} // namespace

void cmd_hset(call& c) {
  auto created = set_pairs(c);
  if (created >= 0)
    reply::integer(c.out, created);
}

void cmd_hmset(call& c) {
  if (set_pairs(c) >= 0)
    reply::ok(c.out);
}

void cmd_hsetnx(call& c) {
  bool added = false;
  bool done = edit_hash(c, c.argv[1], [&](hash_object& h) {
    added = h.find(c.argv[2]) == nullptr;
    if (added)
      h.set(c.argv[2], c.argv[3], c.env.listpack);
    return added;
  });
  if (!done)
    return;
  if (added)
    c.wrote(c.argv[1]);
  reply::integer(c.out, added ? 1 : 0);
}

void cmd_hget(call& c) {
  auto found = c.read_hash(
    c.argv[1], [&](const hash_object& h) { field_reply(c, h, c.argv[2]); });
  if (found && !*found)
    c.null();
}

void cmd_hmget(call& c) {
  auto fields = static_cast<std::int64_t>(c.argv.size() - 2);
  auto found = c.read_hash(c.argv[1], [&](const hash_object& h) {
    reply::array(c.out, fields);
    for (std::size_t i = 2; i < c.argv.size(); ++i)
      field_reply(c, h, c.argv[i]);
  });
  if (found && !*found) {
    reply::array(c.out, fields);
    for (std::int64_t i = 0; i < fields; ++i)
      c.null();
  }
}

void cmd_hgetall(call& c) {
  get_all(c, true, true);
}

void cmd_hkeys(call& c) {
  get_all(c, true, false);
}

void cmd_hvals(call& c) {
  get_all(c, false, true);
}

void cmd_hdel(call& c) {
  std::int64_t deleted = 0;
  bool wrong = false;
  auto now = now_ms();
  slot_ptr gone;
  // The fields go under the key's write lock; the key goes with its last.
  auto erased = c.tab().erase_if(c.argv[1], [&](const value& v) {
    deleted = 0;
    if (expired(v, now))
      return false;
    wrong = v.is_string();
    if (wrong)
      return false;
    hash_lock guard{v.hash()->mutex()};
    for (std::size_t i = 2; i < c.argv.size(); ++i)
      deleted += v.hash()->erase(c.argv[i]) ? 1 : 0;
    if (v.hash()->size() != 0)
      return false;
    gone = v.slot;
    return true;
  });
  if (!c.ok(erased))
    return;
  if (wrong)
    return c.wrong_type();
  c.env.evict.forget(gone.get());
  if (deleted > 0) {
    c.dirty(deleted);
    c.touch(c.argv[1]);
  }
  reply::integer(c.out, deleted);
}

void cmd_hexists(call& c) {
  count_reply(c, [&](const hash_object& h) {
    return h.find(c.argv[2]) != nullptr ? 1 : 0;
  });
}

void cmd_hlen(call& c) {
  count_reply(c, [](const hash_object& h) {
    return static_cast<std::int64_t>(h.size());
  });
}

void cmd_hstrlen(call& c) {
  count_reply(c, [&](const hash_object& h) {
    auto* v = h.find(c.argv[2]);
    return v != nullptr ? static_cast<std::int64_t>(v->size()) : 0;
  });
}

void cmd_hincrby(call& c) {
  std::int64_t incr = 0;
  if (!c.integer_arg(c.argv[3], incr))
    return;
  std::int64_t result = 0;
  std::string text;
  auto next = [&](const std::string* v,
                  std::string& out) -> std::string_view {
    std::int64_t cur = 0;
    if (v != nullptr && !parse_ll(*v, cur))
      return "ERR hash value is not an integer";
    auto failure = add_ll(cur, incr, result);
    if (failure.empty())
      out = ll_text(result);
    return failure;
  };
  if (update_field(c, next, text))
    reply::integer(c.out, result);
}

void cmd_hincrbyfloat(call& c) {
  long double incr = 0;
  if (!parse_ld(c.argv[3], incr))
    return c.error("ERR value is not a valid float");
  if (std::isinf(incr))
    return c.error("ERR value is NaN or Infinity");
  std::string text;
  auto next = [&](const std::string* v,
                  std::string& out) -> std::string_view {
    long double cur = 0;
    if (v != nullptr && !parse_ld(*v, cur))
      return "ERR hash value is not a float";
    return add_ld(cur, incr, out);
  };
  if (update_field(c, next, text))
    reply::bulk(c.out, text);
}

// HSCAN key cursor [MATCH pattern] [COUNT count]: redis's order of checks
// (the cursor, then the key's type, then the options); one step of the
// hash's own cursor (hash_object::scan), MATCH applied to its fields.
void cmd_hscan(call& c) {
  std::uint64_t cursor = 0;
  if (!parse_cursor(c.argv[2], cursor))
    return c.error("ERR invalid cursor");
  scan_options opts;
  bool parsed = false;
  std::uint64_t next = 0;
  std::vector<std::pair<std::string, std::string>> pairs;
  auto found = c.read_hash(c.argv[1], [&](const hash_object& h) {
    parsed = opts.parse(c, 3, false);
    if (!parsed)
      return;
    next = h.scan(cursor, static_cast<std::size_t>(opts.count),
                  [&](const std::string& field, const std::string& value) {
                    if (opts.matches(field))
                      pairs.emplace_back(field, value);
                  });
  });
  if (!found || (*found && !parsed))
    return;
  reply::array(c.out, 2);
  reply::bulk(c.out, std::to_string(next));
  reply::array(c.out, static_cast<std::int64_t>(2 * pairs.size()));
  for (auto& [field, value] : pairs) {
    reply::bulk(c.out, field);
    reply::bulk(c.out, value);
  }
}

// HRANDFIELD key [count [WITHVALUES]]: redis 7.0.15's checks, in its order.
void cmd_hrandfield(call& c) {
  if (c.argv.size() == 2) {
    auto found = c.read_hash(c.argv[1], [&](const hash_object& h) {
      reply::bulk(c.out, h.at(random_position(h))->first);
    });
    if (found && !*found)
      c.null();
    return;
  }
  std::int64_t count = 0;
  if (!c.integer_arg(c.argv[2], count))
    return;
  if (count == LLONG_MIN)
    return c.error("ERR value is out of range, value must between "
                   "-9223372036854775807 and 9223372036854775807");
  bool withvalues = c.argv.size() == 4;
  if (c.argv.size() > 4 || (withvalues && !iequals(c.argv[3], "withvalues")))
    return c.error(syntax_error);
  if (withvalues && (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2))
    return c.error("ERR value is out of range");
  auto found = c.read_hash(c.argv[1], [&](const hash_object& h) {
    if (count == 0)
      reply::array(c.out, 0);
    else
      random_fields(c, h, count, withvalues);
  });
  if (found && !*found)
    reply::array(c.out, 0);
}

} // namespace cachet::redis
