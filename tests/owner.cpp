// Owner actors: the generic owner over messages, custom owners, table
// lifetime bound to the owner (normal exit, exception, kill), named tables.
#include "cachet/cachet.hpp"

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <optional>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using cachet::errc;

CAF_ADD_ATOM(cachet_test, test, stop_atom, "stop")
CAF_ADD_ATOM(cachet_test, test, boom_atom, "boom")
CAF_ADD_ATOM(cachet_test, test, fetch_atom, "fetch")

using namespace test;

using cachet_test::await_down;

namespace {

using fixture = cachet_test::system_fixture;

using str_table = cachet::table<std::string, std::string>;

// A custom owner: the generic operations plus stop (normal exit), boom
// (throws) and fetch (read-through with a fixed loader).
using custom_actor = cachet::owner_actor<std::string, std::string>::extend<
  caf::reacts_to<stop_atom>, caf::reacts_to<boom_atom>,
  caf::replies_to<fetch_atom, std::string>::with<std::string>>;

struct custom_state {
  std::optional<cachet::owned_table<std::string, std::string>> tab;
  int loads = 0;
};

custom_actor::behavior_type
custom_owner(custom_actor::stateful_pointer<custom_state> self,
             std::string name) {
  auto tab = cachet::make_table<std::string, std::string>(self, {name});
  if (!tab) {
    self->quit(tab.error());
    return custom_actor::behavior_type::make_empty_behavior();
  }
  self->state.tab.emplace(std::move(*tab));
  return cachet::serve<custom_actor>(
    *self->state.tab, [=](stop_atom) { self->quit(); },
    [=](boom_atom) { throw std::runtime_error("boom"); },
    [=](fetch_atom, const std::string& key) -> std::string {
      auto& t = *self->state.tab;
      if (auto hit = t.lookup(key); hit && *hit)
        return **hit;
      ++self->state.loads;
      auto value = "loaded:" + key;
      t.insert(key, value);
      return value;
    });
}


} // namespace

