// Owner actors: the GenServer that creates, holds and serves a table.
//
// `spawn_owner<K, V>(sys, opts)` starts a generic owner that serves every
// table operation over messages. `owner_actor<K, V, Kind>` is its typed
// interface; each operation is a call (request/response) or, sent without
// expecting a reply, a cast:
//
//   self->request(owner, 1s, cachet::lookup_atom_v, key)
//     .then([](std::optional<V> v) { ... });      // call, from an actor
//   caf::anon_send(owner, cachet::insert_atom_v, key, value);  // cast
//   cachet::blocking_caller caller{sys};          // call, from a thread
//   auto v = caller.call(owner, 1s, cachet::lookup_atom_v, key);
//
// Messages are served by the owner itself, so they work in every access mode
// (ETS: "whatever the owner's protocol offers"), one at a time. Besides the
// table operations, (dump_atom, path) writes the table to a dump file
// (tab2file, dump.hpp).
//
// Under a supervisor, `owner_child` starts a generic owner whose table is
// fresh, inherited (heir) or reloaded after a restart; see table_policy.
//
// Writing your own owner: extend the interface and add handlers next to the
// generic ones with `serve`:
//
//   using cache_actor = cachet::owner_actor<std::string, std::string>
//     ::extend<caf::replies_to<fetch_atom, std::string>::with<std::string>>;
//   struct cache_state { std::optional<cachet::owned_table<...>> tab; };
//   cache_actor::behavior_type
//   cache(cache_actor::stateful_pointer<cache_state> self) {
//     self->state.tab.emplace(*cachet::make_table<...>(self, {"cache"}));
//     return cachet::serve<cache_actor>(*self->state.tab,
//       [=](fetch_atom, const std::string& key) { ... });
//   }
//
// NOTE: a table created in an owner dies with it; see table.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cachet/detail/inspect_std.hpp"
#include "cachet/dump.hpp"
#include "cachet/supervisor.hpp"
#include "cachet/table.hpp"

CAF_ADD_ATOM(cachet, cachet, insert_atom, "insert")
CAF_ADD_ATOM(cachet, cachet, insert_new_atom, "insert_new")
CAF_ADD_ATOM(cachet, cachet, lookup_atom, "lookup")
CAF_ADD_ATOM(cachet, cachet, member_atom, "member")
CAF_ADD_ATOM(cachet, cachet, erase_atom, "erase")
CAF_ADD_ATOM(cachet, cachet, take_atom, "take")
CAF_ADD_ATOM(cachet, cachet, update_counter_atom, "upd_ctr")
CAF_ADD_ATOM(cachet, cachet, update_atom, "update")
CAF_ADD_ATOM(cachet, cachet, size_atom, "size")
CAF_ADD_ATOM(cachet, cachet, clear_atom, "clear")
CAF_ADD_ATOM(cachet, cachet, to_list_atom, "to_list")
CAF_ADD_ATOM(cachet, cachet, first_atom, "first")
CAF_ADD_ATOM(cachet, cachet, last_atom, "last")
CAF_ADD_ATOM(cachet, cachet, next_atom, "next")
CAF_ADD_ATOM(cachet, cachet, prev_atom, "prev")
CAF_ADD_ATOM(cachet, cachet, range_atom, "range")
CAF_ADD_ATOM(cachet, cachet, dump_atom, "dump")

