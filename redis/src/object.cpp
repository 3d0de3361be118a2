// OBJECT and MEMORY USAGE (redis-server 7.0's object.c as seen by
// clients): what a key's value is and holds.
//
// cachet-redis keeps one representation for every string, so ENCODING is
// told from the bytes as redis would have stored them when written whole
// ("int", then "embstr" up to 44 bytes, then "raw"), except for a string
// changed in place (APPEND to a key there, SETRANGE, SETBIT), which redis
// makes "raw" and the value marks so until it is written whole. A hash is
// "listpack" or "hashtable" as it is held (hash.hpp).
// REFCOUNT follows: redis shares the integers 0 to 9999 unless an
// LRU or LFU bound forbids it. FREQ and IDLETIME read the key's eviction
// slot, which exists only while maxmemory is set.
#include "call.hpp"

#include <climits>

namespace cachet::redis {

namespace {

constexpr std::string_view object_help[] = {
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store "
  "the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer "
  "is",
  "    proportional to the logarithm of the recent access frequency of the "
  "key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the "
  "specified",
  "    <key>.",
  "HELP",
  "    Prints this help.",
};

constexpr std::string_view memory_help[] = {
  "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "USAGE <key> [SAMPLES <count>]",
  "    Return memory in bytes used by <key> and its value. Nested values are",
  "    sampled up to <count> times (default: 5, 0 means sample all).",
  "HELP",
  "    Prints this help.",
};

template <std::size_t N>
void help(call& c, const std::string_view (&lines)[N]) {
  reply::array(c.out, static_cast<std::int64_t>(N));
  for (auto line : lines)
    reply::simple(c.out, line);
}

std::string_view encoding_of(const value& v) {
  if (!v.is_string()) {
    std::shared_lock<std::shared_mutex> guard{v.hash()->mutex()};
    return v.hash()->listpack() ? "listpack" : "hashtable";
  }
  if (v.changed_in_place())
    return "raw";
  auto bytes = v.bytes();
  std::int64_t x = 0;
  if (bytes.size() <= 20 && parse_ll(bytes, x))
    return "int";
  return bytes.size() <= 44 ? "embstr" : "raw";
}

/// The key's value, if live (without counting an access, as redis's OBJECT
/// does not); false with the null replied if absent, or the error replied.
bool lookup(call& c, std::optional<value>& got) {
  auto now = now_ms();
  auto found = c.tab().visit(c.argv[2], [&](const value& v) {
    if (!expired(v, now))
      got = v;
  });
  if (!c.ok(found))
    return false;
  if (!got) {
    c.null();
    return false;
  }
  return true;
}

} // namespace

void cmd_object(call& c) {
  auto sub = c.argv[1];
  std::optional<value> got;
  auto policy = c.env.evict.policy();
  bool bounded = c.env.evict.maxmemory() != 0;
  if (iequals(sub, "help")) {
    help(c, object_help);
  } else if (iequals(sub, "encoding")) {
    if (lookup(c, got))
      reply::bulk(c.out, encoding_of(*got));
  } else if (iequals(sub, "refcount")) {
    if (!lookup(c, got))
      return;
    std::int64_t x = 0;
    bool shared = encoding_of(*got) == "int" && parse_ll(got->bytes(), x)
                  && x >= 0 && x < 10000
                  && !(bounded
                       && (lfu_policy(policy)
                           || policy == maxmemory_policy::allkeys_lru
                           || policy == maxmemory_policy::volatile_lru
                           || policy == maxmemory_policy::allkeys_s3fifo));
    reply::integer(c.out, shared ? INT_MAX : 1);
  } else if (iequals(sub, "freq")) {
    if (!lookup(c, got))
      return;
    if (!lfu_policy(policy))
      return c.error("ERR An LFU maxmemory policy is not selected, access "
                     "frequency not tracked. Please note that when switching "
                     "between policies at runtime LRU and LFU data will take "
                     "some time to adjust.");
    reply::integer(c.out, got->slot != nullptr
                            ? evictor::lfu_count(*got->slot.get())
                            : 0);
  } else if (iequals(sub, "idletime")) {
    if (!lookup(c, got))
      return;
    if (lfu_policy(policy))
      return c.error("ERR An LFU maxmemory policy is selected, idle time not "
                     "tracked. Please note that when switching between "
                     "policies at runtime LRU and LFU data will take some "
                     "time to adjust.");
    if (got->slot == nullptr)
      return c.error("ERR idle time is not tracked: cachet-redis tracks it "
                     "while maxmemory is set, for keys written since");
    reply::integer(c.out, evictor::idle_seconds(*got->slot.get()));
  } else {
    c.unknown_subcommand("OBJECT");
  }
}

// MEMORY USAGE key [SAMPLES n]: about what the key and its value hold
// (key_memory); SAMPLES is checked, and not needed: a hash knows what its
// fields hold without sampling them.
void cmd_memory(call& c) {
  auto sub = c.argv[1];
  if (iequals(sub, "help"))
    return help(c, memory_help);
  if (!iequals(sub, "usage"))
    return c.unknown_subcommand("MEMORY");
  for (std::size_t j = 3; j < c.argv.size(); j += 2) {
    std::int64_t samples = 0;
    if (!iequals(c.argv[j], "samples") || j + 1 >= c.argv.size())
      return c.error(syntax_error);
    if (!c.integer_arg(c.argv[j + 1], samples))
      return;
  }
  std::optional<value> got;
  if (lookup(c, got))
    reply::integer(c.out, key_memory(c.argv[2], *got));
}

} // namespace cachet::redis
