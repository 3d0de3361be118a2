// The timing harness: threads run an op stream through a warm-up and a
// measured phase, each counting its own operations, so nothing shared is
// written per operation.
#pragma once

#include <pthread.h>
#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <x86intrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "workload.hpp"

namespace cachet_bench {

using clock_type = std::chrono::steady_clock;

/// Phases of one timed run; the driver moves them forward, workers only read.
enum run_phase : int { warming = 0, measuring = 1, stopping = 2 };

/// How long a run lasts.
struct timing {
  double warmup;  ///< seconds before counting starts
  double seconds; ///< seconds counted
  bool pin;       ///< pin worker threads to cores
};

/// What one worker (thread or client actor) measured; one cache line apart
/// from its neighbours.
struct alignas(64) worker_result {
  double ops_per_sec = 0;
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  std::uint64_t sink = 0;       ///< folds every value read: reads stay live
  bool measured = false;        ///< saw both ends of the measured phase
  std::vector<float> latency_us; ///< sampled calls, message paths only
};

/// Message paths time one call in `latency_sample` (tens of thousands of
/// samples per cell, plenty for p99.9): timing every call would add two clock
/// reads per call to the throughput, which BEAM's workers, reading the clock
/// once per batch, do not pay.
constexpr std::uint64_t latency_sample = 8;

/// True if call number `n` is timed.
inline bool timed_call(std::uint64_t n) noexcept {
  return n % latency_sample == 0;
}

/// Tracks a worker's own window: start when it sees `measuring`, end at
/// `stopping`. Call `tick` between batches; false means stop.
class window {
public:
  explicit window(const std::atomic<int>& phase) : phase_(phase) {
    // nop
  }

  bool measuring() const noexcept {
    return seen_ == run_phase::measuring;
  }

  bool tick(std::uint64_t done, worker_result& out) {
    auto ph = phase_.load(std::memory_order_relaxed);
    if (ph == seen_)
      return true;
    auto now = clock_type::now();
    if (ph == run_phase::measuring) {
      start_ = now;
      first_ = done;
      seen_ = ph;
      return true;
    }
    if (seen_ == run_phase::measuring) {
      auto secs = std::chrono::duration<double>(now - start_).count();
      out.ops = done - first_;
      out.ops_per_sec = secs > 0 ? static_cast<double>(out.ops) / secs : 0;
      out.measured = true;
    }
    return false;
  }

private:
  const std::atomic<int>& phase_;
  int seen_ = run_phase::warming;
  clock_type::time_point start_;
  std::uint64_t first_ = 0;
};

/// Pins the calling thread to core `i` modulo the cores it may use.
inline void pin_to_core(std::size_t i) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
    return;
  std::vector<int> cores;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed))
      cores.push_back(c);
  if (cores.empty())
    return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cores[i % cores.size()], &one);
  pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
}

/// Pins the calling thread to core `i` (as pin_to_core) for its lifetime,
/// then gives it back the cores it had. Threads and processes it starts
/// meanwhile inherit the pin.
class core_pin {
public:
  explicit core_pin(std::size_t i) {
    saved_ = pthread_getaffinity_np(pthread_self(), sizeof(before_), &before_)
             == 0;
    pin_to_core(i);
  }
  ~core_pin() {
    if (saved_)
      pthread_setaffinity_np(pthread_self(), sizeof(before_), &before_);
  }
  core_pin(const core_pin&) = delete;
  core_pin& operator=(const core_pin&) = delete;

private:
  cpu_set_t before_;
  bool saved_;
};

inline void sleep_seconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

/// Moves `phase` through warm-up, measurement and stop.
inline void drive(std::atomic<int>& phase, const timing& t) {
  sleep_seconds(t.warmup);
  phase.store(run_phase::measuring, std::memory_order_relaxed);
  sleep_seconds(t.seconds);
  phase.store(run_phase::stopping, std::memory_order_relaxed);
}

/// Runs `body(thread_index, phase, result)` on `n` threads for one timed run.
template <class Body>
std::vector<worker_result> run_threads(std::size_t n, const timing& t,
                                       Body body) {
  std::atomic<int> phase{run_phase::warming};
  std::vector<worker_result> results(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      if (t.pin)
        pin_to_core(i);
      body(i, phase, results[i]);
    });
  drive(phase, t);
  for (auto& th : threads)
    th.join();
  return results;
}

