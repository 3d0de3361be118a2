// The cache's owner actor (a GenServer holding a cache): `spawn_cache`
// starts one that serves every cache operation over messages (cache_actor)
// and sweeps expired entries on a timer.
//
// Messages work in every access mode, one at a time. A fetch that misses
// does not block the owner: the loader runs on a loader thread and the owner
// answers the caller (and every caller of the same key meanwhile) when it
// is done.
//
// Example:
//   auto owner = cachet::spawn_cache(sys, opts);
//   cachet::blocking_caller caller{sys};
//   auto url = caller.call(*owner, 1s, cachet::fetch_atom_v, std::string{"abc"},
//     cachet::cache_loader<std::string, std::string>{query_db});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "cachet/atoms.hpp"
#include "cachet/cache.hpp"
#include "cachet/detail/inspect_std.hpp"
#include "cachet/detail/owner_start.hpp"
#include "cachet/detail/respond.hpp"

namespace cachet {

namespace detail {

/// Names an in-flight load in the owner's internal messages.
template <class K, class V>
struct load_token {
  std::shared_ptr<load_state<V>> st;
};

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
typename cache_actor<K, V>::behavior_type
cache_owner(typename cache_actor<K, V>::template stateful_pointer<
              cache_owner_state<K, V>>
              self,
            owned_cache<K, V>&& owned) {
  self->state.cache.emplace(std::move(owned));
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
    core->flights().on_done(st, [addr, token] {
      if (auto a = caf::actor_cast<caf::actor>(addr))
        caf::anon_send(a, load_done_atom_v, token);
    });
    if (opts->load_timeout.count() > 0)
      self->delayed_send(self, opts->load_timeout, load_late_atom_v, token);
  };
  // Starts a fetch: the cached value at once, or a promise kept in `waits`.
  auto fetch = [=](auto&& started, auto& waits, auto rp) -> decltype(rp) {
    auto st = std::move(started->second);
    watch(st);
    waits[st.get()].push_back(rp);
    return rp;
  };
  return {
    [=](lookup_atom, const K& k) { return respond(c->get(k)); },
    [=](lookup_by_atom, const std::string& index, const std::string& ikey) {
      return respond(c->get_by(index, ikey));
    },
    [=](fetch_atom, const K& k, const cache_loader<K, V>& l) -> caf::result<V> {
      auto started = core->fetch_start(k, l.fn);
      if (!started)
        return std::move(started.error());
      if (started->first)
        return std::move(*started->first);
      return fetch(started, self->state.waiting,
                   self->template make_response_promise<V>());
    },
    [=](fetch_by_atom, const std::string& index, const std::string& ikey,
        const cache_index_loader<K, V>& l) -> caf::result<std::optional<V>> {
      auto started = core->fetch_by_start(index, ikey, l.fn);
      if (!started)
        return std::move(started.error());
      if (started->first || !started->second)
        return std::move(started->first);
      return fetch(started, self->state.waiting_by,
                   self->template make_response_promise<std::optional<V>>());
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
      auto res = core->flights().outcome(token.st);
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
      core->flights().fail_timeout(token.st);
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
  bool sweeps = opts.sweep_interval.count() > 0;
  auto op = detail::open_cache(sys, std::move(opts));
  if (!op)
    return std::move(op.error());
  auto core = op->core;
  auto owner = detail::spawn_holding<cache_actor<K, V>,
                                     detail::cache_owner_state<K, V>,
                                     owned_cache<K, V>>(
    sys, std::move(*op), [](auto self, owned_cache<K, V>&& owned) {
      return detail::cache_owner<K, V>(self, std::move(owned));
    });
  // The first TTL'd put wakes the owner (its init is lazy) with a tick.
  if (owner && sweeps)
    core->set_sweeper(caf::actor_cast<caf::actor_addr>(*owner));
  return owner;
}

} // namespace cachet

namespace caf {

template <class K, class V>
struct allowed_unsafe_message_type<cachet::detail::load_token<K, V>>
  : std::true_type {};

} // namespace caf
