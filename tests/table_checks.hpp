// Checks that both table test files (table.cpp for set tables,
// ordered_table.cpp for ordered_set tables) run on their kind of table.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace cachet_test {

/// A non-trivial value type.
struct profile {
  std::string name;
  std::vector<int> scores;

  friend bool operator==(const profile& x, const profile& y) {
    return x.name == y.name && x.scores == y.scores;
  }
};

/// Counts its copies, to show that visit reads in place.
struct counted {
  static inline std::atomic<int> copies{0};
  int value = 0;
  counted(int x) : value(x) {
    // nop
  }
  counted(const counted& other) : value(other.value) {
    ++copies;
  }
  counted(counted&&) = default;
  counted& operator=(const counted& other) {
    value = other.value;
    ++copies;
    return *this;
  }
  counted& operator=(counted&&) = default;
};

/// Runs every operation once on `h` (an int -> int64 table) and returns
/// each one's outcome; a callback that runs although the call failed is
/// reported.
template <class H>
std::vector<std::pair<std::string, std::string>> run_every_op(H& h) {
  std::vector<std::pair<std::string, std::string>> out;
  bool called = false;
  auto add = [&](std::string op, std::string res) {
    if (called && res != "ok")
      res += " (but the callback ran)";
    out.emplace_back(std::move(op), std::move(res));
    called = false;
  };
  using entries = std::vector<std::pair<int, std::int64_t>>;
  add("insert", outcome(h.insert(1, 1)));
  add("insert batch", outcome(h.insert(entries{{1, 1}, {2, 2}})));
  add("insert_new", outcome(h.insert_new(3, 3)));
  add("insert_new batch", outcome(h.insert_new(entries{{4, 4}})));
  add("lookup", outcome(h.lookup(1)));
  add("visit",
      outcome(h.visit(1, [&](const std::int64_t&) { called = true; })));
  add("member", outcome(h.member(1)));
  add("erase", outcome(h.erase(1)));
  add("erase_if", outcome(h.erase_if(1, [&](const std::int64_t&) {
        called = true;
        return true;
      })));
  add("take", outcome(h.take(2)));
  add("update_counter", outcome(h.update_counter(1)));
  add("update_counter with default",
      outcome(h.update_counter(5, cachet::counter_op{}, std::int64_t{0})));
  add("update", outcome(h.update(1, [&](std::int64_t&) { called = true; })));
  add("size", outcome(h.size()));
  add("clear", outcome(h.clear()));
  add("for_each", outcome(h.for_each([&](const int&, const std::int64_t&) {
        called = true;
      })));
  add("fold", outcome(h.fold(0, [&](int acc, const int&, const std::int64_t&) {
        called = true;
        return acc;
      })));
  add("to_list", outcome(h.to_list()));
  add("upsert", outcome(h.upsert(1, [&](std::int64_t&) { called = true; },
                                 std::int64_t{0})));
  auto match = [&](const int&, const std::int64_t&) {
    called = true;
    return std::optional<int>{1};
  };
  add("select", outcome(h.select(match)));
  add("select with a limit", outcome(h.select(match, 10)));
  add("select_reverse", outcome(h.select_reverse(match)));
  auto pred = [&](const int&, const std::int64_t&) {
    called = true;
    return true;
  };
  add("select_count", outcome(h.select_count(pred)));
  add("select_delete", outcome(h.select_delete(pred)));
  add("select_replace",
      outcome(h.select_replace([&](const int&, const std::int64_t&) {
        called = true;
        return std::optional<std::int64_t>{1};
      })));
  add("foldr", outcome(h.foldr(0, [&](int acc, const int&,
                                      const std::int64_t&) {
        called = true;
        return acc;
      })));
  add("first", outcome(h.first()));
  add("next", outcome(h.next(1)));
  add("info", outcome(h.info()));
  add("rename", outcome(h.rename("after-death")));
  if constexpr (cachet::is_ordered_v<typename H::kind_type>) {
    add("last", outcome(h.last()));
    add("prev", outcome(h.prev(1)));
    add("range", outcome(h.range(0, 10)));
  } else {
    add("scan", outcome(h.scan(0, 10, [&](const int&, const std::int64_t&) {
          called = true;
        })));
  }
  return out;
}

template <class H>
void check_every_op_fails_with(H& h, cachet::errc expected) {
  for (auto& [op, res] : run_every_op(h)) {
    INFO("operation: " << op);
    CHECK(res == name(expected));
  }
}

/// update_counter on a narrow integer V, in a table `make()` gives: the
/// result must fit V.
template <class V, class Make>
void check_narrow_counter(Make make) {
  using cachet::errc;
  using lim = std::numeric_limits<V>;
  INFO("value type: " << typeid(V).name());
  auto t = make();
  REQUIRE(t.insert(1, V{5}));
  CHECK(unwrap(t.update_counter(1, {2})) == 7);
  CHECK(unwrap(t.lookup(1)) == V{7});
  CHECK(unwrap(t.update_counter(1, {-7})) == 0);
  // Past the top of V.
  REQUIRE(t.insert(1, lim::max()));
  CHECK(outcome(t.update_counter(1)) == name(errc::counter_overflow));
  CHECK(unwrap(t.lookup(1)) == lim::max());
  // Past the bottom of V (below 0 for unsigned types).
  REQUIRE(t.insert(1, lim::min()));
  CHECK(outcome(t.update_counter(1, {-1})) == name(errc::counter_overflow));
  CHECK(unwrap(t.lookup(1)) == lim::min());
  // A threshold inside V's range resets before the range ends.
  REQUIRE(t.insert(1, static_cast<V>(lim::max() - 1)));
  auto top = static_cast<std::int64_t>(lim::max());
  CHECK(unwrap(t.update_counter(1, {1, top - 1, 3})) == 3);
  CHECK(unwrap(t.lookup(1)) == V{3});
  // A reset value outside V is an overflow too, and changes nothing.
  CHECK(outcome(t.update_counter(1, {1, 0, top + 1}))
        == name(errc::counter_overflow));
  CHECK(unwrap(t.lookup(1)) == V{3});
  // A default object is range-checked like a stored value.
  CHECK(outcome(t.update_counter(2, {1}, lim::max()))
        == name(errc::counter_overflow));
  CHECK(unwrap(t.member(2)) == false);
}

} // namespace cachet_test
