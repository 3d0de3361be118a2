// `ordered_set` tables: every operation on the skip-list engine, key order
// (first, last, next, prev, range, walks), custom Compare, and errors once
// the owner died.
#include "table_checks.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <caf/all.hpp>

namespace {

using cachet::access_mode;
using cachet::counter_op;
using cachet::errc;

using ordered = cachet::ordered_set<>;
using descending = cachet::ordered_set<std::greater<>>;

constexpr auto i64_max = std::numeric_limits<std::int64_t>::max();
constexpr auto i64_min = std::numeric_limits<std::int64_t>::min();

using cachet_test::name;
using cachet_test::outcome;
using cachet_test::unwrap;
using cachet_test::check_every_op_fails_with;
using cachet_test::check_narrow_counter;
using cachet_test::counted;
using cachet_test::profile;

// Tables default to ordered_set here.
struct fixture : cachet_test::owner_fixture {
  template <class K, class V, class Kind = ordered>
  cachet::owned_table<K, V, Kind> make(cachet::table_options opts = {}) {
    return owner_fixture::make<K, V, Kind>(std::move(opts));
  }
};

template <class H>
auto keys_of(const H& h) {
  std::vector<typename H::key_type> out;
  REQUIRE(h.for_each([&](const auto& k, const auto&) { out.emplace_back(k); }));
  return out;
}

std::vector<int> iota(int first, int last) {
  std::vector<int> out(static_cast<std::size_t>(last - first));
  std::iota(out.begin(), out.end(), first);
  return out;
}

template <class V>
std::vector<int> keys(const std::vector<std::pair<int, V>>& xs) {
  std::vector<int> out;
  for (auto& x : xs)
    out.push_back(x.first);
  return out;
}


// Case-insensitive order: "b" and "B" are one key.
struct ci_less {
  bool operator()(const std::string& x, const std::string& y) const {
    auto less = [](unsigned char a, unsigned char b) {
      return std::tolower(a) < std::tolower(b);
    };
    return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end(),
                                        less);
  }
};


} // namespace

// -- insert, insert_new, lookup ----------------------------------------------

TEST_CASE_METHOD(fixture, "ordered insert stores a value and replaces an "
                          "existing one",
                 "[ordered]") {
  auto t = make<int, std::string>();
  CHECK(unwrap(t.lookup(1)) == std::nullopt);
  CHECK(outcome(t.insert(2, "two")) == "ok");
  CHECK(outcome(t.insert(1, "one")) == "ok");
  CHECK(unwrap(t.lookup(1)) == "one");
  CHECK(outcome(t.insert(1, "uno")) == "ok");
  CHECK(unwrap(t.lookup(1)) == "uno");
  CHECK(unwrap(t.lookup(2)) == "two");
  CHECK(unwrap(t.size()) == 2);
  CHECK(unwrap(t.lookup(3)) == std::nullopt);
  CHECK(keys_of(t) == std::vector<int>{1, 2});
}

TEST_CASE_METHOD(fixture, "ordered batch insert keeps key order and the last "
                          "duplicate wins",
                 "[ordered]") {
  auto t = make<std::string, int>();
  REQUIRE(t.insert("m", 0));
  CHECK(outcome(t.insert({{"z", 1}, {"a", 2}, {"m", 3}, {"a", 4}, {"q", 5}}))
        == "ok");
  CHECK(unwrap(t.size()) == 4);
  CHECK(unwrap(t.to_list())
        == std::vector<std::pair<std::string, int>>{
          {"a", 4}, {"m", 3}, {"q", 5}, {"z", 1}});
  CHECK(outcome(t.insert(std::vector<std::pair<std::string, int>>{})) == "ok");
  CHECK(unwrap(t.size()) == 4);
  // A large batch in descending order comes out ascending.
  auto n = make<int, int>();
  std::vector<std::pair<int, int>> batch;
  for (int i = 5000; i-- > 0;)
    batch.emplace_back(i, -i);
  CHECK(outcome(n.insert(batch)) == "ok");
  CHECK(unwrap(n.size()) == 5000);
  CHECK(keys_of(n) == iota(0, 5000));
  CHECK(unwrap(n.lookup(4321)) == -4321);
}

