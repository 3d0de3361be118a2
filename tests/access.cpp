// The ETS access matrix: every operation in every mode, by the owner, by
// other threads directly, and through messages to the owner.
#include "test_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>

namespace {

using cachet::access_mode;
using cachet::counter_op;
using cachet::errc;

using K = std::string;
using V = std::int64_t;
using entries = std::vector<std::pair<K, V>>;
using model = std::map<K, V>;

using hashed = cachet::set<>;
using ordered = cachet::ordered_set<>;

template <class Kind>
using owner_t = cachet::owner_actor<K, V, Kind>;

constexpr auto timeout = std::chrono::seconds(10);

// Every test starts from this table.
const model initial{{"a", 1}, {"b", 2}, {"c", 3}};

using cachet_test::name;
using cachet_test::direct_expectation;
using cachet_test::outcome;

// "ok" only for a success with the expected result.
template <class T, class U>
std::string expect(const caf::expected<T>& x, const U& want) {
  if (!x)
    return outcome(x);
  return *x == want ? "ok" : "ok, but with a wrong result";
}

// A callback must run when its call succeeds and never when it fails.
std::string with_callback(std::string res, bool called) {
  if (res == "ok" && !called)
    return "ok, but the callback never ran";
  if (res != "ok" && called)
    return res + ", but the callback ran";
  return res;
}

model as_model(const entries& xs) {
  return model(xs.begin(), xs.end());
}

model after(const std::function<void(model&)>& effect) {
  auto m = initial;
  if (effect)
    effect(m);
  return m;
}

// One operation on a direct handle H: whether it writes, a run that answers
// "ok" only for the right result, and its effect on the table.
template <class H>
struct direct_op {
  std::string name;
  bool write;
  std::function<std::string(H&)> run;
  std::function<void(model&)> effect;
  /// Needs no rights at all (info, as in ETS).
  bool public_info = false;
};

// The keys a select gave, sorted: hashed kinds return them in walk order.
std::vector<K> sorted(std::vector<K> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

// A match selecting the keys of values >= 2 (b and c of `initial`).
std::optional<K> key_if_big(cachet::view_t<K> k, cachet::view_t<V> v) {
  if (v >= 2)
    return K{k};
  return std::nullopt;
}

// Every key by first/next, in the table's order: ETS's cursor walk.
template <class H>
caf::expected<std::vector<K>> cursor_walk(const H& h) {
  std::vector<K> out;
  auto k = h.first();
  while (k && *k) {
    out.push_back(**k);
    k = h.next(**k);
  }
  if (!k)
    return std::move(k.error());
  return out;
}

template <class H>
std::vector<direct_op<H>> direct_ops() {
  std::vector<direct_op<H>> ops{
    {"insert", true, [](H& h) { return outcome(h.insert("d", 4)); },
     [](model& m) { m["d"] = 4; }},
    {"insert batch", true,
     [](H& h) { return outcome(h.insert(entries{{"d", 4}, {"a", 10}})); },
     [](model& m) {
       m["d"] = 4;
       m["a"] = 10;
     }},
    {"insert_new", true, [](H& h) { return outcome(h.insert_new("d", 4)); },
     [](model& m) { m["d"] = 4; }},
    {"insert_new batch", true,
     [](H& h) { return outcome(h.insert_new(entries{{"d", 4}, {"e", 5}})); },
     [](model& m) {
       m["d"] = 4;
       m["e"] = 5;
     }},
    {"lookup", false,
     [](H& h) { return expect(h.lookup("a"), std::optional<V>{1}); }, {}},
    {"visit", false,
     [](H& h) {
       V seen = 0;
       bool called = false;
       auto res = h.visit("b", [&](cachet::view_t<V> v) {
         seen = v;
         called = true;
       });
       return with_callback(expect(res, true), called && seen == 2);
     },
     {}},
    {"member", false, [](H& h) { return expect(h.member("c"), true); }, {}},
    {"erase", true, [](H& h) { return expect(h.erase("a"), true); },
     [](model& m) { m.erase("a"); }},
    {"take", true,
     [](H& h) { return expect(h.take("b"), std::optional<V>{2}); },
     [](model& m) { m.erase("b"); }},
    {"update_counter", true,
     [](H& h) { return expect(h.update_counter("c", {5}), V{8}); },
     [](model& m) { m["c"] = 8; }},
    {"update_counter with default", true,
     [](H& h) { return expect(h.update_counter("z", {1}, V{10}), V{11}); },
     [](model& m) { m["z"] = 11; }},
    {"update", true,
     [](H& h) {
       bool called = false;
       auto res = h.update("a", [&](V& v) {
         called = true;
         v += 100;
       });
       return with_callback(expect(res, true), called);
     },
     [](model& m) { m["a"] = 101; }},
    {"size", false, [](H& h) { return expect(h.size(), std::size_t{3}); }, {}},
    {"clear", true, [](H& h) { return outcome(h.clear()); },
     [](model& m) { m.clear(); }},
    {"for_each", false,
     [](H& h) {
       model seen;
       auto res = h.for_each([&](cachet::view_t<K> k, cachet::view_t<V> v) {
         seen[K{k}] = v;
       });
       return with_callback(outcome(res), seen == initial);
     },
     {}},
    {"fold", false,
     [](H& h) {
       bool called = false;
       auto res = h.fold(V{0}, [&](V acc, cachet::view_t<K>,
                                   cachet::view_t<V> v) {
         called = true;
         return acc + v;
       });
       return with_callback(expect(res, V{6}), called);
     },
     {}},
    {"to_list", false,
     [](H& h) {
       auto res = h.to_list();
       if (!res)
         return outcome(res);
       return expect(caf::expected<model>{as_model(*res)}, initial);
     },
     {}},
    {"lookup by string_view", false,
     [](H& h) {
       return expect(h.lookup(std::string_view{"a"}), std::optional<V>{1});
     },
     {}},
    {"erase_if", true,
     [](H& h) {
       return expect(h.erase_if("a", [](V v) { return v == 1; }), true);
     },
     [](model& m) { m.erase("a"); }},
    {"upsert", true,
     [](H& h) {
       return expect(h.upsert("a", [](V& v) { v += 5; }, V{0}), false);
     },
     [](model& m) { m["a"] = 6; }},
    {"select", false,
     [](H& h) {
       auto res = h.select(key_if_big);
       if (!res)
         return outcome(res);
       return expect(caf::expected<std::vector<K>>{sorted(*res)},
                     std::vector<K>{"b", "c"});
     },
     {}},
    {"select with a limit and its continuation", false,
     [](H& h) {
       auto page = h.select(
         [](cachet::view_t<K> k, V) -> std::optional<K> { return K{k}; }, 2);
       std::vector<K> all;
       while (page && !page->items.empty()) {
         if (page->items.size() > 2)
           return std::string{"a page over its limit"};
         all.insert(all.end(), page->items.begin(), page->items.end());
         page = h.select(std::move(page->next));
       }
       if (!page)
         return outcome(page);
       return expect(caf::expected<std::vector<K>>{sorted(all)},
                     std::vector<K>{"a", "b", "c"});
     },
     {}},
    {"select_reverse", false,
     [](H& h) {
       auto res = h.select_reverse(key_if_big);
       if (!res)
         return outcome(res);
       if (cachet::is_ordered_v<typename H::kind_type>)
         return expect(res, std::vector<K>{"c", "b"});
       return expect(caf::expected<std::vector<K>>{sorted(*res)},
                     std::vector<K>{"b", "c"});
     },
     {}},
    {"select_count", false,
     [](H& h) {
       return expect(h.select_count([](cachet::view_t<K>, V v) {
                       return v >= 2;
                     }),
                     std::size_t{2});
     },
     {}},
    {"select_delete", true,
     [](H& h) {
       return expect(h.select_delete([](cachet::view_t<K>, V v) {
                       return v >= 2;
                     }),
                     std::size_t{2});
     },
     [](model& m) {
       m.erase("b");
       m.erase("c");
     }},
    {"select_replace", true,
     [](H& h) {
       return expect(h.select_replace(
                       [](cachet::view_t<K>, V v) -> std::optional<V> {
                         if (v == 1)
                           return V{10};
                         return std::nullopt;
                       }),
                     std::size_t{1});
     },
     [](model& m) { m["a"] = 10; }},
    {"first and next", false,
     [](H& h) {
       auto keys = cursor_walk(h);
       if (!keys)
         return outcome(keys);
       if (cachet::is_ordered_v<typename H::kind_type>)
         return expect(keys, std::vector<K>{"a", "b", "c"});
       return expect(caf::expected<std::vector<K>>{sorted(*keys)},
                     std::vector<K>{"a", "b", "c"});
     },
     {}},
    {"foldr", false,
     [](H& h) {
       auto res = h.foldr(K{}, [](K acc, cachet::view_t<K> k, V) {
         return acc + K{k};
       });
       if (!res)
         return outcome(res);
       if (cachet::is_ordered_v<typename H::kind_type>)
         return expect(res, K{"cba"});
       std::sort(res->begin(), res->end());
       return expect(res, K{"abc"});
     },
     {}},
    {"info", false,
     [](H& h) {
       auto res = h.info();
       if (!res)
         return outcome(res);
       bool right = res->size == 3 && res->memory > 0
                    && res->kind == cachet::kind_name<typename H::kind_type>::value
                    && res->mode == h.mode() && res->name == h.name();
       return right ? std::string{"ok"}
                    : std::string{"ok, but with a wrong result"};
     },
     {},
     true},
    {"rename", true,
     [](H& h) {
       auto before = h.name();
       auto res = h.rename("renamed-" + before);
       if (!res)
         return outcome(res);
       return h.name() == "renamed-" + before
                ? std::string{"ok"}
                : std::string{"ok, but the name did not change"};
     },
     {}},
  };
  if constexpr (!cachet::is_ordered_v<typename H::kind_type>) {
    ops.push_back({"scan", false,
                   [](H& h) {
                     model seen;
                     std::uint64_t cursor = 0;
                     do {
                       auto next = h.scan(cursor, 1,
                                          [&](cachet::view_t<K> k, V v) {
                                            seen[K{k}] = v;
                                          });
                       if (!next)
                         return outcome(next);
                       cursor = *next;
                     } while (cursor != 0);
                     return seen == initial
                              ? std::string{"ok"}
                              : std::string{"ok, but with a wrong result"};
                   },
                   {}});
  }
  if constexpr (cachet::is_ordered_v<typename H::kind_type>) {
    std::vector<direct_op<H>> more{
      {"select over a key range", false,
       [](H& h) {
         return expect(h.select(cachet::key_range<K>{K{"b"}, std::nullopt},
                                key_if_big),
                       std::vector<K>{"b", "c"});
       },
       {}},
      {"select_delete over a key range", true,
       [](H& h) {
         return expect(h.select_delete(cachet::key_range<K>{K{"a"}, K{"c"}},
                                       [](cachet::view_t<K>, V) {
                                         return true;
                                       }),
                       std::size_t{2});
       },
       [](model& m) {
         m.erase("a");
         m.erase("b");
       }},
      {"first", false,
       [](H& h) { return expect(h.first(), std::optional<K>{"a"}); }, {}},
      {"last", false,
       [](H& h) { return expect(h.last(), std::optional<K>{"c"}); }, {}},
      {"next", false,
       [](H& h) { return expect(h.next("a"), std::optional<K>{"b"}); }, {}},
      {"prev", false,
       [](H& h) { return expect(h.prev("c"), std::optional<K>{"b"}); }, {}},
      {"range", false,
       [](H& h) {
         return expect(h.range("a", "c"), entries{{"a", 1}, {"b", 2}});
       },
       {}},
    };
    ops.insert(ops.end(), more.begin(), more.end());
  }
  return ops;
}

// Over messages, a match is a predicate: values >= 2 (b and c).
cachet::match<K, V> big_values() {
  return {[](cachet::view_t<K>, V v) { return v >= 2; }};
}

// One operation of the owner's message protocol and its effect.
template <class Kind>
struct message_op {
  using run_fn = std::function<std::string(cachet::blocking_caller&,
                                           const owner_t<Kind>&)>;
  std::string name;
  run_fn run;
  std::function<void(model&)> effect;
};

template <class Kind>
std::vector<message_op<Kind>> message_ops() {
  using namespace cachet;
  using caller = blocking_caller;
  using owner = owner_t<Kind>;
  std::vector<message_op<Kind>> ops{
    {"insert",
     [](caller& c, const owner& o) {
       return outcome(c.call(o, timeout, insert_atom_v, K{"d"}, V{4}));
     },
     [](model& m) { m["d"] = 4; }},
    {"insert batch",
     [](caller& c, const owner& o) {
       return outcome(
         c.call(o, timeout, insert_atom_v, entries{{"d", 4}, {"a", 10}}));
     },
     [](model& m) {
       m["d"] = 4;
       m["a"] = 10;
     }},
    {"insert_new",
     [](caller& c, const owner& o) {
       return outcome(c.call(o, timeout, insert_new_atom_v, K{"d"}, V{4}));
     },
     [](model& m) { m["d"] = 4; }},
    {"insert_new batch",
     [](caller& c, const owner& o) {
       return outcome(
         c.call(o, timeout, insert_new_atom_v, entries{{"d", 4}, {"e", 5}}));
     },
     [](model& m) {
       m["d"] = 4;
       m["e"] = 5;
     }},
    {"lookup",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, lookup_atom_v, K{"a"}),
                     std::optional<V>{1});
     },
     {}},
    {"member",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, member_atom_v, K{"c"}), true);
     },
     {}},
    {"erase",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, erase_atom_v, K{"a"}), true);
     },
     [](model& m) { m.erase("a"); }},
    {"take",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, take_atom_v, K{"b"}),
                     std::optional<V>{2});
     },
     [](model& m) { m.erase("b"); }},
    {"update_counter",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, update_counter_atom_v, K{"c"},
                            counter_op{5}),
                     V{8});
     },
     [](model& m) { m["c"] = 8; }},
    {"update_counter with default",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, update_counter_atom_v, K{"z"},
                            counter_op{1}, V{10}),
                     V{11});
     },
     [](model& m) { m["z"] = 11; }},
    {"update",
     [](caller& c, const owner& o) {
       updater<V> add_100{[](V& v) { v += 100; }};
       return expect(c.call(o, timeout, update_atom_v, K{"a"}, add_100), true);
     },
     [](model& m) { m["a"] = 101; }},
    {"size",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, size_atom_v), std::uint64_t{3});
     },
     {}},
    {"clear",
     [](caller& c, const owner& o) {
       return outcome(c.call(o, timeout, clear_atom_v));
     },
     [](model& m) { m.clear(); }},
    {"to_list",
     [](caller& c, const owner& o) {
       auto res = c.call(o, timeout, to_list_atom_v);
       if (!res)
         return outcome(res);
       return expect(caf::expected<model>{as_model(*res)}, initial);
     },
     {}},
    {"select",
     [](caller& c, const owner& o) {
       auto res = c.call(o, timeout, select_atom_v, big_values());
       if (!res)
         return outcome(res);
       return expect(caf::expected<model>{as_model(*res)},
                     model{{"b", 2}, {"c", 3}});
     },
     {}},
    {"select with a limit and its continuation",
     [](caller& c, const owner& o) {
       match<K, V> all{[](view_t<K>, V) { return true; }};
       auto page = c.call(o, timeout, select_atom_v, all, std::uint64_t{2});
       entries got;
       while (page && !page->items.empty()) {
         got.insert(got.end(), page->items.begin(), page->items.end());
         page = c.call(o, timeout, select_atom_v, std::move(page->next));
       }
       if (!page)
         return outcome(page);
       return expect(caf::expected<model>{as_model(got)}, initial);
     },
     {}},
    {"select_count",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, select_count_atom_v, big_values()),
                     std::uint64_t{2});
     },
     {}},
    {"select_delete",
     [](caller& c, const owner& o) {
       return expect(c.call(o, timeout, select_delete_atom_v, big_values()),
                     std::uint64_t{2});
     },
     [](model& m) {
       m.erase("b");
       m.erase("c");
     }},
    {"select_replace",
     [](caller& c, const owner& o) {
       replacer<K, V> ten{[](view_t<K>, V v) -> std::optional<V> {
         if (v == 1)
           return V{10};
         return std::nullopt;
       }};
       return expect(c.call(o, timeout, select_replace_atom_v, ten),
                     std::uint64_t{1});
     },
     [](model& m) { m["a"] = 10; }},
    {"first and next",
     [](caller& c, const owner& o) {
       std::vector<K> keys;
       auto k = c.call(o, timeout, first_atom_v);
       while (k && *k) {
         keys.push_back(**k);
         k = c.call(o, timeout, next_atom_v, **k);
       }
       if (!k)
         return outcome(k);
       return expect(caf::expected<std::vector<K>>{sorted(keys)},
                     std::vector<K>{"a", "b", "c"});
     },
     {}},
  };
  if constexpr (cachet::is_ordered_v<Kind>) {
    std::vector<message_op<Kind>> more{
      {"first",
       [](caller& c, const owner& o) {
         return expect(c.call(o, timeout, first_atom_v), std::optional<K>{"a"});
       },
       {}},
      {"last",
       [](caller& c, const owner& o) {
         return expect(c.call(o, timeout, last_atom_v), std::optional<K>{"c"});
       },
       {}},
      {"next",
       [](caller& c, const owner& o) {
         return expect(c.call(o, timeout, next_atom_v, K{"a"}),
                       std::optional<K>{"b"});
       },
       {}},
      {"prev",
       [](caller& c, const owner& o) {
         return expect(c.call(o, timeout, prev_atom_v, K{"c"}),
                       std::optional<K>{"b"});
       },
       {}},
      {"range",
       [](caller& c, const owner& o) {
         return expect(c.call(o, timeout, range_atom_v, K{"a"}, K{"c"},
                              std::uint64_t{10}),
                       entries{{"a", 1}, {"b", 2}});
       },
       {}},
    };
    ops.insert(ops.end(), more.begin(), more.end());
  }
  return ops;
}

