// cachet's per-system state (configure.hpp): one registry of names per actor
// system, owned by the system and gone with it, and one namespace for
// tables, caches and snapshots.
#include "test_support.hpp"

#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <caf/scoped_actor.hpp>

using namespace cachet_test;
using namespace std::chrono_literals;

namespace {

template <class Handle>
void stop(caf::actor_system& sys, const Handle& owner) {
  await_down(sys, owner, [&] {
    caf::anon_send_exit(owner, cachet::shutdown_reason);
  });
}

} // namespace

TEST_CASE("a system created where a dead one was starts with no names") {
  // Every system lives in the same storage, so each new one has the address
  // of the one before: registries used to be global maps keyed by that
  // address, never erased, and a new system found its predecessor's names.
  alignas(caf::actor_system) unsigned char storage[sizeof(caf::actor_system)];
  // Handles kept past their system's end, one per round.
  std::vector<cachet::table<std::string, int>> old_tables;
  for (int round = 0; round < 20; ++round) {
    config cfg;
    auto* sys = new (storage) caf::actor_system{cfg};
    REQUIRE(outcome(cachet::whereis<std::string, int>(*sys, "t"))
            == "no_such_table");
    REQUIRE(outcome(cachet::whereis_cache<std::string, int>(*sys, "c"))
            == "no_such_table");
    REQUIRE(outcome(cachet::whereis_snapshot<int>(*sys, "s"))
            == "no_such_table");
    auto t = unwrap(cachet::spawn_owner<std::string, int>(*sys, {"t"}));
    cachet::cache_options<std::string, int> copts;
    copts.name = "c";
    auto c = unwrap(cachet::spawn_cache(*sys, copts));
    auto s = unwrap(cachet::spawn_snapshot(*sys, {"s"}, round));
    {
      cachet::blocking_caller caller{*sys};
      REQUIRE(caller.call(t, 5s, cachet::insert_atom_v, std::string{"round"},
                          round));
      REQUIRE(caller.call(c, 5s, cachet::insert_atom_v, std::string{"round"},
                          round));
    }
    auto tab = unwrap(cachet::whereis<std::string, int>(*sys, "t"));
    CHECK(unwrap(tab.lookup("round")) == std::optional<int>{round});
    auto ch = unwrap(cachet::whereis_cache<std::string, int>(*sys, "c"));
    CHECK(unwrap(ch.get("round")) == std::optional<int>{round});
    auto sh = unwrap(cachet::whereis_snapshot<int>(*sys, "s"));
    CHECK(unwrap(sh.visit([](int x) { return x; })) == round);
    for (auto& old : old_tables)
      CHECK(outcome(old.lookup("round")) == "table_gone");
    old_tables.push_back(tab);
    stop(*sys, t);
    stop(*sys, c);
    stop(*sys, s);
    sys->~actor_system();
  }
  // The handles outlived their systems and their registries: still safe.
  for (auto& old : old_tables)
    CHECK(outcome(old.lookup("round")) == "table_gone");
}

TEST_CASE("a system not configured for cachet refuses names clearly") {
  caf::actor_system_config cfg; // no cachet::configure
  caf::actor_system sys{cfg};
  auto lookup = [&] { return cachet::whereis<int, int>(sys, "t"); };
  CHECK_THROWS_AS(lookup(), std::logic_error);
  caf::scoped_actor self{sys};
  auto named = [&] { return cachet::make_table<int, int>(self.ptr(), {"t"}); };
  CHECK_THROWS_WITH(named(), Catch::Contains("cachet::configure"));
  // Anonymous tables need no registry.
  auto anon = cachet::make_table<int, int>(self.ptr());
  REQUIRE(anon);
  CHECK(anon->insert(1, 1));
  CHECK_THROWS_AS(cachet::blocking_caller(sys, cachet::thread_lending::on),
                  std::logic_error);
}

TEST_CASE_METHOD(owner_fixture, "tables, caches and snapshots share one "
                                "namespace of names") {
  auto tab = make<std::string, int>({"x"});
  cachet::cache_options<std::string, int> copts;
  copts.name = "x";
  CHECK(outcome(cachet::make_cache(self.ptr(), copts)) == "name_taken");
  CHECK(outcome(cachet::make_snapshot(self.ptr(), {"x"}, 1)) == "name_taken");
  CHECK(outcome(cachet::whereis_cache<std::string, int>(sys, "x"))
        == "wrong_type");
  CHECK(outcome(cachet::whereis_snapshot<int>(sys, "x")) == "wrong_type");
  CHECK(outcome(cachet::whereis<std::string, int>(sys, "x")) == "ok");
}