TEST_CASE_METHOD(fixture, "ordered insert_new refuses a present key",
                 "[ordered]") {
  auto t = make<std::string, int>();
  CHECK(outcome(t.insert_new("a", 1)) == "ok");
  CHECK(outcome(t.insert_new("a", 2)) == name(errc::key_exists));
  CHECK(unwrap(t.lookup("a")) == 1);
  CHECK(unwrap(t.size()) == 1);
  REQUIRE(unwrap(t.erase("a")));
  CHECK(outcome(t.insert_new("a", 3)) == "ok");
  CHECK(unwrap(t.lookup("a")) == 3);
}

TEST_CASE_METHOD(fixture, "ordered batch insert_new inserts all or nothing",
                 "[ordered]") {
  using entries = std::vector<std::pair<std::string, int>>;
  auto t = make<std::string, int>();
  REQUIRE(t.insert("taken", 0));
  SECTION("no key present: every entry is inserted") {
    CHECK(outcome(t.insert_new(entries{{"c", 3}, {"a", 1}, {"b", 2}})) == "ok");
    CHECK(unwrap(t.to_list())
          == entries{{"a", 1}, {"b", 2}, {"c", 3}, {"taken", 0}});
  }
  SECTION("one key present: nothing is inserted") {
    for (auto batch : {entries{{"taken", 9}, {"a", 1}, {"b", 2}},
                       entries{{"a", 1}, {"taken", 9}, {"b", 2}},
                       entries{{"a", 1}, {"b", 2}, {"taken", 9}}}) {
      CHECK(outcome(t.insert_new(batch)) == name(errc::key_exists));
      CHECK(unwrap(t.to_list()) == entries{{"taken", 0}});
      CHECK(unwrap(t.first()) == "taken");
    }
  }
  SECTION("an empty batch succeeds") {
    CHECK(outcome(t.insert_new(entries{})) == "ok");
    CHECK(unwrap(t.size()) == 1);
  }
}

TEST_CASE_METHOD(fixture, "ordered visit shows the value in place and member "
                          "tells presence",
                 "[ordered]") {
  auto t = make<int, counted>();
  REQUIRE(t.insert(1, counted{42}));
  REQUIRE(t.insert(3, counted{43}));
  counted::copies = 0;
  int seen = 0;
  int calls = 0;
  CHECK(unwrap(t.visit(1, [&](const counted& v) {
          seen = v.value;
          ++calls;
        }))
        == true);
  CHECK(seen == 42);
  CHECK(calls == 1);
  CHECK(counted::copies == 0);
  // Absent keys between, before and after present ones.
  for (int k : {0, 2, 4})
    CHECK(unwrap(t.visit(k, [&](const counted&) { ++calls; })) == false);
  CHECK(calls == 1);
  CHECK(unwrap(t.member(3)) == true);
  CHECK(unwrap(t.member(2)) == false);
}

// -- erase, take -------------------------------------------------------------

TEST_CASE_METHOD(fixture, "ordered erase and take remove keys anywhere in the "
                          "order",
                 "[ordered]") {
  auto t = make<int, std::string>();
  REQUIRE(t.insert({{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}}));
  CHECK(unwrap(t.erase(1)) == true); // first
  CHECK(unwrap(t.erase(1)) == false);
  CHECK(unwrap(t.erase(99)) == false);
  CHECK(unwrap(t.first()) == 2);
  CHECK(unwrap(t.take(5)) == "e"); // last
  CHECK(unwrap(t.take(5)) == std::nullopt);
  CHECK(unwrap(t.last()) == 4);
  CHECK(unwrap(t.erase(3)) == true); // middle
  CHECK(unwrap(t.next(2)) == 4);
  CHECK(unwrap(t.prev(4)) == 2);
  CHECK(unwrap(t.size()) == 2);
  CHECK(keys_of(t) == std::vector<int>{2, 4});
  CHECK(unwrap(t.take(2)) == "b");
  CHECK(unwrap(t.take(4)) == "d");
  CHECK(unwrap(t.size()) == 0);
  CHECK(unwrap(t.first()) == std::nullopt);
}

// -- update_counter ----------------------------------------------------------

