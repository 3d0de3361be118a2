// Distribution across real processes on loopback: the test process is node
// "t"; the other nodes are cachet-test-node children (node_process.hpp),
// stopped by PID when a case ends. Every wait is bounded.
#include <atomic>
#include <chrono>
#include <csignal>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/event_based_actor.hpp>

#include "../test_support.hpp"
#include "cachet/dist/node.hpp"
#include "cachet/dist/remote.hpp"
#include "node_process.hpp"

using namespace std::chrono_literals;
using cachet_test::node_process;
using cachet_test::outcome;

namespace {

using kv_owner = cachet::owner_actor<std::string, std::string>;

struct net_config : caf::actor_system_config {
  net_config() {
    cachet::dist::configure(*this);
    cachet::dist::add_table_types<std::string, std::string>(*this);
    cachet::dist::add_table_types<std::string, std::uint64_t>(*this);
  }
};

/// The test's own node, "t", joined to `seeds`.
struct cluster_fixture {
  net_config cfg;
  caf::actor_system sys{cfg};

  cachet::dist::node start(std::vector<std::string> seeds) {
    cachet::dist::node_options opts;
    opts.seeds = std::move(seeds);
    return start_with(std::move(opts));
  }

  cachet::dist::node start_with(cachet::dist::node_options opts) {
    opts.name = "t";
    auto n = cachet::dist::node::start(sys, opts);
    if (!n)
      throw std::runtime_error(sys.render(n.error()));
    return std::move(*n);
  }
};

bool has_member(const cachet::dist::node& n, const std::string& name) {
  for (auto& m : n.members())
    if (m.name == name)
      return true;
  return false;
}

/// Waits up to `timeout` for `pred`, checking every 10 ms.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// A plain TCP connection to 127.0.0.1:port, or -1.
int connect_raw(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_raw(int fd, const void* data, std::size_t n) {
  ::send(fd, data, n, MSG_NOSIGNAL);
}

/// Whether the peer closes `fd` within `timeout` (what it sends meanwhile
/// is read and dropped).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    auto r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0)
      return true;
  }
  return false;
}

/// A BASP 0.17 header: operation, payload length, destination actor.
std::vector<unsigned char> basp_header(unsigned char op, std::uint32_t len,
                                       unsigned char dest = 0) {
  std::vector<unsigned char> h(32, 0);
  h[0] = op;
  h[4] = static_cast<unsigned char>(len >> 24);
  h[5] = static_cast<unsigned char>(len >> 16);
  h[6] = static_cast<unsigned char>(len >> 8);
  h[7] = static_cast<unsigned char>(len);
  h[31] = dest;
  return h;
}

/// Whether a write from node `t` to `peer`'s table "kv" is acknowledged and
/// then read there directly.
bool writes_through(caf::actor_system& sys, const cachet::dist::node& t,
                    node_process& peer, const std::string& key,
                    const std::string& value) {
  auto owner = cachet::dist::whereis_owner<std::string, std::string>(
    t, peer.name(), "kv", 5s);
  if (!owner)
    return false;
  cachet::blocking_caller caller{sys};
  auto put = caller.call(*owner, 5s, cachet::insert_atom_v, key, value);
  return put && peer.ask("get " + key) == value;
}

/// An actor that answers (lookup_atom, key) by asking `owner`.
caf::behavior lookup_client(caf::event_based_actor* self, kv_owner owner) {
  return {[=](cachet::lookup_atom, const std::string& key) {
    auto rp = self->make_response_promise<std::optional<std::string>>();
    self->request(owner, 5s, cachet::lookup_atom_v, key)
      .then([=](std::optional<std::string>& x) mutable { rp.deliver(x); },
            [=](caf::error& err) mutable { rp.deliver(err); });
    return rp;
  }};
}

} // namespace

