// The query API under real threads: select continuations while writers grow
// and churn the table, select_delete and select_replace racing writers of
// the same keys, bags written from many threads at once. Each test checks an
// invariant ETS guarantees; none relies on timing. Every loop is bounded in
// count. Threads count their failures in atomics (Catch's assertions are
// for the test's own thread).
#include "test_support.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using cachet_test::run_threads;

using cachet::access_mode;
using cachet_test::unwrap;

using hashed = cachet::set<>;
using ordered = cachet::ordered_set<>;

template <class Kind>
struct fixture : cachet_test::owner_fixture {};

} // namespace

TEMPLATE_TEST_CASE_METHOD(fixture, "a paged select returns each stayer "
                                   "exactly once while writers grow and churn "
                                   "the table",
                          "[select][concurrency]", hashed, ordered) {
  // Keys [0, 1000) stay for the whole select. Writers add keys from 1'000'000
  // on (the table grows to many times its size) and insert and erase keys
  // [1000, 2000) over and over. ETS: each stayer exactly once, every other
  // key at most once.
  constexpr int stayers = 1000;
  auto t = this->template make<int, int, TestType>({"", access_mode::public_});
  for (int k = 0; k < stayers; ++k)
    REQUIRE(t.insert(k, k));
  auto shared = t.share();
  std::atomic<bool> done{false};
  std::atomic<int> writes{0};
  std::atomic<int> failures{0};
  std::map<int, int> times;
  std::size_t pages = 0;
  run_threads(3, [&](int id) {
    if (id == 0) {
      // Waits for the writers to be under way, then pages through.
      while (writes.load() < 1000)
        std::this_thread::yield();
      auto page = shared.select(
        [](int k, int) -> std::optional<int> { return k; }, 17);
      while (page && !page->items.empty()) {
        for (auto k : page->items)
          ++times[k];
        ++pages;
        // Let the writers move on between the first pages, whatever the
        // scheduler; later pages run while they write on (bounded).
        auto seen = writes.load();
        while (pages < 40 && writes.load() < seen + 50 && !done.load())
          std::this_thread::yield();
        page = shared.select(std::move(page->next));
      }
      if (!page)
        ++failures;
      done = true;
      return;
    }
    int fresh = 1'000'000 * id;
    for (int i = 0; i < 100'000 && !done.load(); ++i) {
      if (!shared.insert(fresh++, 0))
        ++failures;
      int churn = stayers + (i * 7 + id) % 1000;
      bool ok = i % 2 == 0 ? static_cast<bool>(shared.insert(churn, 1))
                           : static_cast<bool>(shared.erase(churn));
      if (!ok)
        ++failures;
      writes.fetch_add(1);
    }
    done = true;
  });
  CHECK(failures.load() == 0);
  CHECK(pages >= stayers / 17);
  for (int k = 0; k < stayers; ++k) {
    INFO("stayer " << k);
    CHECK(times[k] == 1);
  }
  int repeated = 0;
  for (auto [k, n] : times)
    if (n != 1)
      ++repeated;
  CHECK(repeated == 0);
  CHECK(unwrap(t.size()) > stayers);
}

TEMPLATE_TEST_CASE_METHOD(fixture, "select_delete racing writers deletes "
                                   "only what its predicate holds for at "
                                   "deletion",
                          "[select][concurrency]", hashed, ordered) {
  // Each writer owns its keys and flips them between live (even) and
  // expired (odd) values. select_delete purges odd values. A key whose
  // writer last wrote a live value must never go missing: if it does, a
  // purge deleted a live value, testing an older one.
  constexpr int writers = 2;
  constexpr int keys_per_writer = 64;
  auto t = this->template make<int, std::int64_t, TestType>(
    {"", access_mode::public_});
  auto shared = t.share();
  std::atomic<int> writing{writers};
  std::atomic<long> violations{0};
  std::atomic<long> purged{0};
  std::atomic<long> expired_gone{0};
  std::atomic<int> failures{0};
  run_threads(writers + 1, [&](int id) {
    if (id == writers) {
      // Purges for as long as the writers write (however the threads are
      // scheduled), and once more after.
      do {
        auto n = shared.select_delete(
          [](int, std::int64_t v) { return v % 2 != 0; });
        if (n)
          purged += static_cast<long>(*n);
        else
          ++failures;
      } while (writing.load() > 0);
      return;
    }
    std::vector<std::int64_t> last(keys_per_writer, -1);
    for (std::int64_t n = 0; n < 100'000; ++n) {
      int slot = static_cast<int>(n % keys_per_writer);
      int key = id * keys_per_writer + slot;
      auto v = 2 * n + (n % 3 == 0 ? 1 : 0); // a third of them expired
      if (!shared.insert(key, v))
        ++failures;
      last[slot] = v;
      auto found = shared.lookup(key);
      if (!found) {
        ++failures;
        continue;
      }
      auto& seen = *found;
      if (!seen) {
        if (last[slot] % 2 == 0)
          ++violations;
        else
          ++expired_gone;
      } else if (*seen != last[slot] && *seen % 2 == 0) {
        ++violations; // nobody else writes this key
      }
    }
    --writing;
  });
  CHECK(failures.load() == 0);
  CHECK(violations.load() == 0);
  CHECK(purged.load() > 0);
  // What is left holds no value a purge should have taken... once it ran.
  REQUIRE(t.select_delete([](int, std::int64_t v) { return v % 2 != 0; }));
  CHECK(unwrap(t.select_count([](int, std::int64_t v) { return v % 2 != 0; }))
        == 0);
}

