// The connections as CLIENT LIST, CLIENT INFO, CLIENT KILL and MONITOR see
// them.
//
// Each connection belongs to one event loop, which alone touches its
// session; what other threads may read about it lives in a `client_record`
// the loop registers: fixed facts (id, addresses, fd, birth), atomics the
// loop updates (last activity, last command, protocol, MULTI) and the name
// under a mutex. CLIENT KILL marks records killed and wakes their loops
// (each loop's eventfd), which close them between events.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

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
  /// In MONITOR (flag O).
  std::atomic<bool> monitor{false};
  /// The buffers, as the loop last left them: the query buffer's pending
  /// bytes and allocation, the reply bytes not sent yet and the output
  /// buffer's allocation, whether the loop waits to write, and what the
  /// commands queued in MULTI hold.
  std::atomic<std::size_t> qbuf{0};
  std::atomic<std::size_t> qbuf_alloc{0};
  std::atomic<std::size_t> unsent{0};
  std::atomic<std::size_t> out_alloc{0};
  std::atomic<bool> writing{false};
  std::atomic<std::size_t> multi_mem{0};

  std::string name() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return name_;
  }

  /// MONITOR: appends a line for this client (from any thread); true if
  /// nothing was waiting, so its loop needs a wake-up (it takes all).
  bool feed(std::string_view line) {
    std::lock_guard<std::mutex> guard{mtx_};
    bool first = feed_.empty();
    feed_.append(line);
    return first;
  }

  /// The lines fed since the last call, for the client's loop to send.
  std::string take_feed() {
    std::lock_guard<std::mutex> guard{mtx_};
    return std::exchange(feed_, {});
  }

  void set_name(std::string name) {
    std::lock_guard<std::mutex> guard{mtx_};
    name_ = std::move(name);
  }

private:
  mutable std::mutex mtx_;
  std::string name_;
  std::string feed_;
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

/// The clients in MONITOR mode (redis's server.monitors). Every command
/// reads `any()` (one load); while there are monitors, each command's
/// line goes into each monitor's feed, and a write to the eventfd of the
/// monitor's loop wakes it to send what was fed.
class monitor_hub {
public:
  bool any() const noexcept {
    return count_.load(std::memory_order_relaxed) != 0;
  }

  void add(client_ptr c) {
    std::lock_guard<std::mutex> guard{mtx_};
    monitors_.push_back(std::move(c));
    count_.store(static_cast<int>(monitors_.size()), std::memory_order_relaxed);
  }

  void remove(std::uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx_};
    monitors_.erase(std::remove_if(monitors_.begin(), monitors_.end(),
                                   [&](auto& c) { return c->id == id; }),
                    monitors_.end());
    count_.store(static_cast<int>(monitors_.size()), std::memory_order_relaxed);
  }

  /// Gives every monitor `line`, and wakes its loop unless a wake-up is
  /// pending already (one write per batch, not per command).
  void feed(std::string_view line) {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& c : monitors_) {
      if (!c->feed(line))
        continue;
      std::uint64_t one = 1;
      [[maybe_unused]] auto w = ::write(c->wakeup, &one, sizeof(one));
    }
  }

private:
  std::atomic<int> count_{0};
  std::mutex mtx_;
  std::vector<client_ptr> monitors_;
};

} // namespace cachet::redis
