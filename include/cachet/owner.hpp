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
// (tab2file, dump.hpp). Queries travel as callable types, local messages
// only: (select_atom, match<K, V>) answers the matching objects, with a
// limit a page whose continuation is sent back for the next one; a
// match_spec (match_spec.hpp) is the declarative form of select,
// select_count and select_delete, which crosses the network. A bag's
// owner answers lookup and take with all of a key's objects.
//
// Under a supervisor, `owner_child` (table_policy.hpp) starts a generic owner
// whose table is fresh, inherited (heir) or reloaded after a restart.
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
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cachet/atoms.hpp"
#include "cachet/detail/inspect_std.hpp"
#include "cachet/detail/owner_start.hpp"
#include "cachet/detail/respond.hpp"
#include "cachet/dump.hpp"
#include "cachet/match_spec.hpp"
#include "cachet/exit_reason.hpp"
#include "cachet/table.hpp"

namespace cachet {

/// A function applied by the owner to a key's value (update by function over
/// messages). Local messages only.
template <class V>
struct updater {
  std::function<void(V&)> fn;
};

/// A predicate the owner runs on each object (select, select_count and
/// select_delete over messages). Local messages only: the distribution
/// layer has a declarative form that can cross the network.
template <class K, class V>
struct match {
  std::function<bool(view_t<K>, view_t<V>)> fn;
};

/// The new value for an entry, or nullopt to keep it (select_replace over
/// messages). Local messages only.
template <class K, class V>
struct replacer {
  std::function<std::optional<V>(view_t<K>, view_t<V>)> fn;
};

/// The page a select with a limit answers over messages: matching objects,
/// and the continuation to send back for the next page.
template <class K, class V, class Kind = set<>>
using entry_page = typename owned_table<K, V, Kind>::template page_type<
  std::pair<K, V>>;

template <class K, class V, class Kind = set<>>
using entry_continuation = typename owned_table<K, V, Kind>::
  template continuation_type<std::pair<K, V>>;

namespace detail {

/// What every kind's owner serves.
template <class K, class V, class Kind>
using common_signatures = caf::detail::type_list<
  typename caf::replies_to<insert_atom, K, V>::template with<void>,
  typename caf::replies_to<insert_atom, std::vector<std::pair<K, V>>>::template with<
    void>,
  typename caf::replies_to<insert_new_atom, K, V>::template with<void>,
  typename caf::replies_to<insert_new_atom,
                  std::vector<std::pair<K, V>>>::template with<void>,
  typename caf::replies_to<member_atom, K>::template with<bool>,
  typename caf::replies_to<size_atom>::template with<std::uint64_t>,
  typename caf::replies_to<clear_atom>::template with<void>,
  typename caf::replies_to<to_list_atom>::template with<std::vector<std::pair<K, V>>>,
  typename caf::replies_to<dump_atom, std::string>::template with<
    std::uint64_t>,
  typename caf::replies_to<first_atom>::template with<std::optional<K>>,
  typename caf::replies_to<next_atom, K>::template with<std::optional<K>>,
  typename caf::replies_to<select_atom, match<K, V>>::template with<
    std::vector<std::pair<K, V>>>,
  typename caf::replies_to<select_atom, match<K, V>, std::uint64_t>::
    template with<entry_page<K, V, Kind>>,
  typename caf::replies_to<select_atom, entry_continuation<K, V, Kind>>::
    template with<entry_page<K, V, Kind>>,
  typename caf::replies_to<select_count_atom, match<K, V>>::template with<
    std::uint64_t>,
  typename caf::replies_to<select_delete_atom, match<K, V>>::template with<
    std::uint64_t>,
  typename caf::replies_to<select_atom, match_spec>::template with<
    std::vector<std::pair<K, V>>>,
  typename caf::replies_to<select_count_atom, match_spec>::template with<
    std::uint64_t>,
  typename caf::replies_to<select_delete_atom, match_spec>::template with<
    std::uint64_t>>;

/// One object per key: set and ordered_set.
template <class K, class V>
using single_signatures = caf::detail::type_list<
  typename caf::replies_to<lookup_atom, K>::template with<std::optional<V>>,
  typename caf::replies_to<erase_atom, K>::template with<bool>,
  typename caf::replies_to<take_atom, K>::template with<std::optional<V>>,
  typename caf::replies_to<update_counter_atom, K, counter_op>::template with<
    std::int64_t>,
  typename caf::replies_to<update_counter_atom, K, counter_op, V>::template with<
    std::int64_t>,
  typename caf::replies_to<update_atom, K, updater<V>>::template with<bool>,
  typename caf::replies_to<select_replace_atom, replacer<K, V>>::template with<
    std::uint64_t>>;

template <class K, class V>
using ordered_signatures = caf::detail::type_list<
  typename caf::replies_to<last_atom>::template with<std::optional<K>>,
  typename caf::replies_to<prev_atom, K>::template with<std::optional<K>>,
  typename caf::replies_to<range_atom, K, K, std::uint64_t>::template with<
    std::vector<std::pair<K, V>>>>;

/// A list of objects per key: bag and duplicate_bag.
template <class K, class V>
using bag_signatures = caf::detail::type_list<
  typename caf::replies_to<lookup_atom, K>::template with<std::vector<V>>,
  typename caf::replies_to<erase_atom, K>::template with<std::uint64_t>,
  typename caf::replies_to<erase_object_atom, K, V>::template with<
    std::uint64_t>,
  typename caf::replies_to<take_atom, K>::template with<std::vector<V>>>;

template <class K, class V, class Kind>
struct owner_signatures_of {
  using type = caf::detail::tl_concat_t<common_signatures<K, V, Kind>,
                                        single_signatures<K, V>>;
};

template <class K, class V, class Compare>
struct owner_signatures_of<K, V, ordered_set<Compare>> {
  using type = caf::detail::tl_concat_t<
    common_signatures<K, V, ordered_set<Compare>>, single_signatures<K, V>,
    ordered_signatures<K, V>>;
};

template <class K, class V, class Hash, class Eq>
struct owner_signatures_of<K, V, bag<Hash, Eq>> {
  using type = caf::detail::tl_concat_t<
    common_signatures<K, V, bag<Hash, Eq>>, bag_signatures<K, V>>;
};

template <class K, class V, class Hash, class Eq>
struct owner_signatures_of<K, V, duplicate_bag<Hash, Eq>> {
  using type = caf::detail::tl_concat_t<
    common_signatures<K, V, duplicate_bag<Hash, Eq>>, bag_signatures<K, V>>;
};

template <class K, class V, class Kind>
using owner_signatures = typename owner_signatures_of<K, V, Kind>::type;

template <class T>
caf::result<std::uint64_t> respond_count(caf::expected<T>&& n) {
  if (!n)
    return std::move(n.error());
  return static_cast<std::uint64_t>(*n);
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
  using detail::respond_count;
  using entries = std::vector<std::pair<K, V>>;
  using page = entry_page<K, V, Kind>;
  using cont = entry_continuation<K, V, Kind>;
  auto* t = &tab;
  auto entries_of = [](const match<K, V>& m) {
    return [fn = m.fn](view_t<K> k,
                       view_t<V> v) -> std::optional<std::pair<K, V>> {
      if (!fn(k, v))
        return std::nullopt;
      return std::pair<K, V>{K(k), V(v)};
    };
  };
  auto common = std::make_tuple(
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
    [t](member_atom, const K& k) { return respond(t->member(k)); },
    [t](size_atom) { return respond_count(t->size()); },
    [t](clear_atom) { return respond(t->clear()); },
    [t](to_list_atom) { return respond(t->to_list()); },
    [t](dump_atom, const std::string& path) {
      return respond(tab2file(*t, path));
    },
    [t](first_atom) { return respond(t->first()); },
    [t](next_atom, const K& k) { return respond(t->next(k)); },
    [t, entries_of](select_atom, const match<K, V>& m) {
      return respond(t->select(entries_of(m)));
    },
    [t, entries_of](select_atom, const match<K, V>& m,
                    std::uint64_t limit) -> caf::result<page> {
      return respond(t->select(entries_of(m), static_cast<std::size_t>(limit)));
    },
    [t](select_atom, cont& c) -> caf::result<page> {
      return respond(t->select(std::move(c)));
    },
    [t](select_count_atom, const match<K, V>& m) {
      return respond_count(t->select_count(m.fn));
    },
    [t](select_delete_atom, const match<K, V>& m) {
      return respond_count(t->select_delete(m.fn));
    },
    [t, entries_of](select_atom,
                    const match_spec& s) -> caf::result<entries> {
      auto pred = detail::compile<K, V>(core_of(*t)->listed_in(), s);
      if (!pred)
        return std::move(pred.error());
      return respond(t->select(entries_of(match<K, V>{std::move(*pred)})));
    },
    [t](select_count_atom,
        const match_spec& s) -> caf::result<std::uint64_t> {
      auto pred = detail::compile<K, V>(core_of(*t)->listed_in(), s);
      if (!pred)
        return std::move(pred.error());
      return respond_count(t->select_count(*pred));
    },
    [t](select_delete_atom,
        const match_spec& s) -> caf::result<std::uint64_t> {
      auto pred = detail::compile<K, V>(core_of(*t)->listed_in(), s);
      if (!pred)
        return std::move(pred.error());
      return respond_count(t->select_delete(*pred));
    });
  auto make = [&](auto&&... handlers) {
    return typename Handle::behavior_type{std::move(handlers)...,
                                          std::move(extra)...};
  };
  if constexpr (is_bag_v<Kind>) {
    return std::apply(make, std::tuple_cat(
      std::move(common),
      std::make_tuple(
        [t](lookup_atom, const K& k) { return respond(t->lookup(k)); },
        [t](erase_atom, const K& k) { return respond_count(t->erase(k)); },
        [t](erase_object_atom, const K& k, const V& v) {
          return respond_count(t->erase_object(k, v));
        },
        [t](take_atom, const K& k) { return respond(t->take(k)); })));
  } else {
    auto single = std::make_tuple(
      [t](lookup_atom, const K& k) { return respond(t->lookup(k)); },
      [t](erase_atom, const K& k) { return respond(t->erase(k)); },
      [t](take_atom, const K& k) { return respond(t->take(k)); },
      [t](update_counter_atom, const K& k, const counter_op& op) {
        return respond(t->update_counter(k, op));
      },
      [t](update_counter_atom, const K& k, const counter_op& op,
          const V& dflt) { return respond(t->update_counter(k, op, dflt)); },
      [t](update_atom, const K& k, const updater<V>& f) {
        return respond(t->update(k, f.fn));
      },
      [t](select_replace_atom, const replacer<K, V>& f) {
        return respond_count(t->select_replace(f.fn));
      });
    if constexpr (is_ordered_v<Kind>) {
      return std::apply(make, std::tuple_cat(
        std::move(common), std::move(single),
        std::make_tuple(
          [t](last_atom) { return respond(t->last()); },
          [t](prev_atom, const K& k) { return respond(t->prev(k)); },
          [t](range_atom, const K& lo, const K& hi, std::uint64_t limit) {
            return respond(t->range(lo, hi, limit));
          })));
    } else {
      return std::apply(make, std::tuple_cat(std::move(common),
                                             std::move(single)));
    }
  }
}

namespace detail {

template <class K, class V, class Kind>
struct owner_state {
  std::optional<owned_table<K, V, Kind>> tab;
  static inline const char* name = "cachet.owner";
};

template <class K, class V, class Kind>
typename owner_actor<K, V, Kind>::behavior_type
generic_owner(typename owner_actor<K, V, Kind>::template stateful_pointer<
                owner_state<K, V, Kind>>
                self,
              owned_table<K, V, Kind>&& tab, const std::string& dump_file) {
  self->state.tab.emplace(std::move(tab));
  if (!dump_file.empty())
    // On a normal shutdown, save the table for the next start (a kill
    // cannot be trapped: a crash keeps the previous dump). A dump that fails
    // becomes the owner's exit reason, for its supervisor, links and
    // monitors to see, instead of a next start reloading an older file.
    self->set_exit_handler([self, dump_file](caf::exit_msg& x) {
      if (is_normal_exit(x.reason)) {
        if (auto n = tab2file(*self->state.tab, dump_file); !n) {
          self->quit(std::move(n.error()));
          return;
        }
      }
      self->quit(std::move(x.reason));
    });
  return serve<owner_actor<K, V, Kind>>(*self->state.tab);
}

/// Loads `path` into `tab` if the file exists. An error finding out, as
/// well as one loading it, is returned: io_error, bad_file.
template <class K, class V, class Kind>
caf::error reload(owned_table<K, V, Kind>& tab, const std::string& path) {
  std::error_code ec;
  auto found = std::filesystem::exists(path, ec);
  if (ec)
    return caf::make_error(errc::io_error,
                           "cannot tell whether " + path + " exists: "
                             + ec.message());
  if (!found)
    return caf::none;
  if (auto loaded = file2tab(tab, path); !loaded)
    return std::move(loaded.error());
  return caf::none;
}

} // namespace detail

/// Spawns a generic owner holding a new table. The name is claimed before
/// the actor starts, so a taken name is reported here (errc::name_taken) and
/// no actor is spawned. The table is bound to the actor from the start: it
/// dies with it, or passes to `opts.heir`. If `opts.heir` holds a table under
/// `opts.name` it inherited from a dead owner, the new owner takes that table
/// back, data and all (the heir policy). If `opts.dump_file` names a file,
/// the table starts with its contents (errors: io_error, also when the file
/// cannot even be looked up; bad_file; no actor is spawned) and the owner
/// writes it again when it shuts down normally; if that write fails, its
/// error is the owner's exit reason. Safe to call from actors and threads;
/// blocks only to read a dump file.
template <class K, class V, class Kind = set<>>
caf::expected<owner_actor<K, V, Kind>> spawn_owner(caf::actor_system& sys,
                                                   table_options opts = {}) {
  static_assert(caf::detail::is_serializable<K>::value
                  && caf::detail::is_serializable<V>::value,
                "the generic owner sends keys and values in messages: give K "
                "and V an inspect() overload (direct-only tables need none; "
                "see make_table)");
  using core_type = detail::table_core<K, V, Kind>;
  using owned = owned_table<K, V, Kind>;
  auto op = detail::open<core_type>(sys, opts.name, opts.heir, [&] {
    return std::make_shared<core_type>(opts, opts.may_grow);
  });
  if (!op)
    return std::move(op.error());
  // A table taken back from its heir keeps its data: nothing to reload.
  bool reloads = !op->heir && !opts.dump_file.empty();
  auto dump_file = opts.dump_file;
  return detail::spawn_holding<owner_actor<K, V, Kind>,
                               detail::owner_state<K, V, Kind>, owned>(
    sys, std::move(*op),
    [dump_file](auto self, owned&& tab) {
      return detail::generic_owner<K, V, Kind>(self, std::move(tab),
                                               dump_file);
    },
    [&](owned& tab) {
      return reloads ? detail::reload(tab, dump_file) : caf::error{};
    });
}

} // namespace cachet

namespace caf {

template <class V>
struct allowed_unsafe_message_type<cachet::updater<V>> : std::true_type {};

template <class K, class V>
struct allowed_unsafe_message_type<cachet::match<K, V>> : std::true_type {};

template <class K, class V>
struct allowed_unsafe_message_type<cachet::replacer<K, V>> : std::true_type {
};

template <class K, class V, class P, class R>
struct allowed_unsafe_message_type<cachet::continuation<K, V, P, R>>
  : std::true_type {};

template <class R, class C>
struct allowed_unsafe_message_type<cachet::select_page<R, C>>
  : std::true_type {};

} // namespace caf
