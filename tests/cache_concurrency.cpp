// Caches under real threads and real actors: one loader run for many
// concurrent misses (direct and over messages), independent loads of
// different keys, size bounds under concurrent writers, index consistency
// under concurrent updates and invalidations, and the owner's sweep timer.
// Workers collect results; the main thread asserts (Catch is not
// thread-safe).
#include "test_support.hpp"

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace cachet_test;
using namespace std::chrono_literals;

namespace {

using str_options = cachet::cache_options<std::string, std::string>;
using loader = cachet::cache_loader<std::string, std::string>;

constexpr int n_threads = 8;

/// A loader that counts its runs in `runs` and holds until `n` threads have
/// entered fetch (counted in `entered`), so that their misses overlap with
/// the load.
auto gated_loader(std::atomic<int>& runs, std::atomic<int>& entered, int n) {
  return [&runs, &entered, n](const std::string& k) {
    ++runs;
    while (entered.load() < n)
      std::this_thread::yield();
    return "v-" + k;
  };
}

/// Runs `f(i)` on `n` threads started together; joins them.
template <class F>
void run_threads(int n, F f) {
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      while (!go.load())
        std::this_thread::yield();
      f(i);
    });
  go = true;
  for (auto& t : ts)
    t.join();
}

struct cache_fixture : system_fixture {
  caf::scoped_actor self{sys};

  cachet::owned_cache<std::string, std::string> make(str_options opts) {
    auto res = cachet::make_cache<std::string, std::string>(self.ptr(),
                                                            std::move(opts));
    REQUIRE(res);
    return std::move(*res);
  }
};

} // namespace

TEST_CASE_METHOD(cache_fixture, "N threads fetching one missing key run the "
                                "loader once and all get its value") {
  str_options opts;
  opts.mode = cachet::access_mode::public_;
  auto owned = make(opts);
  auto c = owned.share();
  for (int round = 0; round < 20; ++round) {
    auto key = "k" + std::to_string(round);
    std::atomic<int> runs{0};
    std::atomic<int> entered{0};
    auto slow = gated_loader(runs, entered, n_threads);
    std::vector<std::string> got(n_threads);
    run_threads(n_threads, [&](int i) {
      ++entered;
      auto v = c.fetch(key, slow);
      got[static_cast<std::size_t>(i)] = v ? *v : outcome(v);
    });
    REQUIRE(runs == 1);
    for (auto& v : got)
      REQUIRE(v == "v-" + key);
  }
  CHECK(unwrap(c.stats()).loads == 20);
}

TEST_CASE_METHOD(cache_fixture, "N threads fetching one missing index key "
                                "run the loader once and all get the entry") {
  str_options opts;
  opts.mode = cachet::access_mode::public_;
  opts.indexes.push_back(
    {"email", [](const std::string&, const std::string& v)
                -> std::optional<std::string> { return v + "@example.com"; }});
  auto owned = make(opts);
  auto c = owned.share();
  for (int round = 0; round < 20; ++round) {
    auto name = "user" + std::to_string(round);
    std::atomic<int> runs{0};
    std::atomic<int> entered{0};
    auto slow = [&](const std::string& email)
      -> std::optional<std::pair<std::string, std::string>> {
      ++runs;
      while (entered.load() < n_threads)
        std::this_thread::yield();
      return std::make_pair("id" + std::to_string(email.size()),
                            email.substr(0, email.find('@')));
    };
    std::vector<std::string> got(n_threads);
    run_threads(n_threads, [&](int i) {
      ++entered;
      auto v = c.fetch_by("email", name + "@example.com", slow);
      got[static_cast<std::size_t>(i)] = !v ? outcome(v) : (*v ? **v : "none");
    });
    REQUIRE(runs == 1);
    for (auto& v : got)
      REQUIRE(v == name);
  }
  CHECK(unwrap(c.stats()).loads == 20);
}