TEST_CASE_METHOD(fixture, "the generic owner serves calls from actors") {
  auto owner = cachet::spawn_owner<std::string, int>(sys, {"counts"});
  REQUIRE(owner);
  caf::scoped_actor self{sys};
  // A non-blocking client actor chains requests and reports the outcome.
  auto report_to = caf::actor_cast<caf::actor>(self);
  // Arguments go through spawn: CAF 0.17.6 trips UBSan on a function-based
  // actor spawned without any.
  auto client = [](caf::event_based_actor* client,
                   cachet::owner_actor<std::string, int> owner,
                   caf::actor report_to) {
    client->request(owner, 1s, cachet::insert_atom_v, std::string{"a"}, 1)
      .then([=] {
        client->request(owner, 1s, cachet::update_counter_atom_v,
                        std::string{"a"}, cachet::counter_op{41})
          .then([=](std::int64_t n) {
            client->request(owner, 1s, cachet::lookup_atom_v, std::string{"a"})
              .then([=](std::optional<int> v) {
                client->send(report_to, n, v.value_or(-1));
              });
          });
      });
  };
  self->spawn(client, *owner, report_to);
  self->receive([](std::int64_t n, int v) {
    CHECK(n == 42);
    CHECK(v == 42);
  });
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "casts are served without a reply") {
  auto owner = cachet::spawn_owner<std::string, int>(sys);
  REQUIRE(owner);
  caf::anon_send(*owner, cachet::insert_atom_v, std::string{"k"}, 7);
  // The mailbox is FIFO and this thread enqueued the cast first.
  cachet::blocking_caller caller{sys};
  auto v = caller.call(*owner, 5s, cachet::lookup_atom_v, std::string{"k"});
  REQUIRE(v);
  CHECK(*v == std::optional<int>{7});
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "errors travel back as error responses") {
  auto owner = cachet::spawn_owner<std::string, std::string>(sys);
  REQUIRE(owner);
  cachet::blocking_caller caller{sys};
  REQUIRE(caller.call(*owner, 5s, cachet::insert_new_atom_v, std::string{"k"},
                      std::string{"v"}));
  auto again = caller.call(*owner, 5s, cachet::insert_new_atom_v,
                           std::string{"k"}, std::string{"w"});
  REQUIRE(!again);
  CHECK(again.error() == errc::key_exists);
  auto counter = caller.call(*owner, 5s, cachet::update_counter_atom_v,
                             std::string{"k"}, cachet::counter_op{});
  REQUIRE(!counter);
  CHECK(counter.error() == errc::not_a_counter);
  CHECK(sys.render(counter.error()) == "cachet: not_a_counter");
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "a custom owner adds handlers beside the generic ones") {
  auto owner = sys.spawn(custom_owner, std::string{"links"});
  cachet::blocking_caller caller{sys};
  auto first = caller.call(owner, 5s, fetch_atom_v, std::string{"x"});
  auto second = caller.call(owner, 5s, fetch_atom_v, std::string{"x"});
  REQUIRE(first);
  REQUIRE(second);
  CHECK(*first == "loaded:x");
  CHECK(*second == "loaded:x");
  // The generic handlers see what the custom one stored.
  auto size = caller.call(owner, 5s, cachet::size_atom_v);
  REQUIRE(size);
  CHECK(*size == 1u);
  auto tab = cachet::whereis<std::string, std::string>(sys, "links");
  REQUIRE(tab);
  CHECK(tab->lookup("x").value() == std::optional<std::string>{"loaded:x"});
  caf::anon_send_exit(owner, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "the table dies with its owner, whatever the exit") {
  struct exit_case {
    const char* what;
    std::function<void(const custom_actor&)> trigger;
    bool abnormal;
  };
  std::vector<exit_case> cases{
    {"normal exit", [](const custom_actor& a) { caf::anon_send(a, stop_atom_v); },
     false},
    {"exception",
     [](const custom_actor& a) { caf::anon_send(a, boom_atom_v); }, true},
    {"kill",
     [](const custom_actor& a) {
       caf::anon_send_exit(a, caf::exit_reason::kill);
     },
     true},
  };
  for (auto& c : cases) {
    SECTION(c.what) {
      auto owner = sys.spawn(custom_owner, std::string{"doomed"});
      cachet::blocking_caller caller{sys};
      REQUIRE(caller.call(owner, 5s, cachet::insert_atom_v, std::string{"k"},
                          std::string{"v"}));
      auto tab = cachet::whereis<std::string, std::string>(sys, "doomed");
      REQUIRE(tab);
      REQUIRE(tab->lookup("k").value() == std::optional<std::string>{"v"});
      auto reason = await_down(sys, owner, [&] { c.trigger(owner); });
      CHECK(static_cast<bool>(reason) == c.abnormal);
      CHECK_FALSE(tab->alive());
      CHECK(tab->lookup("k").error() == errc::table_gone);
      CHECK(tab->member("k").error() == errc::table_gone);
      CHECK(tab->size().error() == errc::table_gone);
      CHECK(tab->for_each([](auto, auto) {}).error() == errc::table_gone);
      // The name is free again; messages to the dead owner fail cleanly.
      CHECK(cachet::whereis<std::string, std::string>(sys, "doomed").error()
            == errc::no_such_table);
      auto late = caller.call(owner, 5s, cachet::lookup_atom_v,
                              std::string{"k"});
      REQUIRE(!late);
      CHECK(late.error() == caf::sec::request_receiver_down);
    }
  }
}

TEST_CASE_METHOD(fixture, "the name is free by the time monitors learn of the death") {
  // A supervisor restarts an owner on its DOWN message; the new owner must be
  // able to claim the name right then.
  for (int i = 0; i < 50; ++i) {
    auto owner = cachet::spawn_owner<int, int>(sys, {"restartable"});
    REQUIRE(owner);
    await_down(sys, *owner,
               [&] { caf::anon_send_exit(*owner, caf::exit_reason::kill); });
    auto next = cachet::spawn_owner<int, int>(sys, {"restartable"});
    REQUIRE(next);
    caf::anon_send_exit(*next, caf::exit_reason::kill);
    await_down(sys, *next, [] {});
  }
}

TEST_CASE_METHOD(fixture, "named tables: taken, unknown and mistyped names") {
  auto owner = cachet::spawn_owner<std::string, int>(sys, {"scores"});
  REQUIRE(owner);
  auto twin = cachet::spawn_owner<std::string, int>(sys, {"scores"});
  REQUIRE(!twin);
  CHECK(twin.error() == errc::name_taken);
  caf::scoped_actor self{sys};
  auto direct = cachet::make_table<int, int>(self.ptr(), {"scores"});
  REQUIRE(!direct);
  CHECK(direct.error() == errc::name_taken);
  CHECK(cachet::whereis<std::string, int>(sys, "nobody").error()
        == errc::no_such_table);
  CHECK(cachet::whereis<std::string, long>(sys, "scores").error()
        == errc::wrong_type);
  CHECK(cachet::whereis<std::string, int, cachet::ordered_set<>>(sys, "scores")
          .error()
        == errc::wrong_type);
  auto found = cachet::whereis<std::string, int>(sys, "scores");
  REQUIRE(found);
  CHECK(found->name() == "scores");
  CHECK(found->mode() == cachet::access_mode::protected_);
  CHECK(found->owner() == caf::actor_cast<caf::actor_addr>(*owner));
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "registries are per actor system") {
  cachet_test::config other_cfg;
  caf::actor_system other{other_cfg};
  auto a = cachet::spawn_owner<int, int>(sys, {"shared-name"});
  auto b = cachet::spawn_owner<int, int>(other, {"shared-name"});
  REQUIRE(a);
  REQUIRE(b);
  cachet::blocking_caller caller{sys};
  REQUIRE(caller.call(*a, 5s, cachet::insert_atom_v, 1, 1));
  auto in_sys = cachet::whereis<int, int>(sys, "shared-name");
  auto in_other = cachet::whereis<int, int>(other, "shared-name");
  REQUIRE(in_sys);
  REQUIRE(in_other);
  CHECK(*in_sys != *in_other);
  CHECK(in_sys->lookup(1).value() == std::optional<int>{1});
  CHECK(in_other->lookup(1).value() == std::nullopt);
  caf::anon_send_exit(*a, caf::exit_reason::kill);
  caf::anon_send_exit(*b, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "dropping the owned_table retires the table") {
  caf::scoped_actor self{sys};
  auto owned = cachet::make_table<int, int>(self.ptr(), {"dropped"});
  REQUIRE(owned);
  auto shared = owned->share();
  REQUIRE(owned->insert(1, 1));
  {
    auto moved = std::move(*owned);
    CHECK(moved.lookup(1).value() == std::optional<int>{1});
  }
  CHECK(shared.lookup(1).error() == errc::table_gone);
  CHECK(cachet::whereis<int, int>(sys, "dropped").error()
        == errc::no_such_table);
}

TEST_CASE("only single-key operations may run on the network's thread") {
  // What an owner lets the middleman's thread run when a message from
  // another node wakes it (owner_start.hpp): constant-time calls on one
  // key, never a walk, a batch or a dump, which would hold up every
  // connection of the node (heartbeats included) while they run.
  using cachet::detail::single_key_message;
  using s = std::string;
  auto quick = [](const caf::message& m) {
    return single_key_message<s>(m.content());
  };
  CHECK(quick(caf::make_message(cachet::lookup_atom_v, s{"k"})));
  CHECK(quick(caf::make_message(cachet::insert_atom_v, s{"k"}, s{"v"})));
  CHECK(quick(caf::make_message(cachet::erase_atom_v, s{"k"})));
  CHECK(quick(caf::make_message(cachet::update_counter_atom_v, s{"k"},
                                cachet::counter_op{1})));
  CHECK(quick(caf::make_message(cachet::fetch_atom_v, s{"k"})));
  // Batches, walks, files, clears and the table's size are not.
  CHECK_FALSE(quick(caf::make_message(cachet::lookup_atom_v,
                                      std::vector<s>{"a", "b"})));
  CHECK_FALSE(quick(caf::make_message(cachet::dump_atom_v, s{"/tmp/x"})));
  CHECK_FALSE(quick(caf::make_message(cachet::range_atom_v, s{"a"}, s{"z"})));
  CHECK_FALSE(quick(caf::make_message(cachet::clear_atom_v)));
  CHECK_FALSE(quick(caf::make_message(cachet::size_atom_v)));
  CHECK_FALSE(quick(caf::make_message(cachet::select_count_atom_v,
                                      cachet::match_spec{})));
  // A key of another type, and a snapshot's owner (no key type): never.
  CHECK_FALSE(single_key_message<std::uint64_t>(
    caf::make_message(cachet::lookup_atom_v, s{"k"}).content()));
  CHECK_FALSE(single_key_message<void>(
    caf::make_message(cachet::lookup_atom_v, s{"k"}).content()));
}
