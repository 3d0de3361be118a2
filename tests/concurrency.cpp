// Real threads and real actors against one table: owner death racing readers
// and writers, batch isolation, lost updates, growth and walks under churn.
// Each test checks an invariant; none relies on timing.
#include "cachet/cachet.hpp"

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using cachet::errc;

namespace {

using cachet_test::run_threads;

using fixture = cachet_test::system_fixture;

// Values carry their key, so a torn or misplaced value is detectable.
std::string value_for(std::uint64_t key, std::uint64_t n) {
  return "k" + std::to_string(key) + ":" + std::to_string(n);
}

bool belongs_to(std::string_view value, std::uint64_t key) {
  auto prefix = "k" + std::to_string(key) + ":";
  return value.compare(0, prefix.size(), prefix) == 0;
}

/// A value the hash engine stores inline in its groups (two words beside a
/// u64 key), whose halves must always agree: a torn read shows.
struct pair_value {
  std::uint64_t n;
  std::uint64_t check;
};

pair_value pair_for(std::uint64_t key, std::uint64_t n) {
  return {n, ~n ^ key};
}

bool intact(const pair_value& v, std::uint64_t key) {
  return v.check == (~v.n ^ key);
}

} // namespace

TEST_CASE_METHOD(fixture, "readers and writers race the owner's death",
                 "[concurrency]") {
  using tab_t = cachet::table<std::uint64_t, std::string>;
  constexpr int rounds = 1000;
  constexpr std::uint64_t keys = 64;
  std::atomic<int> torn{0};
  std::atomic<int> unexpected{0};
  std::atomic<int> resurrected{0};
  for (int round = 0; round < rounds; ++round) {
    auto owner = cachet::spawn_owner<std::uint64_t, std::string>(
      sys, {"race", cachet::access_mode::public_});
    REQUIRE(owner);
    auto tab = cachet::whereis<std::uint64_t, std::string>(sys, "race");
    REQUIRE(tab);
    std::atomic<int> started{0};
    std::atomic<bool> killed{false};
    // A thread works until the table is gone, then checks it stays gone.
    auto worker = [&](int id) {
      tab_t t = *tab;
      std::minstd_rand rng(round * 16 + id);
      bool counted = false;
      for (std::uint64_t n = 0;; ++n) {
        auto key = rng() % keys;
        caf::error err;
        switch (id % 4) {
          case 0:
          case 1: { // readers
            auto v = t.lookup(key);
            if (v && *v && !belongs_to(**v, key))
              ++torn;
            if (!v)
              err = v.error();
            break;
          }
          case 2: { // writer
            auto r = t.insert(key, value_for(key, n));
            if (!r)
              err = r.error();
            break;
          }
          case 3: { // read-modify-write
            auto r = t.update(key, [&](std::string& s) {
              s = value_for(key, n);
            });
            if (!r)
              err = r.error();
            break;
          }
        }
        if (!counted) {
          counted = true;
          ++started;
        }
        if (err) {
          if (err != errc::table_gone)
            ++unexpected;
          // Gone is final: no later operation may succeed.
          if (t.lookup(key) || t.insert(key, "x") || t.size())
            ++resurrected;
          return;
        }
        if (n > 1000000 && killed)
          return; // the kill never took effect: the checks below catch it
      }
    };
    // A fifth thread writes through the owner's mailbox meanwhile.
    auto messenger = [&] {
      cachet::blocking_caller caller{sys};
      for (std::uint64_t n = 0;; ++n) {
        auto r = caller.call(*owner, 5s, cachet::insert_atom_v, n % keys,
                             value_for(n % keys, n));
        if (n == 0)
          ++started;
        if (!r) {
          if (r.error() != caf::sec::request_receiver_down)
            ++unexpected;
          return;
        }
      }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back(worker, i);
    threads.emplace_back(messenger);
    while (started < 5)
      std::this_thread::yield();
    caf::anon_send_exit(*owner, round % 2 == 0 ? caf::exit_reason::kill
                                               : caf::exit_reason::user_shutdown);
    killed = true;
    for (auto& t : threads)
      t.join();
    CHECK_FALSE(tab->alive());
    // Wait for the name to be released before the next round claims it.
    caf::scoped_actor self{sys};
    self->monitor(*owner);
    self->receive([](caf::down_msg&) {});
  }
  CHECK(torn == 0);
  CHECK(unexpected == 0);
  CHECK(resurrected == 0);
  // Every dead table's storage is freed, once no reader can be in it.
  for (int i = 0; i < 100 && cachet::detail::reclaim() != 0; ++i)
    std::this_thread::yield();
  CHECK(cachet::detail::reclaim() == 0);
}

TEST_CASE_METHOD(fixture, "batch inserts are isolated from readers",
                 "[concurrency]") {
  caf::scoped_actor self{sys};
  auto check = [&](auto&& owned) {
    // Two keys always written together with the same, growing n: a reader
    // that sees `a` at n must then see `b` at n or later.
    std::atomic<bool> done{false};
    std::atomic<int> violations{0};
    std::atomic<std::int64_t> reads{0};
    std::atomic<int> readers{0};
    REQUIRE(owned.insert({{1, 0}, {2, 0}}));
    auto tab = owned.share();
    std::thread writer([&] {
      while (readers < 2) // writing is faster than starting threads
        std::this_thread::yield();
      for (std::int64_t n = 1; n <= 20000; ++n)
        owned.insert({{1, n}, {2, n}});
      done = true;
    });
    run_threads(2, [&](int) {
      ++readers;
      while (!done) {
        auto a = tab.lookup(1);
        auto b = tab.lookup(2);
        if (**b < **a)
          ++violations;
        ++reads;
      }
    });
    writer.join();
    CHECK(violations == 0);
    CHECK(reads > 0);
  };
  SECTION("set") {
    check(*cachet::make_table<int, std::int64_t>(self.ptr()));
  }
  SECTION("ordered_set") {
    check(*cachet::make_table<int, std::int64_t, cachet::ordered_set<>>(
      self.ptr()));
  }
}

TEST_CASE_METHOD(fixture, "concurrent counter updates lose nothing",
                 "[concurrency]") {
  auto owner = cachet::spawn_owner<std::string, std::int64_t>(
    sys, {"hits", cachet::access_mode::public_});
  REQUIRE(owner);
  auto tab = cachet::whereis<std::string, std::int64_t>(sys, "hits");
  REQUIRE(tab);
  constexpr int per_thread = 10000;
  std::atomic<int> failed{0}; // Catch2 assertions are not thread-safe
  run_threads(5, [&](int id) {
    if (id == 4) { // through the mailbox
      cachet::blocking_caller caller{sys};
      for (int i = 0; i < 1000; ++i)
        if (!caller.call(*owner, 5s, cachet::update_counter_atom_v,
                         std::string{"n"}, cachet::counter_op{1},
                         std::int64_t{0}))
          ++failed;
      return;
    }
    for (int i = 0; i < per_thread; ++i)
      if (!tab->update_counter("n", {1}, 0))
        ++failed;
  });
  CHECK(failed == 0);
  CHECK(tab->lookup("n").value() == std::optional<std::int64_t>{4 * per_thread + 1000});
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "readers always find stable keys while the table grows",
                 "[concurrency]") {
  caf::scoped_actor self{sys};
  auto check = [&](auto&& owned) {
    constexpr std::uint64_t stable = 1000;
    for (std::uint64_t k = 0; k < stable; ++k)
      REQUIRE(owned.insert(k, value_for(k, 0)));
    auto tab = owned.share();
    std::atomic<bool> done{false};
    std::atomic<int> missing{0};
    std::atomic<int> torn{0};
    std::size_t expected_size = stable;
    std::atomic<int> readers{0};
    std::thread writer([&] {
      while (readers < 2) // overlap with the readers
        std::this_thread::yield();
      // Grows through many resizes, and churns: insert then erase.
      for (std::uint64_t k = stable; k < stable + 100000; ++k) {
        owned.insert(k, value_for(k, 1));
        if (k % 3 == 0)
          owned.erase(k);
        else
          ++expected_size;
      }
      done = true;
    });
    run_threads(2, [&](int id) {
      std::minstd_rand rng(id);
      ++readers;
      while (!done) {
        auto k = rng() % stable;
        auto found = tab.visit(k, [&](std::string_view v) {
          if (!belongs_to(v, k))
            ++torn;
        });
        if (!found || !*found)
          ++missing;
      }
    });
    writer.join();
    CHECK(missing == 0);
    CHECK(torn == 0);
    CHECK(tab.size().value() == expected_size);
  };
  SECTION("set") {
    check(*cachet::make_table<std::uint64_t, std::string>(self.ptr()));
  }
  SECTION("ordered_set") {
    check(*cachet::make_table<std::uint64_t, std::string,
                              cachet::ordered_set<>>(self.ptr()));
  }
}

TEST_CASE_METHOD(fixture, "entries stored in the groups are never read torn "
                          "while writers overwrite them and grow the table",
                 "[concurrency]") {
  // u64 -> {u64, u64} lives in the hash engine's groups, read
  // optimistically: a reader that overlapped a write must read again.
  static_assert(cachet::detail::hash_engine<
                std::uint64_t, pair_value, cachet::default_hash,
                std::equal_to<>>::inline_entries);
  caf::scoped_actor self{sys};
  auto owned = cachet_test::unwrap(cachet::make_table<std::uint64_t,
                                                      pair_value>(
    self.ptr(), {"", cachet::access_mode::public_}));
  constexpr std::uint64_t stable = 500;
  for (std::uint64_t k = 0; k < stable; ++k)
    REQUIRE(owned.insert(k, pair_for(k, 0)));
  auto tab = owned.share();
  std::atomic<int> readers{0};
  std::atomic<int> writers{2};
  std::atomic<int> missing{0};
  std::atomic<int> torn{0};
  std::atomic<int> failed{0};
  std::thread grower([&] {
    while (readers < 2)
      std::this_thread::yield();
    for (std::uint64_t k = stable; k < stable + 60000; ++k)
      if (!owned.insert(k, pair_for(k, 0)))
        ++failed;
    --writers;
  });
  std::thread overwriter([&, w = tab]() mutable {
    while (readers < 2)
      std::this_thread::yield();
    for (std::uint64_t n = 1; n < 60000; ++n)
      if (!w.insert(n % stable, pair_for(n % stable, n)))
        ++failed;
    --writers;
  });
  run_threads(2, [&](int id) {
    std::minstd_rand rng(static_cast<unsigned>(id));
    ++readers;
    while (writers > 0) {
      auto k = rng() % stable;
      auto v = tab.lookup(k);
      if (!v || !*v)
        ++missing;
      else if (!intact(**v, k))
        ++torn;
    }
  });
  grower.join();
  overwriter.join();
  CHECK(failed == 0);
  CHECK(missing == 0);
  CHECK(torn == 0);
  CHECK(tab.size().value() == stable + 60000);
}

TEST_CASE_METHOD(fixture, "walks under churn see every stable entry once",
                 "[concurrency]") {
  caf::scoped_actor self{sys};
  auto check = [&](auto&& owned, bool ordered) {
    // Stable keys are even; the writer churns odd keys (and grows the table).
    constexpr std::uint64_t stable = 2000;
    for (std::uint64_t k = 0; k < stable; k += 2)
      REQUIRE(owned.insert(k, value_for(k, 0)));
    auto tab = owned.share();
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::atomic<bool> walking{false};
    std::thread writer([&] {
      while (!walking) // overlap with the walker
        std::this_thread::yield();
      for (std::uint64_t round = 0; round < 20; ++round)
        for (std::uint64_t k = 1; k < 4 * stable; k += 2) {
          if (round % 2 == 0)
            owned.insert(k, value_for(k, round));
          else
            owned.erase(k);
        }
      done = true;
    });
    std::thread walker([&] {
      walking = true;
      while (!done) {
        std::multiset<std::uint64_t> seen;
        std::uint64_t prev = 0;
        bool first = true;
        tab.for_each([&](const std::uint64_t& k, std::string_view v) {
          if (!belongs_to(v, k))
            ++bad;
          if (ordered && !first && k <= prev)
            ++bad; // ordered walks are strictly increasing
          first = false;
          prev = k;
          if (k % 2 == 0)
            seen.insert(k);
        });
        for (std::uint64_t k = 0; k < stable; k += 2)
          if (seen.count(k) != 1)
            ++bad;
      }
    });
    writer.join();
    walker.join();
    CHECK(bad == 0);
  };
  SECTION("set") {
    check(*cachet::make_table<std::uint64_t, std::string>(self.ptr()), false);
  }
  SECTION("ordered_set") {
    check(*cachet::make_table<std::uint64_t, std::string,
                              cachet::ordered_set<>>(self.ptr()),
          true);
  }
}

TEST_CASE_METHOD(fixture, "the table grows while a walk is in progress",
                 "[concurrency]") {
  caf::scoped_actor self{sys};
  auto owned = cachet_test::unwrap(
    cachet::make_table<std::uint64_t, std::string>(self.ptr()));
  constexpr std::uint64_t before = 100;
  constexpr std::uint64_t added = 50000;
  for (std::uint64_t k = 0; k < before; ++k)
    REQUIRE(owned.insert(k, value_for(k, 0)));
  auto tab = owned.share();
  auto& engine = core_of(tab)->engine();
  auto buckets_before = engine.bucket_count();
  std::atomic<bool> walking{false};
  std::atomic<bool> grown{false};
  std::multiset<std::uint64_t> seen;
  // One walk spans all of the writer's inserts: it waits in its first entry
  // until they are done (growth used to wait for walks: the table then
  // stayed at its first bucket array, with chains of hundreds of entries).
  std::thread walker([&] {
    tab.for_each([&](const std::uint64_t& k, std::string_view) {
      walking = true;
      while (!grown)
        std::this_thread::yield();
      seen.insert(k);
    });
  });
  while (!walking)
    std::this_thread::yield();
  for (std::uint64_t k = before; k < before + added; ++k)
    REQUIRE(owned.insert(k, value_for(k, 1)));
  auto buckets_after = engine.bucket_count();
  std::size_t missing = 0;
  for (std::uint64_t k = 0; k < before + added; ++k) {
    auto v = tab.lookup(k);
    if (!v || !*v)
      ++missing;
  }
  grown = true;
  walker.join();
  CHECK(buckets_after > buckets_before);
  CHECK(buckets_after >= added); // grew to hold every entry in a slot
  CHECK(missing == 0);
  // The walk still saw every entry present throughout exactly once.
  for (std::uint64_t k = 0; k < before; ++k)
    CHECK(seen.count(k) == 1);
}

TEST_CASE_METHOD(fixture, "a scan returns every entry present throughout, in "
                          "bounded steps, while the table grows",
                 "[concurrency]") {
  caf::scoped_actor self{sys};
  auto owned = cachet_test::unwrap(
    cachet::make_table<std::uint64_t, std::string>(self.ptr()));
  // Stable keys are even; the writer adds odd keys (growing the table 64-fold)
  // and churns some of them.
  constexpr std::uint64_t stable = 2000;
  for (std::uint64_t k = 0; k < 2 * stable; k += 2)
    REQUIRE(owned.insert(k, value_for(k, 0)));
  auto tab = owned.share();
  std::atomic<bool> scanning{false};
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!scanning)
      std::this_thread::yield();
    for (std::uint64_t k = 1; k < 128 * stable; k += 2) {
      owned.insert(k, value_for(k, 1));
      if (k % 7 == 0)
        owned.erase(k);
    }
    done = true;
  });
  int scans = 0;
  std::size_t largest_step = 0;
  int bad = 0;
  // Scan again and again until one whole scan overlapped the growth.
  do {
    std::set<std::uint64_t> seen;
    std::uint64_t cursor = 0;
    scanning = true;
    do {
      std::size_t step = 0;
      auto next = tab.scan(cursor, 10,
                           [&](const std::uint64_t& k, std::string_view v) {
                             if (!belongs_to(v, k))
                               ++bad;
                             ++step;
                             if (k % 2 == 0)
                               seen.insert(k);
                           });
      REQUIRE(next);
      cursor = *next;
      largest_step = std::max(largest_step, step);
    } while (cursor != 0);
    for (std::uint64_t k = 0; k < 2 * stable; k += 2)
      if (seen.count(k) == 0)
        ++bad;
    ++scans;
  } while (!done);
  writer.join();
  CHECK(bad == 0);
  CHECK(scans >= 1);
  // About `count` entries a step: a step ends after the bucket in which the
  // count was reached (chains are short at a load factor of 1/2).
  CHECK(largest_step <= 10 + 16);
}