TEST_CASE_METHOD(system_fixture, "N callers fetching one missing key over "
                                 "messages run the loader once") {
  str_options opts;
  opts.name = "msg-fetch";
  opts.mode = cachet::access_mode::public_;
  auto owner = unwrap(cachet::spawn_cache(sys, opts));
  auto direct = unwrap(cachet::whereis_cache<std::string, std::string>(
    sys, "msg-fetch"));
  for (int round = 0; round < 10; ++round) {
    auto key = "k" + std::to_string(round);
    std::atomic<int> runs{0};
    std::atomic<int> entered{0};
    loader slow{gated_loader(runs, entered, n_threads)};
    std::vector<std::string> got(n_threads);
    run_threads(n_threads, [&](int i) {
      ++entered;
      caf::expected<std::string> v{std::string{}};
      if (i % 2 == 0) { // half ask the owner, half fetch directly
        cachet::blocking_caller caller{sys};
        v = caller.call(owner, 10s, cachet::fetch_atom_v, key, slow);
      } else {
        v = direct.fetch(key, slow.fn);
      }
      got[static_cast<std::size_t>(i)] = v ? *v : outcome(v);
    });
    REQUIRE(runs == 1);
    for (auto& v : got)
      REQUIRE(v == "v-" + key);
  }
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(system_fixture, "a hung load blocks neither other keys nor "
                                 "the owner, and its callers time out") {
  str_options opts;
  opts.load_timeout = 50ms;
  auto owner = unwrap(cachet::spawn_cache(sys, opts));
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> hung_done;
  loader hung{[gate, &hung_done](const std::string&) {
    gate.wait();
    hung_done.set_value();
    return std::string{"late"};
  }};
  // Several callers of the hung key, over messages; meanwhile other keys
  // load and the owner answers.
  std::vector<std::string> outcomes(4);
  std::vector<std::string> others(4);
  run_threads(4, [&](int i) {
    cachet::blocking_caller caller{sys};
    auto slot = static_cast<std::size_t>(i);
    outcomes[slot] = outcome(
      caller.call(owner, 10s, cachet::fetch_atom_v, std::string{"hung"}, hung));
    auto v = caller.call(owner, 10s, cachet::fetch_atom_v,
                         "other" + std::to_string(i),
                         loader{[](const std::string& k) { return k; }});
    others[slot] = v ? *v : outcome(v);
  });
  for (auto& o : outcomes)
    REQUIRE(o == "load_timeout");
  for (int i = 0; i < 4; ++i)
    REQUIRE(others[static_cast<std::size_t>(i)] == "other" + std::to_string(i));
  cachet::blocking_caller caller{sys};
  // Not poisoned: a new load of the key runs.
  REQUIRE(unwrap(caller.call(owner, 10s, cachet::fetch_atom_v,
                             std::string{"hung"},
                             loader{[](const std::string&) {
                               return std::string{"fresh"};
                             }}))
          == "fresh");
  release.set_value();
  hung_done.get_future().wait();
  REQUIRE(unwrap(caller.call(owner, 10s, cachet::lookup_atom_v,
                             std::string{"hung"}))
          == std::optional<std::string>{"fresh"});
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(cache_fixture, "loads of different keys run in parallel") {
  str_options opts;
  opts.mode = cachet::access_mode::public_;
  auto owned = make(opts);
  auto c = owned.share();
  // Each loader waits until all are running: this finishes only if the
  // loads overlap.
  std::atomic<int> running{0};
  std::vector<std::string> got(n_threads);
  run_threads(n_threads, [&](int i) {
    auto v = c.fetch("k" + std::to_string(i), [&](const std::string& k) {
      ++running;
      while (running.load() < n_threads)
        std::this_thread::yield();
      return k;
    });
    got[static_cast<std::size_t>(i)] = v ? *v : outcome(v);
  });
  for (int i = 0; i < n_threads; ++i)
    REQUIRE(got[static_cast<std::size_t>(i)] == "k" + std::to_string(i));
}

TEST_CASE_METHOD(cache_fixture, "the size bounds hold under concurrent "
                                "writers") {
  for (auto policy : {cachet::eviction_policy::s3fifo,
                      cachet::eviction_policy::lru}) {
    std::atomic<std::uint64_t> evicted{0};
    str_options opts;
    opts.mode = cachet::access_mode::public_;
    opts.policy = policy;
    opts.max_entries = 64;
    opts.max_weight = 600;
    opts.weigher = [](const std::string&, const std::string& v) {
      return static_cast<std::uint64_t>(v.size());
    };
    opts.on_removal = [&](const std::string&, const std::string&,
                          cachet::removal_cause c) {
      if (c == cachet::removal_cause::evicted)
        ++evicted;
    };
    auto owned = make(opts);
    auto c = owned.share();
    constexpr int per_thread = 3000;
    std::vector<std::size_t> max_size(4, 0);
    std::vector<int> errors(4, 0);
    run_threads(4, [&](int t) {
      auto slot = static_cast<std::size_t>(t);
      for (int i = 0; i < per_thread; ++i) {
        auto k = std::to_string(t) + ":" + std::to_string(i);
        if (!c.put(k, std::string(static_cast<std::size_t>(i % 20 + 1), 'x')))
          ++errors[slot];
        c.get(std::to_string(t) + ":" + std::to_string(i / 2));
        // The cache's own count, exact at every instant (a table's size()
        // is exact only when no write is in flight).
        max_size[slot] = std::max(
          max_size[slot], static_cast<std::size_t>(c.stats()->entries));
      }
    });
    auto st = unwrap(c.stats());
    auto entries_hw = st.peak_entries;
    auto weight_hw = st.peak_weight;
    REQUIRE(entries_hw <= 64);
    REQUIRE(weight_hw <= 600);
    for (int t = 0; t < 4; ++t) {
      REQUIRE(errors[static_cast<std::size_t>(t)] == 0);
      REQUIRE(max_size[static_cast<std::size_t>(t)] <= 64);
    }
    // Every key put is either still cached or was evicted, exactly once.
    REQUIRE(evicted + unwrap(c.size()) == 4 * per_thread);
    REQUIRE(unwrap(c.stats()).evictions == evicted);
  }
}

TEST_CASE_METHOD(cache_fixture, "indexes stay consistent under concurrent "
                                "updates and invalidations") {
  // Values are "handle|writer"; handles move between keys.
  str_options opts;
  opts.mode = cachet::access_mode::public_;
  opts.max_entries = 40;
  opts.indexes.push_back(
    {"handle",
     [](const std::string&, const std::string& v) -> std::optional<std::string> {
       return v.substr(0, v.find('|'));
     }});
  auto owned = make(opts);
  auto c = owned.share();
  std::vector<int> bad(4, 0);
  run_threads(4, [&](int t) {
    auto slot = static_cast<std::size_t>(t);
    std::uint64_t x = static_cast<std::uint64_t>(t) * 7919 + 1;
    for (int i = 0; i < 4000; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      auto key = "k" + std::to_string((x >> 33) % 50);
      auto handle = "h" + std::to_string((x >> 40) % 30);
      switch ((x >> 20) % 4) {
        case 0:
        case 1:
          c.put(key, handle + "|" + std::to_string(t));
          break;
        case 2:
          c.invalidate(key);
          break;
        default:
          // A read by index sees an entry with that handle, or nothing.
          if (auto v = c.get_by("handle", handle); !v)
            ++bad[slot];
          else if (*v && (*v)->substr(0, (*v)->find('|')) != handle)
            ++bad[slot];
      }
    }
  });
  for (auto b : bad)
    REQUIRE(b == 0);
  // Quiescent: every entry is found by its handle, and each handle by index
  // names an entry that has it.
  auto entries = unwrap(c.core()->to_list());
  std::set<std::string> handles;
  for (auto& [k, v] : entries) {
    auto handle = v.substr(0, v.find('|'));
    REQUIRE(handles.insert(handle).second); // unique
    REQUIRE(unwrap(c.get_by("handle", handle)) == std::optional<std::string>{v});
  }
  for (int h = 0; h < 30; ++h) {
    auto handle = "h" + std::to_string(h);
    auto v = unwrap(c.get_by("handle", handle));
    REQUIRE(v.has_value() == (handles.count(handle) == 1));
  }
}

TEST_CASE_METHOD(system_fixture, "the owner sweeps expired entries on its "
                                 "timer") {
  auto ns = std::make_shared<std::atomic<std::int64_t>>(1'000'000'000);
  auto swept = std::make_shared<std::promise<std::string>>();
  auto once = std::make_shared<std::atomic<bool>>(false);
  str_options opts;
  opts.sweep_interval = 1ms;
  opts.clock = [ns] {
    return cachet::cache_clock::time_point{std::chrono::nanoseconds{*ns}};
  };
  opts.on_removal = [swept, once](const std::string& k, const std::string&,
                                  cachet::removal_cause c) {
    if (c == cachet::removal_cause::expired && !once->exchange(true))
      swept->set_value(k);
  };
  auto owner = unwrap(cachet::spawn_cache(sys, opts));
  cachet::blocking_caller caller{sys};
  REQUIRE(outcome(caller.call(owner, 5s, cachet::insert_atom_v,
                              std::string{"a"}, std::string{"1"},
                              caf::timespan{10s}))
          == "ok");
  REQUIRE(outcome(caller.call(owner, 5s, cachet::insert_atom_v,
                              std::string{"b"}, std::string{"2"}))
          == "ok");
  // Nothing expires until the test clock moves, however often it sweeps.
  auto fut = swept->get_future();
  *ns += std::chrono::nanoseconds{11s}.count();
  // Waits for the event; the bound only keeps a broken build from hanging.
  REQUIRE(fut.wait_for(60s) == std::future_status::ready);
  REQUIRE(fut.get() == "a");
  REQUIRE(unwrap(caller.call(owner, 5s, cachet::size_atom_v)) == 1);
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
}
