// A snapshot's owner actor: `spawn_snapshot` starts one holding a new
// snapshot, which answers `(lookup_atom)` with a copy of the current version
// and `(publish_atom, T)` with a publish, in every access mode; the snapshot
// ends with the actor (or passes to its heir).
//
// Example:
//   auto owner = cachet::spawn_snapshot(sys, {"config"}, settings{...});
//   caf::anon_send(*owner, cachet::publish_atom_v, settings{...});
#pragma once

#include <optional>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cachet/atoms.hpp"
#include "cachet/detail/owner_start.hpp"
#include "cachet/detail/respond.hpp"
#include "cachet/snapshot.hpp"

namespace cachet {

/// The typed interface of a snapshot's owner (spawn_snapshot).
template <class T>
using snapshot_actor = caf::typed_actor<
  typename caf::replies_to<lookup_atom>::template with<T>,
  typename caf::replies_to<publish_atom, T>::template with<void>>;

namespace detail {

template <class T>
struct snapshot_owner_state {
  std::optional<owned_snapshot<T>> snap;
  static inline const char* name = "cachet.snapshot";
};

template <class T>
typename snapshot_actor<T>::behavior_type
snapshot_owner(typename snapshot_actor<T>::template stateful_pointer<
                 snapshot_owner_state<T>>
                 self,
               owned_snapshot<T>&& owned) {
  self->state.snap.emplace(std::move(owned));
  auto* snap = &*self->state.snap;
  return {
    [=](lookup_atom) { return respond(snap->visit([](const T& x) { return x; })); },
    [=](publish_atom, T& value) {
      return respond(snap->publish(std::move(value)));
    },
  };
}

} // namespace detail

/// Spawns an owner actor holding a new snapshot of `initial`: readers with a
/// handle (whereis_snapshot) read directly, anyone reads and publishes over
/// messages. The name is claimed before the actor starts (errc::name_taken:
/// nothing spawned). If `opts.heir` holds the snapshot of that name, the new
/// owner takes it back and `initial` is dropped.
template <class T>
caf::expected<snapshot_actor<T>>
spawn_snapshot(caf::actor_system& sys, snapshot_options opts, T initial) {
  static_assert(caf::detail::is_serializable<T>::value,
                "the snapshot owner sends values in messages: give T an "
                "inspect() overload (or use make_snapshot)");
  auto op = detail::open_snapshot(sys, std::move(opts), std::move(initial));
  if (!op)
    return std::move(op.error());
  return detail::spawn_holding<snapshot_actor<T>,
                               detail::snapshot_owner_state<T>,
                               owned_snapshot<T>>(
    sys, std::move(*op), [](auto self, owned_snapshot<T>&& owned) {
      return detail::snapshot_owner<T>(self, std::move(owned));
    });
}

} // namespace cachet
