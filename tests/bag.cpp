// bag and duplicate_bag tables, checked against the erlang ets
// documentation (and OTP 25's behaviour, where the text is terse): a key
// holds several objects in insertion order, distinct in a bag and repeats
// allowed in a duplicate_bag; sizes count objects; the access matrix, the
// owner's lifetime, dumps and the message protocol as for the other kinds.
#include "test_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>

namespace {

using cachet::access_mode;
using cachet::errc;
using cachet::view_t;
using cachet_test::name;
using cachet_test::direct_expectation;
using cachet_test::outcome;
using cachet_test::unwrap;

using K = std::string;
using V = int;
using entries = std::vector<std::pair<K, V>>;
using objects = std::vector<V>;
/// A bag's contents: each key's objects in insertion order.
using model = std::map<K, objects>;

using bag = cachet::bag<>;
using dbag = cachet::duplicate_bag<>;

template <class Kind>
constexpr bool dup_v = std::is_same_v<Kind, dbag>;

constexpr auto timeout = std::chrono::seconds(10);

// Every matrix test starts from this table: a key with two objects.
const model initial{{"a", {1, 2}}, {"b", {3}}};

model as_model(const entries& xs) {
  model m;
  for (auto& [k, v] : xs)
    m[k].push_back(v);
  return m;
}

template <class H>
model contents(const H& h) {
  return as_model(unwrap(h.to_list()));
}

template <class T, class U>
std::string expect(const caf::expected<T>& x, const U& want) {
  if (!x)
    return outcome(x);
  return *x == want ? "ok" : "ok, but with a wrong result";
}

template <class Kind>
struct fixture : cachet_test::owner_fixture {
  cachet::owned_table<K, V, Kind>
  filled(access_mode mode = access_mode::protected_, std::string name = {}) {
    auto t = this->template make<K, V, Kind>({std::move(name), mode});
    REQUIRE(t.insert(entries{{"a", 1}, {"a", 2}, {"b", 3}}));
    return t;
  }
};

} // namespace

TEMPLATE_TEST_CASE_METHOD(fixture, "a key holds its objects in insertion "
                                   "order",
                          "[bag]", bag, dbag) {
  auto t = this->template make<K, V, TestType>();
  REQUIRE(t.insert("k", 3));
  REQUIRE(t.insert("k", 1));
  REQUIRE(t.insert("k", 3)); // a bag keeps one {k, 3}
  REQUIRE(t.insert("k", 2));
  auto want = dup_v<TestType> ? objects{3, 1, 3, 2} : objects{3, 1, 2};
  CHECK(unwrap(t.lookup("k")) == want);
  // size counts objects, as ets:info(T, size) does.
  CHECK(unwrap(t.size()) == want.size());
  CHECK(unwrap(t.info()).size == want.size());
  CHECK(unwrap(t.info()).kind == (dup_v<TestType> ? "duplicate_bag" : "bag"));
  CHECK(unwrap(t.member("k")) == true);
  CHECK(unwrap(t.member("nope")) == false);
  CHECK(unwrap(t.lookup("nope")).empty());
  // visit shows each object, in order, and says how many.
  objects seen;
  CHECK(unwrap(t.visit("k", [&](int v) { seen.push_back(v); }))
        == want.size());
  CHECK(seen == want);
  // for_each and to_list show objects, a key's together and in order.
  entries listed = unwrap(t.to_list());
  CHECK(listed.size() == want.size());
  CHECK(as_model(listed) == model{{"k", want}});
}

TEMPLATE_TEST_CASE_METHOD(fixture, "batch inserts add every object in order",
                          "[bag]", bag, dbag) {
  auto t = this->template make<K, V, TestType>();
  REQUIRE(t.insert("a", 0));
  REQUIRE(t.insert(entries{{"a", 1}, {"b", 1}, {"a", 1}, {"a", 0}, {"b", 2}}));
  if constexpr (dup_v<TestType>) {
    CHECK(contents(t) == model{{"a", {0, 1, 1, 0}}, {"b", {1, 2}}});
    CHECK(unwrap(t.size()) == 6);
  } else {
    CHECK(contents(t) == model{{"a", {0, 1}}, {"b", {1, 2}}});
    CHECK(unwrap(t.size()) == 4);
  }
  // insert_new looks at keys: one present key and nothing is inserted.
  CHECK(outcome(t.insert_new(entries{{"c", 1}, {"a", 9}}))
        == name(errc::key_exists));
  CHECK(unwrap(t.member("c")) == false);
  REQUIRE(t.insert_new(entries{{"c", 1}, {"c", 1}, {"d", 2}}));
  CHECK(unwrap(t.lookup("c")) == (dup_v<TestType> ? objects{1, 1} : objects{1}));
  CHECK(outcome(t.insert_new("a", 5)) == name(errc::key_exists));
  REQUIRE(t.insert_new("e", 5));
  CHECK(unwrap(t.lookup("e")) == objects{5});
}