TEST_CASE_METHOD(cluster_fixture, "hostile connections are dropped and the "
                                  "node carries on", "[dist]") {
  cachet::dist::node_options opts;
  opts.handshake_timeout = 500ms;
  auto t = start_with(opts);
  auto port = t.port();
  SECTION("random bytes") {
    std::mt19937 rng{7};
    std::vector<unsigned char> junk(4096);
    for (auto& b : junk)
      b = static_cast<unsigned char>(rng());
    int fd = connect_raw(port);
    REQUIRE(fd >= 0);
    send_raw(fd, junk.data(), junk.size());
    CHECK(closed_within(fd, 5s));
    ::close(fd);
  }
  SECTION("a handshake header announcing a 4 GB payload") {
    // Unguarded, CAF 0.17.6 allocates the 4 GB (or aborts on bad_alloc).
    int fd = connect_raw(port);
    REQUIRE(fd >= 0);
    auto h = basp_header(1, 0xFFFFFFFF);
    send_raw(fd, h.data(), h.size());
    CHECK(closed_within(fd, 5s));
    ::close(fd);
  }
  SECTION("half a header, then silence") {
    // The node's clock for the handshake starts after t0, at its accept.
    auto t0 = std::chrono::steady_clock::now();
    int fd = connect_raw(port);
    REQUIRE(fd >= 0);
    auto h = basp_header(1, 32);
    send_raw(fd, h.data(), 5);
    CHECK(closed_within(fd, 5s));
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
    CHECK(waited.count() >= 500);
    ::close(fd);
  }
  SECTION("a valid handshake, then a 4 GB message") {
    // A client handshake as a real 0.17.6 node sends it: its node id (a
    // process id and a host id) as the payload.
    auto hs = basp_header(1, 32);
    const unsigned char id[32]
      = {0x00, 0x00, 0x3e, 0x9a, 0xab, 0x9b, 0xac, 0x79, 0x00, 0x00, 0x16,
         0xdb, 0xbf, 0xfa, 0xdf, 0x3a, 0xc9, 0xf1, 0x14, 0x2f, 0x64, 0x46,
         0xca, 0x70, 0x6c, 0x9b, 0xb0, 0xf6, 0x9b, 0x11, 0x44, 0x00};
    hs.insert(hs.end(), id, id + sizeof id);
    int fd = connect_raw(port);
    REQUIRE(fd >= 0);
    send_raw(fd, hs.data(), hs.size());
    CHECK_FALSE(closed_within(fd, 300ms)); // accepted: the node answers
    auto big = basp_header(2, 0xFFFFFFFF, 1); // a direct message to actor 1
    send_raw(fd, big.data(), big.size());
    CHECK(closed_within(fd, 5s));
    ::close(fd);
  }
  SECTION("hundreds of idle connections") {
    std::vector<int> fds;
    for (int i = 0; i < 300; ++i)
      if (int fd = connect_raw(port); fd >= 0)
        fds.push_back(fd);
    CHECK(fds.size() == 300);
    for (auto fd : fds) {
      CHECK(closed_within(fd, 5s));
      ::close(fd);
    }
  }
  // Whatever came before, a real node joins and calls work.
  node_process b{"b", {"127.0.0.1:" + std::to_string(port)}};
  REQUIRE(t.await_members(1, 10s));
  CHECK(b.ask("await 1 5000") == "ok");
  CHECK(writes_through(sys, t, b, "k", "v"));
}

TEST_CASE_METHOD(cluster_fixture, "a peer this node dials that sends a 4 GB "
                                  "message is dropped and the node carries on",
                 "[dist]") {
  // A relay in front of node c: it passes the handshakes both ways (so the
  // dialing node "t" takes it for c), then sends t a message header
  // announcing 4 GB. Uncapped, t allocates it and waits for the bytes.
  node_process c{"c", {}};
  int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(ls, 4) == 0);
  REQUIRE(::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  auto relay_port = ntohs(addr.sin_port);
  std::atomic<int> dropped{-1};
  std::thread relay{[&] {
    pollfd p{ls, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0)
      return;
    int from_t = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    int to_c = connect_raw(c.port());
    // t's client handshake, whole, to c; c's server handshake, whole, to t.
    auto pass = [](int from, int to) {
      std::vector<unsigned char> buf(32);
      auto read_all = [&](unsigned char* at, std::size_t n) {
        for (std::size_t got = 0; got < n;) {
          pollfd q{from, POLLIN, 0};
          if (::poll(&q, 1, 5000) <= 0)
            return false;
          auto r = ::recv(from, at + got, n - got, 0);
          if (r <= 0)
            return false;
          got += static_cast<std::size_t>(r);
        }
        return true;
      };
      if (!read_all(buf.data(), 32))
        return false;
      std::size_t payload = (std::size_t{buf[4]} << 24)
                            | (std::size_t{buf[5]} << 16)
                            | (std::size_t{buf[6]} << 8) | buf[7];
      buf.resize(32 + payload);
      if (!read_all(buf.data() + 32, payload))
        return false;
      send_raw(to, buf.data(), buf.size());
      return true;
    };
    if (pass(from_t, to_c) && pass(to_c, from_t)) {
      auto big = basp_header(2, 0xFFFFFFFF, 1); // a direct message
      send_raw(from_t, big.data(), big.size());
      dropped = closed_within(from_t, 5s) ? 1 : 0;
    }
    ::close(from_t);
    ::close(to_c);
  }};
  auto t = start({"127.0.0.1:" + std::to_string(relay_port)});
  relay.join();
  ::close(ls);
  CHECK(dropped == 1);
  // The node still joins a real one and calls work.
  node_process b{"b", {t.self().host + ":" + std::to_string(t.port())}};
  REQUIRE(eventually([&] { return has_member(t, "b"); }, 10s));
  CHECK(writes_through(sys, t, b, "k", "v"));
}

