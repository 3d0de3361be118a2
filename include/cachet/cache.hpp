// Caches: an owned table with read-through loading, TTLs, size bounds,
// statistics, removal listeners and secondary indexes.
//
// A cache is a table whose owner actor holds the capability: it has a
// table's lifetime, registry name, access modes, heir and give_away
// (table.hpp). On top:
//
// * `fetch(key, loader)`: read-through. Concurrent misses of one key run the
//   loader once, on a loader thread (never the owner's mailbox thread), and
//   every caller gets its value. A loader that throws fails those callers
//   with errc::load_failed, one that outlives `load_timeout` with
//   errc::load_timeout; neither leaves anything behind, and loads of other
//   keys are independent.
// * TTL: per entry or a cache default; an expired entry is never returned
//   (reads check it) and the owner sweeps expired entries on a timer, a
//   bounded batch per sweep. `touch_on_read` renews an entry when read.
// * Bounds: `max_entries` and/or `max_weight` (with a weigher); never
//   exceeded, whatever the writers. Eviction by S3-FIFO (scan-resistant;
//   hits take no lock) or plain LRU (eviction.hpp).
// * `stats()`, and `on_removal(key, value, cause)` for every removal.
// * Secondary unique indexes (IdentityCache's cache_index): `get_by(index,
//   index_key)`, and read-through `fetch_by(index, index_key, loader)`;
//   kept consistent with the entries on every put, invalidation, expiry and
//   eviction.
// * Heir: `cache_options::heir` passes the whole cache to the heir when its
//   owner dies (the heir is sent a cache_transfer), and a new owner with the
//   same name and heir takes it back; `cache_child` (table_policy.hpp) is a
//   supervisor's child spec with the fresh or heir policy.
//
// Two paths, as for tables: a `cache<K, V>` handle (from owned_cache::share
// or whereis_cache) works directly from any thread, checked against the
// access mode; the owner spawned by `spawn_cache` (cache_owner.hpp) serves
// every operation over messages (cache_actor), in every mode.
//
//   operation                      needs   direct                message
//   get(k)                         read    cache::get            lookup_atom
//   get_by(index, ikey)            read    cache::get_by         lookup_by_atom
//   size(), stats()                read    cache::size/stats     size_atom, stats_atom
//   fetch(k, loader)               write   cache::fetch          fetch_atom
//   fetch_by(index, ikey, loader)  write   cache::fetch_by       fetch_by_atom
//   put(k, v[, ttl])               write   cache::put            insert_atom
//   invalidate(k)                  write   cache::invalidate     erase_atom
//   clear(), sweep()               write   cache::clear/sweep    clear_atom, sweep_atom
//
// ("read": the owner, and others unless private; "write": the owner, and
// others only when public.) So in a protected cache, callers read directly
// and send fetch to the owner on a miss, as the link cache does (stats then
// count two reads for such a miss: the get's and the fetch's).
//
// Thread safety: every operation is safe from any thread. Reads take no
// lock (with LRU, a hit takes the write lock to reorder). Writes serialize
// on the cache's write lock. Loaders, weighers and index functions must not
// use the same cache; the removal listener may.
//
// NOTE: reads return copies; fetch's loader runs on a cachet loader thread.
//
// Example:
//   cachet::cache_options<std::string, std::string> opts;
//   opts.name = "links";
//   opts.max_entries = 10'000;
//   opts.ttl = std::chrono::minutes{5};
//   auto owner = cachet::spawn_cache(sys, opts);
//   auto links = cachet::whereis_cache<std::string, std::string>(sys, "links");
//   auto hit = links->get("abc");                     // direct read
//   cachet::blocking_caller caller{sys};
//   auto url = caller.call(*owner, 1s, cachet::fetch_atom_v, std::string{"abc"},
//     cachet::cache_loader<std::string, std::string>{query_db});
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>

#include "cachet/cache_options.hpp"
#include "cachet/cache_stats.hpp"
#include "cachet/configure.hpp"
#include "cachet/detail/cache_core.hpp"
#include "cachet/detail/handle.hpp"
#include "cachet/detail/owner_start.hpp"
#include "cachet/errc.hpp"
#include "cachet/fwd.hpp"
#include "cachet/transfer.hpp"