TEMPLATE_TEST_CASE_METHOD(fixture, "erase, erase_object and take", "[bag]",
                          bag, dbag) {
  auto t = this->template make<K, V, TestType>();
  REQUIRE(t.insert(entries{{"k", 1}, {"k", 2}, {"k", 1}, {"k", 3}, {"j", 1}}));
  // erase_object removes that object: every copy in a duplicate_bag.
  CHECK(unwrap(t.erase_object("k", 1)) == (dup_v<TestType> ? 2u : 1u));
  CHECK(unwrap(t.lookup("k")) == objects{2, 3});
  CHECK(unwrap(t.erase_object("k", 7)) == 0);
  CHECK(unwrap(t.erase_object("nope", 1)) == 0);
  // Removing a key's last object removes the key.
  CHECK(unwrap(t.erase_object("j", 1)) == 1);
  CHECK(unwrap(t.member("j")) == false);
  // take returns the key's objects in order and removes the key.
  CHECK(unwrap(t.take("k")) == objects{2, 3});
  CHECK(unwrap(t.take("k")).empty());
  REQUIRE(t.insert(entries{{"m", 1}, {"m", 2}}));
  CHECK(unwrap(t.erase("m")) == 2); // erase says how many objects went
  CHECK(unwrap(t.erase("m")) == 0);
  CHECK(unwrap(t.size()) == 0);
  // Lookups by std::string_view, as on a set.
  REQUIRE(t.insert(std::string(64, 'x'), 1));
  CHECK(unwrap(t.lookup(std::string_view{std::string(64, 'x')})) == objects{1});
}

TEMPLATE_TEST_CASE_METHOD(fixture, "selects see every object", "[bag]", bag,
                          dbag) {
  auto t = this->template make<K, V, TestType>();
  entries xs;
  for (int k = 0; k < 200; ++k)
    for (int v = 0; v < 4; ++v)
      xs.emplace_back("k" + std::to_string(k), v);
  REQUIRE(t.insert(xs));
  CHECK(unwrap(t.size()) == 800);
  auto odd = [](std::string_view, int v) { return v % 2 == 1; };
  CHECK(unwrap(t.select_count(odd)) == 400);
  auto pairs = unwrap(t.select([](std::string_view k, int v)
                                 -> std::optional<std::pair<K, V>> {
    if (v == 3)
      return std::pair<K, V>{K{k}, v};
    return std::nullopt;
  }));
  CHECK(pairs.size() == 200);
  // Paged: keys with several objects may split across pages; every object
  // comes exactly once.
  auto page = unwrap(t.select(
    [](std::string_view k, int v) -> std::optional<std::pair<K, V>> {
      return std::pair<K, V>{K{k}, v};
    },
    7));
  entries all;
  while (!page.items.empty()) {
    CHECK(page.items.size() <= 7);
    all.insert(all.end(), page.items.begin(), page.items.end());
    page = unwrap(t.select(std::move(page.next)));
  }
  std::sort(all.begin(), all.end());
  std::sort(xs.begin(), xs.end());
  CHECK(all == xs);
  // select_delete removes the matching objects and keeps the key's others.
  CHECK(unwrap(t.select_delete(odd)) == 400);
  CHECK(unwrap(t.lookup("k7")) == objects{0, 2});
  CHECK(unwrap(t.size()) == 400);
  CHECK(unwrap(t.select_delete([](std::string_view, int) { return true; }))
        == 400);
  CHECK(unwrap(t.first()) == std::nullopt);
}

TEMPLATE_TEST_CASE_METHOD(fixture, "cursors walk a bag's keys", "[bag]", bag,
                          dbag) {
  auto t = this->template make<K, V, TestType>();
  for (int k = 0; k < 100; ++k)
    REQUIRE(t.insert(entries{{"k" + std::to_string(k), 1},
                             {"k" + std::to_string(k), 2}}));
  std::vector<K> keys;
  for (auto k = unwrap(t.first()); k; k = unwrap(t.next(*k)))
    keys.push_back(*k);
  CHECK(keys.size() == 100); // keys, not objects
  CHECK(outcome(t.next("nope")) == name(errc::no_such_key));
  std::size_t shown = 0;
  std::uint64_t cursor = 0;
  do
    cursor = unwrap(t.scan(cursor, 10, [&](std::string_view, int) { ++shown; }));
  while (cursor != 0);
  CHECK(shown == 200); // scan shows objects
}