TEST_CASE_METHOD(fixture, "ordered update_counter adds with ETS thresholds",
                 "[ordered]") {
  auto t = make<std::string, std::int64_t>();
  REQUIRE(t.insert("n", 10));
  CHECK(unwrap(t.update_counter("n")) == 11);
  CHECK(unwrap(t.update_counter("n", {5})) == 16);
  CHECK(unwrap(t.update_counter("n", {-20})) == -4);
  CHECK(unwrap(t.lookup("n")) == -4);
  struct example {
    std::int64_t start;
    counter_op op;
    std::int64_t result;
  };
  std::vector<example> examples{
    {15, {5, 20, 0}, 20},   {20, {5, 20, 0}, 0},
    {10, {-5, 5, 100}, 5},  {10, {-6, 5, 100}, 100},
    {10, {0, 5, -1}, -1},   {i64_max, {1, i64_max, 7}, 7},
    {i64_min, {-1, i64_min, 7}, 7},
  };
  for (auto& ex : examples) {
    INFO("start " << ex.start << ", incr " << ex.op.incr << ", threshold "
                  << *ex.op.threshold << ", reset " << ex.op.reset);
    REQUIRE(t.insert("n", ex.start));
    CHECK(unwrap(t.update_counter("n", ex.op)) == ex.result);
    CHECK(unwrap(t.lookup("n")) == ex.result);
  }
  CHECK(unwrap(t.size()) == 1);
}

TEST_CASE_METHOD(fixture, "ordered update_counter handles defaults and "
                          "missing keys",
                 "[ordered]") {
  auto t = make<std::string, std::int64_t>();
  CHECK(outcome(t.update_counter("missing")) == name(errc::no_such_key));
  CHECK(unwrap(t.member("missing")) == false);
  CHECK(unwrap(t.update_counter("hits", {1}, 100)) == 101);
  CHECK(unwrap(t.update_counter("hits", {1}, 0)) == 102); // default ignored
  CHECK(unwrap(t.update_counter("capped", {1, 9, 0}, 9)) == 0);
  CHECK(outcome(t.update_counter("big", {1}, i64_max))
        == name(errc::counter_overflow));
  CHECK(keys_of(t) == std::vector<std::string>{"capped", "hits"});
  auto s = make<std::string, std::string>();
  CHECK(unwrap(s.update_counter("visits", {1}, "41")) == 42);
  CHECK(unwrap(s.lookup("visits")) == "42");
  CHECK(outcome(s.update_counter("bad", {1}, "x1"))
        == name(errc::not_a_counter));
  CHECK(unwrap(s.member("bad")) == false);
}

TEST_CASE_METHOD(fixture, "ordered update_counter works on decimal strings "
                          "and refuses others",
                 "[ordered]") {
  auto t = make<int, std::string>();
  REQUIRE(t.insert(1, "41"));
  CHECK(unwrap(t.update_counter(1)) == 42);
  CHECK(unwrap(t.lookup(1)) == "42");
  CHECK(unwrap(t.update_counter(1, {-50})) == -8);
  CHECK(unwrap(t.lookup(1)) == "-8");
  CHECK(unwrap(t.update_counter(1, {8})) == 0);
  CHECK(unwrap(t.lookup(1)) == "0");
  for (std::string bad : {"abc", "01", "-0", "+1", " 1", "1 ", "", "-", "1.5",
                          "9223372036854775808"}) {
    INFO("value: '" << bad << "'");
    REQUIRE(t.insert(1, bad));
    CHECK(outcome(t.update_counter(1)) == name(errc::not_a_counter));
    CHECK(unwrap(t.lookup(1)) == bad);
  }
  REQUIRE(t.insert(1, "9223372036854775807"));
  CHECK(outcome(t.update_counter(1)) == name(errc::counter_overflow));
  CHECK(unwrap(t.lookup(1)) == "9223372036854775807");
}

