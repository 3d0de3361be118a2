// docs/tables.md: kinds, access modes, every operation, errors, lifetime and
// names, named_table. Each region is shown in the guide; main runs them and
// checks what the guide says of them.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "claims.hpp"

using namespace std::chrono_literals;

namespace {

snippets::claims check;

// [kinds]
using scores = cachet::table<std::string, int>;          // a set: hashed
using by_time = cachet::table<std::int64_t, std::string,
                              cachet::ordered_set<>>;    // sorted by key

// A set with its own hash and equality: case-insensitive keys.
struct caseless_hash {
  std::size_t operator()(const std::string& s) const {
    std::string lower;
    for (unsigned char c : s)
      lower += static_cast<char>(std::tolower(c));
    return std::hash<std::string>{}(lower);
  }
};

struct caseless_eq {
  bool operator()(const std::string& a, const std::string& b) const {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](unsigned char x, unsigned char y) {
                        return std::tolower(x) == std::tolower(y);
                      });
  }
};

using users = cachet::table<std::string, int,
                            cachet::set<caseless_hash, caseless_eq>>;
// [kinds]

void try_mode(caf::actor_system& sys, cachet::access_mode mode) {
  // [modes]
  auto owner = cachet::spawn_owner<std::string, int>(sys, {"m", mode});
  cachet::blocking_caller caller{sys};
  caller.call(*owner, 1s, cachet::insert_atom_v, std::string{"k"}, 1);
  auto t = *cachet::whereis<std::string, int>(sys, "m");
  auto read = t.lookup("k");                         // direct read
  auto write = t.insert("k", 2);                     // direct write
  auto asked = caller.call(*owner, 1s, cachet::insert_atom_v,
                           std::string{"k"}, 3);     // a message: always served
  // private_:   read access_denied, write access_denied, asked ok
  // protected_: read ok,            write access_denied, asked ok
  // public_:    read ok,            write ok,            asked ok
  // [modes]
  bool reads = mode != cachet::access_mode::private_;
  bool writes = mode == cachet::access_mode::public_;
  check(static_cast<bool>(read) == reads
          && (reads || read.error() == cachet::errc::access_denied),
        "direct reads: every mode but private");
  check(static_cast<bool>(write) == writes
          && (writes || write.error() == cachet::errc::access_denied),
        "direct writes: public only");
  check(static_cast<bool>(asked), "messages: every mode");
  caf::anon_send_exit(*owner, cachet::shutdown_reason);
  check(snippets::eventually([&] { return !t.alive(); }),
        "the table dies with its owner");
}

void modes(caf::actor_system& sys) {
  for (auto mode : {cachet::access_mode::private_,
                    cachet::access_mode::protected_,
                    cachet::access_mode::public_})
    try_mode(sys, mode);
}

void writes(caf::actor_system& sys) {
  auto owner = cachet::spawn_owner<std::string, int>(
    sys, {"stock", cachet::access_mode::public_});
  // [writes]
  auto t = *cachet::whereis<std::string, int>(sys, "stock"); // a public table
  t.insert("tea", 12);                                 // insert or replace
  t.insert({{"coffee", 7}, {"cocoa", 3}});             // a batch: atomic, isolated
  auto dup = t.insert_new("tea", 1);                   // key_exists: tea stays 12
  auto none = t.insert_new({{"milk", 1}, {"tea", 1}}); // key_exists: no milk either
  auto was = t.erase("cocoa");                         // true: it was there
  auto took = t.take("coffee");                        // optional<int>{7}, removed
  auto raised = t.update("tea", [](int& n) { n += 1; }); // true: tea is 13
  auto low = t.erase_if("tea", [](int n) { return n < 10; }); // false: 13 stays
  // [writes]
  check(!dup && dup.error() == cachet::errc::key_exists, "insert_new: key_exists");
  check(!none && !*t.member("milk"), "a batch insert_new inserts nothing");
  check(was && *was, "erase: it was there");
  check(took && *took == 7 && !*t.member("coffee"), "take returns and removes");
  check(raised && *raised && *t.lookup("tea") == 13, "update by function");
  check(low && !*low && *t.lookup("tea") == 13, "erase_if keeps a value that fails");
  // [counters]
  t.insert("visits", 0);
  auto n = t.update_counter("visits", {5});                // 5
  auto capped = t.update_counter("visits", {10, 12, 0});   // 15 > 12: reset to 0
  auto made = t.update_counter("new", {1}, 100);           // absent: 100 + 1
  auto missing = t.update_counter("nope", {1});            // no_such_key
  // [counters]
  check(n && *n == 5, "update_counter adds");
  check(capped && *capped == 0, "threshold resets");
  check(made && *made == 101, "default for a missing key");
  check(!missing && missing.error() == cachet::errc::no_such_key, "no_such_key");
  caf::anon_send_exit(*owner, cachet::shutdown_reason);
}

