// Caches: an owned table with read-through loading, TTLs, size bounds,
// statistics, removal listeners and secondary indexes.
//
// A cache is a table (table.hpp) whose owner actor holds the capability, so
// it has the table's lifetime, registry name and access modes. On top:
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
// * Heir: `cache_options::heir` (a named cache) passes the whole cache to
//   the heir when its owner dies, and a new owner with the same name and
//   heir takes it back; `cache_child` is a supervisor's child spec with the
//   fresh or heir policy.
//
// Two paths, as for tables: a `cache<K, V>` handle (from owned_cache::share
// or whereis_cache) works directly from any thread, checked against the
// access mode; the owner spawned by `spawn_cache` serves every operation
// over messages (cache_actor), in every mode.
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
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "cachet/detail/cache_core.hpp"
#include "cachet/detail/cache_support.hpp"
#include "cachet/detail/inspect_std.hpp"
#include "cachet/owner.hpp"

CAF_ADD_ATOM(cachet, cachet, fetch_atom, "fetch")
CAF_ADD_ATOM(cachet, cachet, fetch_by_atom, "fetch_by")
CAF_ADD_ATOM(cachet, cachet, lookup_by_atom, "lookup_by")
CAF_ADD_ATOM(cachet, cachet, stats_atom, "stats")
CAF_ADD_ATOM(cachet, cachet, sweep_atom, "sweep")
CAF_ADD_ATOM(cachet, cachet, load_done_atom, "load_done")
CAF_ADD_ATOM(cachet, cachet, load_late_atom, "load_late")

namespace cachet {

namespace detail {

/// The operations both cache handles offer; `Derived::allowed(bool write)`
/// decides the rights and `Derived::reader()` is the table to read.
template <class Derived, class K, class V>
class cache_ops {
public:
  using key_type = K;
  using mapped_type = V;
  using core_type = cache_core<K, V>;

  // -- properties -------------------------------------------------------------

  /// True until the owner dies.
  bool alive() const noexcept {
    return core_ && core_->alive();
  }

  access mode() const noexcept {
    return core_->mode();
  }

  const std::string& name() const noexcept {
    return core_->options().name;
  }

  /// For tests and benchmarks: the shared state.
  const std::shared_ptr<core_type>& core() const noexcept {
    return core_;
  }

  // -- reads: owner; others unless private -------------------------------------

  /// A copy of the key's value, or nullopt if absent or expired. Counts a
  /// hit or a miss; with touch_on_read, renews the entry's TTL.
  caf::expected<std::optional<V>> get(const K& key) const {
    if (auto err = check(false))
      return err;
    return core_->get(self().reader(), key);
  }

  /// The entry whose index key in `index` is `ikey` (IdentityCache's
  /// fetch_by_<field>), or nullopt. Errors: no_such_key for an unknown
  /// index name.
  caf::expected<std::optional<V>> get_by(const std::string& index,
                                         const std::string& ikey) const {
    if (auto err = check(false))
      return err;
    return core_->get_by(self().reader(), index, ikey);
  }

  /// Number of entries (expired ones not yet swept included).
  caf::expected<std::size_t> size() const {
    if (auto err = check(false))
      return err;
    return self().reader().size();
  }

  /// Hit, miss, load, eviction and expiry counters.
  caf::expected<cache_stats> stats() const {
    if (auto err = check(false))
      return err;
    return core_->stats();
  }

  // -- writes: owner; others only if public ------------------------------------

  /// The key's value; on a miss, runs `loader(key)` on a loader thread,
  /// caches its value and returns it. Concurrent fetches of a missing key
  /// share one loader run. Blocks the calling thread until the value is
  /// there or the load failed (load_failed, load_timeout): from inside an
  /// actor, send fetch_atom to the owner instead.
  caf::expected<V> fetch(const K& key,
                         const std::function<V(const K&)>& loader) {
    if (auto err = check(true))
      return err;
    auto started = core_->fetch_start(self().reader(), key, loader);
    if (!started)
      return std::move(started.error());
    if (started->first)
      return std::move(*started->first);
    auto res = core_->await(started->second);
    if (!res)
      return std::move(res.error());
    return std::move(**res); // a key load ends with a value or an error
  }

