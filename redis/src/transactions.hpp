// What MULTI/EXEC needs beyond a connection's queue: EXEC's isolation from
// every other thread that runs commands, and WATCH's record of watched
// keys.
//
// Isolation. In direct mode each event loop runs commands on the table
// itself, and the owner's active expiry removes keys meanwhile. Each of
// them holds a slot of the `exec_gate` and marks it busy around every
// command (one exchange on a cache line of its own, no shared write); an
// EXEC closes the gate, waits until every other slot is idle, runs its
// queue, and opens it again. A command that finds the gate closed waits.
// In message mode the owner runs every command, EXEC's queue included, one
// after another: that is isolation already.
//
// WATCH. Each watching connection has an id; a key maps to the ids that
// watch it. A write to a key (and FLUSHALL, to every key) marks them dirty
// while anyone watches anything; with no watch, a write reads one atomic.
// As in redis 7.0, a key that was live at WATCH and has expired by EXEC
// fails it too, found or not: its expiry is kept with the watch.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace cachet::redis {

class exec_gate {
public:
  struct alignas(64) slot {
    std::atomic<bool> busy{false};
  };

  /// A slot for one thread (or actor) that runs commands; it lives as long
  /// as the gate.
  slot& join() {
    std::lock_guard<std::mutex> guard{slots_mtx_};
    return slots_.emplace_back();
  }

  /// Marks `s` busy, once the gate is open.
  void enter(slot& s) noexcept {
    for (;;) {
      s.busy.exchange(true, std::memory_order_seq_cst);
      if (!closed_.load(std::memory_order_seq_cst))
        return;
      s.busy.store(false, std::memory_order_release);
      while (closed_.load(std::memory_order_acquire))
        std::this_thread::yield();
    }
  }

  void leave(slot& s) noexcept {
    s.busy.store(false, std::memory_order_release);
  }

  /// Runs `f` while no other slot is busy; `self` (busy, or null) is the
  /// caller's own, which waits like any other while another EXEC runs.
  template <class F>
  void exclusive(slot* self, F&& f) {
    if (self != nullptr)
      leave(*self);
    {
      std::lock_guard<std::mutex> one_at_a_time{exec_mtx_};
      closed_.store(true, std::memory_order_seq_cst);
      {
        std::lock_guard<std::mutex> guard{slots_mtx_};
        for (auto& s : slots_)
          while (s.busy.load(std::memory_order_seq_cst))
            std::this_thread::yield();
      }
      struct reopen {
        std::atomic<bool>& closed;
        ~reopen() {
          held_here = false;
          closed.store(false, std::memory_order_release);
        }
      } guard{closed_};
      held_here = true;
      f();
    }
    if (self != nullptr)
      enter(*self);
  }

  /// Runs `f` as exclusive does, unless nothing else can run meanwhile
  /// anyway: a thread with no slot (message mode's owner runs everything)
  /// or inside an exclusive section already (a command in EXEC).
  template <class F>
  void isolated(slot* self, F&& f) {
    if (self == nullptr || held_here)
      f();
    else
      exclusive(self, f);
  }

private:
  /// The calling thread is inside exclusive().
  static inline thread_local bool held_here = false;

  std::mutex exec_mtx_;
  std::atomic<bool> closed_{false};
  std::mutex slots_mtx_;
  std::deque<slot> slots_;
};

/// The calling thread's slot of the gate, if it runs commands in direct
/// mode (an event loop).
inline thread_local exec_gate::slot* gate_slot = nullptr;

class watch_registry {
public:
  /// A new watcher's id (never 0).
  std::uint64_t new_id() {
    return next_.fetch_add(1, std::memory_order_relaxed);
  }

  /// `id` watches `key`, which expires at `expire_at` (unix ms; 0: it
  /// was absent, or has no expiry).
  void watch(std::uint64_t id, std::string_view key, std::int64_t expire_at) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& w = watchers_[id];
    if (w.keys.emplace(key, expire_at).second)
      by_key_[std::string{key}].insert(id);
    active_.store(watchers_.size(), std::memory_order_release);
  }

  /// Forgets `id`'s keys; its dirty mark goes with them.
  void unwatch(std::uint64_t id) {
    if (id == 0)
      return;
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = watchers_.find(id);
    if (i == watchers_.end())
      return;
    for (auto& [key, expire_at] : i->second.keys) {
      auto k = by_key_.find(key);
      k->second.erase(id);
      if (k->second.empty())
        by_key_.erase(k);
    }
    watchers_.erase(i);
    active_.store(watchers_.size(), std::memory_order_release);
  }

  /// Whether a key `id` watches was written since it was watched, or
  /// expired by `now` (unix ms) after it was watched live.
  bool dirty(std::uint64_t id, std::int64_t now) {
    if (id == 0)
      return false;
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = watchers_.find(id);
    if (i == watchers_.end())
      return false;
    if (i->second.dirty)
      return true;
    for (auto& [key, expire_at] : i->second.keys)
      if (expire_at != 0 && expire_at <= now)
        return true;
    return false;
  }

  /// A write to `key`.
  void touch(std::string_view key) {
    if (active_.load(std::memory_order_acquire) == 0)
      return;
    std::lock_guard<std::mutex> guard{mtx_};
    auto k = by_key_.find(std::string{key});
    if (k == by_key_.end())
      return;
    for (auto id : k->second)
      watchers_[id].dirty = true;
  }

  /// Every key someone watches (FLUSHALL touches those it removes).
  std::vector<std::string> watched_keys() {
    std::vector<std::string> keys;
    if (active_.load(std::memory_order_acquire) == 0)
      return keys;
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& entry : by_key_)
      keys.push_back(entry.first);
    return keys;
  }

private:
  struct watcher {
    /// Each key with its expiry when watched.
    std::unordered_map<std::string, std::int64_t> keys;
    bool dirty = false;
  };
  std::atomic<std::uint64_t> next_{1};
  std::atomic<std::size_t> active_{0};
  std::mutex mtx_;
  std::unordered_map<std::uint64_t, watcher> watchers_;
  std::unordered_map<std::string, std::unordered_set<std::uint64_t>> by_key_;
};

} // namespace cachet::redis
