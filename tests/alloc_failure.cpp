// Out of memory, injected: this program replaces the global operator new so
// that a test can make every allocation of its own thread fail after a
// countdown. Ownership handoffs and retirements, which run in destructors and
// actor exits, must not allocate at all; batch inserts and cache puts must
// leave their table or cache whole whichever allocation fails. The same
// operator new counts the bytes in use, against which a table's accounting
// of its memory (info().memory) is checked.
#include "test_support.hpp"
#include "failing_new.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <caf/scoped_actor.hpp>

using namespace cachet_test;
using namespace std::chrono_literals;

namespace {

struct fixture : system_fixture {
  caf::scoped_actor owner{sys};
  caf::scoped_actor heir{sys};
};

/// What `heir` received: the transfer of T's resource, claimed.
template <class Transfer>
auto claim_transfer(caf::scoped_actor& heir) {
  std::optional<decltype(std::declval<Transfer&>().claim())> claimed;
  heir->receive([&](Transfer& t) { claimed.emplace(t.claim()); },
                caf::after(5s) >> [] {});
  REQUIRE(claimed);
  return std::move(*claimed);
}

} // namespace

TEST_CASE_METHOD(fixture, "an owner's end hands its table, cache or snapshot "
                          "to the heir without allocating") {
  {
    failing_after budget;
    cachet::table_options topts{"t", cachet::access_mode::protected_,
                                heir->address()};
    auto tab = unwrap(cachet::make_table<int, int>(owner.ptr(), topts));
    REQUIRE(tab.insert(1, 10));
    cachet::cache_options<int, int> copts;
    copts.name = "c";
    copts.heir = heir->address();
    auto cache = unwrap(cachet::make_cache<int, int>(owner.ptr(), copts));
    REQUIRE(cache.put(2, 20));
    auto snap = unwrap(cachet::make_snapshot(
      owner.ptr(), {"s", cachet::access_mode::protected_, heir->address()},
      30));
    // Each capability's end used to allocate the heir's binding, in a
    // noexcept path: out of memory was std::terminate.
    budget.set(0);
  }
  auto t = claim_transfer<cachet::table_transfer<int, int>>(heir);
  REQUIRE(t);
  CHECK(unwrap(t->lookup(1)) == std::optional<int>{10});
  auto c = claim_transfer<cachet::cache_transfer<int, int>>(heir);
  REQUIRE(c);
  CHECK(unwrap(c->get(2)) == std::optional<int>{20});
  auto s = claim_transfer<cachet::snapshot_transfer<int>>(heir);
  REQUIRE(s);
  CHECK(unwrap(s->visit([](int x) { return x; })) == 30);
}

TEST_CASE_METHOD(fixture, "a table, cache or snapshot with no heir retires "
                          "without allocating") {
  std::optional<cachet::table<int, std::string>> shared;
  std::optional<cachet::snapshot<int>> reader;
  {
    failing_after budget;
    auto tab = unwrap(cachet::make_table<int, std::string>(owner.ptr(), {"t"}));
    for (int i = 0; i < 1000; ++i)
      REQUIRE(tab.insert(i, std::string(100, 'x')));
    shared.emplace(tab.share());
    cachet::cache_options<int, int> copts;
    copts.ttl = 1h;
    auto cache = unwrap(cachet::make_cache<int, int>(owner.ptr(), copts));
    for (int i = 0; i < 100; ++i)
      REQUIRE(cache.put(i, i));
    auto snap = unwrap(cachet::make_snapshot(owner.ptr(), {}, 1));
    reader.emplace(snap.share());
    budget.set(0);
  }
  CHECK(outcome(shared->lookup(1)) == "table_gone");
  CHECK(outcome(reader->visit([](int) {})) == "table_gone");
  CHECK(outcome(cachet::whereis<int, std::string>(sys, "t"))
        == "no_such_table");
  for (int i = 0; i < 100 && cachet::detail::reclaim() != 0; ++i)
    std::this_thread::yield();
  CHECK(cachet::detail::reclaim() == 0); // nothing was leaked
}

