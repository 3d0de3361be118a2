// Constant snapshots: publish and read, access_mode modes, lifetime, and readers
// racing publishers (run under ThreadSanitizer and AddressSanitizer: a
// reader holding an old version must never see it freed or half-written).
#include "test_support.hpp"

#include <atomic>
#include <thread>

using namespace cachet_test;
using namespace std::chrono_literals;

namespace {

/// A value whose consistency readers can check: every element equals
/// `version`.
struct pool {
  std::uint64_t version = 0;
  std::vector<std::uint64_t> items;

  static pool make(std::uint64_t v) {
    return pool{v, std::vector<std::uint64_t>(64, v)};
  }

  bool consistent() const {
    for (auto x : items)
      if (x != version)
        return false;
    return items.size() == 64;
  }
};

} // namespace

TEST_CASE_METHOD(owner_fixture, "publish, then read with no copy") {
  auto owned = unwrap(cachet::make_snapshot(self.ptr(), {"consts"}, pool::make(1)));
  auto s = unwrap(cachet::whereis_snapshot<pool>(sys, "consts"));
  REQUIRE(unwrap(s.visit([](const pool& p) { return p.version; })) == 1);
  {
    auto r = unwrap(s.read());
    auto held = unwrap(s.acquire());
    REQUIRE(outcome(owned.publish(pool::make(2))) == "ok");
    // Both old views stay valid after the swap.
    REQUIRE(r->version == 1);
    REQUIRE(r->consistent());
    REQUIRE(held->version == 1);
  }
  REQUIRE(unwrap(s.visit([](const pool& p) { return p.version; })) == 2);
  REQUIRE(owned.publishes() == 1);
  REQUIRE(outcome(cachet::whereis_snapshot<int>(sys, "consts"))
          == "wrong_type");
  REQUIRE(outcome(cachet::make_snapshot(self.ptr(), {"consts"}, pool::make(0)))
          == "name_taken");
}

TEST_CASE_METHOD(owner_fixture, "snapshots follow the access mode and die "
                                 "with their owner") {
  auto check_mode = [&](cachet::access_mode mode, const char* read,
                        const char* write) {
    auto owned = unwrap(cachet::make_snapshot(self.ptr(), {"", mode}, 7));
    auto s = owned.share();
    CHECK(outcome(s.visit([](int) {})) == read);
    CHECK(outcome(s.acquire()) == read);
    CHECK(outcome(s.read()) == read);
    CHECK(outcome(s.publish(8)) == write);
    CHECK(outcome(owned.publish(9)) == "ok");
    CHECK(unwrap(owned.visit([](int x) { return x; })) == 9);
  };
  check_mode(cachet::access_mode::private_, "access_denied", "access_denied");
  check_mode(cachet::access_mode::protected_, "ok", "access_denied");
  check_mode(cachet::access_mode::public_, "ok", "ok");
  std::optional<cachet::snapshot<int>> s;
  {
    auto owned = unwrap(cachet::make_snapshot(self.ptr(), {"gone"}, 1));
    s.emplace(owned.share());
  }
  CHECK(outcome(s->visit([](int) {})) == "table_gone");
  CHECK(outcome(cachet::whereis_snapshot<int>(sys, "gone"))
        == "no_such_table");
}

TEST_CASE_METHOD(owner_fixture, "readers racing publishers see whole, "
                                 "monotonic versions") {
  auto owned = unwrap(cachet::make_snapshot(self.ptr(), {}, pool::make(0)));
  auto s = owned.share();
  constexpr std::uint64_t publishes = 5000;
  std::atomic<bool> done{false};
  constexpr int readers = 3;
  std::vector<int> bad(readers, 0);
  std::vector<std::uint64_t> reads(readers, 0);
  std::vector<std::thread> ts;
  for (int i = 0; i < readers; ++i)
    ts.emplace_back([&, i] {
      auto slot = static_cast<std::size_t>(i);
      std::uint64_t last = 0;
      std::shared_ptr<const pool> kept; // an old version held across swaps
      while (!done.load(std::memory_order_acquire) || reads[slot] < 100) {
        auto v = s.visit([&](const pool& p) {
          if (!p.consistent() || p.version < last)
            ++bad[slot];
          return p.version;
        });
        if (!v) {
          ++bad[slot];
          break;
        }
        last = *v;
        if (reads[slot] % 64 == 0) {
          if (kept && !kept->consistent())
            ++bad[slot];
          kept = *s.acquire();
        }
        if (reads[slot] % 97 == 0) {
          auto r = s.read();
          if (!r || !(*r)->consistent())
            ++bad[slot];
        }
        ++reads[slot];
      }
      if (kept && !kept->consistent())
        ++bad[slot];
    });
  for (std::uint64_t v = 1; v <= publishes; ++v)
    REQUIRE(outcome(owned.publish(pool::make(v))) == "ok");
  done.store(true, std::memory_order_release);
  for (auto& t : ts)
    t.join();
  for (int i = 0; i < readers; ++i) {
    REQUIRE(bad[static_cast<std::size_t>(i)] == 0);
    REQUIRE(reads[static_cast<std::size_t>(i)] >= 100);
  }
  REQUIRE(unwrap(s.visit([](const pool& p) { return p.version; }))
          == publishes);
  cachet::detail::reclaim();
}

TEST_CASE_METHOD(owner_fixture, "public snapshots take publishes from many "
                                 "threads") {
  auto owned = unwrap(cachet::make_snapshot(
    self.ptr(), {"", cachet::access_mode::public_}, pool::make(0)));
  std::vector<int> bad(4, 0);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      auto s = owned.share();
      for (std::uint64_t n = 0; n < 2000; ++n) {
        if (i % 2 == 0) {
          if (!s.publish(pool::make(n)))
            ++bad[static_cast<std::size_t>(i)];
        } else if (!*s.visit([](const pool& p) { return p.consistent(); })) {
          ++bad[static_cast<std::size_t>(i)];
        }
      }
    });
  for (auto& t : ts)
    t.join();
  for (auto b : bad)
    REQUIRE(b == 0);
  REQUIRE(owned.publishes() == 4000);
}

TEST_CASE_METHOD(system_fixture, "a snapshot owner serves reads and publishes "
                                 "over messages, in every mode") {
  using routes = std::vector<std::string>;
  auto owner = unwrap(cachet::spawn_snapshot(
    sys, {"routes", cachet::access_mode::private_}, routes{"/a"}));
  REQUIRE(outcome(cachet::spawn_snapshot(sys, {"routes"}, routes{}))
          == "name_taken");
  cachet::blocking_caller caller{sys};
  REQUIRE(unwrap(caller.call(owner, 5s, cachet::lookup_atom_v))
          == routes{"/a"});
  REQUIRE(outcome(caller.call(owner, 5s, cachet::publish_atom_v,
                              routes{"/a", "/b"}))
          == "ok");
  REQUIRE(unwrap(caller.call(owner, 5s, cachet::lookup_atom_v))
          == routes{"/a", "/b"});
  // Private: the messages worked, a direct handle may not read.
  auto direct = unwrap(cachet::whereis_snapshot<routes>(sys, "routes"));
  CHECK(outcome(direct.acquire()) == "access_denied");
  await_down(sys, owner, [&] {
    caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
  });
  CHECK(outcome(direct.acquire()) == "table_gone");
  CHECK(outcome(cachet::whereis_snapshot<routes>(sys, "routes"))
        == "no_such_table");
}
