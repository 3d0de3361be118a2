// Owners under a supervisor: what a restarted owner finds in its table, and
// the child specs that start the generic table owner (owner_child) and the
// cache owner (cache_child) with such a policy.
//
// Example:
//   auto sup = cachet::start_supervisor(sys, {cachet::strategy::one_for_one},
//     {cachet::owner_child<std::string, int>("scores", {"scores"},
//                                            cachet::table_policy::heir)});
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/expected.hpp>
#include <caf/sec.hpp>

#include "cachet/cache_owner.hpp"
#include "cachet/owner.hpp"
#include "cachet/supervisor.hpp"

namespace cachet {

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

namespace detail {

/// A child spec whose start function `start(ctx)` spawns an owner and
/// returns its typed handle (or an error).
template <class Start>
child_spec owner_spec(std::string id, restart_type restart, Start start) {
  child_spec spec;
  spec.id = std::move(id);
  spec.restart = restart;
  spec.start = [start = std::move(start)](
                 const child_context& ctx) -> caf::expected<caf::actor> {
    auto owner = start(ctx);
    if (!owner)
      return std::move(owner.error());
    return caf::actor_cast<caf::actor>(*owner);
  };
  return spec;
}

} // namespace detail

/// A child spec for a supervisor that starts a generic owner (spawn_owner)
/// of a table named by `opts`, restarted with `policy`.
template <class K, class V, class Kind = set<>>
child_spec owner_child(std::string id, table_options opts,
                       table_policy policy = table_policy::fresh,
                       restart_type restart = restart_type::permanent) {
  return detail::owner_spec(
    std::move(id), restart,
    [opts = std::move(opts), policy](const child_context& ctx)
      -> caf::expected<owner_actor<K, V, Kind>> {
      auto o = opts;
      if (policy == table_policy::heir)
        o.heir = ctx.supervisor.address();
      if (policy != table_policy::reload)
        o.dump_file.clear();
      else if (o.dump_file.empty())
        return caf::make_error(caf::sec::invalid_argument,
                               "table_policy::reload needs a dump_file");
      return spawn_owner<K, V, Kind>(ctx.system, std::move(o));
    });
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
  return detail::owner_spec(
    std::move(id), restart,
    [opts = std::move(opts), policy](
      const child_context& ctx) -> caf::expected<cache_actor<K, V>> {
      if (policy == table_policy::reload)
        return caf::make_error(caf::sec::invalid_argument,
                               "caches restart fresh or from their heir");
      if (opts.name.empty())
        return caf::make_error(caf::sec::invalid_argument,
                               "a supervised cache needs a name");
      auto o = opts;
      o.heir = policy == table_policy::heir ? ctx.supervisor.address()
                                            : caf::actor_addr{};
      return spawn_cache<K, V>(ctx.system, std::move(o));
    });
}

} // namespace cachet