TEST_CASE_METHOD(cluster_fixture, "nodes form a full mesh from a chain of seeds",
                 "[dist]") {
  node_process b{"b", {}};
  node_process c{"c", {b.address()}};
  node_process d{"d", {c.address()}};
  auto t = start({d.address()});
  // t knows only d, d only c, c only b: every node still meets every other.
  bool meshed = t.await_members(3, 10s);
  for (auto& m : t.members())
    UNSCOPED_INFO("t has " << m.name);
  for (auto* p : {&b, &c, &d})
    UNSCOPED_INFO(p->name() << " has " << p->ask("members").value_or("?"));
  REQUIRE(meshed);
  for (auto* p : {&b, &c, &d})
    CHECK(p->ask("await 3 10000") == "ok");
  CHECK(has_member(t, "b"));
  CHECK(has_member(t, "c"));
  CHECK(has_member(t, "d"));
}

TEST_CASE_METHOD(cluster_fixture, "a remote owner is called from a thread and "
                                  "from an actor", "[dist]") {
  node_process b{"b", {}};
  auto t = start({b.address()});
  REQUIRE(t.await_members(1, 10s));
  auto owner = cachet::dist::whereis_owner<std::string, std::string>(t, "b",
                                                                     "kv", 5s);
  REQUIRE(outcome(owner) == "ok");
  cachet::blocking_caller caller{sys};
  REQUIRE(outcome(caller.call(*owner, 5s, cachet::insert_atom_v,
                              std::string{"k1"}, std::string{"v1"}))
          == "ok");
  auto v = caller.call(*owner, 5s, cachet::lookup_atom_v, std::string{"k1"});
  REQUIRE(outcome(v) == "ok");
  CHECK(*v == std::optional<std::string>{"v1"});
  // The write is in b's table: b reads it directly.
  CHECK(b.ask("get k1") == "v1");
  // From an actor: a request, answered through the actor's mailbox.
  caf::scoped_actor self{sys};
  auto client = sys.spawn(lookup_client, *owner);
  std::optional<std::string> got;
  std::string err = "none";
  self->request(client, 10s, cachet::lookup_atom_v, std::string{"k1"})
    .receive([&](std::optional<std::string>& x) { got = x; },
             [&](caf::error& e) { err = outcome(e); });
  CHECK(err == "none");
  CHECK(got == std::optional<std::string>{"v1"});
  // A key of the table's whole message protocol, size, over the network.
  auto size = caller.call(*owner, 5s, cachet::size_atom_v);
  REQUIRE(outcome(size) == "ok");
  CHECK(*size == 1);
  self->send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(cluster_fixture, "an owner serves calls from another node "
                                  "and from its own node one at a time",
                 "[dist]") {
  // A call from another node runs on the thread that delivers it, a local
  // one on the calling thread (thread lending): both take the owner only
  // when its mailbox lets them, so every call counts once and (under TSan)
  // no two threads ever run the owner at once.
  node_process b{"b", {}};
  auto t = start({b.address()});
  REQUIRE(t.await_members(1, 10s));
  using counts_owner = cachet::owner_actor<std::string, std::uint64_t>;
  auto owner = cachet::dist::whereis_owner<std::string, std::uint64_t>(
    t, "b", "counts", 5s);
  REQUIRE(outcome(owner) == "ok");
  constexpr int remote_threads = 2;
  constexpr int remote_calls = 300;
  std::atomic<int> failed{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < remote_threads; ++i)
    callers.emplace_back([&, dest = counts_owner{*owner}] {
      cachet::blocking_caller caller{sys};
      for (int j = 0; j < remote_calls; ++j)
        if (!caller.call(dest, 5s, cachet::update_counter_atom_v,
                         std::string{"hits"}, cachet::counter_op{1},
                         std::uint64_t{0}))
          ++failed;
    });
  // Meanwhile b's own threads call the same owner.
  auto local_failed = b.ask("bump hits 300 2");
  for (auto& c : callers)
    c.join();
  CHECK(failed == 0);
  CHECK(local_failed == "0");
  CHECK(b.ask("count hits") == std::to_string(remote_threads * remote_calls
                                              + 2 * 300));
}

TEST_CASE_METHOD(cluster_fixture, "remote lookups check names and types",
                 "[dist]") {
  node_process b{"b", {}};
  auto t = start({b.address()});
  REQUIRE(t.await_members(1, 10s));
  using cachet::dist::whereis_owner;
  // No such table, no such node.
  CHECK(outcome(whereis_owner<std::string, std::string>(t, "b", "nope", 5s))
        == "no_such_table");
  CHECK(outcome(whereis_owner<std::string, std::string>(t, "zz", "kv", 5s))
        == "no_such_node");
  // b's "counts" holds std::string -> std::uint64_t: asked for strings, it
  // says no rather than handing out an owner that would misread them.
  auto wrong = whereis_owner<std::string, std::string>(t, "b", "counts", 5s);
  CHECK(outcome(wrong) == "wrong_type");
  // A value type this node never registered is refused here, before
  // anything is sent.
  struct unregistered {
    int x;
  };
  auto unknown = whereis_owner<std::string, unregistered>(t, "b", "kv", 5s);
  CHECK(outcome(unknown) == "type_not_registered");
  // Anywhere: t has no "kv", b does.
  auto anywhere
    = cachet::dist::whereis_owner_anywhere<std::string, std::string>(t, "kv",
                                                                     5s);
  CHECK(outcome(anywhere) == "ok");
  CHECK(outcome(cachet::dist::whereis_owner_anywhere<std::string, std::string>(
          t, "nope", 5s))
        == "no_such_table");
  // A cache's owner: b's "sessions" is a cache of strings; its table "kv"
  // is not a cache.
  using cachet::dist::whereis_cache_owner;
  CHECK(outcome(whereis_cache_owner<std::string, std::string>(t, "b", "kv", 5s))
        == "wrong_type");
  CHECK(outcome(whereis_cache_owner<std::string, std::uint64_t>(
          t, "b", "sessions", 5s))
        == "wrong_type");
  auto sessions = whereis_cache_owner<std::string, std::string>(
    t, "b", "sessions", 5s);
  REQUIRE(outcome(sessions) == "ok");
  cachet::blocking_caller caller{sys};
  CHECK(outcome(caller.call(*sessions, 5s, cachet::insert_atom_v,
                            std::string{"ck"}, std::string{"cv"}))
        == "ok");
  auto got = caller.call(*sessions, 5s, cachet::lookup_atom_v,
                         std::string{"ck"});
  REQUIRE(outcome(got) == "ok");
  CHECK(*got == std::optional<std::string>{"cv"});
  auto stats = caller.call(*sessions, 5s, cachet::stats_atom_v);
  REQUIRE(outcome(stats) == "ok");
  CHECK(stats->hits == 1);
  CHECK(stats->entries == 1);
  CHECK(outcome(caller.call(*sessions, 5s, cachet::erase_atom_v,
                            std::string{"ck"}))
        == "ok");
  auto size = caller.call(*sessions, 5s, cachet::size_atom_v);
  REQUIRE(outcome(size) == "ok");
  CHECK(*size == 0);
}

TEST_CASE_METHOD(cluster_fixture, "a node killed with SIGKILL is seen down "
                                  "and survivors keep every acknowledged write",
                 "[dist]") {
  node_process b{"b", {}};
  node_process c{"c", {b.address()}};
  auto t = start({b.address()});
  REQUIRE(t.await_members(2, 10s));
  caf::scoped_actor watcher{sys};
  t.monitor(watcher);
  auto on_b = cachet::dist::whereis_owner<std::string, std::string>(t, "b",
                                                                    "kv", 5s);
  auto on_c = cachet::dist::whereis_owner<std::string, std::string>(t, "c",
                                                                    "kv", 5s);
  REQUIRE(outcome(on_b) == "ok");
  REQUIRE(outcome(on_c) == "ok");
  cachet::blocking_caller caller{sys};
  constexpr int writes = 200;
  for (int i = 0; i < writes; ++i)
    REQUIRE(outcome(caller.call(*on_b, 5s, cachet::insert_atom_v,
                                "k" + std::to_string(i), std::string{"v"}))
            == "ok");
  auto t0 = std::chrono::steady_clock::now();
  c.kill();
  std::string down;
  watcher->receive_while([&] { return down.empty(); })(
    [&](cachet::node_down_atom, const std::string& name) { down = name; },
    [&](cachet::node_up_atom, const std::string&) {},
    caf::after(10s) >> [&] { down = "timeout"; });
  CHECK(down == "c");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK_FALSE(has_member(t, "c"));
  // b saw it too, and is still serving.
  CHECK(b.ask("await 1 5000") == "ok");
  CHECK(eventually([&] { return b.ask("members") == "1"; }, 5s));
  // A call to the dead node's owner fails, and fails fast.
  auto t1 = std::chrono::steady_clock::now();
  auto dead = caller.call(*on_c, 5s, cachet::lookup_atom_v, std::string{"k"});
  REQUIRE_FALSE(dead);
  CHECK(dead.error() == caf::sec::request_receiver_down);
  CHECK(std::chrono::steady_clock::now() - t1 < 5s);
  CHECK(outcome(cachet::dist::whereis_owner<std::string, std::string>(
          t, "c", "kv", 5s))
        == "no_such_node");
  // Every acknowledged write to the survivor is there.
  auto size = caller.call(*on_b, 5s, cachet::size_atom_v);
  REQUIRE(outcome(size) == "ok");
  CHECK(*size == writes);
  CHECK(b.ask("get k0") == "v");
  CHECK(b.ask("get k" + std::to_string(writes - 1)) == "v");
}

TEST_CASE_METHOD(cluster_fixture, "a frozen node (SIGSTOP) is declared down "
                                  "within the bound and rejoins on SIGCONT",
                 "[dist]") {
  node_process b{"b", {}};
  auto t = start({b.address()});
  REQUIRE(t.await_members(1, 10s));
  caf::scoped_actor watcher{sys};
  t.monitor(watcher);
  auto t0 = std::chrono::steady_clock::now();
  b.signal(SIGSTOP);
  std::string event;
  auto next_event = [&] {
    event.clear();
    watcher->receive(
      [&](cachet::node_down_atom, const std::string& name) {
        event = "down " + name;
      },
      [&](cachet::node_up_atom, const std::string& name) {
        event = "up " + name;
      },
      caf::after(10s) >> [&] { event = "timeout"; });
  };
  next_event();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(event == "down b");
  // The documented bound is connection_timeout plus a heartbeat (1.2 s
  // with the defaults); a loaded machine gets slack, a hang does not.
  CHECK(took >= 900ms);
  CHECK(took < 4s);
  b.signal(SIGCONT);
  next_event();
  CHECK(event == "up b");
  CHECK(b.ask("await 1 5000") == "ok");
  CHECK(writes_through(sys, t, b, "after", "thaw"));
}

TEST_CASE_METHOD(cluster_fixture, "a second node under a taken name is "
                                  "refused", "[dist]") {
  node_process b{"b", {}};
  auto t = start({b.address()});
  REQUIRE(t.await_members(1, 10s));
  node_process impostor{"b", {b.address()}};
  // It never becomes a member of anyone: the live b holds the name.
  CHECK(impostor.ask("await 1 1500") == "timeout");
  CHECK(t.members().size() == 1);
  CHECK(b.ask("members") == "1");
}

TEST_CASE_METHOD(cluster_fixture, "a declarative select crosses the network",
                 "[dist]") {
  node_process b{"b", {}};
  auto t = start({b.address()});
  REQUIRE(t.await_members(1, 10s));
  auto counts = cachet::dist::whereis_owner<std::string, std::uint64_t>(
    t, "b", "counts", 5s);
  REQUIRE(outcome(counts) == "ok");
  cachet::blocking_caller caller{sys};
  std::vector<std::pair<std::string, std::uint64_t>> batch;
  for (std::uint64_t i = 0; i < 100; ++i)
    batch.emplace_back("n" + std::to_string(i), i);
  REQUIRE(outcome(caller.call(*counts, 5s, cachet::insert_atom_v, batch))
          == "ok");
  using cachet::spec::key;
  using cachet::spec::value;
  // b evaluates the spec on its table; only the matches come back.
  auto low = caller.call(*counts, 5s, cachet::select_count_atom_v,
                         cachet::match_spec{value() < 10});
  REQUIRE(outcome(low) == "ok");
  CHECK(*low == 10);
  auto fives = caller.call(*counts, 5s, cachet::select_atom_v,
                           cachet::match_spec{key().starts_with("n5")});
  REQUIRE(outcome(fives) == "ok");
  CHECK(fives->size() == 11); // n5, n50..n59
  for (auto& [k, v] : *fives)
    CHECK(k == "n" + std::to_string(v));
  auto purged = caller.call(*counts, 5s, cachet::select_delete_atom_v,
                            cachet::match_spec{value() >= 90});
  REQUIRE(outcome(purged) == "ok");
  CHECK(*purged == 10);
  CHECK(*caller.call(*counts, 5s, cachet::size_atom_v) == 90);
}