/// The direct loop: replays `ops` from a per-thread offset, `batch` ops
/// between looks at the phase. `op(code)` returns a value folded into sink.
template <class Op>
void direct_loop(const std::atomic<int>& phase, const std::vector<op_code>& ops,
                 worker_result& out, Op&& op) {
  constexpr std::size_t batch = 64;
  const std::size_t mask = ops.size() - 1;
  const op_code* data = ops.data();
  std::size_t pos = 0;
  std::uint64_t done = 0;
  std::uint64_t sink = 0;
  window w{phase};
  while (w.tick(done, out)) {
    for (std::size_t i = 0; i < batch; ++i) {
      sink += op(data[pos]);
      pos = (pos + 1) & mask;
    }
    done += batch;
  }
  out.sink = sink;
}

inline double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/// Nearest-rank percentile of sorted samples.
inline double percentile(const std::vector<float>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

/// A clock for timing single operations: the TSC where there is one,
/// converted to nanoseconds by `tick_rate` over a span measured with both.
/// A bare rdtsc does not wait for the loads before it (a cache miss timed
/// so reads 48 ticks where it takes 840 here), so the start is fenced on
/// both sides and the end is rdtscp, which waits for what precedes it: the
/// pair costs about 48 ns on the 2-core EPYC VM (steady_clock 27-29 ns a
/// call).
inline std::uint64_t ticks_begin() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_lfence();
  auto t = __rdtsc();
  _mm_lfence();
  return t;
#else
  return static_cast<std::uint64_t>(
    clock_type::now().time_since_epoch().count());
#endif
}

/// The end of a span started with ticks_begin.
inline std::uint64_t ticks_end() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  unsigned aux = 0;
  auto t = __rdtscp(&aux);
  _mm_lfence();
  return t;
#else
  return static_cast<std::uint64_t>(
    clock_type::now().time_since_epoch().count());
#endif
}

/// Ticks per nanosecond between two (ticks, steady_clock) readings.
inline double tick_rate(std::uint64_t t0, clock_type::time_point c0,
                        std::uint64_t t1, clock_type::time_point c1) {
  auto ns = std::chrono::duration<double, std::nano>(c1 - c0).count();
  return ns > 0 && t1 > t0 ? static_cast<double>(t1 - t0) / ns : 1.0;
}

/// Latencies in ticks, log-linear: 32 buckets per power of two, so a
/// percentile is exact to about 3%, in constant memory however many
/// operations are timed (a sample vector of every read of a long run would
/// not fit). The maximum is kept exactly.
class latency_histogram {
public:
  void add(std::uint64_t x) noexcept {
    ++counts_[index(x)];
    ++total_;
    max_ = std::max(max_, x);
  }

  std::uint64_t count() const noexcept {
    return total_;
  }

  std::uint64_t max() const noexcept {
    return max_;
  }

  /// The value under which a fraction `q` of the samples lie (the upper
  /// end of its bucket, so never an underestimate).
  std::uint64_t percentile(double q) const noexcept {
    if (total_ == 0)
      return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank)
        return std::min(upper(i), max_);
    }
    return max_;
  }

private:
  static constexpr unsigned sub_bits = 5;
  static constexpr std::uint64_t sub = std::uint64_t{1} << sub_bits;

  static std::size_t index(std::uint64_t x) noexcept {
    if (x < sub)
      return static_cast<std::size_t>(x);
    auto e = 63u - static_cast<unsigned>(__builtin_clzll(x)); // >= sub_bits
    auto mantissa = (x >> (e - sub_bits)) & (sub - 1);
    return static_cast<std::size_t>((e - sub_bits + 1) * sub + mantissa);
  }

  static std::uint64_t upper(std::size_t i) noexcept {
    if (i < sub)
      return i;
    auto e = static_cast<unsigned>(i / sub) + sub_bits - 1;
    auto mantissa = i % sub;
    return ((sub + mantissa + 1) << (e - sub_bits)) - 1;
  }

  std::array<std::uint64_t, (64 - sub_bits + 1) * sub> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

} // namespace cachet_bench