  /// The entry whose index key in `index` is `ikey`; on a miss, runs
  /// `loader(ikey)` on a loader thread and caches the entry it returns
  /// (IdentityCache's fetch_by_<field>). nullopt if the loader found none
  /// (nothing is cached then). Concurrent fetch_by calls of one index key
  /// share one loader run. Blocks as fetch does. Errors: as fetch, and
  /// no_such_key for an unknown index name.
  caf::expected<std::optional<V>>
  fetch_by(const std::string& index, const std::string& ikey,
           const std::function<std::optional<std::pair<K, V>>(
             const std::string&)>& loader) {
    if (auto err = check(true))
      return err;
    auto started = core_->fetch_by_start(self().reader(), index, ikey, loader);
    if (!started)
      return std::move(started.error());
    if (started->first || !started->second)
      return std::move(started->first);
    return core_->await(started->second);
  }

  /// Inserts or replaces, with the cache's default TTL.
  caf::expected<void> put(K key, V value) {
    return put(std::move(key), std::move(value), std::chrono::nanoseconds{-1});
  }

  /// Inserts or replaces with a TTL of `ttl` (zero: never expires; negative:
  /// the cache's default). Evicts first if the bounds require it.
  caf::expected<void> put(K key, V value, std::chrono::nanoseconds ttl) {
    if (auto err = check(true))
      return err;
    return core_->put(std::move(key), std::move(value), ttl);
  }

  /// Removes the key (cause explicit); whether it was cached.
  caf::expected<bool> invalidate(const K& key) {
    if (auto err = check(true))
      return err;
    return core_->invalidate(key);
  }

  /// Removes every entry (cause explicit).
  caf::expected<void> clear() {
    if (auto err = check(true))
      return err;
    return core_->clear();
  }

  /// Removes expired entries, examining at most `max_work` expiry records;
  /// how many it removed. The owner spawned by spawn_cache calls it on its
  /// timer.
  caf::expected<std::size_t> sweep(std::size_t max_work = 1024) {
    if (auto err = check(true))
      return err;
    return core_->sweep(max_work);
  }

protected:
  cache_ops() = default;

  explicit cache_ops(std::shared_ptr<core_type> core) : core_(std::move(core)) {
    // nop
  }

  caf::error check(bool write) const {
    if (!core_ || !core_->alive())
      return caf::make_error(errc::table_gone);
    if (!self().allowed(write))
      return caf::make_error(errc::access_denied);
    return caf::none;
  }

  const Derived& self() const {
    return static_cast<const Derived&>(*this);
  }

  std::shared_ptr<core_type> core_;
};

} // namespace detail

/// A handle to someone else's cache: copyable, checked against the access
/// mode on every operation (reads unless private, writes only if public).
template <class K, class V>
class cache : public detail::cache_ops<cache<K, V>, K, V> {
public:
  using super = detail::cache_ops<cache, K, V>;
  using table_type = table<K, detail::cache_value<K, V>>;

  /// For internal use: handles come from owned_cache::share and whereis_cache.
  explicit cache(std::shared_ptr<typename super::core_type> core)
    : super(core), reader_(core->shared_table()) {
    // nop
  }

  bool allowed(bool write) const noexcept {
    auto m = this->core_->mode();
    return write ? m == access::public_ : m != access::private_;
  }

  const table_type& reader() const noexcept {
    return reader_;
  }

private:
  table_type reader_;
};

/// The owner's capability on its cache: full rights, move-only. Destroying
/// it (the owner's exit) retires the cache: every handle answers table_gone.
template <class K, class V>
class owned_cache : public detail::cache_ops<owned_cache<K, V>, K, V> {
public:
  using super = detail::cache_ops<owned_cache, K, V>;