namespace cachet {

namespace detail {

/// The operations of both cache handles; each asks `Derived::with(write,
/// f)` for the cache's core, which checks the handle's rights.
template <class Derived, class K, class V>
class cache_ops {
public:
  using key_type = K;
  using mapped_type = V;
  using core_type = cache_core<K, V>;

  /// For tests and benchmarks: the shared state.
  const std::shared_ptr<core_type>& core() const noexcept {
    return self().core_;
  }

  // -- reads: owner; others unless private -------------------------------------

  /// A copy of the key's value, or nullopt if absent or expired. Counts a
  /// hit or a miss; with touch_on_read, renews the entry's TTL.
  caf::expected<std::optional<V>> get(const K& key) const {
    return run(false, [&](core_type& c) { return c.get(key); });
  }

  /// The entry whose index key in `index` is `ikey` (IdentityCache's
  /// fetch_by_<field>), or nullopt. Errors: no_such_key for an unknown
  /// index name.
  caf::expected<std::optional<V>> get_by(const std::string& index,
                                         const std::string& ikey) const {
    return run(false, [&](core_type& c) { return c.get_by(index, ikey); });
  }

  /// Number of entries (expired ones not yet swept included).
  caf::expected<std::size_t> size() const {
    return run(false, [&](core_type& c) { return c.size(); });
  }

  /// Hit, miss, load, eviction and expiry counters.
  caf::expected<cache_stats> stats() const {
    return run(false, [&](core_type& c) -> caf::expected<cache_stats> {
      return c.stats();
    });
  }

  // -- writes: owner; others only if public ------------------------------------

  /// The key's value; on a miss, runs `loader(key)` on a loader thread,
  /// caches its value and returns it. Concurrent fetches of a missing key
  /// share one loader run. Blocks the calling thread until the value is
  /// there or the load failed (load_failed, load_timeout): from inside an
  /// actor, send fetch_atom to the owner instead.
  caf::expected<V> fetch(const K& key, std::function<V(const K&)> loader) {
    return run(true, [&](core_type& c) -> caf::expected<V> {
      auto started = c.fetch_start(key, std::move(loader));
      if (!started)
        return std::move(started.error());
      if (started->first)
        return std::move(*started->first);
      auto res = c.flights().await(started->second);
      if (!res)
        return std::move(res.error());
      return std::move(**res); // a key load ends with a value or an error
    });
  }

  /// The entry whose index key in `index` is `ikey`; on a miss, runs
  /// `loader(ikey)` on a loader thread and caches the entry it returns
  /// (IdentityCache's fetch_by_<field>). nullopt if the loader found none
  /// (nothing is cached then). Concurrent fetch_by calls of one index key
  /// share one loader run. Blocks as fetch does. Errors: as fetch, and
  /// no_such_key for an unknown index name.
  caf::expected<std::optional<V>>
  fetch_by(const std::string& index, const std::string& ikey,
           std::function<std::optional<std::pair<K, V>>(const std::string&)>
             loader) {
    return run(true, [&](core_type& c) -> caf::expected<std::optional<V>> {
      auto started = c.fetch_by_start(index, ikey, std::move(loader));
      if (!started)
        return std::move(started.error());
      if (started->first || !started->second)
        return std::move(started->first);
      return c.flights().await(started->second);
    });
  }

  /// Inserts or replaces, with the cache's default TTL.
  caf::expected<void> put(K key, V value) {
    return put(std::move(key), std::move(value), std::chrono::nanoseconds{-1});
  }

  /// Inserts or replaces with a TTL of `ttl` (zero: never expires; negative:
  /// the cache's default). Evicts first if the bounds require it. If the
  /// weigher or an index function throws, the exception propagates and the
  /// cache is unchanged.
  caf::expected<void> put(K key, V value, std::chrono::nanoseconds ttl) {
    return run(true, [&](core_type& c) {
      return c.put(std::move(key), std::move(value), ttl);
    });
  }

  /// Removes the key (cause explicit); whether it was cached.
  caf::expected<bool> invalidate(const K& key) {
    return run(true, [&](core_type& c) { return c.invalidate(key); });
  }

  /// Removes every entry (cause explicit).
  caf::expected<void> clear() {
    return run(true, [&](core_type& c) { return c.clear(); });
  }

