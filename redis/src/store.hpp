// The store of cachet-redis: one public cachet `set` table of string keys,
// each value carrying its own expiry, plus the server-wide figures INFO shows.
//
// Connection threads read and write the table directly (direct mode) or ask
// its owner (message mode); the owner also sweeps expired keys. Expiry is
// checked on every read, so a key past its time is absent even before the
// sweep removes it (redis's lazy + active expiry).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include <cachet/table.hpp>

namespace cachet::redis {

/// A value: its bytes and when it expires (unix ms; 0: never).
struct value {
  std::string bytes;
  std::int64_t expire_at = 0;
};

using store_table = cachet::table<std::string, value>;
using owned_store = cachet::owned_table<std::string, value>;

/// The table's registry name.
inline const std::string store_name = "cachet-redis";

/// Unix time in milliseconds (redis's mstime()).
inline std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

inline bool expired(const value& v, std::int64_t now) {
  return v.expire_at != 0 && v.expire_at <= now;
}

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
};

/// Hot counters, one set per thread so that no cache line bounces between
/// cores: each is written by its thread only and read by INFO.
struct thread_counters {
  std::atomic<std::int64_t> commands{0};
  std::atomic<std::int64_t> keyspace_hits{0};
  std::atomic<std::int64_t> keyspace_misses{0};
  std::atomic<std::int64_t> net_input_bytes{0};
  std::atomic<std::int64_t> net_output_bytes{0};

  /// Adds `n` to `x`; only the owning thread writes, so no locked add.
  static void add(std::atomic<std::int64_t>& x, std::int64_t n = 1) {
    x.store(x.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

/// Figures for INFO, updated with relaxed atomics from every thread.
struct server_stats {
  /// This thread's counters (registered on first use).
  thread_counters& local() {
    thread_local server_stats* owner = nullptr;
    thread_local thread_counters* mine = nullptr;
    if (owner != this) {
      std::lock_guard<std::mutex> guard{mtx_};
      per_thread_.push_back(std::make_unique<thread_counters>());
      mine = per_thread_.back().get();
      owner = this;
    }
    return *mine;
  }

  /// The sum of one counter over every thread.
  std::int64_t sum(std::atomic<std::int64_t> thread_counters::*field) {
    std::lock_guard<std::mutex> guard{mtx_};
    std::int64_t total = 0;
    for (auto& c : per_thread_)
      total += ((*c).*field).load(std::memory_order_relaxed);
    return total;
  }

  std::atomic<std::int64_t> connected_clients{0};
  std::atomic<std::int64_t> total_connections{0};
  std::atomic<std::int64_t> rejected_connections{0};
  std::atomic<std::int64_t> expired_keys{0};
  std::atomic<std::int64_t> store_restarts{0};
  std::int64_t start_ms = now_ms();

private:
  std::mutex mtx_;
  std::vector<std::unique_ptr<thread_counters>> per_thread_;
};

/// What a command needs besides the table; shared by every thread.
struct server_env {
  server_config config;
  server_stats stats;
  caf::actor_system* system = nullptr;
  /// Tells the owner that `key` now expires at `at`, so that it sweeps it.
  std::function<void(const std::string& key, std::int64_t at)> track_expiry;
  /// DEBUG CRASH-STORE: makes the owner fail (a test of the heir policy).
  std::function<void()> crash_store;
  /// The event loops that run (for INFO).
  int loops = 0;
};

} // namespace cachet::redis