TEST_CASE_METHOD(fixture, "a conditional erase never removes a newer write",
                 "[concurrency]") {
  caf::scoped_actor self{sys};
  auto owned = cachet_test::unwrap(cachet::make_table<std::uint64_t, std::string>(
    self.ptr(), {"", cachet::access_mode::public_}));
  auto tab = owned.share();
  constexpr std::uint64_t keys = 64;
  constexpr int rounds = 20000;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> erased{0};
  std::atomic<int> lost{0};
  // The sweeper erases values marked expired; the writer alternates expired
  // and live values and reads each live one back: it must still be there.
  std::thread sweeper([&] {
    std::uint64_t k = 0;
    while (!done) {
      auto removed = tab.erase_if(k, [](std::string_view v) {
        return v.substr(0, 8) == "expired:";
      });
      if (removed && *removed)
        ++erased;
      k = (k + 1) % keys;
    }
  });
  std::thread writer([&] {
    for (int i = 0; i < rounds; ++i) {
      auto k = static_cast<std::uint64_t>(i) % keys;
      tab.insert(k, "expired:" + std::to_string(i));
      // Give the sweeper a moment at the expired value now and then.
      for (int spin = 0; i % 16 == 0 && spin < 10000; ++spin)
        if (auto cur = tab.member(k); cur && !*cur)
          break;
      auto live = "live:" + std::to_string(i);
      tab.insert(k, live);
      auto v = tab.lookup(k);
      if (!v || *v != std::optional<std::string>{live})
        ++lost;
    }
    done = true;
  });
  writer.join();
  sweeper.join();
  CHECK(lost == 0);
  CHECK(erased > 0); // the sweeper did race the writer
}

