// The node actor: membership (hello, meet, retries, nodedown) and the
// lookups peers send it. See include/cachet/dist/node.hpp.
#include "cachet/dist/node.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "cachet/cache_stats.hpp"
#include "cachet/configure.hpp"
#include "cachet/counter.hpp"
#include "cachet/detail/lending.hpp"
#include "cachet/errc.hpp"
#include "cachet/match_spec.hpp"
#include "cachet/dist/remote.hpp"
#include "guard.hpp"

namespace cachet::dist {

void configure(caf::actor_system_config& cfg, net_timing timing) {
  cachet::configure(cfg);
  cfg.load<caf::io::middleman>();
  // Explicit, because CAF's defaults (0) never declare a frozen peer down.
  cfg.set("middleman.heartbeat-interval", timing.heartbeat_interval);
  cfg.set("middleman.connection-timeout", timing.connection_timeout);
  // A remote call wakes a scheduler worker on each node it crosses. CAF's
  // work stealing lets an idle worker poll with 50 us sleeps for 25 ms
  // before it sleeps where an enqueue can wake it, so at the gaps of a
  // round trip every wake-up waited out a sleep: skipping that phase took
  // remote calls from 1.9 K to 5.0 K/s (cachet-bench --remote-only, 2
  // cores). The config's own setting, given after this, still wins.
  cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
  // CAF deserializes a message from another node on a BASP worker, a
  // scheduler job: one more thread hand-off per message. On the
  // multiplexer's own thread it is delivered at once, and an owner it wakes
  // runs right there (owner_impl).
  cfg.set("middleman.workers", std::size_t{0});
  cfg.add_message_type<member>("cachet::dist::member");
  cfg.add_message_type<std::vector<member>>("std::vector<cachet::dist::member>");
  cfg.add_message_type<counter_op>("cachet::counter_op");
  cfg.add_message_type<match_spec>("cachet::match_spec");
  cfg.add_message_type<cache_stats>("cachet::cache_stats");
}

/// What the handle and the actor share: the live peers, for threads to read.
struct node::state {
  caf::actor_system* sys = nullptr;
  member self;
  caf::timespan retry;
  caf::actor actor;
  std::unique_ptr<detail::guard> listener;
  mutable std::mutex mtx;
  mutable std::condition_variable changed;
  std::map<std::string, std::pair<member, caf::actor>> peers; // guarded by mtx
  /// Bumped (under mtx) whenever `peers` changes.
  std::atomic<std::uint64_t> version{0};
  /// Actors peers find by name (whereis), with their signatures.
  std::map<std::string, std::pair<std::string, caf::actor>> services; // mtx
};

namespace {

/// How long a connection and a hello may take before they are tried again
/// (a connection to a frozen peer stands only once it thaws).
constexpr auto connect_timeout = std::chrono::seconds{5};
constexpr auto hello_timeout = std::chrono::seconds{5};

std::string address_of(const std::string& host, std::uint16_t port) {
  return host + ":" + std::to_string(port);
}

std::optional<std::pair<std::string, std::uint16_t>>
parse_address(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  unsigned port = 0;
  auto first = addr.data() + colon + 1;
  auto last = addr.data() + addr.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc{} || end != last || first == last || port == 0
      || port > 65535)
    return std::nullopt;
  return std::pair{addr.substr(0, colon), static_cast<std::uint16_t>(port)};
}

struct node_actor_state {
  std::shared_ptr<node::state> shared;
  /// This node as peers know it, complete once joined.
  member me;
  caf::io::middleman_actor mm;
  /// Addresses to (re)connect to while no live peer has them: the seeds
  /// and every lost peer's.
  std::set<std::string> wanted;
  /// Addresses with a connect or hello in flight.
  std::set<std::string> in_flight;
  std::vector<caf::actor> subscribers;
  static inline const char* name = "cachet.node";
};

using node_actor = caf::stateful_actor<node_actor_state>;

std::vector<member> members_with_self(node_actor* self) {
  auto& st = *self->state.shared;
  std::vector<member> out{self->state.me};
  std::lock_guard<std::mutex> guard{st.mtx};
  for (auto& [name, peer] : st.peers)
    out.push_back(peer.first);
  return out;
}

bool connected_to(node_actor* self, const std::string& addr) {
  auto& st = *self->state.shared;
  std::lock_guard<std::mutex> guard{st.mtx};
  return std::any_of(st.peers.begin(), st.peers.end(), [&](auto& kv) {
    return address_of(kv.second.first.host, kv.second.first.port) == addr;
  });
}

bool knows(node_actor* self, const std::string& name) {
  auto& st = *self->state.shared;
  std::lock_guard<std::mutex> guard{st.mtx};
  return st.peers.count(name) != 0;
}

void notify(node_actor* self, caf::atom_value what, const std::string& name) {
  for (auto& sub : self->state.subscribers)
    self->send(sub, what, name);
}

/// Takes `m` as a live peer whose node actor is `peer`. False if another
/// live node holds the name.
///
/// Every new link is gossiped both ways: the newcomer meets each other
/// peer and each other peer meets the newcomer. Joins racing each other
/// through different nodes then still form a full mesh: whichever of two
/// nodes' links forms last, its node introduces them.
bool add_peer(node_actor* self, const member& m, const caf::actor& peer) {
  auto& st = *self->state.shared;
  if (m.name == self->state.me.name || !peer)
    return false;
  std::vector<std::pair<member, caf::actor>> others;
  {
    std::lock_guard<std::mutex> guard{st.mtx};
    auto i = st.peers.find(m.name);
    if (i != st.peers.end())
      return i->second.second == peer; // known already, or a namesake
    for (auto& kv : st.peers)
      others.push_back(kv.second);
    st.peers.emplace(m.name, std::pair{m, peer});
    st.version.fetch_add(1, std::memory_order_release);
  }
  st.changed.notify_all();
  self->monitor(peer);
  self->state.wanted.erase(address_of(m.host, m.port));
  for (auto& [other, handle] : others) {
    self->send(handle, meet_atom_v, m);
    self->send(peer, meet_atom_v, other);
  }
  notify(self, node_up_atom_v, m.name);
  return true;
}

void connect(node_actor* self, const std::string& host, std::uint16_t port);

/// Meets every member a peer listed that this node does not know yet.
void meet_all(node_actor* self, const std::vector<member>& ms) {
  for (auto& m : ms)
    if (m.name != self->state.me.name && !knows(self, m.name))
      connect(self, m.host, m.port);
}

void connect(node_actor* self, const std::string& host, std::uint16_t port) {
  auto addr = address_of(host, port);
  const auto& me = self->state.me;
  if (addr == address_of(me.host, me.port) || connected_to(self, addr)
      || !self->state.in_flight.insert(addr).second)
    return;
  auto done = [self, addr] { self->state.in_flight.erase(addr); };
  // Until a peer answers at that address, the retry timer comes back to it.
  self->state.wanted.insert(addr);
  self->request(self->state.mm, connect_timeout, caf::connect_atom::value,
                host, port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        auto peer = caf::actor_cast<caf::actor>(std::move(ptr));
        if (!peer) {
          done();
          return;
        }
        self->request(peer, hello_timeout, hello_atom_v, me)
          .then(
            [=](const std::vector<member>& ms) {
              done();
              self->state.wanted.erase(addr);
              if (!ms.empty() && add_peer(self, ms.front(), peer))
                meet_all(self, ms);
            },
            [=](const caf::error&) { done(); });
      },
      [=](const caf::error&) { done(); });
}