TEST_CASE_METHOD(fixture, "a batch insert that runs out of memory inserts "
                          "nothing") {
  auto check = [&](auto tab) {
    REQUIRE(tab.insert(1000, "before"));
    for (long budget = 0;; ++budget) {
      std::vector<std::pair<int, std::string>> batch;
      for (int i = 0; i < 20; ++i)
        batch.emplace_back(i, std::string(40, static_cast<char>('a' + i)));
      bool inserted = false;
      try {
        failing_after some{budget};
        inserted = static_cast<bool>(tab.insert(std::move(batch)));
      } catch (const std::bad_alloc&) {
        // expected until the budget suffices
      }
      auto n = unwrap(tab.size());
      if (!inserted) {
        // All or nothing: a failed batch published none of its entries.
        REQUIRE(n == 1);
        REQUIRE(unwrap(tab.member(0)) == false);
        continue;
      }
      CHECK(n == 21);
      CHECK(unwrap(tab.lookup(19)) == std::string(40, 't'));
      CHECK(budget > 20); // one node per entry at least
      break;
    }
  };
  SECTION("set") {
    check(unwrap(cachet::make_table<int, std::string>(owner.ptr())));
  }
  SECTION("ordered_set") {
    check(unwrap(cachet::make_table<int, std::string, cachet::ordered_set<>>(
      owner.ptr())));
  }
}

TEST_CASE_METHOD(fixture, "a cache put that runs out of memory leaves the "
                          "cache whole") {
  for (long budget = 0;; ++budget) {
    cachet::cache_options<std::string, std::string> opts;
    opts.max_entries = 3;
    opts.ttl = 1h;
    opts.indexes.push_back(
      {"upper", [](const std::string&, const std::string& v) {
         return std::optional<std::string>{v + "!"};
       }});
    auto c = unwrap(
      cachet::make_cache<std::string, std::string>(owner.ptr(), opts));
    for (auto k : {"a", "b", "c"})
      REQUIRE(c.put(k, k));
    bool stored = false;
    try {
      std::string key = "d";
      std::string value = "a"; // takes a's index key: a is replaced
      failing_after some{budget};
      stored = static_cast<bool>(c.put(std::move(key), std::move(value)));
    } catch (const std::bad_alloc&) {
      // expected until the budget suffices
    }
    // Whatever failed, every entry of the table is the cache's: counted,
    // indexed, with one expiry record, and the bound holds.
    auto entries = unwrap(c.core()->to_list());
    auto st = unwrap(c.stats());
    REQUIRE(entries.size() == st.entries);
    REQUIRE(entries.size() <= 3);
    REQUIRE(c.core()->expiry_records() == entries.size());
    for (auto& [k, v] : entries)
      REQUIRE(unwrap(c.get_by("upper", v + "!")) == std::optional{v});
    // And the cache goes on working.
    for (auto k : {"w", "x", "y", "z"})
      REQUIRE(c.put(k, k));
    REQUIRE(unwrap(c.size()) == 3);
    REQUIRE(unwrap(c.stats()).peak_entries == 3);
    if (stored) {
      CHECK(budget > 3);
      break;
    }
  }
}

namespace {

/// Drains reclamation: everything retired is freed (no reader is pinned).
void reclaim_all() {
  for (int i = 0; i < 100 && cachet::detail::reclaim() != 0; ++i)
    std::this_thread::yield();
  REQUIRE(cachet::detail::reclaim() == 0);
}

/// Checks info().memory against the allocator for every write in `steps`:
/// each changes the bytes in use exactly as much as the table says its
/// memory changed. `warm(t)` first takes the table (and the epoch's lists)
/// to their final capacity, so that no step grows anything but entries.
template <class Table, class Warm, class Steps>
void check_memory(Table& t, Warm warm, Steps steps) {
  warm(t);
  reclaim_all();
  std::size_t checked = 0;
  for (auto& step : steps) {
    INFO("step " << checked);
    auto live = live_bytes;
    auto mem = unwrap(t.info()).memory;
    step(t);
    reclaim_all();
    auto live_after = live_bytes;
    auto mem_after = unwrap(t.info()).memory;
    CHECK(live_after - live == static_cast<long long>(mem_after)
                                 - static_cast<long long>(mem));
    ++checked;
  }
  CHECK(checked == steps.size());
}

template <class Table>
using step_list = std::vector<std::function<void(Table&)>>;

} // namespace

