// The connections as CLIENT LIST, CLIENT INFO and CLIENT KILL see them.
//
// Each connection belongs to one event loop, which alone touches its
// session; what other threads may read about it lives in a `client_record`
// the loop registers: fixed facts (id, addresses, fd, birth), atomics the
// loop updates (last activity, last command, protocol, MULTI) and the name
// under a mutex. CLIENT KILL marks records killed and wakes their loops
// (each loop's eventfd), which close them between events.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cachet::redis {

struct client_record {
  std::uint64_t id = 0;
  /// "ip:port" of the peer and of this end.
  std::string addr;
  std::string laddr;
  int fd = -1;
  /// The owning loop's eventfd: a write wakes it to close killed clients.
  int wakeup = -1;
  std::int64_t created_ms = 0;
  /// When the connection last sent something (unix ms).
  std::atomic<std::int64_t> active_ms{0};
  /// The commandstats slot of its last command (no command yet: none).
  std::atomic<std::size_t> last_cmd{static_cast<std::size_t>(-1)};
  std::atomic<int> proto{2};
  /// Commands queued in MULTI; -1 outside one.
  std::atomic<int> queued{-1};
  /// CLIENT KILL chose it: its loop closes it.
  std::atomic<bool> killed{false};

  std::string name() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return name_;
  }

  void set_name(std::string name) {
    std::lock_guard<std::mutex> guard{mtx_};
    name_ = std::move(name);
  }

private:
  mutable std::mutex mtx_;
  std::string name_;
};

using client_ptr = std::shared_ptr<client_record>;

/// Every connected client, by id.
class client_registry {
public:
  void add(client_ptr c) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto id = c->id;
    clients_.emplace(id, std::move(c));
  }

  void remove(std::uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx_};
    clients_.erase(id);
  }

  /// The client `id`, or null.
  client_ptr find(std::uint64_t id) const {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = clients_.find(id);
    return i != clients_.end() ? i->second : nullptr;
  }

  /// The clients now, by id.
  std::vector<client_ptr> all() const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<client_ptr> out;
    out.reserve(clients_.size());
    for (auto& entry : clients_)
      out.push_back(entry.second);
    return out;
  }

private:
  mutable std::mutex mtx_;
  std::map<std::uint64_t, client_ptr> clients_;
};

} // namespace cachet::redis
