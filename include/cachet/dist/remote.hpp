// Owners on other nodes: find one by name, then call it as a local one.
//
// `whereis_owner<K, V, Kind>(n, "b", "users", 1s)` asks node "b" for the
// owner of its table "users" and checks that it holds a table<K, V, Kind>
// (kind, key and value types, by the names CAF gives them in messages);
// `whereis_owner_anywhere` asks this node, then every live peer (Erlang's
// :global, without a cluster-wide name registry: the first node that holds
// the name answers). The handle is an owner_actor<K, V, Kind> like a local
// owner's: every table operation over messages works over it, from actors
// (`self->request(owner, timeout, ...)`) and from threads
// (`blocking_caller::call`, whose timeout turns a peer that never answers
// into errc::call_timeout, never a hang). Operations whose arguments are
// functions (update, select with a match, select_replace) do not cross the
// network.
//
// Types: what crosses the network needs CAF's type registration on every
// node. `add_table_types<K, V>(cfg, "user", "profile")` registers K and V
// (unless CAF knows them: integers, std::string, ...) and the types the
// owner's messages build from them. A lookup checks the registration first,
// here and on the peer, and answers errc::type_not_registered naming the
// type; a table of another type under the name answers errc::wrong_type
// naming what the peer holds. Custom hash and comparison functions are not
// compared.
//
// Direct reads stay with the node that holds the table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>
#include <caf/type_nr.hpp>

#include "cachet/cache_owner.hpp"
#include "cachet/detail/inspect_std.hpp"
#include "cachet/detail/resource_core.hpp"
#include "cachet/dist/node.hpp"
#include "cachet/kind.hpp"
#include "cachet/owner.hpp"

namespace cachet::dist {

namespace detail {

using cachet::detail::type_ref;
using cachet::detail::type_ref_of;

/// CAF's name for `T` in `cfg`: its builtin name or the one it was added
/// with; empty if it has neither.
std::string config_type_name(const caf::actor_system_config& cfg,
                             type_ref t);

template <class T>
void add_type(caf::actor_system_config& cfg, const std::string& name) {
  if constexpr (caf::type_nr<T>::value == 0)
    cfg.add_message_type<T>(name);
}

/// What a lookup expects: the resource's kind and types, and every type its
/// handle's messages carry.
struct expected_type {
  const char* kind;
  type_ref key;
  type_ref value;
  std::vector<type_ref> wire;
};

template <class K, class V, class Kind>
expected_type table_type() {
  expected_type t{kind_name<Kind>::value, type_ref_of<K>(), type_ref_of<V>(),
                  {type_ref_of<K>(), type_ref_of<V>(),
                   type_ref_of<std::optional<K>>(),
                   type_ref_of<std::optional<V>>(),
                   type_ref_of<std::vector<std::pair<K, V>>>()}};
  if constexpr (is_bag_v<Kind>)
    t.wire.push_back(type_ref_of<std::vector<V>>());
  return t;
}

/// `t` as peers compare it: "kind<key,value>" by CAF's names. Errors:
/// type_not_registered for any type of `t.wire` CAF cannot send.
caf::expected<std::string> signature_of(caf::actor_system& sys,
                                        const expected_type& t);

/// Asks node `node_name` (this node if it is n's own name) for the owner of
/// `name`, checked against `t`.
caf::expected<caf::strong_actor_ptr>
whereis_owner(const node& n, const std::string& node_name,
              const std::string& name, const expected_type& t,
              caf::timespan timeout);

caf::expected<caf::strong_actor_ptr>
whereis_owner_anywhere(const node& n, const std::string& name,
                       const expected_type& t, caf::timespan timeout);

/// The node actor's side: the owner of the local resource `name` if its
/// signature (kind<key,value> by CAF's names) is `signature`.
caf::expected<caf::strong_actor_ptr>
find_owner(caf::actor_system& sys, const std::string& name,
           const std::string& signature);

} // namespace detail

/// Registers what an owner_actor<K, V, Kind> (of any kind) sends and
/// receives over the network: K as `key_name` and V as `value_name` unless
/// CAF knows them (then the name is not used), and the optional, pair and
/// vector types built from them. Call on every node's config, before the
/// system, with the same names.
template <class K, class V>
void add_table_types(caf::actor_system_config& cfg,
                     const std::string& key_name = {},
                     const std::string& value_name = {}) {
  using detail::add_type;
  add_type<K>(cfg, key_name);
  add_type<V>(cfg, value_name);
  auto k = detail::config_type_name(cfg, detail::type_ref_of<K>());
  auto v = detail::config_type_name(cfg, detail::type_ref_of<V>());
  add_type<std::optional<K>>(cfg, "std::optional<" + k + ">");
  add_type<std::optional<V>>(cfg, "std::optional<" + v + ">");
  add_type<std::vector<std::pair<K, V>>>(cfg, "std::vector<std::pair<" + k
                                                + "," + v + ">>");
  add_type<std::vector<V>>(cfg, "std::vector<" + v + ">");
}

/// The owner of table `name` on node `node_name`, from a thread (it blocks
/// for at most `timeout`). Errors: no_such_node, no_such_table, wrong_type,
/// type_not_registered, call_timeout.
template <class K, class V, class Kind = set<>>
caf::expected<owner_actor<K, V, Kind>>
whereis_owner(const node& n, const std::string& node_name,
              const std::string& name, caf::timespan timeout) {
  auto ptr = detail::whereis_owner(n, node_name, name,
                                   detail::table_type<K, V, Kind>(), timeout);
  if (!ptr)
    return std::move(ptr.error());
  return caf::actor_cast<owner_actor<K, V, Kind>>(std::move(*ptr));
}

/// The owner of table `name` on whichever node holds it: this one first,
/// then the live peers. Errors as whereis_owner; no_such_table if no node
/// has it.
template <class K, class V, class Kind = set<>>
caf::expected<owner_actor<K, V, Kind>>
whereis_owner_anywhere(const node& n, const std::string& name,
                       caf::timespan timeout) {
  auto ptr = detail::whereis_owner_anywhere(
    n, name, detail::table_type<K, V, Kind>(), timeout);
  if (!ptr)
    return std::move(ptr.error());
  return caf::actor_cast<owner_actor<K, V, Kind>>(std::move(*ptr));
}

namespace detail {

template <class K, class V>
expected_type cache_type() {
  return {"cache", type_ref_of<K>(), type_ref_of<V>(),
          {type_ref_of<K>(), type_ref_of<V>(),
           type_ref_of<std::optional<V>>()}};
}

} // namespace detail

/// The owner of cache `name` (spawn_cache) on node `node_name`, from a
/// thread: get (lookup_atom), put (insert_atom, with or without a TTL),
/// invalidate (erase_atom), lookup_by, size, clear, stats and sweep work
/// over it as over a local owner. fetch and fetch_by take the loader as a
/// function, which does not travel (CAF cannot send it, and the call ends
/// in call_timeout): a partitioned cache's fetch runs the loader its home
/// registered instead. Errors as whereis_owner.
template <class K, class V>
caf::expected<cache_actor<K, V>>
whereis_cache_owner(const node& n, const std::string& node_name,
                    const std::string& name, caf::timespan timeout) {
  auto ptr = detail::whereis_owner(n, node_name, name,
                                   detail::cache_type<K, V>(), timeout);
  if (!ptr)
    return std::move(ptr.error());
  return caf::actor_cast<cache_actor<K, V>>(std::move(*ptr));
}

} // namespace cachet::dist
