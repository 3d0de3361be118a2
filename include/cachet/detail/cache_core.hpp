// The shared state of one cache (cache.hpp): its ownership (resource_core),
// its table (a hash engine), and the bookkeeping beside it: the slots the
// eviction policy orders, the expiry heap, the secondary indexes, the loads
// in flight and the statistics.
//
// Locking: reads take no lock (the engine's lock-free reads; S3-FIFO hits are
// one relaxed store). Every write (put, invalidate, eviction, expiry sweep,
// a finished load) holds `write_mtx_`, which makes the size bounds exact: a
// write evicts before it inserts, under the same lock, so no interleaving of
// writers ever holds more than max_entries or max_weight. The loads' mutex
// (single_flight) nests inside `write_mtx_`, never the other way round.
// `index_mtx_` (shared) guards the index maps against readers of get_by;
// writers take it exclusively inside `write_mtx_`. Removal listeners run
// after every lock is released.
//
// Exceptions: the user's weigher and index functions and every allocation of
// a put run before the cache changes; entries that the put displaces (by an
// index key, or as eviction victims) are each removed whole. So whatever
// throws, every entry in the table is tracked, counted and evictable.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/send.hpp>

#include "cachet/atoms.hpp"
#include "cachet/cache_options.hpp"
#include "cachet/cache_stats.hpp"
#include "cachet/detail/eviction.hpp"
#include "cachet/detail/expiry_heap.hpp"
#include "cachet/detail/hash_engine.hpp"
#include "cachet/detail/resource_core.hpp"
#include "cachet/detail/single_flight.hpp"
#include "cachet/detail/write_lock.hpp"
#include "cachet/errc.hpp"
#include "cachet/kind.hpp"

namespace cachet::detail {

/// What the cache's table stores per key.
template <class K, class V>
struct cache_value {
  V value;
  std::shared_ptr<cache_slot<K>> slot;
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
class cache_core final : public resource_core {
public:
  using slot_type = cache_slot<K>;
  using slot_ptr = std::shared_ptr<slot_type>;
  using value_type = cache_value<K, V>;
  using engine_type = hash_engine<K, value_type, default_hash, std::equal_to<>>;
  using load_ptr = typename single_flight<V>::load_ptr;
  using options_type = cache_options<K, V>;
  /// A cached value, or the load in flight to wait for.
  using fetch_start_t = std::pair<std::optional<V>, load_ptr>;

