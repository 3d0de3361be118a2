// The store of cachet-redis: one public cachet `set` table of string keys,
// each value (a string or a hash, value.hpp) carrying its own expiry, plus
// the server-wide state: configuration, INFO's figures, the exec gate,
// eviction and persistence.
//
// Connection threads read and write the table directly (direct mode) or ask
// its owner (message mode); the owner also walks the table removing expired
// keys. Expiry is checked on every read, so a key past its time is absent
// even before it is removed (redis's lazy + active expiry, expire.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>

#include <cachet/table.hpp>

#include "clients.hpp"
#include "evict.hpp"
#include "persist.hpp"
#include "slowlog.hpp"
#include "stats.hpp"
#include "transactions.hpp"
#include "value.hpp"

namespace cachet::redis {

using store_table = cachet::table<std::string, value>;
using owned_store = cachet::owned_table<std::string, value>;

/// The table's registry name.
inline const std::string store_name = "cachet-redis";


/// Server configuration, from the command line.
struct server_config {
  std::string bind = "127.0.0.1";
  int port = 6379;
  bool message_mode = false;
  std::int64_t maxclients = 10000;
  std::int64_t proto_max_bulk_len = 512 * 1024 * 1024;
  /// A connection whose unsent replies exceed this is closed (0: no limit).
  std::int64_t output_buffer_limit = 256 * 1024 * 1024;
  int threads = 0; // 0: one event loop per core
  bool enable_debug_command = false;
  /// The default user's password at start (empty: none; CONFIG SET
  /// requirepass changes it at run time, in server_env::password).
  std::string requirepass;
  /// redis's protected-mode: while no password is set, refuse clients
  /// from anywhere but 127.0.0.1 (CONFIG SET protected-mode changes it).
  bool protected_mode = true;
  /// redis's rename-command, as (lower-case name, new name): the command
  /// answers to the new name only; an empty one disables it.
  std::vector<std::pair<std::string, std::string>> renames;
  /// maxmemory at start, in bytes (0: no bound), and its policy.
  std::int64_t maxmemory = 0;
  maxmemory_policy policy = maxmemory_policy::allkeys_s3fifo;
  int maxmemory_samples = 5;
};

/// The default user's password (redis's requirepass), read and changed
/// by any thread.
class password {
public:
  void set(std::string text) {
    std::lock_guard<std::mutex> guard{mtx_};
    text_ = std::move(text);
  }
  std::string get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return text_;
  }
  /// Whether connections must AUTH (a password is set).
  bool required() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return !text_.empty();
  }
  /// Whether `guess` is the password, in a time that does not depend on
  /// where they differ (redis's time_independent_strcmp).
  bool matches(std::string_view guess) const {
    std::lock_guard<std::mutex> guard{mtx_};
    unsigned diff = guess.size() != text_.size() ? 1 : 0;
    for (std::size_t i = 0; i < guess.size(); ++i)
      diff |= static_cast<unsigned char>(guess[i])
              ^ static_cast<unsigned char>(
                i < text_.size() ? text_[i] : 0);
    return diff == 0 && !text_.empty();
  }

private:
  mutable std::mutex mtx_;
  std::string text_;
};

/// What a command needs besides the table; shared by every thread.
struct server_env {
  server_config config;
  server_stats stats;
  caf::actor_system* system = nullptr;
  /// DEBUG CRASH-STORE: makes the owner fail (a test of the heir policy).
  std::function<void()> crash_store;
  /// SHUTDOWN: ends the process (main's wait returns).
  std::function<void()> shutdown;
  /// The event loops that run (for INFO).
  int loops = 0;
  /// requirepass now.
  password pass;
  /// protected-mode now.
  std::atomic<bool> protected_mode{true};
  /// EXEC's isolation in direct mode, and WATCH (transactions.hpp).
  exec_gate gate;
  watch_registry watches;
  /// The next connection's CLIENT ID.
  std::atomic<std::uint64_t> next_client_id{1};
  /// The gate's slot of the owner's active expiry.
  exec_gate::slot* expiry_slot = &gate.join();
  /// maxmemory, its policy and what it evicted.
  evictor evict;
  /// The connected clients (CLIENT LIST, KILL), and those in MONITOR.
  client_registry clients;
  monitor_hub monitors;
  /// When a hash stops being a listpack (hash.hpp).
  listpack_limits listpack;
  /// Where saves go and how the last one went (persist.hpp).
  persistence persist;
  /// The commands that ran slowly (SLOWLOG).
  slowlog slow;
};

} // namespace cachet::redis

