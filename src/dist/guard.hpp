// The node's listening socket, in front of CAF's BASP broker.
//
// CAF 0.17.6 trusts whatever connects to a published port: a BASP header
// announcing a 4 GB payload makes the broker allocate it (bad_alloc, the
// node aborts), and a peer that sends half a header holds its connection
// forever. So a node does not let the middleman publish; the guard listens
// itself, waits (bounded) for a complete client handshake, checks it (the
// first header must be a client handshake, its payload at most 64 KiB),
// and only then hands the socket to the broker as if the broker's own
// doorman had accepted it (publish_atom with a scribe, the broker's
// documented entry for a scribe made elsewhere). The scribe it hands over
// refuses any later read longer than `max_message_bytes` by closing the
// connection, so no peer makes the node allocate more than that
// (spawn_connector does the same for connections the node opens).
//
// One thread, polling every 100 ms at most; connections still in their
// handshake are capped (more are closed at once).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <caf/actor_control_block.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

namespace cachet::dist::detail {

/// A middleman actor for the connections a node opens itself: CAF's own
/// (middleman_actor_impl, on a thread of its own as CAF's is), except that
/// the scribe of each connection refuses any read longer than
/// `max_message_bytes` by closing it, as the guard's scribes do, so a peer
/// this node dials cannot make it allocate more than that either. Hidden:
/// quit it when done.
caf::io::middleman_actor spawn_connector(caf::actor_system& sys,
                                         std::size_t max_message_bytes);

class guard {
public:
  struct limits {
    std::size_t max_message_bytes;
    std::chrono::milliseconds handshake_timeout;
    std::size_t max_handshakes;
  };

  /// Listens on host:port (0: any free port) for connections to `whom`.
  static caf::expected<std::unique_ptr<guard>>
  start(caf::actor_system& sys, const std::string& host, std::uint16_t port,
        caf::strong_actor_ptr whom, limits lim);

  ~guard();

  std::uint16_t port() const noexcept {
    return port_;
  }

  guard(caf::actor_system& sys, int fd, std::uint16_t port,
        caf::strong_actor_ptr whom, limits lim);

private:
  void run();

  caf::actor_system& sys_;
  int fd_;
  std::uint16_t port_;
  caf::strong_actor_ptr whom_;
  limits lim_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace cachet::dist::detail