// Kills a generic owner when the test is done with it.
// (An owner left alive would keep the actor system from shutting down.)
template <class Kind>
struct owner_guard {
  owner_t<Kind> hdl;
  bool armed = true;

  explicit owner_guard(owner_t<Kind> x) : hdl(std::move(x)) {
    // nop
  }

  owner_guard(owner_guard&& other) noexcept : hdl(other.hdl) {
    other.armed = false;
  }

  owner_guard& operator=(owner_guard&&) = delete;

  ~owner_guard() {
    if (armed)
      caf::anon_send_exit(hdl, caf::exit_reason::kill);
  }
};

struct fixture : cachet_test::system_fixture {
  caf::scoped_actor self{sys};

  // A table owned by `self`, holding `initial`.
  template <class Kind>
  cachet::owned_table<K, V, Kind> make(access_mode mode, std::string name = {}) {
    auto res = cachet::make_table<K, V, Kind>(self.ptr(),
                                              {std::move(name), mode});
    REQUIRE(res);
    auto tab = std::move(*res);
    REQUIRE(tab.insert(entries(initial.begin(), initial.end())));
    return tab;
  }

  // A generic owner serving a table that holds `initial`.
  template <class Kind>
  owner_guard<Kind> spawn(cachet::blocking_caller& caller, access_mode mode,
                          std::string name = {}) {
    auto res = cachet::spawn_owner<K, V, Kind>(sys, {std::move(name), mode});
    REQUIRE(res);
    owner_guard<Kind> guard{*res};
    REQUIRE(caller.call(*res, timeout, cachet::insert_atom_v,
                        entries(initial.begin(), initial.end())));
    return guard;
  }
};

