// The shared state of one cache (cache.hpp): its table, eviction policy,
// expiry heap, secondary indexes, in-flight loads and statistics.
//
// Locking: reads take no lock (the table's lock-free reads; S3-FIFO hits are
// one relaxed store). Every write (put, invalidate, eviction, expiry sweep,
// a finished load) holds `write_mtx_`, which makes the size bounds exact: a
// write evicts before it inserts, under the same lock, so no interleaving of
// writers ever holds more than max_entries or max_weight. `load_mtx_`
// guards the in-flight loads and nests inside `write_mtx_` (never the other
// way round). `index_mtx_` (shared) guards the index maps against readers of
// get_by; writers take it exclusively inside `write_mtx_`, and fetch_by
// reads it inside `load_mtx_`. Removal listeners run after every lock is
// released.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <shared_mutex>
#include <string>
#include <thread>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>
#include <caf/send.hpp>

#include "cachet/detail/cache_support.hpp"
#include "cachet/detail/eviction.hpp"
#include "cachet/errc.hpp"
#include "cachet/table.hpp"

CAF_ADD_ATOM(cachet, cachet, cache_tick_atom, "cache_tick")

namespace cachet {

/// The clock of a cache's TTLs; tests substitute their own (cache_options).
using cache_clock = std::chrono::steady_clock;

/// Why an entry left a cache (told to the removal listener).
enum class removal_cause : std::uint8_t {
  explicit_, ///< invalidate or clear
  replaced,  ///< a put of the same key, or of another key taking its
             ///< unique index key
  expired,   ///< its TTL ran out (found by a sweep)
  evicted,   ///< the size bound needed room
};

/// "explicit", "replaced", "expired" or "evicted".
inline std::string to_string(removal_cause x) {
  switch (x) {
    case removal_cause::explicit_: return "explicit";
    case removal_cause::replaced: return "replaced";
    case removal_cause::expired: return "expired";
    case removal_cause::evicted: return "evicted";
  }
  return "removal_cause(" + std::to_string(static_cast<int>(x)) + ")";
}

/// A cache's counters since it was created.
struct cache_stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  /// Loader runs that ended without an error (a fetch_by loader that found
  /// no entry included).
  std::uint64_t loads = 0;
  /// Loader runs that threw or timed out.
  std::uint64_t load_failures = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  /// Entries and their total weight now (expired ones not yet swept
  /// included), and the most ever held at once: never above the bounds.
  std::uint64_t entries = 0;
  std::uint64_t weight = 0;
  std::uint64_t peak_entries = 0;
  std::uint64_t peak_weight = 0;