TEST_CASE_METHOD(fixture, "ordered update_counter reports overflow and "
                          "non-counters without changes",
                 "[ordered]") {
  auto t = make<int, std::int64_t>();
  REQUIRE(t.insert(1, i64_max));
  CHECK(outcome(t.update_counter(1)) == name(errc::counter_overflow));
  CHECK(unwrap(t.lookup(1)) == i64_max);
  REQUIRE(t.insert(1, i64_min));
  CHECK(outcome(t.update_counter(1, {-1})) == name(errc::counter_overflow));
  CHECK(unwrap(t.lookup(1)) == i64_min);
  check_narrow_counter<std::int8_t>([&] { return make<int, std::int8_t>(); });
  check_narrow_counter<std::uint8_t>([&] { return make<int, std::uint8_t>(); });
  check_narrow_counter<std::int16_t>([&] { return make<int, std::int16_t>(); });
  check_narrow_counter<std::uint32_t>([&] { return make<int, std::uint32_t>(); });
  auto v = make<int, std::vector<int>>();
  REQUIRE(v.insert(1, std::vector<int>{1, 2}));
  CHECK(outcome(v.update_counter(1)) == name(errc::not_a_counter));
  CHECK(unwrap(v.lookup(1)) == std::vector<int>{1, 2});
  CHECK(outcome(v.update_counter(2, {1}, std::vector<int>{}))
        == name(errc::not_a_counter));
  CHECK(unwrap(v.size()) == 1);
}

// -- update by function ------------------------------------------------------

TEST_CASE_METHOD(fixture, "ordered update applies a function and survives a "
                          "throwing one",
                 "[ordered]") {
  auto t = make<std::string, profile>();
  REQUIRE(t.insert("ann", profile{"Ann", {1}}));
  REQUIRE(t.insert("cid", profile{"Cid", {}}));
  CHECK(unwrap(t.update("ann", [](profile& p) { p.scores.push_back(2); }))
        == true);
  CHECK(unwrap(t.lookup("ann")) == profile{"Ann", {1, 2}});
  bool called = false;
  CHECK(unwrap(t.update("bob", [&](profile&) { called = true; })) == false);
  CHECK_FALSE(called);
  CHECK(unwrap(t.member("bob")) == false);
  CHECK_THROWS_AS(t.update("ann",
                           [](profile& p) {
                             p.name = "changed";
                             throw std::runtime_error("refused");
                           }),
                  std::runtime_error);
  CHECK(unwrap(t.lookup("ann")) == profile{"Ann", {1, 2}});
  // The write lock was released and the order is intact.
  CHECK(unwrap(t.update("cid", [](profile& p) { p.name = "Cyd"; })) == true);
  CHECK(outcome(t.insert("bob", profile{"Bob", {}})) == "ok");
  CHECK(keys_of(t) == std::vector<std::string>{"ann", "bob", "cid"});
}

// -- size, clear, walks ------------------------------------------------------

TEST_CASE_METHOD(fixture, "ordered clear empties the table and it stays "
                          "usable",
                 "[ordered]") {
  auto t = make<int, std::string>();
  CHECK(outcome(t.clear()) == "ok");
  for (int i = 0; i < 1000; ++i)
    REQUIRE(t.insert(i, std::string(40, 'x')));
  CHECK(outcome(t.clear()) == "ok");
  CHECK(unwrap(t.size()) == 0);
  CHECK(unwrap(t.first()) == std::nullopt);
  CHECK(unwrap(t.last()) == std::nullopt);
  CHECK(unwrap(t.next(5)) == std::nullopt);
  CHECK(unwrap(t.range(0, 1000)).empty());
  CHECK(unwrap(t.lookup(500)) == std::nullopt);
  REQUIRE(t.insert(7, "seven"));
  REQUIRE(t.insert(3, "three"));
  CHECK(unwrap(t.size()) == 2);
  CHECK(unwrap(t.first()) == 3);
  CHECK(unwrap(t.last()) == 7);
}