caf::behavior joined_behavior(node_actor* self);

caf::behavior node_behavior(node_actor* self, std::shared_ptr<node::state> st,
                            std::size_t max_message_bytes) {
  self->state.shared = std::move(st);
  // Connections this node opens, capped as the ones it accepts.
  auto mm = detail::spawn_connector(self->system(), max_message_bytes);
  self->state.mm = mm;
  self->attach_functor(
    [mm] { caf::anon_send_exit(mm, caf::exit_reason::user_shutdown); });
  self->set_down_handler([=](const caf::down_msg& dm) {
    auto& shared = *self->state.shared;
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](auto& s) { return s.address() == dm.source; }),
               subs.end());
    std::optional<member> lost;
    {
      std::lock_guard<std::mutex> guard{shared.mtx};
      for (auto i = shared.peers.begin(); i != shared.peers.end(); ++i)
        if (i->second.second.address() == dm.source) {
          lost = i->second.first;
          shared.peers.erase(i);
          shared.version.fetch_add(1, std::memory_order_release);
          break;
        }
    }
    if (!lost)
      return;
    shared.changed.notify_all();
    self->state.wanted.insert(address_of(lost->host, lost->port));
    notify(self, node_down_atom_v, lost->name);
  });
  // Until joined (it learns its port then), other messages wait.
  self->set_default_handler(caf::skip);
  return {
    [=](join_atom, const member& me, const std::vector<std::string>& seeds) {
      self->state.me = me;
      for (auto& s : seeds)
        self->state.wanted.insert(s);
      self->set_default_handler(caf::print_and_drop);
      self->become(joined_behavior(self));
      self->send(self, retry_atom_v);
    },
  };
}

