// Caches, one behaviour at a time: read-through fetch and its failures, TTL
// with a test clock, size bounds and eviction, stats and removal causes,
// secondary indexes, content keys, access_mode modes and the message path.
#include "test_support.hpp"

#include <atomic>
#include <future>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

using namespace cachet_test;
using namespace std::chrono_literals;

namespace {

using str_cache = cachet::owned_cache<std::string, std::string>;
using str_options = cachet::cache_options<std::string, std::string>;

/// A clock the test moves by hand.
struct test_clock {
  std::shared_ptr<std::atomic<std::int64_t>> ns
    = std::make_shared<std::atomic<std::int64_t>>(1'000'000'000);

  std::function<cachet::cache_clock::time_point()> fn() const {
    auto p = ns;
    return [p] {
      return cachet::cache_clock::time_point{std::chrono::nanoseconds{*p}};
    };
  }

  void advance(std::chrono::nanoseconds d) {
    ns->fetch_add(d.count());
  }
};

/// Removals seen by the listener, in order.
struct removal_log {
  std::shared_ptr<std::vector<std::pair<std::string, cachet::removal_cause>>>
    seen = std::make_shared<
      std::vector<std::pair<std::string, cachet::removal_cause>>>();

  std::function<void(const std::string&, const std::string&,
                     cachet::removal_cause)>
  fn() const {
    auto p = seen;
    return [p](const std::string& k, const std::string&,
               cachet::removal_cause c) { p->emplace_back(k, c); };
  }

  std::size_t count(cachet::removal_cause c) const {
    return static_cast<std::size_t>(std::count_if(
      seen->begin(), seen->end(), [c](auto& x) { return x.second == c; }));
  }
};

struct cache_fixture : system_fixture {
  caf::scoped_actor self{sys};