TEST_CASE_METHOD(fixture, "ordered navigation stays consistent under churn",
                 "[concurrency]") {
  caf::scoped_actor self{sys};
  auto owned = std::move(*cachet::make_table<std::uint64_t, std::string,
                                             cachet::ordered_set<>>(self.ptr()));
  // Multiples of 10 stay; others come and go.
  for (std::uint64_t k = 0; k <= 10000; k += 10)
    REQUIRE(owned.insert(k, value_for(k, 0)));
  auto tab = owned.share();
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::atomic<int> readers{0};
  std::thread writer([&] {
    while (readers < 2) // overlap with the readers
      std::this_thread::yield();
    std::minstd_rand rng(7);
    for (int i = 0; i < 200000; ++i) {
      std::uint64_t k = rng() % 10000;
      if (k % 10 == 0)
        continue;
      if (i % 2 == 0)
        owned.insert(k, value_for(k, i));
      else
        owned.erase(k);
    }
    done = true;
  });
  run_threads(2, [&](int id) {
    std::minstd_rand rng(id);
    ++readers;
    while (!done) {
      std::uint64_t k = 10 * (rng() % 999) + 5;
      // next/prev never skip a stable key.
      auto nx = tab.next(k);
      auto pv = tab.prev(k);
      if (!*nx || **nx <= k || **nx > k + 5)
        ++bad;
      if (!*pv || **pv >= k || **pv < k - 5)
        ++bad;
      auto r = tab.range(k - 5, k + 25);
      std::uint64_t stable_seen = 0;
      std::uint64_t last = 0;
      bool first = true;
      for (auto& [key, v] : *r) {
        if (!belongs_to(v, key) || (!first && key <= last))
          ++bad;
        first = false;
        last = key;
        if (key % 10 == 0)
          ++stable_seen;
      }
      if (stable_seen != 3)
        ++bad;
    }
  });
  writer.join();
  CHECK(bad == 0);
}