TEST_CASE_METHOD(fixture, "ordered walks visit every entry once in key order",
                 "[ordered]") {
  auto t = make<int, std::int64_t>();
  SECTION("empty table") {
    int calls = 0;
    CHECK(outcome(t.for_each([&](const int&, const std::int64_t&) { ++calls; }))
          == "ok");
    CHECK(calls == 0);
    CHECK(unwrap(t.fold(7, [](int acc, const int&, const std::int64_t&) {
            return acc + 1;
          }))
          == 7);
    CHECK(unwrap(t.to_list()).empty());
  }
  SECTION("filled out of order") {
    std::vector<int> ks = iota(0, 300);
    std::shuffle(ks.begin(), ks.end(), std::mt19937{42});
    for (int k : ks)
      REQUIRE(t.insert(k, k * 10));
    REQUIRE(unwrap(t.erase(150)));
    std::vector<int> seen;
    CHECK(outcome(t.for_each([&](const int& k, const std::int64_t& v) {
            CHECK(v == k * 10);
            seen.push_back(k);
          }))
          == "ok");
    auto expected = iota(0, 300);
    expected.erase(expected.begin() + 150);
    CHECK(seen == expected);
    CHECK(unwrap(t.fold(std::vector<int>{},
                        [](std::vector<int> acc, const int& k,
                           const std::int64_t&) {
                          acc.push_back(k);
                          return acc;
                        }))
          == expected);
    CHECK(keys(unwrap(t.to_list())) == expected);
    CHECK(unwrap(t.size()) == 299);
  }
}

// -- first, last, next, prev, range ------------------------------------------

TEST_CASE_METHOD(fixture, "first last next and prev navigate by key",
                 "[ordered]") {
  auto t = make<int, std::string>();
  // An empty table has no first, last, next or prev.
  CHECK(unwrap(t.first()) == std::nullopt);
  CHECK(unwrap(t.last()) == std::nullopt);
  CHECK(unwrap(t.next(0)) == std::nullopt);
  CHECK(unwrap(t.prev(0)) == std::nullopt);
  REQUIRE(t.insert({{20, "b"}, {10, "a"}, {30, "c"}}));
  CHECK(unwrap(t.first()) == 10);
  CHECK(unwrap(t.last()) == 30);
  struct step {
    int key;
    std::optional<int> next;
    std::optional<int> prev;
  };
  // Present and absent keys, inside and outside the range of keys.
  for (auto [key, next, prev] : {step{5, 10, std::nullopt},
                                 step{10, 20, std::nullopt},
                                 step{15, 20, 10},
                                 step{20, 30, 10},
                                 step{25, 30, 20},
                                 step{30, std::nullopt, 20},
                                 step{35, std::nullopt, 30}}) {
    INFO("key " << key);
    CHECK(unwrap(t.next(key)) == next);
    CHECK(unwrap(t.prev(key)) == prev);
  }
  // A single entry is both first and last.
  auto one = make<int, int>();
  REQUIRE(one.insert(1, 1));
  CHECK(unwrap(one.first()) == 1);
  CHECK(unwrap(one.last()) == 1);
  CHECK(unwrap(one.next(1)) == std::nullopt);
  CHECK(unwrap(one.prev(1)) == std::nullopt);
}

TEST_CASE_METHOD(fixture, "range returns the half-open interval in order up "
                          "to a limit",
                 "[ordered]") {
  auto t = make<int, std::string>();
  for (int i = 10; i >= 1; --i)
    REQUIRE(t.insert(i, std::to_string(i)));
  auto r = unwrap(t.range(3, 7));
  CHECK(keys(r) == std::vector<int>{3, 4, 5, 6}); // hi excluded
  REQUIRE(r.size() == 4);
  CHECK(r[0].second == "3");
  CHECK(keys(unwrap(t.range(0, 3))) == std::vector<int>{1, 2});     // lo absent
  CHECK(keys(unwrap(t.range(8, 99))) == std::vector<int>{8, 9, 10}); // hi absent
  CHECK(keys(unwrap(t.range(1, 11))) == iota(1, 11));
  CHECK(unwrap(t.range(5, 5)).empty()); // lo == hi
  CHECK(unwrap(t.range(7, 3)).empty()); // lo > hi
  CHECK(unwrap(t.range(11, 20)).empty());
  CHECK(unwrap(t.range(-5, 1)).empty());
  CHECK(keys(unwrap(t.range(3, 7, 2))) == std::vector<int>{3, 4});
  CHECK(keys(unwrap(t.range(3, 7, 4))) == std::vector<int>{3, 4, 5, 6});
  CHECK(keys(unwrap(t.range(3, 7, 100))) == std::vector<int>{3, 4, 5, 6});
  CHECK(unwrap(t.range(3, 7, 0)).empty());
  // Erased keys leave the range.
  REQUIRE(unwrap(t.erase(4)));
  CHECK(keys(unwrap(t.range(3, 7))) == std::vector<int>{3, 5, 6});
}