  str_cache make(str_options opts = {}) {
    auto res = cachet::make_cache<std::string, std::string>(self.ptr(),
                                                            std::move(opts));
    REQUIRE(res);
    return std::move(*res);
  }
};

std::optional<std::string> some(std::string x) {
  return std::optional<std::string>{std::move(x)};
}

const std::optional<std::string> none_v;

} // namespace

TEST_CASE_METHOD(cache_fixture, "put, get, invalidate and stats") {
  auto c = make();
  REQUIRE(unwrap(c.get("a")) == none_v);
  REQUIRE(outcome(c.put("a", "1")) == "ok");
  REQUIRE(unwrap(c.get("a")) == some("1"));
  REQUIRE(unwrap(c.invalidate("a")) == true);
  REQUIRE(unwrap(c.invalidate("a")) == false);
  REQUIRE(unwrap(c.get("a")) == none_v);
  auto st = unwrap(c.stats());
  CHECK(st.hits == 1);
  CHECK(st.misses == 2);
  CHECK(st.hit_ratio() == Approx(1.0 / 3));
}

TEST_CASE_METHOD(cache_fixture, "fetch loads on a miss, off the caller's "
                                "thread, and serves hits from the cache") {
  auto c = make();
  std::atomic<int> runs{0};
  std::thread::id loader_thread;
  auto loader = [&](const std::string& k) {
    ++runs;
    loader_thread = std::this_thread::get_id();
    return "v-" + k;
  };
  REQUIRE(unwrap(c.fetch("k", loader)) == "v-k");
  REQUIRE(unwrap(c.fetch("k", loader)) == "v-k");
  REQUIRE(unwrap(c.get("k")) == some("v-k"));
  CHECK(runs == 1);
  CHECK(loader_thread != std::this_thread::get_id());
  auto st = unwrap(c.stats());
  CHECK(st.loads == 1);
  CHECK(st.misses == 1);
  CHECK(st.hits == 2);
}

TEST_CASE_METHOD(cache_fixture, "a throwing loader fails with load_failed "
                                "and leaves the key loadable") {
  auto c = make();
  auto bad = [](const std::string&) -> std::string {
    throw std::runtime_error("db down");
  };
  auto res = c.fetch("k", bad);
  REQUIRE(outcome(res) == "load_failed");
  CHECK(sys.render(res.error()).find("db down") != std::string::npos);
  REQUIRE(unwrap(c.get("k")) == none_v);
  REQUIRE(unwrap(c.fetch("k", [](const std::string&) {
            return std::string{"ok"};
          })) == "ok");
  auto st = unwrap(c.stats());
  CHECK(st.load_failures == 1);
  CHECK(st.loads == 1);
}

TEST_CASE_METHOD(cache_fixture, "a loader past the timeout fails its callers "
                                "with load_timeout, and its late value is "
                                "dropped") {
  str_options opts;
  opts.load_timeout = 20ms;
  auto c = make(opts);
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> finished;
  auto slow = [gate, &finished](const std::string&) {
    gate.wait(); // until the test lets it go, well after the timeout
    finished.set_value();
    return std::string{"late"};
  };
  REQUIRE(outcome(c.fetch("k", slow)) == "load_timeout");
  // Not poisoned: the next fetch loads again, and gets its own value.
  REQUIRE(unwrap(c.fetch("k", [](const std::string&) {
            return std::string{"fresh"};
          })) == "fresh");
  release.set_value();
  finished.get_future().wait();
  REQUIRE(unwrap(c.get("k")) == some("fresh"));
  CHECK(unwrap(c.stats()).load_failures == 1);
}

TEST_CASE_METHOD(cache_fixture, "an expired entry is never returned and a "
                                "sweep removes it (test clock)") {
  test_clock clock;
  removal_log log;
  str_options opts;
  opts.clock = clock.fn();
  opts.on_removal = log.fn();
  auto c = make(opts);
  REQUIRE(outcome(c.put("a", "1", 10s)) == "ok");
  REQUIRE(outcome(c.put("b", "2")) == "ok"); // no TTL
  clock.advance(9s);
  REQUIRE(unwrap(c.get("a")) == some("1"));
  clock.advance(1s);
  REQUIRE(unwrap(c.get("a")) == none_v); // expired at exactly 10 s
  REQUIRE(unwrap(c.size()) == 2);        // still there until swept
  REQUIRE(unwrap(c.sweep()) == 1);
  REQUIRE(unwrap(c.size()) == 1);
  REQUIRE(unwrap(c.get("b")) == some("2"));
  REQUIRE(log.count(cachet::removal_cause::expired) == 1);
  CHECK(unwrap(c.stats()).expirations == 1);
}

TEST_CASE_METHOD(cache_fixture, "default TTL, and touch-on-read renews") {
  test_clock clock;
  str_options opts;
  opts.clock = clock.fn();
  opts.ttl = 10s;
  opts.touch_on_read = true;
  auto c = make(opts);
  REQUIRE(outcome(c.put("a", "1")) == "ok");
  REQUIRE(outcome(c.put("b", "2")) == "ok");
  for (int i = 0; i < 5; ++i) {
    clock.advance(6s);
    REQUIRE(unwrap(c.get("a")) == some("1")); // each read renews a
  }
  REQUIRE(unwrap(c.get("b")) == none_v);
  REQUIRE(unwrap(c.sweep()) == 1); // b; a was renewed, its record re-queued
  REQUIRE(unwrap(c.get("a")) == some("1"));
  clock.advance(10s);
  REQUIRE(unwrap(c.sweep()) == 1);
  REQUIRE(unwrap(c.size()) == 0);
}

TEST_CASE_METHOD(cache_fixture, "a sweep does bounded work") {
  test_clock clock;
  str_options opts;
  opts.clock = clock.fn();
  auto c = make(opts);
  for (int i = 0; i < 100; ++i)
    REQUIRE(outcome(c.put(std::to_string(i), "x", 1s)) == "ok");
  clock.advance(2s);
  REQUIRE(unwrap(c.sweep(10)) == 10);
  REQUIRE(unwrap(c.size()) == 90);
  REQUIRE(unwrap(c.sweep(1000)) == 90);
}

TEST_CASE_METHOD(cache_fixture, "max_entries holds, with either policy") {
  for (auto policy : {cachet::eviction_policy::s3fifo,
                      cachet::eviction_policy::lru}) {
    removal_log log;
    str_options opts;
    opts.max_entries = 10;
    opts.policy = policy;
    opts.on_removal = log.fn();
    auto c = make(opts);
    for (int i = 0; i < 100; ++i) {
      REQUIRE(outcome(c.put(std::to_string(i), "x")) == "ok");
      REQUIRE(unwrap(c.size()) <= 10);
    }
    REQUIRE(unwrap(c.size()) == 10);
    REQUIRE(log.count(cachet::removal_cause::evicted) == 90);
    REQUIRE(unwrap(c.stats()).evictions == 90);
    c = make(); // releases the old cache first
  }
}

TEST_CASE_METHOD(cache_fixture, "max_weight holds with a weigher, and an entry "
                                "heavier than the bound is not kept") {
  removal_log log;
  str_options opts;
  opts.max_weight = 100;
  opts.weigher = [](const std::string&, const std::string& v) {
    return static_cast<std::uint64_t>(v.size());
  };
  opts.on_removal = log.fn();
  auto c = make(opts);
  for (int i = 0; i < 50; ++i) {
    REQUIRE(outcome(c.put(std::to_string(i), std::string(
                                               static_cast<size_t>(i % 30 + 1),
                                               'x')))
            == "ok");
    REQUIRE(unwrap(c.stats()).weight <= 100);
  }
  REQUIRE(outcome(c.put("huge", std::string(101, 'x'))) == "ok");
  REQUIRE(unwrap(c.get("huge")) == none_v);
  REQUIRE(unwrap(c.stats()).weight <= 100);
  REQUIRE(log.seen->back().first == "huge");
  REQUIRE(log.seen->back().second == cachet::removal_cause::evicted);
}

TEST_CASE_METHOD(cache_fixture, "S3-FIFO keeps hot entries through a scan, "
                                "LRU does not") {
  auto survivors = [&](cachet::eviction_policy policy) {
    str_options opts;
    opts.max_entries = 100;
    opts.policy = policy;
    auto c = make(opts);
    for (int i = 0; i < 50; ++i)
      REQUIRE(outcome(c.put("hot" + std::to_string(i), "x")) == "ok");
    for (int round = 0; round < 3; ++round)
      for (int i = 0; i < 50; ++i)
        REQUIRE(unwrap(c.get("hot" + std::to_string(i))) == some("x"));
    for (int i = 0; i < 1000; ++i) // a scan of one-hit wonders
      REQUIRE(outcome(c.put("scan" + std::to_string(i), "x")) == "ok");
    int kept = 0;
    for (int i = 0; i < 50; ++i)
      kept += unwrap(c.get("hot" + std::to_string(i))) ? 1 : 0;
    return kept;
  };
  CHECK(survivors(cachet::eviction_policy::s3fifo) == 50);
  CHECK(survivors(cachet::eviction_policy::lru) == 0);
}

TEST_CASE("S3-FIFO's ghost queue keeps a hash from its latest add until "
          "capacity adds later or its take") {
  // Against a model: the adds in order, the first still remembered, each
  // untaken hash's latest add. Hashes below 2^32 have distinct fingerprints.
  cachet::detail::ghost_fifo ghost;
  std::vector<std::uint64_t> adds;
  std::size_t first = 0;
  std::map<std::uint64_t, std::size_t> latest; // hash -> index in adds
  std::size_t cap = 64;
  ghost.set_capacity(cap);
  auto forget_beyond_cap = [&] {
    if (adds.size() - first > cap)
      first = adds.size() - cap;
  };
  auto member = [&](std::uint64_t h) {
    auto i = latest.find(h);
    return i != latest.end() && i->second >= first;
  };
  auto members = [&] {
    std::size_t n = 0;
    for (auto& [h, i] : latest)
      n += member(h) ? 1 : 0;
    return n;
  };
  std::mt19937_64 rng{7};
  std::size_t taken = 0;
  for (int step = 0; step < 20000; ++step) {
    auto h = 1 + rng() % 300;
    switch (rng() % 8) {
      case 0: { // take: true exactly for members, which then leave
        bool expected = member(h);
        REQUIRE(ghost.take(h) == expected);
        if (expected) {
          latest.erase(h);
          ++taken;
        }
        break;
      }
      case 1:
        if (step % 50 == 0) { // a new capacity keeps the newest adds
          cap = 1 + rng() % 200;
          ghost.set_capacity(cap);
          forget_beyond_cap();
        }
        break;
      default:
        ghost.add(h);
        adds.push_back(h);
        latest[h] = adds.size() - 1;
        forget_beyond_cap();
    }
    REQUIRE(ghost.size() == members());
  }
  CHECK(taken > 100); // the takes did hit members
  ghost.clear();
  CHECK(ghost.size() == 0);
  CHECK_FALSE(ghost.take(adds.back()));
}

TEST_CASE("S3-FIFO's ghost queue tells apart hashes whose fingerprints "
          "differ in any of their 32 bits") {
  // A fingerprint is h ^ (h >> 32). With fewer of its bits kept, a cache
  // of a million ghosts would take a new key for a ghost several percent
  // of the time and admit it straight to main.
  cachet::detail::ghost_fifo ghost;
  ghost.set_capacity(64);
  for (unsigned bit = 0; bit < 32; ++bit) {
    std::uint64_t h = 0x12345;
    auto other = h ^ (std::uint64_t{1} << bit);
    ghost.add(h);
    CHECK_FALSE(ghost.take(other));
    CHECK(ghost.take(h));
  }
  CHECK(ghost.size() == 0);
}

TEST_CASE_METHOD(cache_fixture, "removal causes: explicit and replaced") {
  removal_log log;
  str_options opts;
  opts.on_removal = log.fn();
  auto c = make(opts);
  REQUIRE(outcome(c.put("a", "1")) == "ok");
  REQUIRE(outcome(c.put("a", "2")) == "ok");
  REQUIRE(unwrap(c.invalidate("a")) == true);
  REQUIRE(outcome(c.put("b", "1")) == "ok");
  REQUIRE(outcome(c.clear()) == "ok");
  using rc = cachet::removal_cause;
  REQUIRE(*log.seen
          == std::vector<std::pair<std::string, rc>>{{"a", rc::replaced},
                                                     {"a", rc::explicit_},
                                                     {"b", rc::explicit_}});
  REQUIRE(cachet::to_string(rc::evicted) == "evicted");
}

namespace {

/// Values "handle|body": indexed by handle (IdentityCache's cache_index
/// :handle, unique: true).
str_options indexed_options() {
  str_options opts;
  opts.indexes.push_back(
    {"handle",
     [](const std::string&, const std::string& v) -> std::optional<std::string> {
       auto bar = v.find('|');
       if (bar == std::string::npos)
         return std::nullopt;
       return v.substr(0, bar);
     }});
  return opts;
}

} // namespace

TEST_CASE_METHOD(cache_fixture, "a secondary index follows updates, "
                                "invalidation, expiry and eviction") {
  test_clock clock;
  auto opts = indexed_options();
  opts.clock = clock.fn();
  opts.max_entries = 3;
  auto c = make(opts);
  REQUIRE(outcome(c.put("1", "shoes|a")) == "ok");
  REQUIRE(unwrap(c.get_by("handle", "shoes")) == some("shoes|a"));
  // Update: the old index key goes, the new one points at the entry.
  REQUIRE(outcome(c.put("1", "boots|a")) == "ok");
  REQUIRE(unwrap(c.get_by("handle", "shoes")) == none_v);
  REQUIRE(unwrap(c.get_by("handle", "boots")) == some("boots|a"));
  // Unique: another key taking "boots" drops the stale entry 1.
  REQUIRE(outcome(c.put("2", "boots|b")) == "ok");
  REQUIRE(unwrap(c.get("1")) == none_v);
  REQUIRE(unwrap(c.get_by("handle", "boots")) == some("boots|b"));
  // Invalidation.
  REQUIRE(unwrap(c.invalidate("2")) == true);
  REQUIRE(unwrap(c.get_by("handle", "boots")) == none_v);
  // Expiry.
  REQUIRE(outcome(c.put("3", "hats|c", 1s)) == "ok");
  clock.advance(2s);
  REQUIRE(unwrap(c.get_by("handle", "hats")) == none_v); // checked on read
  REQUIRE(unwrap(c.sweep()) == 1);
  REQUIRE(unwrap(c.get_by("handle", "hats")) == none_v);
  // Eviction: 4 entries into 3 slots.
  for (int i = 0; i < 4; ++i)
    REQUIRE(outcome(c.put("k" + std::to_string(i),
                          "h" + std::to_string(i) + "|x"))
            == "ok");
  int indexed = 0;
  for (int i = 0; i < 4; ++i) {
    auto by = unwrap(c.get_by("handle", "h" + std::to_string(i)));
    auto direct = unwrap(c.get("k" + std::to_string(i)));
    REQUIRE(by == direct);
    indexed += by ? 1 : 0;
  }
  REQUIRE(indexed == 3);
  REQUIRE(outcome(c.get_by("nope", "x")) == "no_such_key");
}

TEST_CASE_METHOD(cache_fixture, "fetch_by loads by index key, caches the "
                                "entry under both keys and caches no "
                                "absence") {
  auto c = make(indexed_options());
  std::map<std::string, std::pair<std::string, std::string>> db{
    {"shoes", {"1", "shoes|a"}}, {"boots", {"2", "boots|b"}}};
  int queries = 0;
  auto by_handle = [&](const std::string& h)
    -> std::optional<std::pair<std::string, std::string>> {
    ++queries;
    if (auto i = db.find(h); i != db.end())
      return i->second;
    return std::nullopt;
  };
  REQUIRE(unwrap(c.fetch_by("handle", "shoes", by_handle)) == some("shoes|a"));
  REQUIRE(queries == 1);
  // Cached under its key and its index key: no second query.
  REQUIRE(unwrap(c.get("1")) == some("shoes|a"));
  REQUIRE(unwrap(c.fetch_by("handle", "shoes", by_handle)) == some("shoes|a"));
  REQUIRE(queries == 1);
  // Nothing found: nullopt, and nothing cached, so the next call asks again.
  REQUIRE(unwrap(c.fetch_by("handle", "hats", by_handle)) == none_v);
  REQUIRE(unwrap(c.fetch_by("handle", "hats", by_handle)) == none_v);
  REQUIRE(queries == 3);
  REQUIRE(unwrap(c.size()) == 1);
  // A loader that throws fails only that call; the index key is not
  // poisoned.
  auto broken = [](const std::string&)
    -> std::optional<std::pair<std::string, std::string>> {
    throw std::runtime_error("db down");
  };
  auto failed = c.fetch_by("handle", "boots", broken);
  REQUIRE(outcome(failed) == "load_failed");
  CHECK(caf::to_string(failed.error()).find("db down") != std::string::npos);
  REQUIRE(unwrap(c.fetch_by("handle", "boots", by_handle)) == some("boots|b"));
  REQUIRE(outcome(c.fetch_by("color", "red", by_handle)) == "no_such_key");
  auto st = unwrap(c.stats());
  CHECK(st.loads == 4);
  CHECK(st.load_failures == 1);
  CHECK(st.hits == 2);
  CHECK(st.misses == 5);
}

TEST_CASE_METHOD(cache_fixture, "a fetch returns after the removals its load "
                                "caused were told") {
  std::atomic<int> told{0};
  str_options opts;
  opts.max_entries = 1;
  opts.on_removal = [&](const std::string&, const std::string&,
                        cachet::removal_cause) {
    // A slow listener on the loader thread: the fetch must wait for it.
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    ++told;
  };
  auto c = make(opts);
  REQUIRE(outcome(c.put("a", "1")) == "ok");
  REQUIRE(unwrap(c.fetch("b", [](const std::string&) {
            return std::string{"2"};
          })) == "2");
  CHECK(told == 1);
  auto st = unwrap(c.stats());
  CHECK(st.evictions == 1);
  CHECK(st.entries == 1);
  CHECK(st.peak_entries == 1);
}

TEST_CASE_METHOD(cache_fixture, "a put or an invalidation during a load wins "
                                "over the loaded value") {
  auto c = make(indexed_options());
  for (bool invalidate : {false, true}) {
    CAPTURE(invalidate);
    std::promise<void> started;
    std::promise<void> release;
    auto gate = release.get_future().share();
    auto stale_read = [&, gate](const std::string&) {
      started.set_value();
      gate.wait();
      return std::string{"old|db"};
    };
    auto fetched = std::async(std::launch::async,
                              [&] { return c.fetch("k", stale_read); });
    started.get_future().wait();
    if (invalidate)
      REQUIRE(unwrap(c.invalidate("k")) == false);
    else
      REQUIRE(outcome(c.put("k", "new|app")) == "ok");
    release.set_value();
    // The caller gets what its loader read; the cache keeps the later write.
    REQUIRE(unwrap(fetched.get()) == "old|db");
    REQUIRE(unwrap(c.get("k")) == (invalidate ? none_v : some("new|app")));
    REQUIRE(unwrap(c.invalidate("k")) == !invalidate);
  }
  // The same for a load by index key, whose key is unknown until it ends.
  std::promise<void> started;
  std::promise<void> release;
  auto gate = release.get_future().share();
  auto stale_by = [&, gate](const std::string&)
    -> std::optional<std::pair<std::string, std::string>> {
    started.set_value();
    gate.wait();
    return std::make_pair(std::string{"k"}, std::string{"h|old"});
  };
  auto fetched = std::async(std::launch::async,
                            [&] { return c.fetch_by("handle", "h", stale_by); });
  started.get_future().wait();
  REQUIRE(unwrap(c.invalidate("k")) == false);
  release.set_value();
  REQUIRE(unwrap(fetched.get()) == some("h|old"));
  REQUIRE(unwrap(c.get("k")) == none_v);
  REQUIRE(unwrap(c.get_by("handle", "h")) == none_v);
}

namespace {

struct fragment {
  std::string template_name;
  std::vector<std::int32_t> ids;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fragment& x) {
  return f(x.template_name, x.ids);
}

/// A type whose encoding fails halfway, as a bad inspect overload would.
struct unencodable {
  std::string prefix;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unencodable& x) {
  if (auto err = f(x.prefix))
    return err;
  return caf::make_error(caf::sec::runtime_error, "cannot encode");
}

} // namespace

TEST_CASE("content_key is equal for equal contents only") {
  fragment a{"product", {1, 2, 3}};
  fragment b{"product", {1, 2, 3}};
  fragment c{"product", {1, 2, 4}};
  CHECK(cachet::content_key(a) == cachet::content_key(b));
  CHECK(cachet::content_key(a) != cachet::content_key(c));
  CHECK(cachet::content_key(std::string{"x"})
        != cachet::content_key(std::string{"y"}));
}

TEST_CASE("content_key reports an encoding error instead of a key") {
  // A key of the half-written bytes would make unequal values share keys.
  auto key = cachet::content_key(unencodable{"same prefix"});
  REQUIRE_FALSE(key);
  CHECK(key.error() == caf::sec::runtime_error);
}

TEST_CASE_METHOD(cache_fixture, "a put whose index function throws leaves "
                                "the cache as it was") {
  str_options opts;
  opts.max_entries = 2;
  opts.policy = cachet::eviction_policy::lru; // a read does not save "a"
  opts.indexes.push_back({"email", [](const std::string&,
                                      const std::string& v)
                                     -> std::optional<std::string> {
                            if (v == "bad")
                              throw std::runtime_error("no email");
                            return v;
                          }});
  auto c = make(opts);
  REQUIRE(outcome(c.put("a", "x")) == "ok");
  CHECK_THROWS_AS(c.put("a", "bad"), std::runtime_error);
  // The old entry is still there, and still the cache's: counted, indexed,
  // evictable.
  CHECK(unwrap(c.get("a")) == some("x"));
  CHECK(unwrap(c.get_by("email", "x")) == some("x"));
  CHECK(unwrap(c.stats()).entries == 1);
  for (auto k : {"b", "c", "d", "e"})
    REQUIRE(outcome(c.put(k, std::string{"v"} + k)) == "ok");
  auto st = unwrap(c.stats());
  CHECK(unwrap(c.size()) == 2);
  CHECK(st.entries == 2);
  CHECK(st.peak_entries == 2);
  CHECK(st.evictions == 3);
  CHECK(unwrap(c.get("a")) == none_v); // evicted like any other entry
  CHECK(unwrap(c.get_by("email", "x")) == none_v);
}

TEST_CASE_METHOD(cache_fixture, "a put whose weigher throws leaves the cache "
                                "as it was") {
  str_options opts;
  opts.max_weight = 10;
  opts.weigher = [](const std::string&, const std::string& v) {
    if (v.empty())
      throw std::invalid_argument("empty");
    return std::uint64_t{v.size()};
  };
  auto c = make(opts);
  REQUIRE(outcome(c.put("a", "xxxx")) == "ok");
  CHECK_THROWS_AS(c.put("a", ""), std::invalid_argument);
  CHECK(unwrap(c.get("a")) == some("xxxx"));
  CHECK(unwrap(c.stats()).weight == 4);
  REQUIRE(outcome(c.put("b", "yyyyyyyy")) == "ok"); // 8: evicts a
  CHECK(unwrap(c.get("a")) == none_v);
  CHECK(unwrap(c.stats()).weight == 8);
  CHECK(unwrap(c.size()) == 1);
}

TEST_CASE_METHOD(cache_fixture, "expiry records are one per live entry, "
                                "whatever the rate of puts") {
  test_clock clock;
  str_options opts;
  opts.ttl = 1h;
  opts.clock = clock.fn();
  auto c = make(opts);
  // A put loop on 1K keys with a 1 h TTL: each put used to leave a record
  // behind until its old deadline (100 000 here).
  for (int i = 0; i < 100000; ++i)
    REQUIRE(outcome(c.put("k" + std::to_string(i % 1000), "v")) == "ok");
  CHECK(c.core()->expiry_records() == 1000);
  for (int i = 0; i < 500; ++i)
    REQUIRE(unwrap(c.invalidate("k" + std::to_string(i))));
  REQUIRE(outcome(c.put("k999", "no ttl", 0ns)) == "ok");
  CHECK(c.core()->expiry_records() == 499);
  clock.advance(2h);
  CHECK(unwrap(c.sweep(10000)) == 499);
  CHECK(c.core()->expiry_records() == 0);
  CHECK(unwrap(c.get("k999")) == some("no ttl"));
}

TEST_CASE_METHOD(cache_fixture, "direct handles follow the access mode") {
  auto check_mode = [&](cachet::access_mode mode, const char* read,
                        const char* write) {
    str_options opts;
    opts.name = "c-" + cachet::to_string(mode);
    opts.mode = mode;
    auto c = make(opts);
    REQUIRE(outcome(c.put("k", "v")) == "ok");
    auto h = unwrap(cachet::whereis_cache<std::string, std::string>(
      sys, opts.name));
    CHECK(outcome(h.get("k")) == read);
    CHECK(outcome(h.get_by("none", "k")) == (std::string{read} == "ok"
                                                ? "no_such_key"
                                                : read));
    CHECK(outcome(h.size()) == read);
    CHECK(outcome(h.stats()) == read);
    CHECK(outcome(h.put("k", "w")) == write);
    CHECK(outcome(h.invalidate("k")) == write);
    CHECK(outcome(h.fetch("z", [](const std::string&) {
            return std::string{"z"};
          })) == write);
    CHECK(outcome(h.sweep()) == write);
    CHECK(outcome(h.clear()) == write);
    CHECK(outcome(cachet::whereis_cache<std::string, int>(sys, opts.name))
          == "wrong_type");
  };
  check_mode(cachet::access_mode::private_, "access_denied", "access_denied");
  check_mode(cachet::access_mode::protected_, "ok", "access_denied");
  check_mode(cachet::access_mode::public_, "ok", "ok");
}

TEST_CASE_METHOD(cache_fixture, "a cache dies with its owner") {
  std::optional<cachet::cache<std::string, std::string>> h;
  {
    str_options opts;
    opts.name = "mortal";
    auto c = make(opts);
    REQUIRE(outcome(c.put("k", "v")) == "ok");
    h.emplace(c.share());
    REQUIRE(unwrap(h->get("k")) == some("v"));
  }
  CHECK(outcome(h->get("k")) == "table_gone");
  CHECK(outcome(cachet::whereis_cache<std::string, std::string>(sys, "mortal"))
        == "no_such_table");
  // The name is free again.
  str_options opts;
  opts.name = "mortal";
  auto again = make(opts);
  CHECK(again.alive());
}

TEST_CASE_METHOD(system_fixture, "every operation over messages") {
  test_clock clock;
  auto opts = indexed_options();
  opts.name = "msg";
  opts.mode = cachet::access_mode::private_;
  opts.clock = clock.fn();
  opts.sweep_interval = 0ms;
  auto owner = cachet::spawn_cache(sys, opts);
  REQUIRE(owner);
  REQUIRE(outcome(cachet::spawn_cache(sys, opts)) == "name_taken");
  cachet::blocking_caller caller{sys};
  using std::string;
  using loader = cachet::cache_loader<string, string>;
  REQUIRE(outcome(caller.call(*owner, 5s, cachet::insert_atom_v, string{"a"},
                              string{"h1|x"}))
          == "ok");
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::lookup_atom_v, string{"a"}))
          == some("h1|x"));
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::lookup_by_atom_v,
                             string{"handle"}, string{"h1"}))
          == some("h1|x"));
  REQUIRE(outcome(caller.call(*owner, 5s, cachet::insert_atom_v, string{"t"},
                              string{"h2|y"}, caf::timespan{1s}))
          == "ok");
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::size_atom_v)) == 2);
  clock.advance(2s);
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::lookup_atom_v, string{"t"}))
          == none_v);
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::sweep_atom_v)) == 1);
  REQUIRE(unwrap(caller.call(
            *owner, 5s, cachet::fetch_atom_v, string{"f"},
            loader{[](const string& k) { return "h3|" + k; }}))
          == "h3|f");
  using by_loader = cachet::cache_index_loader<string, string>;
  auto by_handle = by_loader{[](const string& h)
                               -> std::optional<std::pair<string, string>> {
    if (h == "h4")
      return std::make_pair(string{"i"}, string{"h4|i"});
    return std::nullopt;
  }};
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::fetch_by_atom_v,
                             string{"handle"}, string{"h4"}, by_handle))
          == some("h4|i"));
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::fetch_by_atom_v,
                             string{"handle"}, string{"h5"}, by_handle))
          == none_v);
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::lookup_atom_v, string{"i"}))
          == some("h4|i"));
  auto failed = caller.call(*owner, 5s, cachet::fetch_atom_v, string{"g"},
                            loader{[](const string&) -> string {
                              throw std::runtime_error("no row");
                            }});
  REQUIRE(outcome(failed) == "load_failed");
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::erase_atom_v, string{"a"}))
          == true);
  auto st = unwrap(caller.call(*owner, 5s, cachet::stats_atom_v));
  CHECK(st.loads == 3);
  CHECK(st.load_failures == 1);
  CHECK(st.expirations == 1);
  REQUIRE(outcome(caller.call(*owner, 5s, cachet::clear_atom_v)) == "ok");
  REQUIRE(unwrap(caller.call(*owner, 5s, cachet::size_atom_v)) == 0);
  // Private: the messages worked, direct access does not.
  auto h = unwrap(cachet::whereis_cache<string, string>(sys, "msg"));
  CHECK(outcome(h.get("f")) == "access_denied");
  await_down(sys, *owner, [&] {
    caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  });
  CHECK(outcome(h.get("f")) == "table_gone");
}