TEMPLATE_TEST_CASE_METHOD(fixture, "a bag dump loads back in order, "
                                   "duplicates and all",
                          "[bag]", bag, dbag) {
  auto dir = std::filesystem::temp_directory_path()
             / ("cachet-bag-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "t.dump").string();
  auto t = this->template make<K, V, TestType>();
  REQUIRE(t.insert(entries{{"k", 3}, {"k", 1}, {"k", 3}, {"j", 2}}));
  CHECK(unwrap(cachet::tab2file(t, path)) == unwrap(t.size()));
  auto u = this->template make<K, V, TestType>();
  CHECK(unwrap(cachet::file2tab(u, path)) == unwrap(t.size()));
  CHECK(contents(u) == contents(t));
  // A bag's dump is not a set's, nor the other bag kind's.
  auto s = this->template make<K, V>();
  CHECK(outcome(cachet::file2tab(s, path)) == name(errc::bad_file));
  using other = std::conditional_t<dup_v<TestType>, bag, dbag>;
  auto o = this->template make<K, V, other>();
  CHECK(outcome(cachet::file2tab(o, path)) == name(errc::bad_file));
  CHECK(unwrap(o.size()) == 0);
  std::filesystem::remove_all(dir);
}

TEMPLATE_TEST_CASE_METHOD(fixture, "a bag dies with its owner", "[bag]", bag,
                          dbag) {
  auto t = this->filled(access_mode::public_, "doomed");
  auto shared = t.share();
  { auto gone = std::move(t); }
  CHECK(outcome(shared.lookup("a")) == name(errc::table_gone));
  CHECK(outcome(shared.insert("a", 1)) == name(errc::table_gone));
  CHECK(outcome(shared.erase_object("a", 1)) == name(errc::table_gone));
  CHECK(outcome(shared.take("a")) == name(errc::table_gone));
  CHECK(outcome(shared.size()) == name(errc::table_gone));
  CHECK(outcome(shared.select_count([](std::string_view, int) {
          return true;
        }))
        == name(errc::table_gone));
  CHECK(outcome(shared.info()) == name(errc::table_gone));
  CHECK(outcome(cachet::whereis<K, V, TestType>(this->sys, "doomed"))
        == name(errc::no_such_table));
}

namespace {

// One direct operation on a bag handle H: whether it writes, a run that
// answers "ok" only for the right result, its effect on the contents.
template <class H>
struct bag_op {
  std::string name;
  bool write;
  std::function<std::string(H&)> run;
  std::function<void(model&)> effect;
};

template <class H>
std::vector<bag_op<H>> bag_ops() {
  constexpr bool dup = dup_v<typename H::kind_type>;
  return {
    {"insert", true, [](H& h) { return outcome(h.insert("a", 1)); },
     [](model& m) {
       if (dup)
         m["a"].push_back(1);
     }},
    {"insert batch", true,
     [](H& h) { return outcome(h.insert(entries{{"c", 4}, {"a", 5}})); },
     [](model& m) {
       m["c"].push_back(4);
       m["a"].push_back(5);
     }},
    {"insert_new", true, [](H& h) { return outcome(h.insert_new("c", 4)); },
     [](model& m) { m["c"] = {4}; }},
    {"insert_new batch", true,
     [](H& h) { return outcome(h.insert_new(entries{{"c", 4}, {"d", 5}})); },
     [](model& m) {
       m["c"] = {4};
       m["d"] = {5};
     }},
    {"lookup", false, [](H& h) { return expect(h.lookup("a"), objects{1, 2}); },
     {}},
    {"visit", false,
     [](H& h) {
       objects seen;
       auto res = h.visit("a", [&](int v) { seen.push_back(v); });
       if (res && seen != objects{1, 2})
         return std::string{"ok, but it showed the wrong objects"};
       return expect(res, std::size_t{2});
     },
     {}},
    {"member", false, [](H& h) { return expect(h.member("b"), true); }, {}},
    {"erase", true, [](H& h) { return expect(h.erase("a"), std::size_t{2}); },
     [](model& m) { m.erase("a"); }},
    {"erase_object", true,
     [](H& h) { return expect(h.erase_object("a", 1), std::size_t{1}); },
     [](model& m) { m["a"] = {2}; }},
    {"take", true, [](H& h) { return expect(h.take("a"), objects{1, 2}); },
     [](model& m) { m.erase("a"); }},
    {"size", false, [](H& h) { return expect(h.size(), std::size_t{3}); }, {}},
    {"clear", true, [](H& h) { return outcome(h.clear()); },
     [](model& m) { m.clear(); }},
    {"to_list", false,
     [](H& h) {
       auto xs = h.to_list();
       if (!xs)
         return outcome(xs);
       return as_model(*xs) == initial ? std::string{"ok"}
                                       : std::string{"ok, but wrong"};
     },
     {}},
    {"select", false,
     [](H& h) {
       auto res = h.select([](std::string_view, int v) -> std::optional<int> {
         if (v >= 2)
           return v;
         return std::nullopt;
       });
       if (res) // in walk order: which key comes first is the hash's choice
         std::sort(res->begin(), res->end());
       return expect(res, objects{2, 3});
     },
     {}},
    {"select_count", false,
     [](H& h) {
       return expect(h.select_count([](std::string_view, int v) {
                       return v >= 2;
                     }),
                     std::size_t{2});
     },
     {}},
    {"select_delete", true,
     [](H& h) {
       return expect(h.select_delete([](std::string_view, int v) {
                       return v >= 2;
                     }),
                     std::size_t{2});
     },
     [](model& m) {
       m["a"] = {1};
       m.erase("b");
     }},
    {"first", false,
     [](H& h) {
       auto k = h.first();
       if (k && !(*k == std::optional<K>{"a"} || *k == std::optional<K>{"b"}))
         return std::string{"ok, but with a wrong key"};
       return outcome(k);
     },
     {}},
  };
}

model after(const std::function<void(model&)>& effect) {
  auto m = initial;
  if (effect)
    effect(m);
  return m;
}

} // namespace

TEMPLATE_TEST_CASE_METHOD(fixture, "the access matrix holds for bags",
                          "[bag][access]", bag, dbag) {
  auto mode = GENERATE(access_mode::private_, access_mode::protected_,
                       access_mode::public_);
  for (auto& op : bag_ops<cachet::owned_table<K, V, TestType>>()) {
    INFO(cachet::to_string(mode) << " bag, " << op.name << " by the owner");
    auto t = this->filled(mode);
    CHECK(op.run(t) == "ok");
    CHECK(contents(t) == after(op.effect));
  }
  for (auto& op : bag_ops<cachet::table<K, V, TestType>>()) {
    INFO(cachet::to_string(mode) << " bag, " << op.name
                                 << " from another thread");
    auto t = this->filled(mode);
    auto shared = t.share();
    std::string result;
    std::thread other{[&] { result = op.run(shared); }};
    other.join();
    auto want = direct_expectation(mode, op.write);
    CHECK(result == want);
    CHECK(contents(t) == (want == "ok" ? after(op.effect) : initial));
  }
}

TEMPLATE_TEST_CASE_METHOD(fixture, "a bag's owner serves it over messages in "
                                   "every mode",
                          "[bag][access]", bag, dbag) {
  using namespace cachet;
  auto mode = GENERATE(access_mode::private_, access_mode::protected_,
                       access_mode::public_);
  blocking_caller c{this->sys};
  auto owner = unwrap(spawn_owner<K, V, TestType>(this->sys, {"", mode}));
  REQUIRE(c.call(owner, timeout, insert_atom_v,
                 entries{{"a", 1}, {"a", 2}, {"b", 3}}));
  REQUIRE(c.call(owner, timeout, insert_atom_v, K{"a"}, V{1}));
  auto want_a = dup_v<TestType> ? objects{1, 2, 1} : objects{1, 2};
  CHECK(unwrap(c.call(owner, timeout, lookup_atom_v, K{"a"})) == want_a);
  CHECK(unwrap(c.call(owner, timeout, size_atom_v)) == want_a.size() + 1);
  CHECK(unwrap(c.call(owner, timeout, erase_object_atom_v, K{"a"}, V{1}))
        == want_a.size() - 1);
  CHECK(unwrap(c.call(owner, timeout, member_atom_v, K{"b"})) == true);
  match<K, V> big{[](std::string_view, int v) { return v >= 2; }};
  CHECK(unwrap(c.call(owner, timeout, select_count_atom_v, big)) == 2);
  CHECK(unwrap(c.call(owner, timeout, select_atom_v, big)).size() == 2);
  auto page = unwrap(c.call(owner, timeout, select_atom_v, big,
                            std::uint64_t{1}));
  CHECK(page.items.size() == 1);
  page = unwrap(c.call(owner, timeout, select_atom_v, std::move(page.next)));
  CHECK(page.items.size() == 1);
  CHECK(unwrap(c.call(owner, timeout, select_delete_atom_v, big)) == 2);
  CHECK(unwrap(c.call(owner, timeout, take_atom_v, K{"a"})).empty());
  REQUIRE(c.call(owner, timeout, insert_new_atom_v, K{"z"}, V{9}));
  CHECK(outcome(c.call(owner, timeout, insert_new_atom_v, K{"z"}, V{9}))
        == name(errc::key_exists));
  CHECK(unwrap(c.call(owner, timeout, erase_atom_v, K{"z"})) == 1);
  CHECK(unwrap(c.call(owner, timeout, to_list_atom_v)).empty());
  caf::anon_send_exit(owner, caf::exit_reason::kill);
}