  /// hits / (hits + misses), 0 before the first read.
  double hit_ratio() const noexcept {
    auto n = hits + misses;
    return n == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(n);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cache_stats& x) {
  return f(caf::meta::type_name("cachet.cache_stats"), x.hits, x.misses,
           x.loads, x.load_failures, x.evictions, x.expirations, x.entries,
           x.weight, x.peak_entries, x.peak_weight);
}

/// A secondary unique index (IdentityCache's cache_index): `key_of` gives
/// the entry's index key, or nullopt if the entry is not indexed.
template <class K, class V>
struct cache_index {
  std::string name;
  std::function<std::optional<std::string>(const K&, const V&)> key_of;
};

/// How to create a cache. Every field has a usable default: an unbounded
/// protected cache without TTL.
template <class K, class V>
struct cache_options {
  /// Registry name (whereis_cache), empty for an anonymous cache.
  std::string name;
  /// ETS access mode of the cache's table, for handles other than the
  /// owner's: private (no direct access), protected (direct reads),
  /// public (direct reads and writes).
  access mode = access::protected_;
  /// Bound on the number of entries; 0: none.
  std::size_t max_entries = 0;
  /// Bound on the sum of the entries' weights; 0: none.
  std::uint64_t max_weight = 0;
  /// An entry's weight (default: 1). Called under the cache's write lock:
  /// it must not use the cache.
  std::function<std::uint64_t(const K&, const V&)> weigher;
  /// The eviction policy of a bounded cache.
  eviction_policy policy = eviction_policy::s3fifo;
  /// Default time to live of an entry; zero: entries do not expire.
  std::chrono::nanoseconds ttl{0};
  /// Reading an entry renews its TTL (a fragment cache's "touch").
  bool touch_on_read = false;
  /// How often the owner sweeps expired entries (spawn_cache's owner; a
  /// custom owner calls sweep itself). Zero: never.
  std::chrono::milliseconds sweep_interval{1000};
  /// At most this many expiry records examined per sweep (bounded work).
  std::size_t sweep_batch = 1024;
  /// How long fetch callers wait for a loader; zero: forever.
  std::chrono::milliseconds load_timeout{5000};
  /// The clock of TTLs; default cache_clock::now. Tests pass their own.
  std::function<cache_clock::time_point()> clock;
  /// Told of every removal with its cause, on the thread that removed the
  /// entry (a loader thread for a fetch's eviction), after the cache's locks
  /// are released and before the operation that removed it returns.
  std::function<void(const K&, const V&, removal_cause)> on_removal;
  /// Secondary unique indexes (get_by, fetch_by).
  std::vector<cache_index<K, V>> indexes;
  /// ETS's heir, for a named cache: when the owner dies and the heir is
  /// alive, the heir holds the cache (entries, indexes, eviction state,
  /// stats) instead of it dying, and a new owner created with the same name
  /// and heir takes it back as it was. cache_child's heir policy sets it to
  /// the supervisor. Readers and public writers see no gap.
  caf::actor_addr heir;
};

/// The function a fetch runs on a miss; its exception fails the fetch with
/// errc::load_failed. Local messages only.
template <class K, class V>
struct cache_loader {
  std::function<V(const K&)> fn;
};

/// The function a fetch_by runs on a miss: the entry (key and value) whose
/// index key is its argument, or nullopt if there is none (IdentityCache's
/// `fetch_by_email` querying `WHERE email = ?`). Its exception fails the
/// fetch_by with errc::load_failed. Local messages only.
template <class K, class V>
struct cache_index_loader {
  std::function<std::optional<std::pair<K, V>>(const std::string&)> fn;
};

namespace detail {

/// What the cache's table stores per key.
template <class K, class V>
struct cache_value {
  V value;
  std::shared_ptr<cache_slot<K>> slot;
};

/// One in-flight load, shared by every caller waiting for it.
template <class V>
struct load_state {
  std::condition_variable cv;
  bool done = false;
  /// Invalidated while loading: the result is handed out but not cached.
  bool stale = false;
  std::optional<V> value;
  caf::error error;
  /// Run once when done (the owner's message waiters).
  std::vector<std::function<void()>> listeners;
  /// Real time (not the cache clock): waiters give up here.
  std::chrono::steady_clock::time_point deadline;
  /// An index load whose loader found no entry: done, with neither a value
  /// nor an error.
  bool absent = false;
  /// Takes this load out of its in-flight map; called under the load lock.
  std::function<void()> forget;
};

/// The cache's write lock, a binary semaphore: the pthread mutex inside is
/// held only while taking or releasing it, never across the section. A table
/// write inside a section may grow the table, which takes all 64 of the
/// table's stripe locks; ThreadSanitizer's deadlock detector tracks at most
/// 64 mutexes held by one thread, so a plain mutex around them would trip it
/// (and a spin lock livelocks TSan's runtime under contention).
class write_lock {
public:
  void lock() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return !held_; });
    held_ = true;
  }

  void unlock() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      held_ = false;
    }
    cv_.notify_one();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool held_ = false;
};

/// Counters that many threads bump: one cache line per stripe.
struct alignas(64) stat_stripe {
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
};

inline std::size_t stat_stripe_index() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
  return i;
}

template <class K, class V>
class cache_core : public std::enable_shared_from_this<cache_core<K, V>> {
public:
  using slot_type = cache_slot<K>;
  using slot_ptr = std::shared_ptr<slot_type>;
  using value_type = cache_value<K, V>;
  using owned_type = owned_table<K, value_type>;
  using shared_type = table<K, value_type>;
  using table_core_type = table_core<K, value_type, set<>>;
  using load_ptr = std::shared_ptr<load_state<V>>;
  using options_type = cache_options<K, V>;

  cache_core(options_type opts, std::shared_ptr<table_core_type> tcore,
             std::uint64_t gen)
    : opts_(std::move(opts)),
      tcore_(tcore),
      shared_(tcore),
      tab_(std::in_place, tcore, gen) {
    if (opts_.policy == eviction_policy::lru)
      policy_ = std::make_unique<lru<slot_type>>();
    else
      policy_ = std::make_unique<s3fifo<slot_type>>();
    auto cap = opts_.max_weight != 0 ? opts_.max_weight
                                     : static_cast<std::uint64_t>(
                                       opts_.max_entries);
    auto ghost = opts_.max_entries != 0
                   ? opts_.max_entries
                   : static_cast<std::size_t>(std::min<std::uint64_t>(
                     cap, std::uint64_t{1} << 20));
    policy_->set_capacity(cap, ghost);
    locked_touch_ = policy_->needs_locked_touch();
    index_maps_.resize(opts_.indexes.size());
  }

