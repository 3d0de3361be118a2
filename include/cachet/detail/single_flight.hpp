// Read-through loading for caches: concurrent misses of one key share one
// loader run ("single flight"), which runs on a cachet loader thread, never
// on the thread of a caller waiting for it nor on an owner's mailbox thread;
// callers wait with a timeout, and a load that outlives it fails for all of
// them.
//
// A load is a `load_state`: waited on by blocking callers (await) and by an
// owner's message callers (on_done), and finished once, by its loader
// (complete) or by the timeout (fail_timeout), whichever comes first.
// `single_flight` guards every load with one mutex, which the cache also
// holds while it looks up or registers a load in its maps of loads in
// flight; it nests inside the cache's write lock, never the other way round.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "cachet/errc.hpp"

namespace cachet::detail {

/// Runs `job` on one of cachet's loader threads, never on the caller's
/// thread. The pool is process-wide and grows on demand: a job never waits
/// for another (a hung loader cannot block loads of other keys); a thread
/// idle for a few seconds ends. Thread-safe.
void run_loader(std::function<void()> job);

/// Number of loader threads alive (for tests).
std::size_t loader_threads();

/// One in-flight load, shared by every caller waiting for it. Guarded by
/// its single_flight's mutex.
template <class V>
struct load_state {
  std::condition_variable cv;
  bool done = false;
  /// Invalidated while loading: the result is handed out but not cached.
  bool stale = false;
  std::optional<V> value;
  caf::error error;
  /// An index load whose loader found no entry: done, with neither a value
  /// nor an error.
  bool absent = false;
  /// Run once when done (the owner's message waiters).
  std::vector<std::function<void()>> listeners;
  /// Real time (not the cache clock): waiters give up here.
  std::chrono::steady_clock::time_point deadline;
  /// Takes this load out of its map of loads in flight.
  std::function<void()> forget;
};

template <class V>
class single_flight {
public:
  using load_ptr = std::shared_ptr<load_state<V>>;

  /// Guards every load, and the cache's maps of loads in flight.
  std::mutex& mutex() noexcept {
    return mtx_;
  }

  /// A new load that waiters give up on after `timeout` (zero: never);
  /// `forget` takes it out of its map. Under mutex().
  load_ptr make(std::chrono::milliseconds timeout,
                std::function<void()> forget) {
    auto st = std::make_shared<load_state<V>>();
    st->deadline = timeout.count() > 0
                     ? std::chrono::steady_clock::now() + timeout
                     : std::chrono::steady_clock::time_point::max();
    st->forget = std::move(forget);
    return st;
  }

  /// Blocks the calling thread until `st` is done or its deadline passed
  /// (then the load fails with load_timeout for every caller); its outcome.
  caf::expected<std::optional<V>> await(const load_ptr& st) {
    {
      std::unique_lock<std::mutex> guard{mtx_};
      if (st->deadline == std::chrono::steady_clock::time_point::max())
        st->cv.wait(guard, [&] { return st->done; });
      else if (!st->cv.wait_until(guard, st->deadline,
                                  [&] { return st->done; })) {
        guard.unlock();
        fail_timeout(st);
      }
    }
    return outcome(st);
  }

  /// Runs `f` once `st` is done: now if it is, else on the thread that
  /// finishes it.
  void on_done(const load_ptr& st, std::function<void()> f) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!st->done) {
        st->listeners.push_back(std::move(f));
        return;
      }
    }
    f();
  }

  /// The outcome of a done load: the value, nullopt (an index load that
  /// found nothing) or the error.
  caf::expected<std::optional<V>> outcome(const load_ptr& st) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (st->value)
      return st->value;
    if (st->absent)
      return std::optional<V>{};
    if (st->error)
      return st->error;
    return caf::make_error(errc::load_timeout);
  }

  /// True if `st` is done (finished or timed out); else whether it went
  /// stale, in `stale`.
  bool done(const load_ptr& st, bool& stale) {
    std::lock_guard<std::mutex> guard{mtx_};
    stale = st->stale;
    return st->done;
  }

  /// Finishes `st` with a value, an error, or neither (absent), unless it
  /// timed out meanwhile, and wakes its callers.
  void complete(const load_ptr& st, std::optional<V> value, caf::error err) {
    finish(st, [&] {
      if (value)
        st->value = std::move(value);
      else if (err)
        st->error = std::move(err);
      else
        st->absent = true;
    });
  }

  /// Fails `st` with load_timeout unless it is done; the loader's late
  /// result is then dropped.
  void fail_timeout(const load_ptr& st) {
    finish(st, [&] { st->error = caf::make_error(errc::load_timeout); });
  }

  std::uint64_t loads() const noexcept {
    return loads_.load(std::memory_order_relaxed);
  }

  std::uint64_t failures() const noexcept {
    return failures_.load(std::memory_order_relaxed);
  }

private:
  template <class Set>
  void finish(const load_ptr& st, Set set) {
    std::vector<std::function<void()>> ls;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (st->done)
        return; // the other of loader and timeout came first
      st->done = true;
      set();
      st->forget();
      // Counted before the callers wake, so that they see it.
      (st->error ? failures_ : loads_).fetch_add(1, std::memory_order_relaxed);
      ls = std::move(st->listeners);
      st->cv.notify_all();
    }
    for (auto& f : ls)
      f();
  }

  std::mutex mtx_;
  std::atomic<std::uint64_t> loads_{0};
  std::atomic<std::uint64_t> failures_{0};
};

} // namespace cachet::detail
