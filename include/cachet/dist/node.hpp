// cachet nodes: one process of a cluster, on CAF's network layer (caf::io's
// middleman and its BASP protocol), as a node of distributed Erlang.
//
// `cachet::dist::configure(cfg)` prepares a config (cachet::configure, the
// middleman, heartbeats, cachet's message types); `node::start(sys, opts)`
// publishes the node's actor on a port (0 picks one) and joins the nodes
// given as seeds. Nodes form a full mesh, as Erlang's do: a node that joins
// learns every member from its seed, and the seed tells every member about
// the newcomer, so that joins racing each other still meet.
//
// Node death: CAF 0.17.6 has no node monitoring, so a node monitors each
// peer's node actor and takes its down_msg as nodedown. A killed peer is
// seen at once (its connection closes); a frozen one (SIGSTOP) is declared
// down when its connection has been silent for `connection_timeout`, which
// heartbeats every `heartbeat_interval` keep from happening to a live one:
// with the defaults, 200 ms and 1 s, a frozen peer is down after 1.0 to
// 1.2 s. A node keeps retrying the addresses of lost peers and of its seeds
// every `retry_interval`, so a peer that comes back (SIGCONT, or a restart
// on the same address) rejoins.
//
// Membership is observable as `net_kernel:monitor_nodes`: `monitor(actor)`
// sends the actor (node_up_atom, name) and (node_down_atom, name).
//
// What crosses the network is the message path: tables stay node-local (a
// direct read is for the node that holds the table); remote.hpp finds an
// owner on another node by name.
//
// Example:
//   caf::actor_system_config cfg;
//   cachet::dist::configure(cfg);
//   caf::actor_system sys{cfg};
//   auto n = cachet::dist::node::start(sys, {"a", "127.0.0.1", 0, {seed}});
//   n->await_members(3, 5s);
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "cachet/atoms.hpp"

namespace cachet::dist {

/// How fast a node notices a peer that stopped answering.
struct net_timing {
  /// How often a connection sends a heartbeat when it has nothing else.
  caf::timespan heartbeat_interval = std::chrono::milliseconds{200};
  /// A connection silent for this long is closed: its peer is down.
  caf::timespan connection_timeout = std::chrono::seconds{1};
};

/// cachet::configure, plus the middleman with `timing`, plus the types a
/// node's own messages carry, plus CAF's work stealing without its moderate
/// polling phase (`work-stealing.moderate-poll-attempts` = 0: an idle
/// worker sleeps where an enqueue wakes it, not in 50 us naps, which a
/// remote call's every hop waited out). Call once per config, before the
/// system; settings made after it (or on the command line) win.
void configure(caf::actor_system_config& cfg, net_timing timing = {});

/// One node of a cluster, as its peers know it.
struct member {
  std::string name;
  std::string host;
  std::uint16_t port = 0;

  friend bool operator==(const member& x, const member& y) {
    return x.name == y.name && x.host == y.host && x.port == y.port;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member& x) {
  return f(caf::meta::type_name("cachet::dist::member"), x.name, x.host,
           x.port);
}

struct node_options {
  /// The node's name, unique in the cluster (a second node of the same
  /// name is refused by the members).
  std::string name;
  /// The address to listen on and to give peers; loopback by default.
  std::string host = "127.0.0.1";
  /// 0 picks a free port (node::port says which).
  std::uint16_t port = 0;
  /// "host:port" of nodes to join; any one live seed is enough.
  std::vector<std::string> seeds;
  /// How often lost peers and unreached seeds are tried again.
  caf::timespan retry_interval = std::chrono::milliseconds{250};
  /// The largest message a peer may send, on connections it opened and on
  /// those this node opened; a longer one closes its connection (the node
  /// never allocates more for one message).
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  /// A connection has this long to complete its handshake.
  std::chrono::milliseconds handshake_timeout{3000};
  /// Connections still in their handshake at once; more are closed.
  std::size_t max_handshakes = 256;
};

class node;

namespace detail {

/// Lets peers find `whom` by `name` (whereis), if they expect `signature`.
void add_service(const node& n, const std::string& name,
                 const std::string& signature, caf::actor whom);
void remove_service(const node& n, const std::string& name);

} // namespace detail

/// A running node. Destroying it leaves the cluster: its actor quits, which
/// every peer sees as nodedown.
class node {
public:
  /// Publishes the node on `opts.host`:`opts.port` and starts joining the
  /// seeds (await_members waits for the outcome). Errors: invalid_argument
  /// (no name, or a seed that is not host:port), CAF's error if the port
  /// cannot be opened. Needs dist::configure on the config.
  static caf::expected<node> start(caf::actor_system& sys, node_options opts);

  node(node&&) noexcept;
  node& operator=(node&&) noexcept;
  ~node();

  const std::string& name() const noexcept;

  /// The port the node listens on.
  std::uint16_t port() const noexcept;

  /// This node as peers know it.
  member self() const;

  /// The live peers, this node excluded (Erlang's nodes()), by name.
  std::vector<member> members() const;

  /// Changes whenever members() does: a cheap check for a cached view (one
  /// atomic load).
  std::uint64_t membership_version() const noexcept {
    return version_->load(std::memory_order_acquire);
  }

  /// Waits until at least `n` peers are live; false after `timeout`.
  bool await_members(std::size_t n, caf::timespan timeout) const;

  /// The node's actor: peers talk to it (remote.hpp's lookups, joins).
  const caf::actor& actor() const noexcept;

  /// The node actor of the live peer `name`, or an invalid handle.
  caf::actor peer(const std::string& name) const;

  /// Sends `subscriber` (node_up_atom, name) and (node_down_atom, name) for
  /// every later membership change, until it quits (monitor_nodes).
  void monitor(const caf::actor& subscriber) const;

  struct state;

private:
  friend void detail::add_service(const node&, const std::string&,
                                  const std::string&, caf::actor);
  friend void detail::remove_service(const node&, const std::string&);

  explicit node(std::shared_ptr<state> st);
  std::shared_ptr<state> st_;
  const std::atomic<std::uint64_t>* version_; ///< in *st_
};

} // namespace cachet::dist