TEMPLATE_TEST_CASE_METHOD(fixture, "select_replace and counters racing on "
                                   "the same keys lose no update",
                          "[select][concurrency]", hashed, ordered) {
  // Writers bump counters; select_replace adds 1000 to every entry, atomic
  // per entry. Every key is present throughout, so each select_replace hits
  // each key exactly once: the final value is bumps + 1000 * replaces.
  constexpr int keys = 256;
  constexpr int bumps = 20'000;
  constexpr int replaces = 20;
  auto t = this->template make<int, std::int64_t, TestType>(
    {"", access_mode::public_});
  for (int k = 0; k < keys; ++k)
    REQUIRE(t.insert(k, std::int64_t{0}));
  auto shared = t.share();
  std::vector<std::atomic<int>> bumped(keys);
  std::atomic<int> failures{0};
  run_threads(3, [&](int id) {
    if (id == 2) {
      for (int r = 0; r < replaces; ++r) {
        auto n = shared.select_replace(
          [](int, std::int64_t v) -> std::optional<std::int64_t> {
            return v + 1000;
          });
        if (!n || *n != keys)
          ++failures;
      }
      return;
    }
    for (int i = 0; i < bumps; ++i) {
      int k = (i * 31 + id) % keys;
      if (shared.update_counter(k, {1}))
        bumped[k].fetch_add(1);
      else
        ++failures;
    }
  });
  CHECK(failures.load() == 0);
  for (int k = 0; k < keys; ++k) {
    INFO("key " << k);
    CHECK(unwrap(t.lookup(k)) == bumped[k].load() + 1000 * replaces);
  }
}

TEST_CASE_METHOD(fixture<cachet::duplicate_bag<>>,
                 "a duplicate_bag written from many threads keeps every "
                 "object, each writer's in its order",
                 "[bag][concurrency]") {
  // Writers add (key, writer * 1'000'000 + n) with n rising; readers check
  // that each writer's objects under a key appear in rising order and that
  // nothing is torn; at the end every object is there.
  constexpr int writers = 2;
  constexpr int adds = 20'000;
  constexpr int keys = 16;
  auto t = make<std::string, std::int64_t, cachet::duplicate_bag<>>(
    {"", access_mode::public_});
  auto shared = t.share();
  std::atomic<int> writing{writers};
  std::atomic<long> disorder{0};
  std::atomic<long> reads{0};
  std::atomic<int> failures{0};
  run_threads(writers + 1, [&](int id) {
    if (id == writers) {
      while (writing.load() > 0 || reads.load() == 0) {
        for (int k = 0; k < keys; ++k) {
          auto xs = shared.lookup("k" + std::to_string(k));
          if (!xs) {
            ++failures;
            continue;
          }
          std::vector<std::int64_t> last(writers, -1);
          for (auto x : *xs) {
            auto w = static_cast<int>(x / 1'000'000);
            if (w < 0 || w >= writers || x % 1'000'000 <= last[w])
              ++disorder;
            else
              last[w] = x % 1'000'000;
          }
        }
        ++reads;
      }
      return;
    }
    for (int n = 0; n < adds; ++n)
      if (!shared.insert("k" + std::to_string(n % keys),
                         std::int64_t{id} * 1'000'000 + n))
        ++failures;
    --writing;
  });
  CHECK(failures.load() == 0);
  CHECK(disorder.load() == 0);
  CHECK(unwrap(t.size()) == std::size_t{writers} * adds);
  for (int k = 0; k < keys; ++k)
    CHECK(unwrap(t.lookup("k" + std::to_string(k))).size()
          == std::size_t{writers} * adds / keys);
  // And all at once, concurrently with nothing: select_delete takes one
  // writer's objects and leaves the other's.
  CHECK(unwrap(t.select_delete([](std::string_view, std::int64_t x) {
          return x / 1'000'000 == 0;
        }))
        == std::size_t{adds});
  CHECK(unwrap(t.size()) == std::size_t{adds});
}