// TEMPLATE_TEST_CASE_METHOD wants a class template.
template <class Kind>
struct kind_fixture : fixture {};

// The owner's view of its table.
template <class Kind>
model contents(const cachet::owned_table<K, V, Kind>& tab) {
  auto xs = tab.to_list();
  REQUIRE(outcome(xs) == "ok");
  return as_model(*xs);
}

// The table as its owner reports it over messages.
template <class Kind>
model contents(cachet::blocking_caller& caller, const owner_t<Kind>& owner) {
  auto xs = caller.call(owner, timeout, cachet::to_list_atom_v);
  REQUIRE(outcome(xs) == "ok");
  return as_model(*xs);
}

} // namespace

TEMPLATE_TEST_CASE_METHOD(kind_fixture, "the owner may do every operation in "
                                        "every mode",
                          "[access]", hashed, ordered) {
  auto mode = GENERATE(access_mode::private_, access_mode::protected_, access_mode::public_);
  for (auto& op : direct_ops<cachet::owned_table<K, V, TestType>>()) {
    INFO(cachet::to_string(mode) << " table, " << op.name << " by the owner");
    auto tab = this->template make<TestType>(mode);
    CHECK(op.run(tab) == "ok");
    CHECK(contents(tab) == after(op.effect));
  }
}

