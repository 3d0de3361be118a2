// The figures INFO shows: hot counters kept per thread, rare ones shared.
//
// Every command bumps several counters (commands processed, keyspace hits,
// its own calls and time for commandstats). Kept in one shared struct they
// would bounce one cache line between all cores on every command; here each
// thread writes a `thread_counters` of its own (relaxed stores, no locked
// add) and INFO sums them. Rare events (connections, expired keys, restarts)
// are shared atomics.
//
// CONFIG RESETSTAT cannot zero what other threads write without a locked
// add on their side: `reset` keeps the sums at that instant as a baseline,
// which the sums subtract from then on. INFO's instantaneous rates come
// from samples of the sums the owner takes every 100 ms (`sample`).
//
// Thread safety: `local()` and the `thread_counters` it returns are for the
// calling thread; the sums, `reset`, `sample`, `instantaneous`,
// `each_thread` and the shared atomics are safe from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace cachet::redis {

/// Unix time in milliseconds (redis's mstime()).
inline std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

/// Unix time in microseconds (redis's ustime()).
inline std::int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch())
    .count();
}

/// Nanoseconds of steady_clock.
inline std::int64_t steady_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch())
    .count();
}

/// A cheap clock for timing every command: the time-stamp counter on x86-64
/// (one rdtsc, ~11 ns on the 2-core VM, where steady_clock's clock_gettime
/// through kvm-clock takes ~27 ns, twice per command), else steady_ns().
/// server_stats::ns_per_tick converts.
inline std::int64_t cycle_now() noexcept {
#if defined(__x86_64__)
  return static_cast<std::int64_t>(__rdtsc());
#else
  return steady_ns();
#endif
}

/// Slots for commandstats: one per command and per subcommand that redis
/// counts apart (commands.cpp checks that its table fits).
constexpr std::size_t command_slots = 128;

/// Distinct error prefixes that errorstats counts per thread; further ones
/// still count in total_error_replies (redis caps its table too).
constexpr std::size_t max_error_prefixes = 128;

/// One command's figures on one thread (INFO commandstats).
struct command_counters {
  std::atomic<std::int64_t> calls{0};
  /// Time spent running, in cycle_now() ticks.
  std::atomic<std::int64_t> ticks{0};
  std::atomic<std::int64_t> rejected{0};
  std::atomic<std::int64_t> failed{0};
};

/// One thread's counters: written by that thread only, read by INFO. Cache
/// line aligned, so that two threads' counters never share a line.
struct alignas(64) thread_counters {
  std::atomic<std::int64_t> commands{0};
  std::atomic<std::int64_t> keyspace_hits{0};
  std::atomic<std::int64_t> keyspace_misses{0};
  std::atomic<std::int64_t> net_input_bytes{0};
  std::atomic<std::int64_t> net_output_bytes{0};
  std::atomic<std::int64_t> error_replies{0};
  /// Writes since start (redis's server.dirty: rdb_changes_since_last_save).
  std::atomic<std::int64_t> dirty{0};
  std::array<command_counters, command_slots> per_command;