namespace cachet {

/// A function applied by the owner to a key's value (update by function over
/// messages). Local messages only.
template <class V>
struct updater {
  std::function<void(V&)> fn;
};

namespace detail {

template <class K, class V>
using base_signatures = caf::detail::type_list<
  typename caf::replies_to<insert_atom, K, V>::template with<void>,
  typename caf::replies_to<insert_atom, std::vector<std::pair<K, V>>>::template with<
    void>,
  typename caf::replies_to<insert_new_atom, K, V>::template with<void>,
  typename caf::replies_to<insert_new_atom,
                  std::vector<std::pair<K, V>>>::template with<void>,
  typename caf::replies_to<lookup_atom, K>::template with<std::optional<V>>,
  typename caf::replies_to<member_atom, K>::template with<bool>,
  typename caf::replies_to<erase_atom, K>::template with<bool>,
  typename caf::replies_to<take_atom, K>::template with<std::optional<V>>,
  typename caf::replies_to<update_counter_atom, K, counter_op>::template with<
    std::int64_t>,
  typename caf::replies_to<update_counter_atom, K, counter_op, V>::template with<
    std::int64_t>,
  typename caf::replies_to<update_atom, K, updater<V>>::template with<bool>,
  typename caf::replies_to<size_atom>::template with<std::uint64_t>,
  typename caf::replies_to<clear_atom>::template with<void>,
  typename caf::replies_to<to_list_atom>::template with<std::vector<std::pair<K, V>>>,
  typename caf::replies_to<dump_atom, std::string>::template with<
    std::uint64_t>>;

template <class K>
using ordered_signatures = caf::detail::type_list<
  typename caf::replies_to<first_atom>::template with<std::optional<K>>,
  typename caf::replies_to<last_atom>::template with<std::optional<K>>,
  typename caf::replies_to<next_atom, K>::template with<std::optional<K>>,
  typename caf::replies_to<prev_atom, K>::template with<std::optional<K>>>;

template <class K, class V>
using range_signatures = caf::detail::type_list<
  typename caf::replies_to<range_atom, K, K, std::uint64_t>::template with<
    std::vector<std::pair<K, V>>>>;

template <class K, class V, class Kind>
using owner_signatures = std::conditional_t<
  is_ordered_v<Kind>,
  caf::detail::tl_concat_t<base_signatures<K, V>, ordered_signatures<K>,
                           range_signatures<K, V>>,
  base_signatures<K, V>>;

/// Converts a direct result into a response.
template <class T>
caf::result<T> respond(caf::expected<T>&& x) {
  if (x)
    return std::move(*x);
  return std::move(x.error());
}

inline caf::result<void> respond(caf::expected<void>&& x) {
  if (x)
    return caf::unit;
  return x.error();
}

} // namespace detail

/// The typed interface of an owner of a `table<K, V, Kind>`.
template <class K, class V, class Kind = set<>>
using owner_actor
  = caf::detail::tl_apply_t<detail::owner_signatures<K, V, Kind>,
                            caf::typed_actor>;

/// The generic handlers for every table operation, on `tab`, plus `extra`
/// handlers of your own; returns the behavior of `Handle` (an owner_actor or
/// an extension of it). `tab` must outlive the behavior: keep it in the
/// actor's state.
template <class Handle, class K, class V, class Kind, class... Extra>
typename Handle::behavior_type serve(owned_table<K, V, Kind>& tab,
                                     Extra... extra) {
  using detail::respond;
  using entries = std::vector<std::pair<K, V>>;
  auto* t = &tab;
  auto base = std::make_tuple(
    [t](insert_atom, K& k, V& v) {
      return respond(t->insert(std::move(k), std::move(v)));
    },
    [t](insert_atom, entries& xs) { return respond(t->insert(std::move(xs))); },
    [t](insert_new_atom, K& k, V& v) {
      return respond(t->insert_new(std::move(k), std::move(v)));
    },
    [t](insert_new_atom, entries& xs) {
      return respond(t->insert_new(std::move(xs)));
    },
    [t](lookup_atom, const K& k) { return respond(t->lookup(k)); },
    [t](member_atom, const K& k) { return respond(t->member(k)); },
    [t](erase_atom, const K& k) { return respond(t->erase(k)); },
    [t](take_atom, const K& k) { return respond(t->take(k)); },
    [t](update_counter_atom, const K& k, const counter_op& op) {
      return respond(t->update_counter(k, op));
    },
    [t](update_counter_atom, const K& k, const counter_op& op, const V& dflt) {
      return respond(t->update_counter(k, op, dflt));
    },
    [t](update_atom, const K& k, const updater<V>& f) {
      return respond(t->update(k, f.fn));
    },
    [t](size_atom) -> caf::result<std::uint64_t> {
      auto n = t->size();
      if (!n)
        return n.error();
      return static_cast<std::uint64_t>(*n);
    },
    [t](clear_atom) { return respond(t->clear()); },
    [t](to_list_atom) { return respond(t->to_list()); },
    [t](dump_atom, const std::string& path) {
      return respond(tab2file(*t, path));
    });
  auto make = [&](auto&&... handlers) {
    return typename Handle::behavior_type{std::move(handlers)...,
                                          std::move(extra)...};
  };
  if constexpr (is_ordered_v<Kind>) {
    return std::apply(make, std::tuple_cat(
      std::move(base),
      std::make_tuple(
        [t](first_atom) { return respond(t->first()); },
        [t](last_atom) { return respond(t->last()); },
        [t](next_atom, const K& k) { return respond(t->next(k)); },
        [t](prev_atom, const K& k) { return respond(t->prev(k)); },
        [t](range_atom, const K& lo, const K& hi, std::uint64_t limit) {
          return respond(t->range(lo, hi, limit));
        })));
  } else {
    return std::apply(make, std::move(base));
  }
}

namespace detail {

template <class K, class V, class Kind>
struct owner_state {
  std::optional<owned_table<K, V, Kind>> tab;
  static inline const char* name = "cachet.owner";
};

/// Hands the owner capability from spawn_owner to the owner's init.
template <class K, class V, class Kind>
using owner_slot = std::shared_ptr<std::optional<owned_table<K, V, Kind>>>;

template <class K, class V, class Kind>
typename owner_actor<K, V, Kind>::behavior_type
generic_owner(typename owner_actor<K, V, Kind>::template stateful_pointer<
                owner_state<K, V, Kind>>
                self,
              owner_slot<K, V, Kind> slot, std::string dump_file) {
  if (!*slot) {
    // spawn_owner gave up on this actor (a bad dump, say) and killed it; the
    // kill is this lazy actor's first message, so init runs anyway.
    self->quit(caf::make_error(errc::table_gone));
    return owner_actor<K, V, Kind>::behavior_type::make_empty_behavior();
  }
  self->state.tab.emplace(std::move(**slot));
  slot->reset();
  if (!dump_file.empty())
    // On a normal shutdown, save the table for the next start (kill cannot
    // be trapped: a crash keeps the previous dump).
    self->set_exit_handler([=](caf::exit_msg& x) {
      if (is_normal_exit(x.reason))
        tab2file(*self->state.tab, dump_file);
      self->quit(std::move(x.reason));
    });
  return serve<owner_actor<K, V, Kind>>(*self->state.tab);
}

} // namespace detail

/// Spawns a generic owner holding a new table. The name is claimed before
/// the actor starts, so a taken name is reported here (errc::name_taken) and
/// no actor is spawned. The table is bound to the actor from the start: it
/// dies with it, or passes to `opts.heir`. If `opts.heir` holds a table under
/// `opts.name` it inherited from a dead owner, the new owner takes that table
/// back, data and all (the heir policy). If `opts.dump_file` names a file,
/// the table starts with its contents (errors: io_error, bad_file; no actor
/// is spawned) and the owner writes it again when it shuts down normally.
/// Safe to call from actors and threads; blocks only to read a dump file.
template <class K, class V, class Kind = set<>>
caf::expected<owner_actor<K, V, Kind>> spawn_owner(caf::actor_system& sys,
                                                   table_options opts = {}) {
  static_assert(caf::detail::is_serializable<K>::value
                  && caf::detail::is_serializable<V>::value,
                "the generic owner sends keys and values in messages: give K "
                "and V an inspect() overload (direct-only tables need none; "
                "see make_table)");
  using core_type = detail::table_core<K, V, Kind>;
  // An heir holding our name's table hands it to the new owner (restart
  // with the heir policy); otherwise the name must be free.
  std::shared_ptr<core_type> core;
  if (!opts.name.empty() && opts.heir) {
    if (auto held = detail::registry::of(sys)->find(opts.name)) {
      if (held->type() != typeid(core_type))
        return caf::make_error(errc::wrong_type);
      core = std::static_pointer_cast<core_type>(std::move(held));
    }
  }
  auto heir = opts.heir;
  auto dump_file = opts.dump_file;
  if (!core) {
    core = std::make_shared<core_type>(std::move(opts));
    if (auto err = core->register_name(sys))
      return err;
    heir = caf::actor_addr{};
  }
  // The owner capability exists once the table is bound to the actor, below;
  // lazy_init defers the actor's init, which takes it from the slot, to its
  // first message, which nobody can send before this function returns.
  auto slot = std::make_shared<std::optional<owned_table<K, V, Kind>>>();
  auto owner = sys.spawn<caf::lazy_init>(detail::generic_owner<K, V, Kind>,
                                         slot, dump_file);
  auto& self = *caf::actor_cast<caf::abstract_actor*>(owner);
  if (heir) {
    auto reclaimed = core->reclaim(self, heir);
    if (!reclaimed) {
      caf::anon_send_exit(owner, caf::exit_reason::kill);
      return caf::make_error(errc::name_taken);
    }
    slot->emplace(core, *reclaimed);
  } else {
    slot->emplace(core, core->bind(self));
  }
  std::error_code no_file;
  if (!dump_file.empty() && !heir
      && std::filesystem::exists(dump_file, no_file)) {
    if (auto loaded = file2tab(**slot, dump_file); !loaded) {
      slot->reset(); // ends the table
      caf::anon_send_exit(owner, caf::exit_reason::kill);
      return std::move(loaded.error());
    }
  }
  return owner;
}

/// What a restarted owner finds in its table (its supervisor restarts it).
enum class table_policy : std::uint8_t {
  /// A new, empty table: the old one died with its owner (ETS's default).
  fresh,
  /// The old table, data and all: the supervisor is the table's heir, holds
  /// it while the owner restarts and hands it to the new owner. No write
  /// acknowledged before the crash is lost, and direct readers see no gap.
  heir,
  /// A new table loaded from `table_options::dump_file` (written by
  /// dump_atom, tab2file or the owner's last normal shutdown): what was
  /// written after the last dump is lost.
  reload,
};

/// A child spec for a supervisor that starts a generic owner (spawn_owner)
/// of a table named by `opts`, restarted with `policy`.
template <class K, class V, class Kind = set<>>
child_spec owner_child(std::string id, table_options opts,
                       table_policy policy = table_policy::fresh,
                       restart_type restart = restart_type::permanent) {
  child_spec spec;
  spec.id = std::move(id);
  spec.restart = restart;
  spec.start = [opts = std::move(opts), policy](
                 const child_context& ctx) -> caf::expected<caf::actor> {
    auto o = opts;
    if (policy == table_policy::heir)
      o.heir = ctx.supervisor.address();
    if (policy != table_policy::reload)
      o.dump_file.clear();
    else if (o.dump_file.empty())
      return caf::make_error(caf::sec::invalid_argument,
                             "table_policy::reload needs a dump_file");
    auto owner = spawn_owner<K, V, Kind>(ctx.system, std::move(o));
    if (!owner)
      return std::move(owner.error());
    return caf::actor_cast<caf::actor>(*owner);
  };
  return spec;
}

} // namespace cachet

namespace caf {

template <class V>
struct allowed_unsafe_message_type<cachet::updater<V>> : std::true_type {};

} // namespace caf