TEST_CASE_METHOD(fixture, "a table's memory is what it holds from the "
                          "allocator") {
  constexpr int n = 2000;
  auto long_string = [](int i, char c) {
    return std::string(40 + i % 50, c) + std::to_string(i); // on the heap
  };
  SECTION("set, u64 -> u64") {
    using tab = cachet::owned_table<std::uint64_t, std::uint64_t>;
    auto t = unwrap(cachet::make_table<std::uint64_t, std::uint64_t>(
      owner.ptr()));
    step_list<tab> steps;
    for (std::uint64_t i = 0; i < n; ++i)
      steps.push_back([i](tab& x) { REQUIRE(x.insert(i, i)); });
    for (std::uint64_t i = 0; i < n; i += 3)
      steps.push_back([i](tab& x) { REQUIRE(x.insert(i, i + 1)); });
    for (std::uint64_t i = 0; i < n; i += 2)
      steps.push_back([i](tab& x) { REQUIRE(unwrap(x.erase(i))); });
    check_memory(
      t,
      [&](tab& x) {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> xs;
        for (std::uint64_t i = 0; i < 2 * n; ++i)
          xs.emplace_back(i, i);
        REQUIRE(x.insert(std::move(xs))); // sizes the buckets
        for (std::uint64_t i = 0; i < 2 * n; ++i)
          REQUIRE(unwrap(x.erase(i)));
      },
      steps);
  }
  SECTION("set, u64 -> u64, while it grows and migrates") {
    // No warm-up: steps start growths and take migration steps, and a
    // write that follows a moved group into the new array must count its
    // overflow groups there.
    using tab = cachet::owned_table<std::uint64_t, std::uint64_t>;
    auto t = unwrap(cachet::make_table<std::uint64_t, std::uint64_t>(
      owner.ptr()));
    step_list<tab> steps;
    for (std::uint64_t i = 0; i < 3 * n; ++i)
      steps.push_back([i](tab& x) { REQUIRE(x.insert(i, i)); });
    for (std::uint64_t i = 0; i < 3 * n; i += 2)
      steps.push_back([i](tab& x) { REQUIRE(unwrap(x.erase(i))); });
    check_memory(
      t,
      [&](tab&) {
        // Another table through the same growths: the epoch's lists reach
        // the capacity the steps' retired arrays need.
        auto other = unwrap(cachet::make_table<std::uint64_t, std::uint64_t>(
          owner.ptr()));
        for (std::uint64_t i = 0; i < 3 * n; ++i)
          REQUIRE(other.insert(i, i));
      },
      steps);
  }
  SECTION("set, inline strings") {
    using tab = cachet::owned_table<std::string, std::string>;
    auto t = unwrap(cachet::make_table<std::string, std::string>(
      owner.ptr()));
    step_list<tab> steps;
    for (int i = 0; i < n; ++i)
      steps.push_back([=](tab& x) {
        REQUIRE(x.insert(long_string(i, 'k'), long_string(i, 'v')));
      });
    for (int i = 0; i < n; i += 3)
      steps.push_back([=](tab& x) {
        REQUIRE(x.insert(long_string(i, 'k'), std::string(i % 7, 'w')));
      });
    steps.push_back([](tab& x) {
      REQUIRE(x.select_delete([](std::string_view, std::string_view v) {
        return v.size() < 4;
      }));
    });
    check_memory(
      t,
      [&](tab& x) {
        for (int i = 0; i < 2 * n; ++i)
          REQUIRE(x.insert(long_string(i, 'k'), "v"));
        REQUIRE(x.clear());
        for (int i = 0; i < 2 * n; ++i) // grown again: clear shrinks
          REQUIRE(x.insert(long_string(i, 'k'), "v"));
        for (int i = 0; i < 2 * n; ++i)
          REQUIRE(unwrap(x.erase(long_string(i, 'k'))));
      },
      steps);
  }
  SECTION("ordered_set, heap strings") {
    using tab = cachet::owned_table<int, std::string, cachet::ordered_set<>>;
    auto t = unwrap(cachet::make_table<int, std::string,
                                       cachet::ordered_set<>>(owner.ptr()));
    step_list<tab> steps;
    for (int i = 0; i < n; ++i)
      steps.push_back([=](tab& x) { REQUIRE(x.insert(i, long_string(i, 'v'))); });
    for (int i = 0; i < n; i += 5)
      steps.push_back([=](tab& x) { REQUIRE(unwrap(x.erase(i))); });
    check_memory(
      t,
      [&](tab& x) {
        for (int i = 0; i < 2 * n; ++i)
          REQUIRE(x.insert(-1 - i, "v"));
        for (int i = 0; i < 2 * n; ++i)
          REQUIRE(unwrap(x.erase(-1 - i)));
      },
      steps);
  }
  SECTION("duplicate_bag") {
    using tab = cachet::owned_table<std::string, int, cachet::duplicate_bag<>>;
    auto t = unwrap(cachet::make_table<std::string, int,
                                       cachet::duplicate_bag<>>(owner.ptr()));
    step_list<tab> steps;
    for (int i = 0; i < n; ++i)
      steps.push_back([=](tab& x) {
        REQUIRE(x.insert(long_string(i % 300, 'k'), i));
      });
    for (int i = 0; i < 300; i += 7)
      steps.push_back([=](tab& x) {
        REQUIRE(x.erase_object(long_string(i, 'k'), i));
      });
    check_memory(
      t,
      [&](tab& x) {
        for (int i = 0; i < 2 * n; ++i)
          REQUIRE(x.insert(long_string(i, 'k'), i));
        for (int i = 0; i < 2 * n; ++i)
          REQUIRE(unwrap(x.erase(long_string(i, 'k'))));
      },
      steps);
  }
}

