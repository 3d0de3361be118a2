// docs/distribution.md: two nodes (two actor systems, each with its own
// middleman, in one process, on loopback), a table on one, called from the
// other by name; membership events. main checks what the guide says.
#include <cachet/cachet.hpp>
#include <cachet/dist/node.hpp>
#include <cachet/dist/partitioned_cache.hpp>
#include <cachet/dist/remote.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <optional>
#include <string>

#include "claims.hpp"

using namespace std::chrono_literals;

namespace {

snippets::claims check;

// [config]
struct node_config : caf::actor_system_config {
  node_config() {
    cachet::dist::configure(*this); // the middleman, 200 ms / 1 s heartbeats
    cachet::dist::add_table_types<std::string, double>(*this);
    cachet::dist::add_partition_types<std::string, std::string>(*this);
  }
};
// [config]

} // namespace

int main() {
  node_config cfg_a;
  node_config cfg_b;
  caf::actor_system sys_a{cfg_a};
  caf::actor_system sys_b{cfg_b};
  {
    // [start]
    // Node b holds a table named "prices"; its owner serves it over messages.
    cachet::table_options opts{"prices"};
    auto prices = cachet::spawn_owner<std::string, double>(sys_b, opts);
    auto b = cachet::dist::node::start(sys_b, {"b", "127.0.0.1", 0, {}});

    // Node a joins the cluster through b (any live member is a seed).
    std::string seed = "127.0.0.1:" + std::to_string(b->port());
    auto a = cachet::dist::node::start(sys_a, {"a", "127.0.0.1", 0, {seed}});
    bool joined = a->await_members(1, 5s); // b is a's one peer
    // [start]
    check(prices && b && a && joined, "a joins the cluster through its seed");

    // [call]
    auto owner = cachet::dist::whereis_owner<std::string, double>(*a, "b",
                                                                  "prices", 1s);
    cachet::blocking_caller caller{sys_a};
    caller.call(*owner, 1s, cachet::insert_atom_v, std::string{"tea"}, 2.5);
    auto tea = caller.call(*owner, 1s, cachet::lookup_atom_v,
                           std::string{"tea"}); // expected<optional<double>>
    // [call]
    check(tea && *tea == std::optional<double>{2.5},
          "a calls b's owner by name as it would a local one");
    auto local = cachet::whereis<std::string, double>(sys_b, "prices");
    auto direct = local->lookup("tea");
    check(direct && *direct == std::optional<double>{2.5},
          "the write is in b's table, which b reads directly");

    // [types]
    auto wrong = cachet::dist::whereis_owner<std::string, std::string>(
      *a, "b", "prices", 1s); // errc::wrong_type: b holds set<@str,double>
    struct point { int x, y; };
    auto unknown = cachet::dist::whereis_owner<std::string, point>(
      *a, "b", "prices", 1s); // errc::type_not_registered, nothing sent
    // [types]
    check(!wrong && wrong.error() == cachet::errc::wrong_type,
          "a table of another type under the name is wrong_type");
    check(!unknown && unknown.error() == cachet::errc::type_not_registered,
          "a type this node did not register is type_not_registered");

    {
      // [partition]
      // Every node starts its shard of "links", with the loader for the keys
      // it is home of; a client (one per thread) routes each key to its home.
      cachet::dist::partition_options<std::string, std::string> popts;
      popts.shard.name = "links";
      popts.shard.max_entries = 100000;
      popts.loader = [](const std::string& code) { return "https://" + code; };
      auto shard_a = cachet::dist::partition<std::string, std::string>::start(
        *a, popts);
      auto shard_b = cachet::dist::partition<std::string, std::string>::start(
        *b, popts);
      cachet::dist::partitioned_cache<std::string, std::string> links{*shard_a};
      auto url = links.fetch("abc"); // loaded once, at the key's home
      links.put("x", "https://x.example");
      auto homes = links.home("abc") + "," + links.home("x"); // "a" or "b"
      // [partition]
      check(url && *url == "https://abc", "fetch loads at the key's home");
      auto x = links.get("x");
      check(x && *x == std::optional<std::string>{"https://x.example"},
            "get reads a put from the key's home");
      check(homes.size() == 3, "every key has one home among the members");
    }

    // [monitor]
    caf::scoped_actor watcher{sys_a};
    a->monitor(watcher); // (node_up_atom, name), (node_down_atom, name)
    { auto leaving = std::move(*b); } // b leaves: its node actor quits
    std::string down;
    watcher->receive(
      [&](cachet::node_down_atom, const std::string& name) { down = name; },
      caf::after(5s) >> [] {});
    // [monitor]
    check(down == "b", "a sees b leave as node_down");
    check(a->members().empty(), "members() no longer lists b");
    auto gone = cachet::dist::whereis_owner<std::string, double>(*a, "b",
                                                                 "prices", 1s);
    check(!gone && gone.error() == cachet::errc::no_such_node,
          "a lookup on a node that left is no_such_node");
    caf::anon_send_exit(*prices, caf::exit_reason::user_shutdown);
  }
  return check.result();
}