caf::behavior joined_behavior(node_actor* self) {
  return {
    [=](retry_atom) {
      auto wanted = self->state.wanted; // connect may change it
      for (auto& addr : wanted)
        if (auto hp = parse_address(addr))
          connect(self, hp->first, hp->second);
      self->delayed_send(self, self->state.shared->retry, retry_atom_v);
    },
    [=](hello_atom, const member& who) -> caf::result<std::vector<member>> {
      auto peer = caf::actor_cast<caf::actor>(self->current_sender());
      if (!add_peer(self, who, peer))
        return caf::make_error(errc::name_taken,
                               "a node named " + who.name + " is a member");
      return members_with_self(self);
    },
    [=](meet_atom, const member& m) {
      if (m.name != self->state.me.name && !knows(self, m.name))
        connect(self, m.host, m.port);
    },
    [=](monitor_nodes_atom, const caf::actor& sub) {
      self->monitor(sub);
      self->state.subscribers.push_back(sub);
    },
    [=](whereis_atom, const std::string& name, const std::string& expected)
      -> caf::result<caf::strong_actor_ptr> {
      {
        auto& shared = *self->state.shared;
        std::lock_guard<std::mutex> guard{shared.mtx};
        auto i = shared.services.find(name);
        if (i != shared.services.end()) {
          if (i->second.first != expected)
            return caf::make_error(errc::wrong_type,
                                   name + " holds " + i->second.first
                                     + ", not " + expected);
          return caf::actor_cast<caf::strong_actor_ptr>(i->second.second);
        }
      }
      auto found = detail::find_owner(self->system(), name, expected);
      if (!found)
        return std::move(found.error());
      return std::move(*found);
    },
  };
}

} // namespace

caf::expected<node> node::start(caf::actor_system& sys, node_options opts) {
  if (opts.name.empty())
    return caf::make_error(errc::invalid_argument, "a node needs a name");
  for (auto& s : opts.seeds)
    if (!parse_address(s))
      return caf::make_error(errc::invalid_argument,
                             "seed '" + s + "' is not host:port");
  // Owners run a request from another node on the multiplexer's thread
  // (detail/owner_start.hpp's owner_impl).
  cachet::detail::network_unit_of(sys).store(&sys.middleman().backend());
  auto st = std::make_shared<state>();
  st->sys = &sys;
  st->self = member{opts.name, opts.host, opts.port};
  st->retry = opts.retry_interval;
  st->actor = sys.spawn(node_behavior, st, opts.max_message_bytes);
  auto listener = detail::guard::start(
    sys, opts.host, opts.port, caf::actor_cast<caf::strong_actor_ptr>(st->actor),
    {opts.max_message_bytes, opts.handshake_timeout, opts.max_handshakes});
  if (!listener) {
    caf::anon_send_exit(st->actor, caf::exit_reason::user_shutdown);
    return std::move(listener.error());
  }
  st->listener = std::move(*listener);
  st->self.port = st->listener->port();
  caf::anon_send(st->actor, join_atom_v, st->self, std::move(opts.seeds));
  return node{std::move(st)};
}

node::node(std::shared_ptr<state> st)
  : st_(std::move(st)), version_(&st_->version) {
  // nop
}

node::node(node&&) noexcept = default;
node& node::operator=(node&&) noexcept = default;

node::~node() {
  if (!st_)
    return;
  st_->listener.reset(); // no new peers
  caf::anon_send_exit(st_->actor, caf::exit_reason::user_shutdown);
}

const std::string& node::name() const noexcept {
  return st_->self.name;
}

std::uint16_t node::port() const noexcept {
  return st_->self.port;
}

member node::self() const {
  return st_->self;
}

std::vector<member> node::members() const {
  std::vector<member> out;
  std::lock_guard<std::mutex> guard{st_->mtx};
  for (auto& [name, peer] : st_->peers)
    out.push_back(peer.first);
  return out;
}

bool node::await_members(std::size_t n, caf::timespan timeout) const {
  std::unique_lock<std::mutex> guard{st_->mtx};
  return st_->changed.wait_for(guard, timeout,
                               [&] { return st_->peers.size() >= n; });
}

const caf::actor& node::actor() const noexcept {
  return st_->actor;
}

caf::actor node::peer(const std::string& name) const {
  std::lock_guard<std::mutex> guard{st_->mtx};
  auto i = st_->peers.find(name);
  return i != st_->peers.end() ? i->second.second : caf::actor{};
}

void detail::add_service(const node& n, const std::string& name,
                         const std::string& signature, caf::actor whom) {
  std::lock_guard<std::mutex> guard{n.st_->mtx};
  n.st_->services[name] = {signature, std::move(whom)};
}

void detail::remove_service(const node& n, const std::string& name) {
  std::lock_guard<std::mutex> guard{n.st_->mtx};
  n.st_->services.erase(name);
}

void node::monitor(const caf::actor& subscriber) const {
  caf::anon_send(st_->actor, monitor_nodes_atom_v, subscriber);
}

} // namespace cachet::dist
