// The partitioned cache: placement by rendezvous hashing, and a cache over
// three real processes (the test is node "t", the others cachet-test-node
// children holding a shard "links" each), stopped by PID at the end.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "cachet/dist/node.hpp"
#include "cachet/dist/partitioned_cache.hpp"
#include "node_process.hpp"

using namespace std::chrono_literals;
using cachet_test::node_process;
using cachet_test::outcome;

namespace {

using links_partition = cachet::dist::partition<std::string, std::string>;
using links_cache = cachet::dist::partitioned_cache<std::string, std::string>;

std::uint64_t hash_of(const std::string& key) {
  return cachet::default_hash{}(key);
}

struct net_config : caf::actor_system_config {
  net_config() {
    cachet::dist::configure(*this);
    cachet::dist::add_partition_types<std::string, std::string>(*this);
  }
};

/// Node "t" with its shard of "links", whose loader counts its loads.
struct partition_fixture {
  net_config cfg;
  caf::actor_system sys{cfg};
  std::atomic<int> loads{0};

  cachet::dist::node start(std::vector<std::string> seeds) {
    cachet::dist::node_options opts;
    opts.name = "t";
    opts.seeds = std::move(seeds);
    auto n = cachet::dist::node::start(sys, opts);
    if (!n)
      throw std::runtime_error(sys.render(n.error()));
    return std::move(*n);
  }

  links_partition shard(const cachet::dist::node& n) {
    cachet::dist::partition_options<std::string, std::string> opts;
    opts.shard.name = "links";
    opts.loader = [this](const std::string& key) {
      ++loads;
      std::this_thread::sleep_for(200ms);
      return "loaded:" + key;
    };
    opts.timeout = 5s;
    auto p = links_partition::start(n, opts);
    if (!p)
      throw std::runtime_error(sys.render(p.error()));
    return std::move(*p);
  }
};

int count(node_process& p, const std::string& cmd) {
  auto r = p.ask(cmd);
  return r ? std::stoi(*r) : -1;
}

} // namespace

TEST_CASE("rendezvous hashing: one home per key, about 1/N each, about "
          "1/(N+1) of the keys move on a join", "[dist]") {
  constexpr int keys = 30000;
  std::vector<std::string> three{"a", "b", "c"};
  std::vector<std::string> four{"a", "b", "c", "d"};
  std::map<std::string, int> per_home;
  int moved = 0;
  int moved_elsewhere = 0;
  for (int i = 0; i < keys; ++i) {
    auto h = hash_of("key" + std::to_string(i));
    auto before = cachet::dist::home_of(h, three);
    auto after = cachet::dist::home_of(h, four);
    // Deterministic, and independent of the members' order.
    CHECK(before == cachet::dist::home_of(h, {"c", "a", "b"}));
    ++per_home[before];
    if (before != after) {
      ++moved;
      moved_elsewhere += after == "d" ? 0 : 1;
    }
  }
  for (auto& name : three) {
    INFO(name << " is home of " << per_home[name]);
    CHECK(per_home[name] > keys * 0.30);
    CHECK(per_home[name] < keys * 0.37);
  }
  // Only keys the newcomer takes move (1/4 expected), none between others.
  CHECK(moved_elsewhere == 0);
  CHECK(moved > keys * 0.22);
  CHECK(moved < keys * 0.28);
  CHECK(cachet::dist::home_of(1, {}).empty());
}