  /// Removes expired entries, examining at most `max_work` expiry records;
  /// how many it removed. The owner spawned by spawn_cache calls it on its
  /// timer.
  caf::expected<std::size_t> sweep(std::size_t max_work = 1024) {
    return run(true, [&](core_type& c) { return c.sweep(max_work); });
  }

private:
  const Derived& self() const noexcept {
    return static_cast<const Derived&>(*this);
  }

  template <class F>
  auto run(bool write, F&& f) const {
    return self().with(write, std::forward<F>(f));
  }
};

} // namespace detail

/// A handle to someone else's cache: copyable, checked against the access
/// mode on every operation (reads unless private, writes only if public).
template <class K, class V>
class cache : public detail::handle_base<detail::cache_core<K, V>>,
              public detail::cache_ops<cache<K, V>, K, V> {
public:
  using core_type = detail::cache_core<K, V>;

  /// For internal use: handles come from owned_cache::share and whereis_cache.
  explicit cache(std::shared_ptr<core_type> core)
    : detail::handle_base<core_type>(std::move(core), 0) {
    // nop
  }

private:
  friend class detail::cache_ops<cache<K, V>, K, V>;
};

/// The owner's capability on its cache: full rights, move-only. Its
/// destruction (the owner's exit) passes the cache to a live heir or
/// retires it: every handle then answers table_gone.
template <class K, class V>
class owned_cache
  : public detail::owned_base<detail::cache_core<K, V>, cache<K, V>>,
    public detail::cache_ops<owned_cache<K, V>, K, V> {
public:
  using core_type = detail::cache_core<K, V>;

  /// For internal use: owned caches come from make_cache, spawn_cache and
  /// cache_transfer::claim.
  owned_cache(std::shared_ptr<core_type> core, std::uint64_t gen)
    : detail::owned_base<core_type, cache<K, V>>(std::move(core), gen) {
    // nop
  }

private:
  friend class detail::cache_ops<owned_cache<K, V>, K, V>;
};

template <class K, class V>
caf::message detail::cache_core<K, V>::transfer_message(
  std::uint64_t gen, const caf::actor_addr& from, const caf::message& data) {
  return make_transfer<owned_cache<K, V>>(*this, gen, from, data);
}

namespace detail {

/// The first step of creating a cache (see open): take it back from its
/// heir, or make a new one and claim its name.
template <class K, class V>
caf::expected<opening<cache_core<K, V>>>
open_cache(caf::actor_system& sys, cache_options<K, V> opts) {
  auto name = opts.name;
  auto heir = opts.heir;
  return open<cache_core<K, V>>(sys, name, heir, [&] {
    return std::make_shared<cache_core<K, V>>(std::move(opts));
  });
}

} // namespace detail

/// Creates a cache owned by `self` (call it in the owner's init; keep the
/// owned_cache in the actor's state). Such an owner serves what it likes
/// and calls sweep() itself if its entries have TTLs. If `opts.heir` holds
/// the cache named `opts.name` (its previous owner died), `self` takes it
/// back as it was, whatever the other options say. Errors: name_taken,
/// wrong_type.
template <class K, class V>
caf::expected<owned_cache<K, V>> make_cache(caf::local_actor* self,
                                            cache_options<K, V> opts) {
  auto op = detail::open_cache(self->system(), std::move(opts));
  if (!op)
    return std::move(op.error());
  auto gen = op->bind(*self);
  if (!gen)
    return std::move(gen.error());
  return owned_cache<K, V>{std::move(op->core), *gen};
}

/// The live cache registered as `name`. Errors: no_such_table, wrong_type.
template <class K, class V>
caf::expected<cache<K, V>> whereis_cache(caf::actor_system& sys,
                                         const std::string& name) {
  using core_type = detail::cache_core<K, V>;
  auto core = detail::registry_of(sys)->find(name);
  if (!core)
    return caf::make_error(errc::no_such_table);
  if (core->type() != typeid(core_type))
    return caf::make_error(errc::wrong_type);
  return cache<K, V>{std::static_pointer_cast<core_type>(std::move(core))};
}

} // namespace cachet

namespace caf {

template <class K, class V>
struct allowed_unsafe_message_type<cachet::cache_loader<K, V>>
  : std::true_type {};

template <class K, class V>
struct allowed_unsafe_message_type<cachet::cache_index_loader<K, V>>
  : std::true_type {};

template <class K, class V>
struct allowed_unsafe_message_type<cachet::cache<K, V>> : std::true_type {};

} // namespace caf