  explicit cache_core(options_type opts)
    : resource_core(opts, typeid(cache_core)),
      opts_(std::move(opts)) {
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

  bool alive() const noexcept override {
    return engine_.alive();
  }

  held_types_t held_types() const noexcept override {
    return {"cache", type_ref_of<K>(), type_ref_of<V>()};
  }

  /// The owner actor of spawn_cache, told to sweep while entries with a TTL
  /// exist; forgotten when ownership moves on.
  void set_sweeper(caf::actor_addr addr) {
    bool arm = false;
    {
      std::lock_guard<write_lock> guard{write_mtx_};
      sweeper_ = std::move(addr);
      // A cache taken back from its heir may hold TTL'd entries already.
      if (!heap_.empty() && !sweeping_ && sweeper_)
        sweeping_ = arm = true;
    }
    removals none;
    after_write(none, arm);
  }

  // -- reads: any thread, no lock ----------------------------------------------

  /// The key's value unless absent or expired. Counts a hit or miss when
  /// `count`. The caller has read rights.
  caf::expected<std::optional<V>> get(const K& key, bool count = true) {
    std::optional<V> out;
    slot_ptr touch;
    auto st = engine_.find(key, [&](const value_type* e) {
      if (e == nullptr)
        return;
      auto& s = *e->slot;
      auto exp = s.expires.load(std::memory_order_relaxed);
      if (exp != 0) {
        auto now = now_ns();
        if (now >= exp)
          return; // expired: a miss, removed by the next sweep
        if (opts_.touch_on_read && s.ttl != 0)
          s.expires.store(now + s.ttl, std::memory_order_relaxed);
      }
      out.emplace(e->value);
      if (locked_touch_)
        touch = e->slot;
      else
        eviction<slot_type>::hit(s);
    });
    if (st != op_status::ok)
      return caf::make_error(errc::table_gone);
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
  caf::expected<std::optional<V>> get_by(const std::string& index,
                                         const std::string& ikey,
                                         bool count = true) {
    auto idx = index_of(index);
    if (idx < 0)
      return caf::make_error(errc::no_such_key, "no index named " + index);
    auto pk = indexed_key(static_cast<std::size_t>(idx), ikey);
    if (!pk) {
      if (!alive())
        return caf::make_error(errc::table_gone);
      if (count)
        count_read(false);
      return std::optional<V>{};
    }
    auto v = get(*pk, false);
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

  /// Number of entries (expired ones not yet swept included).
  caf::expected<std::size_t> size() const {
    std::size_t n = 0;
    if (engine_.size(n) != op_status::ok)
      return caf::make_error(errc::table_gone);
    return n;
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
    st.loads = flights_.loads();
    st.load_failures = flights_.failures();
    st.evictions = evictions_.load(std::memory_order_relaxed);
    st.expirations = expirations_.load(std::memory_order_relaxed);
    return st;
  }

  /// Every entry, expired or not, in no order (for tests and tools).
  caf::expected<std::vector<std::pair<K, V>>> to_list() const {
    std::vector<std::pair<K, V>> out;
    if (engine_.for_each([&](const auto& k, const value_type& e) {
          out.emplace_back(k, e.value);
        })
        != op_status::ok)
      return caf::make_error(errc::table_gone);
    return out;
  }

  /// For tests: the records of the expiry heap, one per live entry with a
  /// TTL.
  std::size_t expiry_records() {
    std::lock_guard<write_lock> guard{write_mtx_};
    return heap_.size();
  }

  // -- writes: the caller has checked write rights ------------------------------

  /// Inserts or replaces; `ttl` < 0 means the cache's default.
  caf::expected<void> put(K key, V value, std::chrono::nanoseconds ttl) {
    return write([&](removals& out, bool& arm) -> caf::error {
      // A load in flight read its source before this put: the put wins.
      mark_stale(&key);
      return put_locked(std::move(key), std::move(value), ttl, out, arm);
    });
  }

  /// Removes the key; true if it was cached. A load of the key in flight
  /// still answers its callers but caches nothing.
  caf::expected<bool> invalidate(const K& key) {
    bool found = false;
    auto res = write([&](removals& out, bool&) -> caf::error {
      mark_stale(&key);
      if (auto i = entries_.find(key); i != entries_.end()) {
        auto sp = i->second;
        remove_locked(sp, removal_cause::explicit_, out);
        found = true;
      }
      return caf::none;
    });
    if (!res)
      return std::move(res.error());
    return found;
  }

  /// Removes every entry (cause explicit).
  caf::expected<void> clear() {
    return write([&](removals& out, bool&) -> caf::error {
      mark_stale(nullptr);
      std::vector<slot_ptr> all;
      all.reserve(entries_.size());
      for (auto& kv : entries_)
        all.push_back(kv.second);
      for (auto& sp : all)
        remove_locked(sp, removal_cause::explicit_, out);
      return caf::none;
    });
  }

  /// Removes expired entries, examining at most `max_work` expiry records
  /// (so one sweep's time is bounded); returns how many it removed.
  caf::expected<std::size_t> sweep(std::size_t max_work) {
    std::size_t removed = 0;
    auto res = write([&](removals& out, bool&) -> caf::error {
      auto now = now_ns();
      for (std::size_t work = 0; work < max_work && !heap_.empty(); ++work) {
        auto* s = heap_.top();
        if (s->heap_key > now)
          break;
        auto exp = s->expires.load(std::memory_order_relaxed);
        if (exp > now) { // renewed by touch-on-read
          heap_.update(s, exp);
          continue;
        }
        auto sp = entries_.at(s->key);
        remove_locked(sp, removal_cause::expired, out);
        ++removed;
      }
      return caf::none;
    });
    if (!res)
      return std::move(res.error());
    return removed;
  }

  /// Whether the owner should sweep again (entries with a TTL remain);
  /// clears the "armed" flag otherwise, so that the next TTL'd put re-arms.
  bool keep_sweeping() {
    std::lock_guard<write_lock> guard{write_mtx_};
    if (heap_.empty() || !alive()) {
      sweeping_ = false;
      return false;
    }
    return true;
  }

  // -- fetch --------------------------------------------------------------------

  single_flight<V>& flights() noexcept {
    return flights_;
  }

  /// The cached value, or the in-flight load to wait for (started here if
  /// none). Errors: the read's errors. The caller has write rights.
  caf::expected<fetch_start_t> fetch_start(const K& key,
                                           std::function<V(const K&)> fn) {
    auto hit = get(key, false);
    if (!hit)
      return std::move(hit.error());
    count_read(hit->has_value());
    if (*hit)
      return fetch_start_t{std::move(*hit), nullptr};
    load_ptr st;
    {
      std::lock_guard<std::mutex> guard{flights_.mutex()};
      if (auto i = loads_.find(key); i != loads_.end())
        return fetch_start_t{std::nullopt, i->second};
      // A load may have finished between our miss and this lock: it caches
      // its value before it leaves loads_ (both under the loads' mutex), so
      // a second look settles it. No policy touch here: that could take
      // write_mtx_, which must not nest inside the loads' mutex.
      if (auto again = peek(key))
        return fetch_start_t{std::move(again), nullptr};
      st = flights_.make(opts_.load_timeout, [this, key] { forget(loads_, key); });
      loads_.emplace(key, st);
    }
    start_load(st, [key, fn = std::move(fn)] {
      return std::make_optional(std::pair<K, V>{key, fn(key)});
    });
    return fetch_start_t{std::nullopt, st};
  }

  /// The entry whose index key in `index` is `ikey`, or the in-flight index
  /// load to wait for (started here if none): IdentityCache's fetch_by.
  /// Errors: no_such_key for an unknown index; the read's errors.
  caf::expected<fetch_start_t>
  fetch_by_start(const std::string& index, const std::string& ikey,
                 std::function<std::optional<std::pair<K, V>>(
                   const std::string&)>
                   fn) {
    auto hit = get_by(index, ikey, false);
    if (!hit)
      return std::move(hit.error());
    count_read(hit->has_value());
    if (*hit)
      return fetch_start_t{std::move(*hit), nullptr};
    auto idx = static_cast<std::size_t>(index_of(index));
    load_ptr st;
    {
      std::lock_guard<std::mutex> guard{flights_.mutex()};
      auto lk = std::make_pair(idx, ikey);
      if (auto i = index_loads_.find(lk); i != index_loads_.end())
        return fetch_start_t{std::nullopt, i->second};
      // As in fetch_start: a load that just finished cached its entry first.
      if (auto again = peek_by(idx, ikey))
        return fetch_start_t{std::move(again), nullptr};
      st = flights_.make(opts_.load_timeout,
                         [this, lk] { forget(index_loads_, lk); });
      index_loads_.emplace(std::move(lk), st);
    }
    start_load(st, [ikey, fn = std::move(fn)] { return fn(ikey); });
    return fetch_start_t{std::nullopt, st};
  }

protected:
  void retire_storage() noexcept override {
    std::lock_guard<write_lock> guard{write_mtx_};
    // Loads in flight still answer their callers but cache nothing.
    mark_stale(nullptr);
    heap_.clear();
    policy_->clear();
    {
      std::unique_lock<std::shared_mutex> ig{index_mtx_};
      for (auto& m : index_maps_)
        m.clear();
    }
    for (auto& kv : entries_)
      kv.second->live = false;
    entries_.clear();
    engine_.retire_storage();
  }

  // Defined in cache.hpp, where the transfer's owner type is complete.
  caf::message transfer_message(std::uint64_t gen, const caf::actor_addr& from,
                                const caf::message& data) override;

  void owner_changed() noexcept override {
    // The sweeper was the old owner; an owner that spawn_cache starts (or
    // that takes the cache back) sets itself.
    std::lock_guard<write_lock> guard{write_mtx_};
    sweeper_ = caf::actor_addr{};
    sweeping_ = false;
  }

private:
  struct removal {
    K key;
    V value;
    removal_cause cause;
  };
  using removals = std::vector<removal>;

  using entry_map = std::unordered_map<K, slot_ptr>;
  using entry_node_type = typename entry_map::node_type;
  /// Index key -> the slot of the entry holding it.
  using index_map = std::unordered_map<std::string, slot_type*>;
  using index_node_type = typename index_map::node_type;

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

  /// The key of the entry that index `idx` maps `ikey` to, if any.
  std::optional<K> indexed_key(std::size_t idx, const std::string& ikey) {
    std::shared_lock<std::shared_mutex> guard{index_mtx_};
    auto& m = index_maps_[idx];
    if (auto i = m.find(ikey); i != m.end())
      return i->second->key;
    return std::nullopt;
  }

  /// Runs `f(removals&, bool& arm)` under the write lock, then tells the
  /// listener of the removals and arms the sweeper, even if `f` threw.
  template <class F>
  caf::expected<void> write(F&& f) {
    removals out;
    bool arm = false;
    caf::error err;
    try {
      std::lock_guard<write_lock> guard{write_mtx_};
      if (!alive())
        return caf::make_error(errc::table_gone);
      err = f(out, arm);
    } catch (...) {
      after_write(out, arm);
      throw;
    }
    after_write(out, arm);
    if (err)
      return err;
    return caf::unit;
  }

  /// The put itself, under write_mtx_, in three steps:
  ///  1. compute and allocate everything (the caller's functions, the slot,
  ///     room in the maps and the heap): a throw changes nothing;
  ///  2. remove the entries the new one displaces, each removed whole: the
  ///     holders of its unique index keys, and eviction victims until it
  ///     fits;
  ///  3. store the entry (the engine builds its node first: if that throws,
  ///     the old entry of the key is still there and tracked), then commit
  ///     the bookkeeping, which cannot fail.
  caf::error put_locked(K key, V value, std::chrono::nanoseconds ttl,
                        removals& out, bool& arm) {
    // 1. Compute.
    auto w = opts_.weigher ? opts_.weigher(key, value) : std::uint64_t{1};
    std::vector<std::optional<std::string>> ikeys;
    ikeys.reserve(opts_.indexes.size());
    for (auto& index : opts_.indexes)
      ikeys.push_back(index.key_of(key, value));
    slot_ptr old;
    if (auto i = entries_.find(key); i != entries_.end())
      old = i->second;
    if (opts_.max_weight != 0 && w > opts_.max_weight) {
      // Larger than the whole cache: evicted at once (the key's old entry,
      // if any, is replaced: gone).
      if (old)
        remove_locked(old, removal_cause::replaced, out);
      evictions_.fetch_add(1, std::memory_order_relaxed);
      if (opts_.on_removal)
        out.push_back(removal{std::move(key), std::move(value),
                              removal_cause::evicted});
      return caf::none;
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
      heap_.reserve_one();
    }
    sp->index_keys = std::move(ikeys);
    // Room in the maps, taken at commit without allocating: the writer
    // (us, under write_mtx_) is the only one to change them.
    auto entry_node = old ? entry_node_type{} : make_entry_node(key, sp);
    if (!old)
      entries_.reserve(entries_.size() + 1);
    {
      std::unique_lock<std::shared_mutex> ig{index_mtx_};
      for (std::size_t n = 0; n < sp->index_keys.size(); ++n)
        if (sp->index_keys[n])
          index_maps_[n].reserve(index_maps_[n].size() + 1);
    }
    std::optional<removal> replaced;
    if (old && opts_.on_removal)
      if (auto v = peek_value(key))
        replaced.emplace(removal{key, std::move(*v), removal_cause::replaced});
    // 2. Displace: the holders of the new entry's index keys, then victims
    // until it fits. The key's own old entry stays out of the eviction.
    for (std::size_t n = 0; n < sp->index_keys.size(); ++n) {
      auto& ik = sp->index_keys[n];
      if (!ik)
        continue;
      auto& m = index_maps_[n];
      if (auto j = m.find(*ik); j != m.end() && j->second != old.get())
        remove_locked(entries_.at(j->second->key), removal_cause::replaced,
                      out);
    }
    std::vector<index_node_type> index_nodes(sp->index_keys.size());
    for (std::size_t n = 0; n < sp->index_keys.size(); ++n) {
      auto& ik = sp->index_keys[n];
      if (ik && index_maps_[n].count(*ik) == 0)
        index_nodes[n] = make_index_node(*ik, sp.get());
    }
    if (old)
      policy_->remove(old.get());
    auto st = op_status::ok;
    try {
      auto freed = old ? old->weight : 0;
      while ((opts_.max_entries != 0
              && entries_.size() - (old ? 1 : 0) + 1 > opts_.max_entries)
             || (opts_.max_weight != 0
                 && weight_ - freed + w > opts_.max_weight)) {
        auto* victim = policy_->victim();
        if (victim == nullptr)
          break;
        try {
          remove_locked(entries_.at(victim->key), removal_cause::evicted, out,
                        false);
        } catch (...) {
          policy_->admit(victim);
          throw;
        }
      }
      // 3. Store, then commit.
      if (replaced)
        out.reserve(out.size() + 1);
      st = engine_.put(key, value_type{std::move(value), sp});
    } catch (...) {
      if (old)
        policy_->admit(old.get());
      throw;
    }
    if (st != op_status::ok) { // retired: cannot be, under write_mtx_
      if (old)
        policy_->admit(old.get());
      return caf::make_error(errc::table_gone);
    }
    commit(key, old, sp, entry_node, index_nodes, arm);
    if (replaced)
      out.push_back(std::move(*replaced));
    return caf::none;
  }

  static entry_node_type make_entry_node(const K& key, const slot_ptr& sp) {
    entry_map tmp;
    tmp.emplace(key, sp);
    return tmp.extract(tmp.begin());
  }

  static index_node_type make_index_node(const std::string& ikey,
                                         slot_type* s) {
    index_map tmp;
    tmp.emplace(ikey, s);
    return tmp.extract(tmp.begin());
  }

  /// The last step of put_locked, after the entry is stored; allocates
  /// nothing.
  void commit(const K& key, const slot_ptr& old, const slot_ptr& sp,
              entry_node_type& entry_node,
              std::vector<index_node_type>& index_nodes, bool& arm) noexcept {
    {
      std::unique_lock<std::shared_mutex> ig{index_mtx_};
      for (std::size_t n = 0; n < sp->index_keys.size(); ++n) {
        auto& ik = sp->index_keys[n];
        if (!ik)
          continue;
        if (index_nodes[n])
          index_maps_[n].insert(std::move(index_nodes[n]));
        else
          index_maps_[n].find(*ik)->second = sp.get();
      }
      if (old)
        unindex(*old);
    }
    if (old) {
      old->live = false;
      heap_.remove(old.get());
      weight_ -= old->weight;
      entries_.find(key)->second = sp;
    } else {
      entries_.insert(std::move(entry_node));
    }
    policy_->admit(sp.get());
    weight_ += sp->weight;
    if (sp->ttl != 0) {
      heap_.push(sp.get(), sp->expires.load(std::memory_order_relaxed));
      if (!sweeping_ && sweeper_) {
        sweeping_ = true;
        arm = true;
      }
    }
    max_entries_seen_ = std::max(max_entries_seen_, entries_.size());
    max_weight_seen_ = std::max(max_weight_seen_, weight_);
  }

  /// Erases the index entries that still point at `s`. Under index_mtx_.
  void unindex(slot_type& s) noexcept {
    for (std::size_t n = 0; n < s.index_keys.size(); ++n) {
      if (!s.index_keys[n])
        continue;
      auto& m = index_maps_[n];
      if (auto i = m.find(*s.index_keys[n]); i != m.end() && i->second == &s)
        m.erase(i);
    }
  }

  /// Removes one entry, whole, under write_mtx_: the listener's record is
  /// made first (it copies the value: a throw leaves the entry in place),
  /// then the entry leaves the table and every record of the cache.
  /// `unlink` is false for a victim the policy already unlinked. Takes `sp`
  /// by value: the entries' map holds the slot until the very end.
  void remove_locked(slot_ptr sp, removal_cause cause, removals& out,
                     bool unlink = true) {
    auto& s = *sp;
    if (opts_.on_removal)
      if (auto v = peek_value(s.key))
        out.push_back(removal{s.key, std::move(*v), cause});
    if (unlink)
      policy_->remove(&s);
    heap_.remove(&s);
    s.live = false;
    weight_ -= s.weight;
    if (!s.index_keys.empty()) {
      std::unique_lock<std::shared_mutex> ig{index_mtx_};
      unindex(s);
    }
    engine_.modify(s.key, [&](const value_type* cur, std::optional<value_type>&) {
      return cur != nullptr && cur->slot == sp ? write_action::erase
                                               : write_action::keep;
    });
    if (cause == removal_cause::evicted)
      evictions_.fetch_add(1, std::memory_order_relaxed);
    else if (cause == removal_cause::expired)
      expirations_.fetch_add(1, std::memory_order_relaxed);
    entries_.erase(s.key);
  }

  void after_write(removals& out, bool arm) {
    if (arm) {
      if (auto sweeper = caf::actor_cast<caf::actor>(sweeper_))
        caf::anon_send(sweeper, cache_tick_atom_v);
    }
    if (opts_.on_removal)
      for (auto& r : out)
        opts_.on_removal(r.key, r.value, r.cause);
  }

  /// Marks the in-flight load of `*key` stale (every load if null) and every
  /// index load, whose key is unknown until it ends: their values are
  /// handed to their callers but not cached. Under write_mtx_.
  void mark_stale(const K* key) noexcept {
    std::lock_guard<std::mutex> lg{flights_.mutex()};
    if (key == nullptr) {
      for (auto& kv : loads_)
        kv.second->stale = true;
    } else if (auto i = loads_.find(*key); i != loads_.end()) {
      i->second->stale = true;
    }
    for (auto& kv : index_loads_)
      kv.second->stale = true;
  }

  template <class Map, class Key>
  static void forget(Map& loads, const Key& key) {
    loads.erase(key);
  }

  /// A copy of the key's value, expired or not, without counting.
  std::optional<V> peek_value(const K& key) const {
    std::optional<V> out;
    engine_.find(key, [&](const value_type* e) {
      if (e != nullptr)
        out.emplace(e->value);
    });
    return out;
  }

  /// The key's live value without counting or touching.
  std::optional<V> peek(const K& key) const {
    std::optional<V> out;
    auto now = now_ns();
    engine_.find(key, [&](const value_type* e) {
      if (e == nullptr)
        return;
      auto exp = e->slot->expires.load(std::memory_order_relaxed);
      if (exp == 0 || now < exp)
        out.emplace(e->value);
    });
    return out;
  }

  /// The live entry for index key `ikey`, without counting or touching
  /// (callable under the loads' mutex).
  std::optional<V> peek_by(std::size_t idx, const std::string& ikey) {
    auto pk = indexed_key(idx, ikey);
    if (!pk)
      return std::nullopt;
    auto v = peek(*pk);
    if (v) {
      auto k = opts_.indexes[idx].key_of(*pk, *v);
      if (!k || *k != ikey)
        v.reset();
    }
    return v;
  }

  /// Runs `load()` (the entry, or nullopt if an index load found none) on a
  /// loader thread, caches what it gives and wakes the callers.
  template <class Load>
  void start_load(const load_ptr& st, Load load) {
    auto self = std::static_pointer_cast<cache_core>(shared_from_this());
    run_loader([self, st, load = std::move(load)] {
      std::optional<std::pair<K, V>> entry;
      caf::error err;
      try {
        entry = load();
      } catch (const std::exception& e) {
        err = caf::make_error(errc::load_failed, std::string{e.what()});
      } catch (...) {
        err = caf::make_error(errc::load_failed, "unknown exception");
      }
      self->finish_load(st, std::move(entry), std::move(err));
    });
  }

  /// Caches a loader's entry (unless the load went stale or timed out) and
  /// wakes its callers. No entry and no error: an index load found nothing.
  void finish_load(const load_ptr& st, std::optional<std::pair<K, V>> entry,
                   caf::error err) {
    // Under the write lock, so that an invalidation (which marks the load
    // stale under the same lock) is either before the put or after it. The
    // loads' mutex is not held across the put: see write_lock.hpp. Cached
    // before the load leaves its map (complete, below): a fetch that finds
    // no load in flight then finds the value.
    caf::expected<void> res = caf::unit;
    try {
      res = write([&](removals& out, bool& arm) -> caf::error {
        bool stale = false;
        if (flights_.done(st, stale) || stale || !entry)
          return caf::none; // timed out, overtaken, or nothing to cache
        return put_locked(entry->first, entry->second,
                          std::chrono::nanoseconds{-1}, out, arm);
      });
    } catch (const std::exception& e) { // a weigher, index or listener
      res = caf::make_error(errc::load_failed, std::string{e.what()});
    } catch (...) {
      res = caf::make_error(errc::load_failed, "unknown exception");
    }
    if (!res && res.error() != errc::table_gone) {
      err = std::move(res.error());
      entry.reset();
    }
    // Removal listeners ran first (in write): a caller, once woken, sees
    // their effects.
    flights_.complete(st, entry ? std::make_optional(std::move(entry->second))
                                : std::nullopt,
                      std::move(err));
  }

  options_type opts_;
  engine_type engine_;
  caf::actor_addr sweeper_; // guarded by write_mtx_

  write_lock write_mtx_;
  std::unique_ptr<eviction<slot_type>> policy_;
  bool locked_touch_ = false;
  entry_map entries_;
  std::uint64_t weight_ = 0;
  std::size_t max_entries_seen_ = 0;
  std::uint64_t max_weight_seen_ = 0;
  expiry_heap<slot_type> heap_;
  bool sweeping_ = false;

  std::shared_mutex index_mtx_;
  std::vector<index_map> index_maps_;

  single_flight<V> flights_;
  std::unordered_map<K, load_ptr> loads_;
  /// Index loads in flight, by (index, index key).
  std::map<std::pair<std::size_t, std::string>, load_ptr> index_loads_;

  std::array<stat_stripe, 16> stripes_;
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> expirations_{0};
};

} // namespace cachet::detail