  /// For internal use: owned caches come from make_cache and spawn_cache.
  explicit owned_cache(std::shared_ptr<typename super::core_type> core)
    : super(std::move(core)) {
    // nop
  }

  owned_cache(owned_cache&& other) noexcept = default;

  owned_cache& operator=(owned_cache&& other) noexcept {
    if (this != &other) {
      release();
      this->core_ = std::move(other.core_);
    }
    return *this;
  }

  owned_cache(const owned_cache&) = delete;
  owned_cache& operator=(const owned_cache&) = delete;

  ~owned_cache() {
    release();
  }

  /// A handle with the rights of non-owners.
  cache<K, V> share() const {
    return cache<K, V>{this->core_};
  }

  bool allowed(bool) const noexcept {
    return true;
  }

  const auto& reader() const noexcept {
    return this->core_->owner_table();
  }

private:
  void release() noexcept {
    if (this->core_)
      this->core_->owner_gone();
  }
};

namespace detail {

/// Names an in-flight load in the owner's internal messages.
template <class K, class V>
struct load_token {
  std::shared_ptr<load_state<V>> st;
};

/// A cache about to get its owner: the one its heir holds (a restart with
/// the heir policy), or a new table with its name claimed.
template <class K, class V>
struct cache_opening {
  std::shared_ptr<cache_core<K, V>> held;
  std::shared_ptr<typename cache_core<K, V>::table_core_type> fresh;
};

/// First step of creating a cache, before its owner exists. Errors:
/// name_taken.
template <class K, class V>
caf::expected<cache_opening<K, V>>
open_cache(caf::actor_system& sys, const cache_options<K, V>& opts) {
  using core_type = cache_core<K, V>;
  if (!opts.name.empty()) {
    bool wrong = false;
    auto other = find_cache(sys, opts.name, typeid(core_type), wrong);
    if (wrong)
      return caf::make_error(errc::name_taken);
    if (other) {
      auto held = std::static_pointer_cast<core_type>(std::move(other));
      if (held->held_by(opts.heir))
        return cache_opening<K, V>{std::move(held), nullptr};
      if (held->alive())
        return caf::make_error(errc::name_taken);
    }
  }
  // The table's own heir lets a restarted owner reclaim it (adopt).
  auto heir = opts.name.empty() ? caf::actor_addr{} : opts.heir;
  auto tcore = std::make_shared<typename core_type::table_core_type>(
    table_options{opts.name, opts.mode, heir, {}, {}});
  if (auto err = tcore->register_name(sys))
    return err;
  return cache_opening<K, V>{nullptr, std::move(tcore)};
}

/// Second step: makes `owner` the owner of what open_cache prepared.
/// Errors: name_taken (lost a race for the name).
template <class K, class V>
caf::expected<std::shared_ptr<cache_core<K, V>>>
bind_cache(caf::actor_system& sys, cache_options<K, V> opts,
           cache_opening<K, V> opening, caf::abstract_actor& owner) {
  if (opening.held) {
    if (!opening.held->adopt(owner))
      return caf::make_error(errc::name_taken);
    return std::move(opening.held);
  }
  auto name = opts.name;
  auto gen = opening.fresh->bind(owner);
  auto core = std::make_shared<cache_core<K, V>>(std::move(opts),
                                                 std::move(opening.fresh),
                                                 gen);
  if (!name.empty()) {
    core->set_registration(&sys);
    if (!register_cache(sys, name, typeid(cache_core<K, V>), core)) {
      core->retire();
      return caf::make_error(errc::name_taken);
    }
  }
  return core;
}

} // namespace detail

/// The typed interface of a cache's owner (spawn_cache). `(insert_atom, k,
/// v, ttl)` puts with a TTL; erase_atom invalidates; lookup_by_atom takes
/// (index name, index key). The last three messages are internal.
template <class K, class V>
using cache_actor = caf::typed_actor<
  typename caf::replies_to<lookup_atom, K>::template with<std::optional<V>>,
  typename caf::replies_to<lookup_by_atom, std::string,
                           std::string>::template with<std::optional<V>>,
  typename caf::replies_to<fetch_atom, K,
                           cache_loader<K, V>>::template with<V>,
  typename caf::replies_to<fetch_by_atom, std::string, std::string,
                           cache_index_loader<K, V>>::template with<
    std::optional<V>>,
  typename caf::replies_to<insert_atom, K, V>::template with<void>,
  typename caf::replies_to<insert_atom, K, V,
                           caf::timespan>::template with<void>,
  typename caf::replies_to<erase_atom, K>::template with<bool>,
  typename caf::replies_to<size_atom>::template with<std::uint64_t>,
  typename caf::replies_to<clear_atom>::template with<void>,
  typename caf::replies_to<stats_atom>::template with<cache_stats>,
  typename caf::replies_to<sweep_atom>::template with<std::uint64_t>,
  caf::reacts_to<cache_tick_atom>,
  caf::reacts_to<load_done_atom, detail::load_token<K, V>>,
  caf::reacts_to<load_late_atom, detail::load_token<K, V>>>;

/// Creates a cache owned by `self` (call it in the owner's init; keep the
/// owned_cache in the actor's state). Such an owner serves what it likes
/// and calls sweep() itself if its entries have TTLs. If `opts.heir` holds
/// the cache named `opts.name` (its previous owner died), `self` takes it
/// back as it was, whatever the other options say. Errors: name_taken.
template <class K, class V>
caf::expected<owned_cache<K, V>> make_cache(caf::local_actor* self,
                                            cache_options<K, V> opts) {
  auto opening = detail::open_cache(self->system(), opts);
  if (!opening)
    return std::move(opening.error());
  auto core = detail::bind_cache(self->system(), std::move(opts),
                                 std::move(*opening), *self);
  if (!core)
    return std::move(core.error());
  return owned_cache<K, V>{std::move(*core)};
}

/// The live cache registered as `name`. Errors: no_such_table, wrong_type.
template <class K, class V>
caf::expected<cache<K, V>> whereis_cache(caf::actor_system& sys,
                                         const std::string& name) {
  bool wrong = false;
  auto core = detail::find_cache(sys, name,
                                 typeid(detail::cache_core<K, V>), wrong);
  if (wrong)
    return caf::make_error(errc::wrong_type);
  if (!core)
    return caf::make_error(errc::no_such_table);
  auto typed = std::static_pointer_cast<detail::cache_core<K, V>>(core);
  if (!typed->alive())
    return caf::make_error(errc::no_such_table);
  return cache<K, V>{std::move(typed)};
}

namespace detail {

template <class K, class V>
struct cache_owner_state {
  std::optional<owned_cache<K, V>> cache;
  /// Message callers waiting for a load, by load: fetch callers and
  /// fetch_by callers.
  std::unordered_map<const void*, std::vector<caf::typed_response_promise<V>>>
    waiting;
  std::unordered_map<const void*,
                     std::vector<caf::typed_response_promise<std::optional<V>>>>
    waiting_by;
  static inline const char* name = "cachet.cache";
};

template <class K, class V>
using cache_slot_handoff = std::shared_ptr<std::optional<owned_cache<K, V>>>;

template <class K, class V>
typename cache_actor<K, V>::behavior_type
cache_owner(typename cache_actor<K, V>::template stateful_pointer<
              cache_owner_state<K, V>>
              self,
            cache_slot_handoff<K, V> slot) {
  if (!*slot) {
    self->quit(caf::make_error(errc::table_gone));
    return cache_actor<K, V>::behavior_type::make_empty_behavior();
  }
  self->state.cache.emplace(std::move(**slot));
  slot->reset();
  auto* c = &*self->state.cache;
  auto core = c->core();
  auto opts = &core->options();
  // Once per load and owner: be told when it ends, and end it at the
  // timeout. The loader itself runs on a loader thread.
  auto watch = [=](const std::shared_ptr<load_state<V>>& st) {
    auto& w = self->state;
    if (w.waiting.count(st.get()) != 0 || w.waiting_by.count(st.get()) != 0)
      return;
    load_token<K, V> token{st};
    auto addr = self->address();
    core->on_done(st, [addr, token] {
      if (auto a = caf::actor_cast<caf::actor>(addr))
        caf::anon_send(a, load_done_atom_v, token);
    });
    if (opts->load_timeout.count() > 0)
      self->delayed_send(self, opts->load_timeout, load_late_atom_v, token);
  };
  return {
    [=](lookup_atom, const K& k) { return respond(c->get(k)); },
    [=](lookup_by_atom, const std::string& index, const std::string& ikey) {
      return respond(c->get_by(index, ikey));
    },
    [=](fetch_atom, const K& k, const cache_loader<K, V>& l) -> caf::result<V> {
      auto started = core->fetch_start(c->reader(), k, l.fn);
      if (!started)
        return std::move(started.error());
      if (started->first)
        return std::move(*started->first);
      auto st = std::move(started->second);
      auto rp = self->template make_response_promise<V>();
      watch(st);
      self->state.waiting[st.get()].push_back(rp);
      return rp;
    },
    [=](fetch_by_atom, const std::string& index, const std::string& ikey,
        const cache_index_loader<K, V>& l) -> caf::result<std::optional<V>> {
      auto started = core->fetch_by_start(c->reader(), index, ikey, l.fn);
      if (!started)
        return std::move(started.error());
      if (started->first || !started->second)
        return std::move(started->first);
      auto st = std::move(started->second);
      auto rp = self->template make_response_promise<std::optional<V>>();
      watch(st);
      self->state.waiting_by[st.get()].push_back(rp);
      return rp;
    },
    [=](insert_atom, K& k, V& v) {
      return respond(c->put(std::move(k), std::move(v)));
    },
    [=](insert_atom, K& k, V& v, caf::timespan ttl) {
      return respond(c->put(std::move(k), std::move(v), ttl));
    },
    [=](erase_atom, const K& k) { return respond(c->invalidate(k)); },
    [=](size_atom) -> caf::result<std::uint64_t> {
      auto n = c->size();
      if (!n)
        return std::move(n.error());
      return static_cast<std::uint64_t>(*n);
    },
    [=](clear_atom) { return respond(c->clear()); },
    [=](stats_atom) { return respond(c->stats()); },
    [=](sweep_atom) -> caf::result<std::uint64_t> {
      auto n = c->sweep(opts->sweep_batch);
      if (!n)
        return std::move(n.error());
      return static_cast<std::uint64_t>(*n);
    },
    [=](cache_tick_atom) {
      c->sweep(opts->sweep_batch);
      if (core->keep_sweeping())
        self->delayed_send(self, opts->sweep_interval, cache_tick_atom_v);
    },
    [=](load_done_atom, const load_token<K, V>& token) {
      auto res = core->outcome(token.st);
      auto& st = self->state;
      if (auto i = st.waiting.find(token.st.get()); i != st.waiting.end()) {
        for (auto& rp : i->second) {
          if (res)
            rp.deliver(**res); // a key load ends with a value or an error
          else
            rp.deliver(res.error());
        }
        st.waiting.erase(i);
      }
      if (auto i = st.waiting_by.find(token.st.get());
          i != st.waiting_by.end()) {
        for (auto& rp : i->second) {
          if (res)
            rp.deliver(*res);
          else
            rp.deliver(res.error());
        }
        st.waiting_by.erase(i);
      }
    },
    [=](load_late_atom, const load_token<K, V>& token) {
      core->fail_timeout(token.st);
    },
  };
}

} // namespace detail

/// Spawns an owner actor holding a new cache, serving every cache operation
/// over messages (cache_actor) and sweeping expired entries every
/// `opts.sweep_interval` while entries with a TTL exist. The name is
/// claimed before the actor starts (errc::name_taken: nothing spawned). If
/// `opts.heir` holds the cache named `opts.name`, the new owner takes it
/// back (see cache_options::heir). Safe to call from actors and threads.
///
/// NOTE: while a sweep timer is pending it keeps the owner alive; an owner
/// with no TTL'd entries left, and no other reference, ends as any actor.
template <class K, class V>
caf::expected<cache_actor<K, V>> spawn_cache(caf::actor_system& sys,
                                             cache_options<K, V> opts) {
  static_assert(caf::detail::is_serializable<K>::value
                  && caf::detail::is_serializable<V>::value,
                "the cache owner sends keys and values in messages: give K "
                "and V an inspect() overload (or use make_cache)");
  auto opening = detail::open_cache(sys, opts);
  if (!opening)
    return std::move(opening.error());
  // As spawn_owner: lazy_init defers the actor's init, which takes the
  // owned cache from the slot, to its first message.
  auto slot = std::make_shared<std::optional<owned_cache<K, V>>>();
  auto owner = sys.spawn<caf::lazy_init>(detail::cache_owner<K, V>, slot);
  bool sweeps = opts.sweep_interval.count() > 0;
  auto core = detail::bind_cache(sys, std::move(opts), std::move(*opening),
                                 *caf::actor_cast<caf::abstract_actor*>(owner));
  if (!core) {
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    return std::move(core.error());
  }
  if (sweeps)
    (*core)->set_owner(owner.address());
  slot->emplace(std::move(*core));
  return owner;
}

/// A child spec for a supervisor that starts a cache owner (spawn_cache)
/// named by `opts`, restarted with `policy`: `fresh` (an empty cache) or
/// `heir` (the supervisor holds the cache while the owner restarts: no
/// entry, index or statistic is lost). `reload` is for tables with a dump
/// file: invalid_argument here.
template <class K, class V>
child_spec cache_child(std::string id, cache_options<K, V> opts,
                       table_policy policy = table_policy::fresh,
                       restart_type restart = restart_type::permanent) {
  child_spec spec;
  spec.id = std::move(id);
  spec.restart = restart;
  spec.start = [opts = std::move(opts), policy](
                 const child_context& ctx) -> caf::expected<caf::actor> {
    if (policy == table_policy::reload)
      return caf::make_error(caf::sec::invalid_argument,
                             "caches restart fresh or from their heir");
    if (opts.name.empty())
      return caf::make_error(caf::sec::invalid_argument,
                             "a supervised cache needs a name");
    auto o = opts;
    o.heir = policy == table_policy::heir ? ctx.supervisor.address()
                                          : caf::actor_addr{};
    auto owner = spawn_cache<K, V>(ctx.system, std::move(o));
    if (!owner)
      return std::move(owner.error());
    return caf::actor_cast<caf::actor>(*owner);
  };
  return spec;
}

/// A key derived from a value's content (a fragment cache's key): XXH3-64
/// of the value's bytes in CAF's binary format, so equal values give equal
/// keys. `T` needs an inspect() overload (or be a type CAF knows).
template <class T>
std::uint64_t content_key(const T& value) {
  std::vector<char> buf;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), buf};
  // Serializing into memory fails only for types CAF cannot write, which
  // do not compile; the result is ignored for that reason.
  static_cast<void>(sink(const_cast<T&>(value)));
  return detail::hash_bytes(buf.data(), buf.size());
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
struct allowed_unsafe_message_type<cachet::detail::load_token<K, V>>
  : std::true_type {};

} // namespace caf
