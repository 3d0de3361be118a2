// The slow log (redis-server 7.0's slowlog.c as seen by clients): the
// commands whose run took at least slowlog-log-slower-than microseconds,
// newest first, at most slowlog-max-len of them, each with its arguments
// (at most 32, each at most 128 bytes, as redis trims them), the client's
// address and name.
//
// Every command's run is timed already, in cycle_now() ticks, for
// commandstats. The command path compares those ticks with a bound in
// ticks that no slow run can be under: the threshold's nanoseconds at 2 ns
// a tick (a time-stamp counter runs at 500 MHz or more; elsewhere a tick
// is a nanosecond). Only a run past it is converted to microseconds at the
// measured rate, and only a slow one takes the log's mutex.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace cachet::redis {

class slowlog {
public:
  struct entry {
    std::int64_t id = 0;
    std::int64_t unix_s = 0;
    std::int64_t duration_us = 0;
    std::vector<std::string> args;
    /// The client's "ip:port" and CLIENT SETNAME's name.
    std::string peer;
    std::string name;
  };

  /// A run this long and longer is logged (negative: none; 0: every one).
  std::int64_t slower_than() const noexcept {
    return slower_than_.load(std::memory_order_relaxed);
  }

  std::int64_t max_len() const noexcept {
    return max_len_.load(std::memory_order_relaxed);
  }

  /// slowlog-log-slower-than.
  void set_slower_than(std::int64_t us) noexcept;

  /// slowlog-max-len: the oldest entries beyond it go now while the log is
  /// on (redis trims it after each command, this CONFIG SET's included).
  void set_max_len(std::int64_t n);

  /// Whether a run of `ticks` may be slow enough: one load and a compare.
  bool may_log(std::int64_t ticks) const noexcept {
    return ticks >= min_ticks_.load(std::memory_order_relaxed);
  }

  /// Logs a run of `duration_us` if it reaches the threshold.
  void push(std::int64_t duration_us, std::vector<std::string> args,
            std::string peer, std::string name);

  /// The newest `count` entries, newest first.
  std::vector<entry> newest(std::size_t count) const;

  std::size_t size() const;

  void reset();

private:
  /// Drops the oldest entries beyond max_len; the caller holds mtx_.
  void trim();

  std::atomic<std::int64_t> slower_than_{10000};
  std::atomic<std::int64_t> max_len_{128};
  /// LLONG_MAX while the log is off.
  std::atomic<std::int64_t> min_ticks_{10000 * 1000 / 2};
  // A line apart from the bound every command reads.
  alignas(64) mutable std::mutex mtx_;
  std::deque<entry> entries_; // newest first
  std::int64_t next_id_ = 0;
};

} // namespace cachet::redis