namespace {

std::atomic<int> live_values{0};

// A value that counts its live instances and checks it is not used dead.
struct tracked_value {
  tracked_value() : alive(true) {
    ++live_values;
  }
  tracked_value(const tracked_value&) : alive(true) {
    ++live_values;
  }
  ~tracked_value() {
    alive = false;
    --live_values;
  }
  bool alive;
};

// The generic owner sends values in messages: they must be inspectable.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tracked_value& x) {
  return f(x.alive);
}

} // namespace

TEST_CASE_METHOD(fixture, "a reader inside the table outlives the owner's death",
                 "[concurrency]") {
  for (std::size_t i = 0; i < 100 && cachet::detail::reclaim() != 0; ++i)
    ; // start from a clean slate
  REQUIRE(live_values == 0);
  auto owner = cachet::spawn_owner<int, tracked_value>(
    sys, {"haunted", cachet::access_mode::public_});
  REQUIRE(owner);
  auto tab = cachet::whereis<int, tracked_value>(sys, "haunted");
  REQUIRE(tab);
  for (int k = 0; k < 100; ++k)
    REQUIRE(tab->insert(k, tracked_value{}));
  // Growing the table left old copies of nodes to reclaim; free them first.
  for (std::size_t i = 0; i < 100 && cachet::detail::reclaim() != 0; ++i)
    ;
  REQUIRE(live_values == 100);
  std::atomic<bool> inside{false};
  std::atomic<bool> owner_dead{false};
  bool value_ok_after_death = false;
  std::thread reader([&] {
    tab->visit(7, [&](const tracked_value& v) {
      inside = true;
      while (!owner_dead)
        std::this_thread::yield();
      // The owner is dead and its table retired; this value must still be
      // intact (ASan would flag a use after free).
      value_ok_after_death = v.alive;
    });
  });
  while (!inside)
    std::this_thread::yield();
  caf::scoped_actor self{sys};
  self->monitor(*owner);
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
  self->receive([](caf::down_msg&) {});
  CHECK(tab->lookup(7).error() == errc::table_gone);
  cachet::detail::reclaim();
  CHECK(live_values == 100); // held back by the reader still inside
  owner_dead = true;
  reader.join();
  CHECK(value_ok_after_death);
  for (std::size_t i = 0; i < 100 && live_values != 0; ++i)
    cachet::detail::reclaim();
  CHECK(live_values == 0); // freed once the reader left
}