TEMPLATE_TEST_CASE_METHOD(kind_fixture, "other threads get the rights of the "
                                        "table's mode when accessing directly",
                          "[access]", hashed, ordered) {
  auto mode = GENERATE(access_mode::private_, access_mode::protected_, access_mode::public_);
  for (auto& op : direct_ops<cachet::table<K, V, TestType>>()) {
    for (bool via_whereis : {false, true}) {
      INFO(cachet::to_string(mode)
           << " table, " << op.name << " from another thread, handle from "
           << (via_whereis ? "whereis" : "share"));
      auto owned = this->template make<TestType>(mode, "matrix");
      auto shared = owned.share();
      std::string result;
      std::thread other{[&] {
        if (via_whereis) {
          auto h = cachet::whereis<K, V, TestType>(this->sys, "matrix");
          result = h ? op.run(*h) : "whereis failed: " + outcome(h);
        } else {
          result = op.run(shared);
        }
      }};
      other.join();
      auto expected = op.public_info ? std::string{"ok"}
                                     : direct_expectation(mode, op.write);
      CHECK(result == expected);
      // A denied operation changes nothing.
      CHECK(contents(owned) == (expected == "ok" ? after(op.effect) : initial));
    }
  }
}

TEMPLATE_TEST_CASE_METHOD(kind_fixture, "messages to the owner serve every "
                                        "operation in every mode",
                          "[access]", hashed, ordered) {
  auto mode = GENERATE(access_mode::private_, access_mode::protected_, access_mode::public_);
  cachet::blocking_caller caller{this->sys};
  for (auto& op : message_ops<TestType>()) {
    INFO(cachet::to_string(mode) << " table, " << op.name << " via messages");
    auto owner = this->template spawn<TestType>(caller, mode);
    CHECK(op.run(caller, owner.hdl) == "ok");
    CHECK(contents<TestType>(caller, owner.hdl) == after(op.effect));
  }
}