// -- size and order at scale -------------------------------------------------

TEST_CASE_METHOD(fixture, "an ordered table of many keys keeps them all in "
                          "order",
                 "[ordered]") {
  constexpr int n = 100'000;
  auto ks = iota(0, n);
  std::shuffle(ks.begin(), ks.end(), std::mt19937{7});
  auto t = make<int, int>();
  for (int k : ks)
    REQUIRE(t.insert(k, 2 * k));
  CHECK(unwrap(t.size()) == n);
  int missing = 0;
  for (int i = 0; i < n; ++i)
    if (unwrap(t.lookup(i)) != 2 * i)
      ++missing;
  CHECK(missing == 0);
  CHECK(keys_of(t) == iota(0, n));
  CHECK(unwrap(t.first()) == 0);
  CHECK(unwrap(t.last()) == n - 1);
  // Erase the even keys; then next() walks the odd ones.
  for (int i = 0; i < n; i += 2)
    REQUIRE(unwrap(t.erase(i)));
  CHECK(unwrap(t.size()) == n / 2);
  int walked = 0;
  int wrong = 0;
  for (auto k = unwrap(t.first()); k; k = unwrap(t.next(*k))) {
    if (*k != 2 * walked + 1)
      ++wrong;
    ++walked;
  }
  CHECK(walked == n / 2);
  CHECK(wrong == 0);
  CHECK(unwrap(t.prev(n)) == n - 1);
  CHECK(keys(unwrap(t.range(1000, 1010))) == std::vector<int>{1001, 1003, 1005,
                                                              1007, 1009});
}

// -- custom Compare and value types ------------------------------------------