  const options_type& options() const noexcept {
    return opts_;
  }

  access mode() const noexcept {
    return shared_.mode();
  }

  bool alive() const noexcept {
    return shared_.alive();
  }

  const shared_type& shared_table() const noexcept {
    return shared_;
  }

  /// The owner's table; valid until owner_gone.
  const owned_type& owner_table() const noexcept {
    return *tab_;
  }

  /// The owner actor (spawn_cache), told to sweep while entries with a TTL
  /// exist.
  void set_owner(caf::actor_addr addr) {
    bool arm = false;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      owner_ = std::move(addr);
      // An adopted cache may hold TTL'd entries already.
      if (!heap_.empty() && !sweeping_ && owner_)
        sweeping_ = arm = true;
    }
    removals none;
    after_write(none, arm);
  }

  void set_registration(const caf::actor_system* sys) {
    sys_ = sys;
  }

  /// The owner ended: the cache passes to a live heir, or retires (handles
  /// answer table_gone).
  void owner_gone() {
    caf::actor heir;
    if (opts_.heir && !opts_.name.empty())
      heir = caf::actor_cast<caf::actor>(opts_.heir);
    // Capabilities end after the locks are released: retiring a table may
    // take all of its stripe locks, which must not nest in ours.
    std::optional<owned_type> ending;
    bool retiring = false;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (!tab_ || orphaned_)
        return;
      if (!heir) {
        retire_locked(ending);
        retiring = true;
      } else {
        // The heir becomes the table's owner without a table_transfer (the
        // cache is what it holds); the dead owner's generation goes stale.
        auto gen = tcore_->bind(*caf::actor_cast<caf::abstract_actor*>(heir));
        ending = std::move(tab_);
        tab_.emplace(tcore_, gen);
        orphaned_ = true;
        owner_ = caf::actor_addr{};
        sweeping_ = false;
      }
    }
    drop(ending, retiring);
    if (heir) {
      // Held by the heir until adopted; retired if the heir exits first.
      auto self = this->shared_from_this();
      caf::actor_cast<caf::abstract_actor*>(heir)->attach(
        make_keeper(this, [self] { self->heir_gone(); }));
    }
  }

  /// Whether `heir` holds this cache for a restarting owner.
  bool held_by(const caf::actor_addr& heir) {
    std::lock_guard<write_lock> guard{write_mtx_};
    return orphaned_ && tab_ && heir && heir == opts_.heir;
  }

  /// A restarted owner takes the cache back from its heir, as it was.
  bool adopt(caf::abstract_actor& owner) {
    std::optional<owned_type> ending;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (!orphaned_ || !tab_)
        return false;
      auto gen = tcore_->reclaim(owner, opts_.heir);
      if (!gen)
        return false;
      ending = std::move(tab_);
      tab_.emplace(tcore_, *gen);
      orphaned_ = false;
    }
    ending.reset();
    if (auto h = caf::actor_cast<caf::actor>(opts_.heir))
      caf::actor_cast<caf::abstract_actor*>(h)->detach(keeper_token(this));
    return true;
  }

  /// Ends the cache now, heir or not (a cache that could not be
  /// registered).
  void retire() {
    std::optional<owned_type> ending;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      retire_locked(ending);
    }
    drop(ending, true);
  }

  // -- reads: any thread, no lock ----------------------------------------------

  /// The key's value unless absent or expired. Counts a hit or miss when
  /// `count`. Needs read rights on `tab`.
  template <class Table>
  caf::expected<std::optional<V>> get(const Table& tab, const K& key,
                                      bool count = true) {
    std::optional<V> out;
    slot_ptr touch;
    auto res = tab.visit(key, [&](const value_type& e) {
      auto& s = *e.slot;
      auto exp = s.expires.load(std::memory_order_relaxed);
      if (exp != 0) {
        auto now = now_ns();
        if (now >= exp)
          return; // expired: a miss, removed by the next sweep
        if (opts_.touch_on_read && s.ttl != 0)
          s.expires.store(now + s.ttl, std::memory_order_relaxed);
      }
      out.emplace(e.value);
      if (locked_touch_)
        touch = e.slot;
      else
        eviction<slot_type>::hit(s);
    });
    if (!res)
      return std::move(res.error());
    if (touch) {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (touch->live)
        policy_->touch(touch.get());
    }
    if (count)
      count_read(out.has_value());
    return out;
  }

  /// The value whose index key `ikey` in index `index` is, or nullopt.
  /// Errors: no_such_key for an unknown index name.
  template <class Table>
  caf::expected<std::optional<V>> get_by(const Table& tab,
                                         const std::string& index,
                                         const std::string& ikey,
                                         bool count = true) {
    auto idx = index_of(index);
    if (idx < 0)
      return caf::make_error(errc::no_such_key, "no index named " + index);
    std::optional<K> pk;
    {
      std::shared_lock<std::shared_mutex> guard{index_mtx_};
      auto& m = index_maps_[static_cast<std::size_t>(idx)];
      if (auto i = m.find(ikey); i != m.end())
        pk.emplace(i->second);
    }
    if (!pk) {
      if (!alive())
        return caf::make_error(errc::table_gone);
      if (count)
        count_read(false);
      return std::optional<V>{};
    }
    auto v = get(tab, *pk, false);
    if (!v)
      return v;
    // The index and the entry are updated under one lock, but a reader sees
    // them one after the other: check that the entry still has the key.
    if (*v) {
      auto k = opts_.indexes[static_cast<std::size_t>(idx)].key_of(*pk, **v);
      if (!k || *k != ikey)
        v->reset();
    }
    if (count)
      count_read(v->has_value());
    return v;
  }

  cache_stats stats() {
    cache_stats st;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      st.entries = entries_.size();
      st.weight = weight_;
      st.peak_entries = max_entries_seen_;
      st.peak_weight = max_weight_seen_;
    }
    for (auto& s : stripes_) {
      st.hits += s.hits.load(std::memory_order_relaxed);
      st.misses += s.misses.load(std::memory_order_relaxed);
    }
    st.loads = loads_.load(std::memory_order_relaxed);
    st.load_failures = load_failures_.load(std::memory_order_relaxed);
    st.evictions = evictions_.load(std::memory_order_relaxed);
    st.expirations = expirations_.load(std::memory_order_relaxed);
    return st;
  }

  // -- writes: the caller has checked write rights ------------------------------

  /// Inserts or replaces; `ttl` < 0 means the cache's default.
  caf::expected<void> put(K key, V value, std::chrono::nanoseconds ttl) {
    removals out;
    bool arm = false;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (!tab_)
        return caf::make_error(errc::table_gone);
      // A load in flight read its source before this put: the put wins.
      mark_stale(&key);
      if (auto err = put_locked(std::move(key), std::move(value), ttl, out,
                                arm))
        return err;
    }
    after_write(out, arm);
    return caf::unit;
  }

  /// Removes the key; true if it was cached. A load of the key in flight
  /// still answers its callers but caches nothing.
  caf::expected<bool> invalidate(const K& key) {
    removals out;
    bool found = false;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (!tab_)
        return caf::make_error(errc::table_gone);
      mark_stale(&key);
      if (auto i = entries_.find(key); i != entries_.end()) {
        auto sp = i->second;
        remove_locked(sp, removal_cause::explicit_, out, true);
        found = true;
      }
    }
    after_write(out, false);
    return found;
  }

  /// Removes every entry (cause explicit).
  caf::expected<void> clear() {
    removals out;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (!tab_)
        return caf::make_error(errc::table_gone);
      mark_stale(nullptr);
      std::vector<slot_ptr> all;
      all.reserve(entries_.size());
      for (auto& kv : entries_)
        all.push_back(kv.second);
      for (auto& sp : all)
        remove_locked(sp, removal_cause::explicit_, out, true);
    }
    after_write(out, false);
    return caf::unit;
  }

  /// Removes expired entries, examining at most `max_work` expiry records
  /// (so one sweep's time is bounded); returns how many it removed.
  caf::expected<std::size_t> sweep(std::size_t max_work) {
    removals out;
    std::size_t removed = 0;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (!tab_)
        return caf::make_error(errc::table_gone);
      auto now = now_ns();
      for (std::size_t work = 0; work < max_work && !heap_.empty(); ++work) {
        if (heap_.top().first > now)
          break;
        auto sp = heap_.top().second;
        heap_.pop();
        if (!sp->live)
          continue; // removed or replaced since: lazy deletion
        auto exp = sp->expires.load(std::memory_order_relaxed);
        if (exp > now) { // renewed by touch-on-read
          heap_.emplace(exp, std::move(sp));
          continue;
        }
        remove_locked(sp, removal_cause::expired, out, true);
        ++removed;
      }
    }
    after_write(out, false);
    return removed;
  }

  /// Whether the owner should sweep again (entries with a TTL remain);
  /// clears the "armed" flag otherwise, so that the next TTL'd put re-arms.
  bool keep_sweeping() {
    std::lock_guard<write_lock> guard{write_mtx_};
    if (heap_.empty() || !tab_) {
      sweeping_ = false;
      return false;
    }
    return true;
  }

  // -- fetch --------------------------------------------------------------------

  /// The cached value, or the in-flight load to wait for (started here if
  /// none). Errors: the read's errors. The caller has write rights.
  template <class Table>
  caf::expected<std::pair<std::optional<V>, load_ptr>>
  fetch_start(const Table& tab, const K& key,
              const std::function<V(const K&)>& fn) {
    auto hit = get(tab, key, false);
    if (!hit)
      return std::move(hit.error());
    if (*hit) {
      count_read(true);
      return std::make_pair(std::move(*hit), load_ptr{});
    }
    count_read(false);
    load_ptr st;
    {
      std::lock_guard<std::mutex> guard{load_mtx_};
      if (auto i = loads_in_flight_.find(key); i != loads_in_flight_.end())
        return std::make_pair(std::optional<V>{}, i->second);
      // A load may have finished between our miss and this lock: it caches
      // its value before it leaves loads_in_flight_ (both under load_mtx_),
      // so a second look settles it. No policy touch here: that could take
      // write_mtx_, which must not nest inside load_mtx_.
      std::optional<V> again;
      auto seen = tab.visit(key, [&](const value_type& e) {
        auto exp = e.slot->expires.load(std::memory_order_relaxed);
        if (exp == 0 || now_ns() < exp)
          again.emplace(e.value);
      });
      if (seen && again)
        return std::make_pair(std::move(again), load_ptr{});
      st = new_load([this, key](const load_state<V>* x) {
        if (auto i = loads_in_flight_.find(key);
            i != loads_in_flight_.end() && i->second.get() == x)
          loads_in_flight_.erase(i);
      });
      loads_in_flight_.emplace(key, st);
    }
    auto self = this->shared_from_this();
    run_loader([self, key, st, fn] {
      self->run_load(st, [&] {
        return std::make_optional(std::pair<K, V>{key, fn(key)});
      });
    });
    return std::make_pair(std::optional<V>{}, st);
  }

  /// The entry whose index key in `index` is `ikey`, or the in-flight
  /// index load to wait for (started here if none): IdentityCache's
  /// fetch_by. Errors: no_such_key for an unknown index; the read's errors.
  template <class Table>
  caf::expected<std::pair<std::optional<V>, load_ptr>>
  fetch_by_start(const Table& tab, const std::string& index,
                 const std::string& ikey,
                 const std::function<std::optional<std::pair<K, V>>(
                   const std::string&)>& fn) {
    auto hit = get_by(tab, index, ikey, false);
    if (!hit)
      return std::move(hit.error());
    if (*hit) {
      count_read(true);
      return std::make_pair(std::move(*hit), load_ptr{});
    }
    count_read(false);
    auto idx = static_cast<std::size_t>(index_of(index));
    load_ptr st;
    {
      std::lock_guard<std::mutex> guard{load_mtx_};
      auto lk = std::make_pair(idx, ikey);
      if (auto i = index_loads_.find(lk); i != index_loads_.end())
        return std::make_pair(std::optional<V>{}, i->second);
      // As in fetch_start: a load that just finished cached its entry first.
      if (auto again = peek_by(tab, idx, ikey))
        return std::make_pair(std::move(again), load_ptr{});
      st = new_load([this, lk](const load_state<V>* x) {
        if (auto i = index_loads_.find(lk);
            i != index_loads_.end() && i->second.get() == x)
          index_loads_.erase(i);
      });
      index_loads_.emplace(std::move(lk), st);
    }
    auto self = this->shared_from_this();
    run_loader([self, ikey, st, fn] {
      self->run_load(st, [&] { return fn(ikey); });
    });
    return std::make_pair(std::optional<V>{}, st);
  }

  /// Blocks the calling thread until `st` is done or its deadline passed
  /// (then the load fails with load_timeout for every caller); its outcome:
  /// the value, nullopt (an index load that found nothing) or the error.
  caf::expected<std::optional<V>> await(const load_ptr& st) {
    {
      std::unique_lock<std::mutex> guard{load_mtx_};
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
      std::lock_guard<std::mutex> guard{load_mtx_};
      if (!st->done) {
        st->listeners.push_back(std::move(f));
        return;
      }
    }
    f();
  }

  /// The outcome of a done load (see await).
  caf::expected<std::optional<V>> outcome(const load_ptr& st) {
    std::lock_guard<std::mutex> guard{load_mtx_};
    if (st->value)
      return st->value;
    if (st->absent)
      return std::optional<V>{};
    if (st->error)
      return st->error;
    return caf::make_error(errc::load_timeout);
  }

  /// Fails `st` with load_timeout unless it is done; the loader's late
  /// result is then dropped.
  void fail_timeout(const load_ptr& st) {
    std::vector<std::function<void()>> ls;
    {
      std::lock_guard<std::mutex> guard{load_mtx_};
      if (st->done)
        return;
      st->done = true;
      st->error = caf::make_error(errc::load_timeout);
      st->forget();
      load_failures_.fetch_add(1, std::memory_order_relaxed);
      ls = std::move(st->listeners);
      st->cv.notify_all();
    }
    for (auto& f : ls)
      f();
  }