TEST_CASE_METHOD(fixture, "actors reach a private table through its owner "
                          "only",
                 "[access]") {
  using namespace cachet;
  cachet::blocking_caller caller{sys};
  auto owner = spawn<hashed>(caller, access_mode::private_, "secret");
  auto direct = whereis<K, V>(sys, "secret");
  REQUIRE(direct);
  CHECK(outcome(direct->lookup("a")) == name(errc::access_denied));
  // A blocking actor's request.
  std::string inserted = "no response";
  self->request(owner.hdl, timeout, insert_atom_v, K{"k"}, V{7})
    .receive([&]() { inserted = "ok"; },
             [&](caf::error& err) { inserted = caf::to_string(err); });
  CHECK(inserted == "ok");
  std::string looked_up = "no response";
  self->request(owner.hdl, timeout, lookup_atom_v, K{"k"})
    .receive([&](std::optional<V> v) {
               looked_up = v ? std::to_string(*v) : "none";
             },
             [&](caf::error& err) { looked_up = caf::to_string(err); });
  CHECK(looked_up == "7");
  // An event-based actor's request.
  auto reply_to = caf::actor_cast<caf::actor>(self);
  // (Arguments go through spawn: CAF 0.17 trips UBSan on a function actor
  // spawned without any.)
  auto ask_counter = [](caf::event_based_actor* client, owner_t<hashed> hdl,
                        caf::actor reply_to) {
    client->request(hdl, timeout, update_counter_atom_v, K{"k"}, counter_op{5})
      .then([=](V n) { client->send(reply_to, n); },
            [=](caf::error& err) { client->send(reply_to, err); });
  };
  sys.spawn(ask_counter, owner.hdl, reply_to);
  std::string counted = "no response";
  self->receive([&](V n) { counted = std::to_string(n); },
                [&](caf::error& err) { counted = caf::to_string(err); });
  CHECK(counted == "12");
  // Still denied directly, and the owner saw every write.
  CHECK(outcome(direct->member("k")) == name(errc::access_denied));
  CHECK(contents<hashed>(caller, owner.hdl)
        == model{{"a", 1}, {"b", 2}, {"c", 3}, {"k", 12}});
}