TEST_CASE_METHOD(fixture, "std::greater orders the table descending",
                 "[ordered]") {
  auto t = make<int, int, descending>();
  for (int i = 1; i <= 10; ++i)
    REQUIRE(t.insert(i, i));
  CHECK(keys_of(t) == std::vector<int>{10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  CHECK(unwrap(t.first()) == 10);
  CHECK(unwrap(t.last()) == 1);
  // next and prev follow the table's order, not <.
  CHECK(unwrap(t.next(5)) == 4);
  CHECK(unwrap(t.prev(5)) == 6);
  CHECK(unwrap(t.next(1)) == std::nullopt);
  CHECK(unwrap(t.prev(10)) == std::nullopt);
  CHECK(unwrap(t.next(100)) == 10);
  // [lo, hi) in the table's order: lo comes first.
  CHECK(keys(unwrap(t.range(8, 3))) == std::vector<int>{8, 7, 6, 5, 4});
  CHECK(unwrap(t.range(3, 8)).empty());
  CHECK(unwrap(t.erase(10)) == true);
  CHECK(unwrap(t.first()) == 9);
  CHECK(outcome(t.insert_new(9, 0)) == name(errc::key_exists));
  CHECK(unwrap(t.update_counter(9, {1})) == 10);
}

TEST_CASE_METHOD(fixture, "a custom Compare decides key identity",
                 "[ordered]") {
  using kind = cachet::ordered_set<ci_less>;
  auto t = make<std::string, int, kind>();
  REQUIRE(t.insert({{"b", 1}, {"A", 2}, {"c", 3}}));
  CHECK(keys_of(t) == std::vector<std::string>{"A", "b", "c"});
  CHECK(unwrap(t.lookup("B")) == 1);
  CHECK(outcome(t.insert_new("C", 0)) == name(errc::key_exists));
  REQUIRE(t.insert("a", 20)); // replaces "A"
  CHECK(unwrap(t.size()) == 3);
  CHECK(unwrap(t.lookup("A")) == 20);
  CHECK(unwrap(t.next("a")) == "b");
  CHECK(unwrap(t.erase("C")) == true);
  CHECK(unwrap(t.last()) == "b");
}

TEST_CASE_METHOD(fixture, "ordered non-trivial values are copied in and out "
                          "intact",
                 "[ordered]") {
  auto t = make<std::string, profile>();
  std::string long_key(100, 'k');
  profile big{std::string(200, 'n'), std::vector<int>(1000, 7)};
  REQUIRE(t.insert(long_key, big));
  REQUIRE(t.insert({{"a", profile{"A", {1}}}, {"b", profile{"B", {2}}}}));
  CHECK(unwrap(t.lookup(long_key)) == big);
  for (int i = 0; i < 100; ++i)
    REQUIRE(t.insert("b", profile{std::to_string(i), std::vector<int>(i, i)}));
  CHECK(unwrap(t.lookup("b")) == profile{"99", std::vector<int>(99, 99)});
  auto r = unwrap(t.range("a", "z"));
  REQUIRE(r.size() == 3);
  CHECK(r[0].first == "a");
  CHECK(r[2].second == big);
  CHECK(unwrap(t.take(long_key)) == big);
  CHECK(unwrap(t.last()) == "b");
}

// -- after the owner died ----------------------------------------------------

TEST_CASE_METHOD(fixture, "every ordered operation answers table_gone once "
                          "the owner ended",
                 "[ordered]") {
  auto mode = GENERATE(access_mode::private_, access_mode::protected_, access_mode::public_);
  INFO("mode: " << cachet::to_string(mode));
  std::optional<caf::scoped_actor> owner;
  owner.emplace(sys);
  auto res = cachet::make_table<int, std::int64_t, ordered>(owner->ptr(),
                                                            {"doomed", mode});
  REQUIRE(res);
  auto owned = std::move(*res);
  auto shared = owned.share();
  REQUIRE(owned.insert({{1, 1}, {2, 2}}));
  owner.reset();
  CHECK_FALSE(owned.alive());
  CHECK(outcome(cachet::whereis<int, std::int64_t, ordered>(sys, "doomed"))
        == name(errc::no_such_table));
  check_every_op_fails_with(owned, errc::table_gone);
  check_every_op_fails_with(shared, errc::table_gone);
}

TEST_CASE_METHOD(fixture, "a killed ordered owner leaves handles that answer "
                          "table_gone",
                 "[ordered]") {
  auto owner = cachet::spawn_owner<int, std::int64_t, ordered>(
    sys, {"killed", access_mode::public_});
  REQUIRE(owner);
  auto handle = unwrap(
    cachet::whereis<int, std::int64_t, ordered>(sys, "killed"));
  REQUIRE(handle.insert(1, 1));
  self->monitor(*owner);
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
  bool down = false;
  self->receive([&](caf::down_msg& dm) {
    down = dm.source == caf::actor_cast<caf::actor_addr>(*owner);
  });
  REQUIRE(down);
  CHECK_FALSE(handle.alive());
  check_every_op_fails_with(handle, errc::table_gone);
}

TEST_CASE_METHOD(fixture, "ordered tables show strings as string_view, as "
                          "set tables do") {
  auto tab = make<std::string, std::string>();
  REQUIRE(tab.insert("b", "2"));
  REQUIRE(tab.insert("a", std::string("1\0x", 3)));
  static_assert(std::is_same_v<cachet::view_t<std::string>, std::string_view>);
  std::vector<std::pair<std::string, std::string>> seen;
  REQUIRE(tab.for_each([&](auto k, auto v) {
    static_assert(std::is_same_v<decltype(k), std::string_view>);
    static_assert(std::is_same_v<decltype(v), std::string_view>);
    seen.emplace_back(k, v);
  }));
  CHECK(seen == std::vector<std::pair<std::string, std::string>>{
                  {"a", std::string("1\0x", 3)}, {"b", "2"}});
  REQUIRE(tab.visit("b", [](auto v) {
    static_assert(std::is_same_v<decltype(v), std::string_view>);
    CHECK(v == "2");
  }));
}

TEST_CASE_METHOD(fixture, "ordered erase_if removes a key only while its "
                          "value passes the test") {
  auto tab = make<int, std::string>();
  REQUIRE(tab.insert(1, "expired"));
  REQUIRE(tab.insert(2, "live"));
  auto expired = [](std::string_view v) { return v == "expired"; };
  CHECK(unwrap(tab.erase_if(1, expired)));
  CHECK_FALSE(unwrap(tab.erase_if(2, expired)));
  CHECK_FALSE(unwrap(tab.erase_if(3, expired)));
  CHECK(keys_of(tab) == std::vector<int>{2});
}