void strings(caf::actor_system& sys) {
  auto owner = cachet::spawn_owner<std::string, std::string>(
    sys, {"words", cachet::access_mode::public_});
  // [reads]
  auto t = *cachet::whereis<std::string, std::string>(sys, "words"); // public
  t.insert("answer", "41");
  t.insert("word", "hello");
  auto v = t.lookup("answer");                // a copy: optional<string>{"41"}
  std::size_t length = 0;
  t.visit("word", [&](std::string_view s) {   // no copy; string_view for strings
    length = s.size();
  });
  auto here = t.member("word");               // true
  auto n = t.size();                          // 2
  auto bytes = t.fold(std::size_t{0}, [](std::size_t acc, std::string_view k,
                                         std::string_view val) {
    return acc + k.size() + val.size();
  });                                         // 6 + 2 + 4 + 5 = 17
  auto all = t.to_list();                     // vector<pair<string, string>>
  auto c = t.update_counter("answer", {1});   // 42: "42" is stored
  auto bad = t.update_counter("word", {1});   // not_a_counter: "hello" stays
  // [reads]
  check(v && *v == std::string{"41"}, "lookup copies");
  check(length == 5, "visit shows the value");
  check(here && *here && n && *n == 2, "member, size");
  check(bytes && *bytes == 17, "fold over every entry");
  check(all && all->size() == 2, "to_list");
  check(c && *c == 42 && *t.lookup("answer") == std::string{"42"},
        "decimal strings are counters");
  check(!bad && bad.error() == cachet::errc::not_a_counter, "not_a_counter");
  caf::anon_send_exit(*owner, cachet::shutdown_reason);
}

void scanning(caf::actor_system& sys) {
  auto owner = cachet::spawn_owner<std::uint64_t, std::uint64_t>(
    sys, {"ids", cachet::access_mode::public_});
  auto t = *cachet::whereis<std::uint64_t, std::uint64_t>(sys, "ids");
  for (std::uint64_t i = 0; i < 1000; ++i)
    t.insert(i, i * i);
  // [scan]
  // Redis SCAN over a set table: bounded work per call, however large.
  std::vector<std::uint64_t> seen;
  std::uint64_t cursor = 0;
  do {
    auto next = t.scan(cursor, 100, [&](std::uint64_t k, std::uint64_t) {
      seen.push_back(k);      // a walk's function only reads: write after
    });
    if (!next)
      break;                  // the table is gone
    cursor = *next;
  } while (cursor != 0);      // 0 again: every entry present throughout seen
  // [scan]
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  check(seen.size() == 1000, "a scan from 0 to 0 shows every entry");
  caf::anon_send_exit(*owner, cachet::shutdown_reason);
}

void ordered(caf::actor_system& sys) {
  auto owner = cachet::spawn_owner<std::int64_t, std::string,
                                   cachet::ordered_set<>>(
    sys, {"log", cachet::access_mode::public_});
  // [ordered]
  auto log = *cachet::whereis<std::int64_t, std::string, cachet::ordered_set<>>(
    sys, "log");
  for (std::int64_t at : {30, 10, 20, 40})
    log.insert(at, "event " + std::to_string(at));
  auto lo = log.first();                  // 10
  auto after = log.next(20);              // 30 (the key need not be present)
  auto before = log.prev(25);             // 20
  auto span = log.range(15, 40);          // [15, 40): 20 and 30, in key order
  auto head = log.range(0, 100, 2);       // at most 2: 10 and 20
  // [ordered]
  check(lo && *lo == 10 && after && *after == 30 && before && *before == 20,
        "first, next, prev");
  check(span && span->size() == 2 && (*span)[0].first == 20
          && (*span)[1].first == 30,
        "range is [lo, hi) in key order");
  check(head && head->size() == 2 && (*head)[1].first == 20, "range's limit");
  caf::anon_send_exit(*owner, cachet::shutdown_reason);
}