TEST_CASE("a growing table's chains take their overflow groups from its "
          "array's pool, not one allocation each") {
  // Overflow groups allocated one by one were freed one by one when a
  // migration dropped them, leaving 64-byte holes among the nodes that
  // malloc rarely filled again: 1 B an entry of a table of a million
  // strings. From the array's pool they leave with it, in one block.
  using engine_type = cachet::detail::hash_engine<
    std::uint64_t, std::uint64_t, cachet::default_hash, std::equal_to<>>;
  auto before = live_blocks;
  {
    engine_type engine;
    for (std::uint64_t k = 0; k < 20000; ++k)
      REQUIRE(engine.modify(k,
                            [k](const std::uint64_t*,
                                std::optional<std::uint64_t>& out) {
                              out.emplace(k);
                              return cachet::detail::write_action::put;
                            })
              == cachet::detail::op_status::ok);
    // About a fifth of the groups chain an overflow group at the load a
    // table grows at: 2000 and more here, each a block of its own before.
    // Now the array (two blocks, and a third while it migrates), arrays
    // retired and not yet freed (two each) and the epoch's list.
    CHECK(live_blocks - before <= 16);
    std::size_t found = 0;
    for (std::uint64_t k = 0; k < 20000; ++k)
      engine.find(k, [&](const std::uint64_t* v) {
        found += v != nullptr && *v == k ? 1 : 0;
      });
    CHECK(found == 20000);
  }
}