private:
  struct removal {
    K key;
    V value;
    removal_cause cause;
  };
  using removals = std::vector<removal>;

  using heap_entry = std::pair<std::int64_t, slot_ptr>;
  struct later {
    bool operator()(const heap_entry& x, const heap_entry& y) const noexcept {
      return x.first > y.first;
    }
  };

  std::int64_t now_ns() const {
    auto t = opts_.clock ? opts_.clock() : cache_clock::now();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
  }

  void count_read(bool hit) noexcept {
    auto& s = stripes_[stat_stripe_index() % stripes_.size()];
    (hit ? s.hits : s.misses).fetch_add(1, std::memory_order_relaxed);
  }

  int index_of(const std::string& name) const {
    for (std::size_t i = 0; i < opts_.indexes.size(); ++i)
      if (opts_.indexes[i].name == name)
        return static_cast<int>(i);
    return -1;
  }

  /// Inserts under write_mtx_: drops the key's old entry and any entry
  /// holding one of the new value's unique index keys, evicts until the new
  /// entry fits, then inserts. Bounds hold at every step.
  caf::error put_locked(K key, V value, std::chrono::nanoseconds ttl,
                        removals& out, bool& arm) {
    std::uint64_t w = opts_.weigher ? opts_.weigher(key, value) : 1;
    if (auto i = entries_.find(key); i != entries_.end()) {
      auto sp = i->second;
      remove_locked(sp, removal_cause::replaced, out, false);
    }
    std::vector<std::optional<std::string>> ikeys;
    ikeys.reserve(opts_.indexes.size());
    for (std::size_t n = 0; n < opts_.indexes.size(); ++n) {
      auto ik = opts_.indexes[n].key_of(key, value);
      if (ik) {
        auto& m = index_maps_[n];
        if (auto j = m.find(*ik); j != m.end()) {
          if (auto e = entries_.find(j->second); e != entries_.end()) {
            auto sp = e->second;
            remove_locked(sp, removal_cause::replaced, out, true);
          }
        }
      }
      ikeys.push_back(std::move(ik));
    }
    if (opts_.max_weight != 0 && w > opts_.max_weight) {
      // Larger than the whole cache: it is evicted at once (and the old
      // entry of the key, if any, is gone: it was replaced).
      if (auto err = tab_->erase(key); !err)
        return std::move(err.error());
      evictions_.fetch_add(1, std::memory_order_relaxed);
      if (opts_.on_removal)
        out.push_back(removal{std::move(key), std::move(value),
                              removal_cause::evicted});
      return caf::none;
    }
    while ((opts_.max_entries != 0 && entries_.size() + 1 > opts_.max_entries)
           || (opts_.max_weight != 0 && weight_ + w > opts_.max_weight)) {
      auto* victim = policy_->victim();
      if (victim == nullptr)
        break;
      auto sp = entries_.at(victim->key);
      remove_locked(sp, removal_cause::evicted, out, true, false);
    }
    auto sp = std::make_shared<slot_type>(key);
    sp->weight = w;
    sp->hash = static_cast<std::uint64_t>(std::hash<K>{}(key))
               * 0x9E3779B97F4A7C15ull;
    if (ttl.count() < 0)
      ttl = opts_.ttl;
    if (ttl.count() > 0) {
      sp->ttl = ttl.count();
      sp->expires.store(now_ns() + sp->ttl, std::memory_order_relaxed);
    }
    if (!ikeys.empty()) {
      std::unique_lock<std::shared_mutex> ig{index_mtx_};
      sp->index_keys = ikeys;
      for (std::size_t n = 0; n < ikeys.size(); ++n)
        if (ikeys[n])
          index_maps_[n].insert_or_assign(*ikeys[n], key);
    }
    if (auto res = tab_->insert(key, value_type{std::move(value), sp}); !res)
      return std::move(res.error());
    policy_->admit(sp.get());
    weight_ += w;
    if (sp->ttl != 0) {
      heap_.emplace(sp->expires.load(std::memory_order_relaxed), sp);
      if (!sweeping_ && owner_) {
        sweeping_ = true;
        arm = true;
      }
    }
    entries_.emplace(std::move(key), std::move(sp));
    max_entries_seen_ = std::max(max_entries_seen_, entries_.size());
    max_weight_seen_ = std::max(max_weight_seen_, weight_);
    return caf::none;
  }

  /// Removes one entry under write_mtx_. `erase` also takes it out of the
  /// table (a replacing put overwrites it instead); `unlink` is false for a
  /// victim the policy already unlinked.
  void remove_locked(const slot_ptr& sp, removal_cause cause, removals& out,
                     bool erase, bool unlink = true) {
    auto& s = *sp;
    if (unlink)
      policy_->remove(&s);
    s.live = false;
    weight_ -= s.weight;
    if (!s.index_keys.empty()) {
      std::unique_lock<std::shared_mutex> ig{index_mtx_};
      for (std::size_t n = 0; n < s.index_keys.size(); ++n) {
        if (!s.index_keys[n])
          continue;
        auto& m = index_maps_[n];
        if (auto i = m.find(*s.index_keys[n]); i != m.end() && i->second == s.key)
          m.erase(i);
      }
    }
    std::optional<V> old;
    if (erase) {
      if (auto taken = tab_->take(s.key); taken && *taken)
        old.emplace(std::move((*taken)->value));
    } else if (opts_.on_removal) {
      if (auto cur = tab_->lookup(s.key); cur && *cur)
        old.emplace(std::move((*cur)->value));
    }
    if (cause == removal_cause::evicted)
      evictions_.fetch_add(1, std::memory_order_relaxed);
    else if (cause == removal_cause::expired)
      expirations_.fetch_add(1, std::memory_order_relaxed);
    if (opts_.on_removal && old)
      out.push_back(removal{s.key, std::move(*old), cause});
    entries_.erase(s.key);
  }

  void after_write(removals& out, bool arm) {
    if (arm) {
      if (auto owner = caf::actor_cast<caf::actor>(owner_))
        caf::anon_send(owner, cache_tick_atom_v);
    }
    if (opts_.on_removal)
      for (auto& r : out)
        opts_.on_removal(r.key, r.value, r.cause);
  }

  void retire_locked(std::optional<owned_type>& ending) {
    if (sys_ != nullptr && !opts_.name.empty())
      unregister_cache(*sys_, opts_.name, this);
    orphaned_ = false;
    ending = std::move(tab_);
    tab_.reset();
    entries_.clear();
    policy_->clear();
    heap_ = {};
    std::unique_lock<std::shared_mutex> ig{index_mtx_};
    for (auto& m : index_maps_)
      m.clear();
  }

  /// The heir exited while holding the cache.
  void heir_gone() {
    std::optional<owned_type> ending;
    bool retiring = false;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (orphaned_) {
        retire_locked(ending);
        retiring = true;
      }
    }
    drop(ending, retiring);
  }

  /// Drops a capability taken out under the write lock, after it; a
  /// retiring cache retires its table first, so that the table does not
  /// pass to its own heir.
  void drop(std::optional<owned_type>& ending, bool retiring) {
    if (retiring)
      tcore_->retire();
    ending.reset();
  }

  load_ptr new_load(std::function<void(const load_state<V>*)> forget) {
    auto st = std::make_shared<load_state<V>>();
    if (opts_.load_timeout.count() > 0)
      st->deadline = std::chrono::steady_clock::now() + opts_.load_timeout;
    else
      st->deadline = std::chrono::steady_clock::time_point::max();
    auto* raw = st.get();
    st->forget = [raw, f = std::move(forget)] { f(raw); };
    return st;
  }

  /// Marks the in-flight load of `*key` stale (every load if null) and every
  /// index load, whose key is unknown until it ends: their values are
  /// handed to their callers but not cached. Under write_mtx_.
  void mark_stale(const K* key) {
    std::lock_guard<std::mutex> lg{load_mtx_};
    if (key == nullptr) {
      for (auto& kv : loads_in_flight_)
        kv.second->stale = true;
    } else if (auto i = loads_in_flight_.find(*key);
               i != loads_in_flight_.end()) {
      i->second->stale = true;
    }
    for (auto& kv : index_loads_)
      kv.second->stale = true;
  }

  /// The entry for index key `ikey`, without counting, touching or locking
  /// more than the index (callable under load_mtx_).
  template <class Table>
  std::optional<V> peek_by(const Table& tab, std::size_t idx,
                           const std::string& ikey) {
    std::optional<K> pk;
    {
      std::shared_lock<std::shared_mutex> guard{index_mtx_};
      auto& m = index_maps_[idx];
      if (auto i = m.find(ikey); i != m.end())
        pk.emplace(i->second);
    }
    if (!pk)
      return std::nullopt;
    std::optional<V> out;
    auto now = now_ns();
    static_cast<void>(tab.visit(*pk, [&](const value_type& e) {
      auto exp = e.slot->expires.load(std::memory_order_relaxed);
      if (exp != 0 && now >= exp)
        return;
      auto k = opts_.indexes[idx].key_of(*pk, e.value);
      if (k && *k == ikey)
        out.emplace(e.value);
    }));
    return out;
  }

  /// On a loader thread: run the loader (`load()` gives the entry, or
  /// nullopt if an index load found none), cache it, wake the callers.
  template <class Load>
  void run_load(const load_ptr& st, Load load) {
    std::optional<std::pair<K, V>> entry;
    caf::error err;
    try {
      entry = load();
    } catch (const std::exception& e) {
      err = caf::make_error(errc::load_failed, std::string{e.what()});
    } catch (...) {
      err = caf::make_error(errc::load_failed, "unknown exception");
    }
    finish_load(st, std::move(entry), std::move(err));
  }

  /// Caches a loader's entry (unless the load went stale or timed out) and
  /// wakes its callers. No entry and no error: an index load found nothing.
  void finish_load(const load_ptr& st, std::optional<std::pair<K, V>> entry,
                   caf::error err) {
    removals out;
    bool arm = false;
    std::vector<std::function<void()>> ls;
    {
      // Under the write lock, so that an invalidation (which marks the load
      // stale under the same lock) is either before the put or after it.
      // load_mtx_ is not held across the put: see write_lock.
      std::lock_guard<write_lock> guard{write_mtx_};
      bool stale = false;
      {
        std::lock_guard<std::mutex> lg{load_mtx_};
        if (st->done)
          return; // timed out: the callers have their answer
        stale = st->stale;
      }
      // Cached before the load leaves its in-flight map (below): a fetch
      // that finds no load in flight then finds the value.
      if (entry && !stale && tab_)
        if (auto e = put_locked(entry->first, entry->second,
                                std::chrono::nanoseconds{-1}, out, arm))
          err = std::move(e), entry.reset();
    }
    // Removal listeners first: a caller, once woken, sees their effects.
    after_write(out, arm);
    {
      std::lock_guard<std::mutex> lg{load_mtx_};
      if (!st->done) { // else timed out meanwhile: the callers are answered
        st->done = true;
        if (entry)
          st->value = std::move(entry->second);
        else if (err)
          st->error = std::move(err);
        else
          st->absent = true;
        st->forget();
        // Counted before the callers wake, so that they see it.
        (st->error ? load_failures_ : loads_)
          .fetch_add(1, std::memory_order_relaxed);
        ls = std::move(st->listeners);
        st->cv.notify_all();
      }
    }
    for (auto& f : ls)
      f();
  }

  options_type opts_;
  std::shared_ptr<table_core_type> tcore_;
  shared_type shared_;
  std::optional<owned_type> tab_;
  /// Held by the heir: the owner died, no new one has adopted it yet.
  bool orphaned_ = false;
  const caf::actor_system* sys_ = nullptr;
  caf::actor_addr owner_;

  write_lock write_mtx_;
  std::unique_ptr<eviction<slot_type>> policy_;
  bool locked_touch_ = false;
  std::unordered_map<K, slot_ptr> entries_;
  std::uint64_t weight_ = 0;
  std::size_t max_entries_seen_ = 0;
  std::uint64_t max_weight_seen_ = 0;
  std::priority_queue<heap_entry, std::vector<heap_entry>, later> heap_;
  bool sweeping_ = false;

  std::shared_mutex index_mtx_;
  std::vector<std::unordered_map<std::string, K>> index_maps_;

  std::mutex load_mtx_;
  std::unordered_map<K, load_ptr> loads_in_flight_;
  /// Index loads in flight, by (index, index key).
  std::map<std::pair<std::size_t, std::string>, load_ptr> index_loads_;

  std::array<stat_stripe, 16> stripes_;
  std::atomic<std::uint64_t> loads_{0};
  std::atomic<std::uint64_t> load_failures_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> expirations_{0};
};

} // namespace detail

} // namespace cachet