TEST_CASE_METHOD(partition_fixture, "a partitioned cache over three "
                                    "processes", "[dist]") {
  node_process b{"b", {}};
  node_process c{"c", {b.address()}};
  auto t = start({b.address()});
  auto part = shard(t);
  REQUIRE(t.await_members(2, 10s));
  REQUIRE(b.ask("await 2 10000") == "ok");
  REQUIRE(c.ask("await 2 10000") == "ok");
  links_cache links{part};
  // Every node picks the same home for a key.
  for (int i = 0; i < 20; ++i) {
    auto key = "k" + std::to_string(i);
    CHECK(b.ask("home " + key) == links.home(key));
    CHECK(c.ask("home " + key) == links.home(key));
  }
  // Writes land at their homes only, and anyone reads them.
  constexpr int n = 300;
  std::map<std::string, int> homes;
  for (int i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i);
    REQUIRE(outcome(links.put(key, "v" + std::to_string(i))) == "ok");
    ++homes[links.home(key)];
  }
  auto local = cachet::whereis_cache<std::string, std::string>(sys, "links");
  REQUIRE(local);
  CHECK(static_cast<int>(*local->size()) == homes["t"]);
  CHECK(count(b, "local") == homes["b"]);
  CHECK(count(c, "local") == homes["c"]);
  CHECK(homes["t"] + homes["b"] + homes["c"] == n);
  CHECK(b.ask("pget k7") == "v7");
  CHECK(c.ask("pget k123") == "v123");
  // This node's shard owner crashes: its supervisor restarts it with the
  // shard it held as heir, so nothing written here is lost, and peers'
  // reads and fetches of keys homed here keep being served.
  auto crashed = local->owner();
  caf::anon_send_exit(crashed, caf::exit_reason::kill);
  auto restarted = [&] {
    auto o = local->owner();
    return o && o != crashed && o != part.supervisor().address();
  };
  for (int i = 0; i < 500 && !restarted(); ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(restarted());
  CHECK(static_cast<int>(*local->size()) == homes["t"]);
  std::string mine_key;
  for (int i = 0; mine_key.empty(); ++i)
    if (links.home("k" + std::to_string(i)) == "t")
      mine_key = "k" + std::to_string(i);
  CHECK(b.ask("pget " + mine_key) == "v" + mine_key.substr(1));
  std::string fresh_here;
  for (int i = 0; fresh_here.empty(); ++i)
    if (links.home("after" + std::to_string(i)) == "t")
      fresh_here = "after" + std::to_string(i);
  CHECK(c.ask("pfetch " + fresh_here) == "loaded:" + fresh_here);
  CHECK(loads == 1);
  loads = 0;
  auto v = links.get("k299");
  REQUIRE(outcome(v) == "ok");
  CHECK(*v == std::optional<std::string>{"v299"});
  // A batch split by home comes back in order.
  std::vector<std::string> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back("k" + std::to_string(i * 3));
  batch.push_back("absent");
  auto many = links.get_many(batch);
  REQUIRE(outcome(many) == "ok");
  REQUIRE(many->size() == batch.size());
  for (int i = 0; i < 100; ++i)
    CHECK((*many)[i] == std::optional<std::string>{"v" + std::to_string(i * 3)});
  CHECK_FALSE(many->back().has_value());
  std::vector<std::pair<std::string, std::string>> puts;
  for (int i = 0; i < 50; ++i)
    puts.emplace_back("m" + std::to_string(i), "w" + std::to_string(i));
  REQUIRE(outcome(links.put_many(puts)) == "ok");
  CHECK(b.ask("pget m17") == "w17");
  CHECK(outcome(links.invalidate("m17")) == "ok");
  CHECK(c.ask("pget m17") == "none");
  // Every node misses the same key at once: one load in the whole cluster,
  // at the key's home, and everyone gets its value.
  for (auto* p : {&b, &c})
    REQUIRE(p->send("pfetch fresh"));
  auto mine = links.fetch("fresh");
  REQUIRE(outcome(mine) == "ok");
  CHECK(*mine == "loaded:fresh");
  CHECK(b.read() == "loaded:fresh");
  CHECK(c.read() == "loaded:fresh");
  CHECK(loads + count(b, "loads") + count(c, "loads") == 1);
}

TEST_CASE_METHOD(partition_fixture, "when a node is killed its keys re-home "
                                    "to the survivors, and their writes stay",
                 "[dist]") {
  node_process b{"b", {}};
  node_process c{"c", {b.address()}};
  auto t = start({b.address()});
  auto part = shard(t);
  REQUIRE(t.await_members(2, 10s));
  REQUIRE(b.ask("await 2 10000") == "ok");
  REQUIRE(c.ask("await 2 10000") == "ok");
  links_cache links{part};
  constexpr int n = 200;
  std::vector<std::string> on_c;
  for (int i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i);
    REQUIRE(outcome(links.put(key, "v" + std::to_string(i))) == "ok");
    if (links.home(key) == "c")
      on_c.push_back(key);
  }
  REQUIRE(!on_c.empty());
  c.kill();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (t.members().size() != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE(t.members().size() == 1);
  deadline = std::chrono::steady_clock::now() + 10s;
  while (b.ask("members") != "1" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE(b.ask("members") == "1");
  // Acknowledged writes to the survivors are all there.
  for (int i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i);
    auto home = links.home(key);
    REQUIRE(home != "c");
    if (std::find(on_c.begin(), on_c.end(), key) != on_c.end())
      continue;
    auto v = links.get(key);
    REQUIRE(outcome(v) == "ok");
    CHECK(*v == std::optional<std::string>{"v" + std::to_string(i)});
  }
  // c's keys have new homes, which load them on demand (a few: each load
  // takes 200 ms).
  on_c.resize(std::min<std::size_t>(on_c.size(), 5));
  for (auto& key : on_c) {
    auto v = links.fetch(key);
    REQUIRE(outcome(v) == "ok");
    CHECK(*v == "loaded:" + key);
    CHECK(b.ask("pfetch " + key) == "loaded:" + key);
  }
}
