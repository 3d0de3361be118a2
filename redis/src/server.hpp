// The network side of cachet-redis: one epoll event loop per core.
//
// Why plain epoll and not CAF's io middleman: CAF 0.17's middleman runs all
// brokers on one multiplexer thread, so it would serve every connection from
// one core, and each chunk of bytes would become an actor message. Here each
// loop thread owns its connections outright (no locks on the hot path) and
// runs commands on the table itself; the loops share one listening socket
// (EPOLLEXCLUSIVE wakes one loop per connection) and the kernel spreads
// connections over them.
//
// Thread safety: start() and stop() from one thread (main).
#pragma once

#include <atomic>
#include <thread>
#include <vector>

#include <caf/error.hpp>

#include "owner.hpp"
#include "store.hpp"

namespace cachet::redis {

class server {
public:
  server(server_env& env, owner_slot& slot) : env_(env), slot_(slot) {
    // nop
  }

  ~server();

  /// Binds, listens and starts the loops.
  caf::error start();

  /// Stops the loops and closes every connection.
  void stop();

  /// The port listened on (the kernel's choice for --port=0).
  int port() const noexcept {
    return port_;
  }

private:
  void run_loop(int index);

  server_env& env_;
  owner_slot& slot_;
  int listener_ = -1;
  int port_ = 0;
  std::vector<int> wakeups_; // one eventfd per loop
  std::vector<std::thread> loops_;
  std::atomic<bool> stopping_{false};
};

} // namespace cachet::redis
