// docs/queries.md: select and its continuations, counts, deletes and
// replaces, key ranges, bags, conditional single-key operations, cursors,
// info and rename. Each region is shown in the guide; main runs them and
// checks what the guide says of them.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "claims.hpp"

using namespace std::chrono_literals;

namespace {

snippets::claims check;

// [session]
struct session {
  std::string user;
  std::int64_t expires_at; // ms since the epoch
};
// [session]

void selects(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  auto owned = std::move(*cachet::make_table<std::uint64_t, session>(
    self.ptr(), {"sessions", cachet::access_mode::public_}));
  for (std::uint64_t id = 0; id < 1000; ++id)
    owned.insert(id, session{"user" + std::to_string(id % 50),
                             static_cast<std::int64_t>(id)});
  auto now = std::int64_t{100};
  // [select]
  auto t = *cachet::whereis<std::uint64_t, session>(sys, "sessions");
  // The match spec as a callable: a guard and a body. nullopt rejects.
  auto ids = t.select([](std::uint64_t id, const session& s)
                        -> std::optional<std::uint64_t> {
    if (s.user == "user7")
      return id;
    return std::nullopt;
  });                                          // 20 ids, in walk order
  auto live = t.select_count([&](std::uint64_t, const session& s) {
    return s.expires_at > now;
  });                                          // 899
  auto purged = t.select_delete([&](std::uint64_t, const session& s) {
    return s.expires_at <= now;                // Cachex's purge
  });                                          // 101 removed
  auto touched = t.select_replace([](std::uint64_t, const session& s)
                                    -> std::optional<session> {
    if (s.user != "user7")
      return std::nullopt;
    return session{s.user, s.expires_at + 60'000};
  });                                          // 18: the key never changes
  // [select]
  check(ids && ids->size() == 20, "select: every match");
  check(live && *live == 899, "select_count");
  check(purged && *purged == 101 && *t.size() == 899, "select_delete");
  check(touched && *touched == 18, "select_replace");
  // [pages]
  // A page of at most 100 results at a time, and a continuation.
  std::size_t total = 0;
  auto page = t.select([](std::uint64_t id, const session&)
                         -> std::optional<std::uint64_t> { return id; },
                       100);
  while (page && !page->items.empty()) {
    total += page->items.size();               // use the page
    page = t.select(std::move(page->next));    // writers may run meanwhile
  }
  // total: 899, each entry present throughout exactly once
  // [pages]
  check(page && page->next.done() && total == 899, "paged select");
}

void ranges(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  // [ranges]
  auto log = std::move(*cachet::make_table<std::int64_t, std::string,
                                           cachet::ordered_set<>>(self.ptr()));
  for (std::int64_t at = 0; at < 100; ++at)
    log.insert(at, "event " + std::to_string(at));
  auto keys = [](std::int64_t k, std::string_view)
    -> std::optional<std::int64_t> { return k; };
  // Only the keys in [10, 20) are visited (ETS's partially bound key).
  auto span = log.select(cachet::key_range<std::int64_t>{10, 20}, keys);
  auto newest = log.select_reverse(keys, 3);   // page: 99, 98, 97
  auto old = log.select_delete(cachet::key_range<std::int64_t>{{}, 50},
                               [](std::int64_t, std::string_view) {
                                 return true;
                               });             // 50 removed: keys < 50
  auto last_first = log.foldr(std::string{}, [](std::string acc,
                                                std::int64_t k,
                                                std::string_view) {
    return acc.empty() ? std::to_string(k) : acc;
  });                                          // "99": foldr starts last
  // [ranges]
  check(span && span->size() == 10 && span->front() == 10, "key range");
  check(newest && newest->items == std::vector<std::int64_t>{99, 98, 97},
        "select_reverse page");
  check(old && *old == 50 && *log.first() == 50, "ranged select_delete");
  check(last_first && *last_first == "99", "foldr");
}

void bags(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  // [bags]
  // Group members: a key holds several objects, in insertion order.
  auto groups = std::move(*cachet::make_table<std::string, std::string,
                                              cachet::bag<>>(self.ptr()));
  groups.insert("admins", "ann");
  groups.insert("admins", "bob");
  groups.insert("admins", "ann");              // a bag: ann is there already
  auto admins = groups.lookup("admins");       // {"ann", "bob"}
  auto gone = groups.erase_object("admins", "ann"); // 1 removed
  auto n = groups.size();                      // 1: objects, not keys
  // A duplicate_bag keeps repeats, e.g. an event log per key.
  auto clicks = std::move(*cachet::make_table<std::string, int,
                                              cachet::duplicate_bag<>>(
    self.ptr()));
  clicks.insert({{"home", 1}, {"home", 1}, {"docs", 2}});
  auto home = clicks.lookup("home");           // {1, 1}
  auto taken = clicks.take("home");            // {1, 1}, and the key is gone
  // [bags]
  check(admins && *admins == std::vector<std::string>{"ann", "bob"},
        "bag lookup");
  check(gone && *gone == 1 && n && *n == 1, "erase_object, size");
  check(home && home->size() == 2, "duplicate_bag keeps repeats");
  check(taken && taken->size() == 2 && !*clicks.member("home"), "take");
}

void single_keys(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  auto t = std::move(*cachet::make_table<std::string, int>(self.ptr()));
  // [single]
  std::string_view path = "/docs/queries.md"; // e.g. a view into a request
  auto first = t.upsert(path, [](int& n) { ++n; }, 1); // true: inserted 1
  auto again = t.upsert(path, [](int& n) { ++n; }, 1); // false: now 2
  auto hits = t.lookup(path);      // by std::string_view: no temporary string
  auto dropped = t.erase_if(path, [](int n) { return n < 10; }); // true
  // [single]
  check(first && *first && again && !*again, "upsert");
  check(hits && *hits == 2, "lookup by string_view");
  check(dropped && *dropped && !*t.member(path), "erase_if");
}

void cursors_and_info(caf::actor_system& sys) {
  caf::scoped_actor self{sys};
  auto t = std::move(*cachet::make_table<int, int>(self.ptr(), {"numbers"}));
  for (int i = 0; i < 10; ++i)
    t.insert(i, i);
  // [cursors]
  std::vector<int> keys;
  for (auto k = *t.first(); k; k = *t.next(*k)) // ETS first/next on a set
    keys.push_back(*k);
  auto absent = t.next(12345);                  // no_such_key (ETS: badarg)
  // [cursors]
  check(keys.size() == 10, "first/next visits every key");
  check(!absent && absent.error() == cachet::errc::no_such_key,
        "next of an absent key");
  // [info]
  auto about = t.info();       // name, kind, mode, size, memory, owner, heir
  // about->kind == "set", about->size == 10, about->memory: bytes held
  auto renamed = t.rename("digits");           // the new name must be free
  auto listed = cachet::all_tables(sys);       // every live table (ETS all/0)
  // [info]
  check(about && about->kind == "set" && about->size == 10
          && about->memory > 0,
        "info");
  check(renamed && t.name() == "digits"
          && !cachet::whereis<int, int>(sys, "numbers"),
        "rename frees the old name");
  check(std::any_of(listed.begin(), listed.end(),
                    [](const cachet::table_info& x) {
                      return x.name == "digits";
                    }),
        "all_tables lists it");
}

void messages(caf::actor_system& sys) {
  // [messages]
  auto owner = *cachet::spawn_owner<std::string, int>(sys, {"counts"});
  cachet::blocking_caller caller{sys};
  caller.call(owner, 1s, cachet::insert_atom_v,
              std::vector<std::pair<std::string, int>>{{"a", 1}, {"b", 5}});
  // Inside one process a query travels as a callable type.
  cachet::match<std::string, int> big{[](std::string_view, int v) {
    return v > 2;
  }};
  auto rows = caller.call(owner, 1s, cachet::select_atom_v, big); // {b, 5}
  auto n = caller.call(owner, 1s, cachet::select_count_atom_v, big); // 1
  auto page = caller.call(owner, 1s, cachet::select_atom_v, big,
                          std::uint64_t{10}); // a page and its continuation
  // [messages]
  check(rows && rows->size() == 1 && n && *n == 1, "select over messages");
  check(page && page->items.size() == 1, "a page over messages");
  // [specs]
  // A declarative select is data: it works over messages from this node or
  // another one (distribution.md). A field is a function of the value,
  // registered under a name on the node that evaluates.
  using cachet::spec::field;
  using cachet::spec::key;
  using cachet::spec::value;
  auto picked = caller.call(owner, 1s, cachet::select_atom_v,
                            cachet::match_spec{value() > 2}); // {b, 5}
  auto purged = caller.call(owner, 1s, cachet::select_delete_atom_v,
                            cachet::match_spec{key().starts_with("a")}
                              .or_where({value() >= 100})); // 1: "a"
  // [specs]
  check(picked && picked->size() == 1 && picked->front().first == "b",
        "a spec selects over messages");
  check(purged && *purged == 1, "a spec deletes over messages");
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
}

} // namespace

int main() {
  return snippets::run(check, selects, ranges, bags, single_keys,
                       cursors_and_info, messages);
}