  /// Adds `n` to `x`; only the owning thread writes, so no locked add.
  static void add(std::atomic<std::int64_t>& x, std::int64_t n = 1) {
    x.store(x.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  /// Counts an error reply of text `text` (without the '-'): in
  /// total_error_replies, and in errorstats under its first word.
  void count_error(std::string_view text);

  /// Calls `f(prefix, count)` for every error prefix seen.
  template <class F>
  void each_error(F&& f) {
    std::lock_guard<std::mutex> guard{errors_mtx_};
    for (auto& [prefix, n] : errors_)
      f(std::string_view{prefix}, n);
  }

private:
  // Taken by this thread on an error reply (rare) and by INFO: uncontended.
  std::mutex errors_mtx_;
  std::vector<std::pair<std::string, std::int64_t>> errors_;
};

/// Figures for INFO, from every thread.
class server_stats {
public:
  server_stats() = default;
  server_stats(const server_stats&) = delete;
  server_stats& operator=(const server_stats&) = delete;

  /// This thread's counters in this instance (registered on first use). The
  /// thread's cache is keyed by a process-unique id, not by the address: a
  /// new instance at a freed one's address must not find its counters. A
  /// thread that alternates between instances registers again on each
  /// switch; the sums stay right.
  thread_counters& local() {
    thread_local std::uint64_t cached_id = 0;
    thread_local thread_counters* cached = nullptr;
    if (cached_id != id_) {
      cached = &add_thread();
      cached_id = id_;
    }
    return *cached;
  }

  using field = std::atomic<std::int64_t> thread_counters::*;

  /// The sum of one counter over every thread, since the last reset (the
  /// write count, `dirty`, is not a statistic and is never reset).
  std::int64_t sum(field f);

  /// One command's figures summed over every thread (INFO commandstats).
  struct command_totals {
    std::int64_t calls = 0, ticks = 0, rejected = 0, failed = 0;
  };

  /// Every commandstats slot's figures since the last reset.
  std::vector<command_totals> command_sums();

  /// Every error prefix's count since the last reset, sorted by prefix
  /// (INFO errorstats).
  std::map<std::string, std::int64_t, std::less<>> error_sums();

  /// The instantaneous rates INFO shows, as redis's: the mean of the last
  /// 16 samples of each counter's rate, one taken at most every 100 ms.
  struct rates {
    double ops_per_sec = 0;
    double input_kbps = 0;
    double output_kbps = 0;
  };

  /// Takes a sample if 100 ms passed since the last (the owner calls it
  /// with its active expiry, every 100 ms).
  void sample(std::int64_t now_ms);

  rates instantaneous();

  /// CONFIG RESETSTAT: the sums above, the rates, and the shared counters
  /// below but connected_clients, start again from zero. The threads' own
  /// counters are only ever written by their thread, so a reset keeps their
  /// sums at this instant and subtracts them from then on.
  void reset();

  /// Calls `f(thread_counters&)` for every thread's counters.
  template <class F>
  void each_thread(F&& f) {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& c : per_thread_)
      f(*c);
  }

  std::atomic<std::int64_t> connected_clients{0};
  std::atomic<std::int64_t> total_connections{0};
  std::atomic<std::int64_t> rejected_connections{0};
  std::atomic<std::int64_t> expired_keys{0};
  std::atomic<std::int64_t> store_restarts{0};
  const std::int64_t start_ms = now_ms();

  /// Nanoseconds per cycle_now() tick: the rate measured from this
  /// instance's construction to now. Assumes a constant rate, as x86-64
  /// CPUs with an invariant TSC (constant_tsc, nonstop_tsc) have.
  double ns_per_tick() const {
    auto ticks = cycle_now() - start_ticks_;
    auto ns = steady_ns() - start_ns_;
    return ticks > 0 && ns > 0 ? static_cast<double>(ns) / ticks : 1.0;
  }

private:
  thread_counters& add_thread();

  /// The sums over every thread, not less the baseline.
  std::int64_t raw_sum(field f);
  std::vector<command_totals> raw_command_sums();
  std::map<std::string, std::int64_t, std::less<>> raw_error_sums();

  /// The counters a reset zeroes.
  static constexpr field resettable_[] = {
    &thread_counters::commands,         &thread_counters::keyspace_hits,
    &thread_counters::keyspace_misses,  &thread_counters::net_input_bytes,
    &thread_counters::net_output_bytes, &thread_counters::error_replies,
  };

  static std::uint64_t next_id() noexcept;

  const std::uint64_t id_ = next_id();
  const std::int64_t start_ticks_ = cycle_now();
  const std::int64_t start_ns_ = steady_ns();
  std::mutex mtx_;
  std::vector<std::unique_ptr<thread_counters>> per_thread_;
  /// Samples of the rates of commands, input and output bytes (per second),
  /// in a ring; the counts and time of the last sample.
  static constexpr std::size_t rate_samples = 16;
  struct rate_ring {
    std::array<double, rate_samples> per_sec{};
    std::int64_t last = 0;
  };
  std::mutex rates_mtx_;
  std::array<rate_ring, 3> rings_;
  std::size_t ring_at_ = 0;
  std::int64_t sampled_ms_ = 0;

  /// The sums at the last reset, which the figures subtract.
  std::mutex base_mtx_;
  std::array<std::int64_t, std::size(resettable_)> base_{};
  std::vector<command_totals> command_base_ =
    std::vector<command_totals>(command_slots);
  std::map<std::string, std::int64_t, std::less<>> error_base_;
};

} // namespace cachet::redis
