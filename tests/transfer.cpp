// Ownership moving between actors (transfer.hpp), the same for tables,
// caches and snapshots: give_away, its refusals, and the heir.
#include "test_support.hpp"

#include <optional>
#include <string>

#include <caf/scoped_actor.hpp>

using namespace cachet_test;
using namespace std::chrono_literals;

namespace {

struct fixture : system_fixture {
  caf::scoped_actor owner{sys};
  caf::scoped_actor other{sys};
};

/// The three kinds of resource, behind one interface for the tests below:
/// make one (named "r", holding 1), read it, write it.
struct table_kind {
  using owned = cachet::owned_table<int, int>;
  using transfer = cachet::table_transfer<int, int>;
  static auto make(caf::local_actor* self, caf::actor_addr heir = {}) {
    return cachet::make_table<int, int>(
      self, {"r", cachet::access_mode::protected_, std::move(heir)});
  }
  static constexpr auto read = [](auto& h) { return h.lookup(0); };
  static constexpr auto write = [](auto& h, int x) { return h.insert(0, x); };
};

struct cache_kind {
  using owned = cachet::owned_cache<int, int>;
  using transfer = cachet::cache_transfer<int, int>;
  static auto make(caf::local_actor* self, caf::actor_addr heir = {}) {
    cachet::cache_options<int, int> opts;
    opts.name = "r";
    opts.heir = std::move(heir);
    return cachet::make_cache<int, int>(self, opts);
  }
  static constexpr auto read = [](auto& h) { return h.get(0); };
  static constexpr auto write = [](auto& h, int x) { return h.put(0, x); };
};

struct snapshot_kind {
  using owned = cachet::owned_snapshot<std::optional<int>>;
  using transfer = cachet::snapshot_transfer<std::optional<int>>;
  static auto make(caf::local_actor* self, caf::actor_addr heir = {}) {
    return cachet::make_snapshot(
      self, {"r", cachet::access_mode::protected_, std::move(heir)},
      std::optional<int>{});
  }
  static constexpr auto read = [](auto& h) {
    return h.visit([](const std::optional<int>& x) { return x; });
  };
  static constexpr auto write = [](auto& h, int x) {
    return h.publish(std::optional<int>{x});
  };
};

/// Waits for the transfer that `who` was sent and claims it.
template <class Kind>
std::optional<typename Kind::owned> receive_claim(caf::scoped_actor& who) {
  std::optional<typename Kind::owned> result;
  who->receive(
    [&](typename Kind::transfer& t) {
      CHECK(t.name() == "r");
      auto claimed = t.claim();
      REQUIRE(claimed);
      CHECK(outcome(t.claim()) == "access_denied"); // once only
      result.emplace(std::move(*claimed));
    },
    caf::after(5s) >> [] {});
  return result;
}

template <class Kind>
void give_away_passes_ownership(fixture& f) {
  auto mine = unwrap(Kind::make(f.owner.ptr()));
  REQUIRE(outcome(Kind::write(mine, 1)) == "ok");
  REQUIRE(outcome(mine.give_away(caf::actor_cast<caf::actor>(f.other), caf::make_message(7)))
          == "ok");
  // The old capability keeps the rights of non-owners: read, not write.
  CHECK(outcome(Kind::write(mine, 2)) == "access_denied");
  CHECK(unwrap(Kind::read(mine)) == std::optional<int>{1});
  auto theirs = receive_claim<Kind>(f.other);
  REQUIRE(theirs);
  CHECK(outcome(Kind::write(*theirs, 3)) == "ok");
  CHECK(unwrap(Kind::read(*theirs)) == std::optional<int>{3});
  CHECK(theirs->owner() == f.other->address());
  // Back again is fine; to its owner it is refused.
  CHECK(outcome(theirs->give_away(caf::actor_cast<caf::actor>(f.other))) == "invalid_owner");
}

template <class Kind>
void give_away_refuses_bad_owners(fixture& f) {
  auto mine = unwrap(Kind::make(f.owner.ptr()));
  REQUIRE(outcome(Kind::write(mine, 1)) == "ok");
  // A dead actor: ETS's badarg, and the caller still owns it. (The table
  // used to pass to the dead actor and die with it, data and all.)
  caf::actor dead;
  {
    caf::scoped_actor gone{f.sys};
    dead = caf::actor_cast<caf::actor>(gone);
  }
  CHECK(outcome(mine.give_away(dead)) == "invalid_owner");
  CHECK(outcome(mine.give_away(caf::actor{})) == "invalid_owner");
  CHECK(outcome(mine.give_away(caf::actor_cast<caf::actor>(f.owner))) == "invalid_owner");
  CHECK(mine.alive());
  CHECK(outcome(Kind::write(mine, 2)) == "ok");
  CHECK(unwrap(Kind::read(mine)) == std::optional<int>{2});
  CHECK(mine.owner() == f.owner->address());
}

template <class Kind>
void the_heir_inherits(fixture& f) {
  {
    auto mine = unwrap(Kind::make(f.owner.ptr(), f.other->address()));
    REQUIRE(outcome(Kind::write(mine, 1)) == "ok");
  } // the owner's end
  auto inherited = receive_claim<Kind>(f.other);
  REQUIRE(inherited);
  CHECK(unwrap(Kind::read(*inherited)) == std::optional<int>{1});
  CHECK(outcome(Kind::write(*inherited, 2)) == "ok");
}

} // namespace

// One fixture per kind, for Catch's templated test cases.
template <class Kind>
struct kind_fixture : fixture {};

TEMPLATE_TEST_CASE_METHOD(kind_fixture, "give_away passes tables, caches "
                                        "and snapshots to a live actor",
                          "", table_kind, cache_kind, snapshot_kind) {
  give_away_passes_ownership<TestType>(*this);
}

TEMPLATE_TEST_CASE_METHOD(kind_fixture, "give_away to a dead actor, to "
                                        "nobody or to the owner changes "
                                        "nothing",
                          "", table_kind, cache_kind, snapshot_kind) {
  give_away_refuses_bad_owners<TestType>(*this);
}

TEMPLATE_TEST_CASE_METHOD(kind_fixture, "the heir of a table, cache or "
                                        "snapshot inherits it, data and all",
                          "", table_kind, cache_kind, snapshot_kind) {
  the_heir_inherits<TestType>(*this);
}