void own_kind(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  auto owned = cachet::make_table<std::string, int,
                                  cachet::set<caseless_hash, caseless_eq>>(
    self.ptr(), {"users"});
  owned->insert("Ada", 1);
  check(*owned->member("ADA"), "a set with its own hash and equality");
  static_assert(std::is_same_v<scores::kind_type, cachet::set<>>);
  static_assert(cachet::is_ordered_v<by_time::kind_type>);
  static_assert(!cachet::is_ordered_v<users::kind_type>);
}

void lifetime(caf::actor_system& sys) {
  // [lifetime]
  auto owner = cachet::spawn_owner<std::string, int>(sys, {"session"});
  auto t = *cachet::whereis<std::string, int>(sys, "session");
  auto again = cachet::spawn_owner<std::string, int>(sys, {"session"});
  // again: name_taken, and no actor was spawned
  auto other = cachet::whereis<std::string, double>(sys, "session");
  // other: wrong_type (the name holds a table of other types)
  caf::anon_send_exit(*owner, caf::exit_reason::kill);  // however it ends...
  // ... the table is retired: t.lookup("k") is table_gone, t.alive() false,
  // whereis(sys, "session") no_such_table, and the name is free again.
  // [lifetime]
  check(!again && again.error() == cachet::errc::name_taken, "name_taken");
  check(!other && other.error() == cachet::errc::wrong_type, "wrong_type");
  check(snippets::eventually([&] { return !t.alive(); }), "retired");
  auto gone = t.lookup("k");
  check(!gone && gone.error() == cachet::errc::table_gone, "table_gone");
  auto lost = cachet::whereis<std::string, int>(sys, "session");
  check(!lost && lost.error() == cachet::errc::no_such_table, "no_such_table");
  auto next = cachet::spawn_owner<std::string, int>(sys, {"session"});
  check(static_cast<bool>(next), "the name is free again");
  caf::anon_send_exit(*next, cachet::shutdown_reason);
}

void named(caf::actor_system& sys) {
  auto owner = cachet::spawn_owner<std::string, int>(
    sys, {"hits", cachet::access_mode::public_});
  // [named]
  cachet::named_table<std::string, int> hits{sys, "hits", 50ms};
  hits.insert("/", 1);
  caf::anon_send_exit(*owner, caf::exit_reason::kill);    // the owner crashes
  // (a supervisor would restart it; here a new owner appears by hand)
  // [named]
  snippets::eventually([&] {
    return !cachet::whereis<std::string, int>(sys, "hits");
  });
  auto next = cachet::spawn_owner<std::string, int>(
    sys, {"hits", cachet::access_mode::public_});
  // [named-after]
  auto n = hits.update_counter("/", {1}, 0); // resolved again: the new table
  // [named-after]
  check(n && *n == 1, "named_table resolves its name again after table_gone");
  caf::anon_send_exit(*next, cachet::shutdown_reason);
}

void errors(caf::actor_system& sys) {
  // [render]
  auto t = cachet::whereis<std::string, int>(sys, "nobody");
  if (!t && t.error() == cachet::errc::no_such_table)     // compare with ==
    std::printf("%s\n", sys.render(t.error()).c_str());   // cachet: no_such_table
  // [render]
  check(sys.render(t.error()) == "cachet: no_such_table", "render");
  check(cachet::to_string(cachet::errc::invalid_owner) == "invalid_owner",
        "to_string");
}

} // namespace

int main() {
  return snippets::run(check, modes, writes, strings, scanning, ordered,
                       own_kind, lifetime, named, errors);
}