TEST_CASE_METHOD(fixture, "the owner's rights go with the owned_table, not "
                          "the thread",
                 "[access]") {
  auto owned = make<hashed>(access_mode::private_);
  auto shared = owned.share();
  // The owned_table on another thread keeps full rights...
  std::string written;
  std::string read;
  std::thread other{[&] {
    written = outcome(owned.insert("t", 9));
    read = expect(owned.lookup("t"), std::optional<V>{9});
  }};
  other.join();
  CHECK(written == "ok");
  CHECK(read == "ok");
  // ...and a shared handle on the owner's thread has none.
  CHECK(outcome(shared.lookup("t")) == name(errc::access_denied));
  CHECK(outcome(shared.insert("u", 1)) == name(errc::access_denied));
  CHECK(contents(owned).size() == 4);
}

TEST_CASE_METHOD(fixture, "share and whereis give equal handles with the "
                          "mode's rights",
                 "[access]") {
  auto owned = make<hashed>(access_mode::protected_, "named");
  auto shared = owned.share();
  auto found = cachet::whereis<K, V>(sys, "named");
  REQUIRE(found);
  CHECK(*found == shared);
  CHECK(found->mode() == access_mode::protected_);
  CHECK(found->name() == "named");
  CHECK(found->owner() == self->address());
  // A copy of a handle is the same table with the same rights.
  auto copy = *found;
  CHECK(copy == shared);
  CHECK(expect(copy.lookup("a"), std::optional<V>{1}) == "ok");
  CHECK(outcome(copy.insert("a", 5)) == name(errc::access_denied));
  CHECK(contents(owned) == initial);
  // Other tables are other handles; wrong types and names are refused.
  auto other = make<hashed>(access_mode::protected_, "other");
  CHECK(other.share() != shared);
  CHECK(outcome(cachet::whereis<K, int>(sys, "named"))
        == name(errc::wrong_type));
  CHECK(outcome(cachet::whereis<K, V, ordered>(sys, "named"))
        == name(errc::wrong_type));
  CHECK(outcome(cachet::whereis<K, V>(sys, "nope"))
        == name(errc::no_such_table));
}
