// How tables, caches and snapshots get their owner actor, in one place: take
// the resource back from its heir or make it and claim its name (open), then
// tie it to an actor, either one that exists (make_table, make_cache,
// make_snapshot) or one spawned to hold it (spawn_owner, spawn_cache,
// spawn_snapshot: spawn_holding).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/expected.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/type_erased_tuple.hpp>

#include "cachet/atoms.hpp"
#include "cachet/detail/lending.hpp"
#include "cachet/detail/registry.hpp"
#include "cachet/detail/resource_core.hpp"
#include "cachet/errc.hpp"

namespace cachet::detail {

/// A resource about to get its owner: the one its heir holds (an owner
/// restarted with the heir policy takes it back), or a new one whose name
/// is claimed already.
template <class Core>
struct opening {
  std::shared_ptr<Core> core;
  /// Set when `core` is to be taken back from this heir.
  caf::actor_addr heir;

  /// Makes `owner` the owner; its generation. name_taken if the heir gave
  /// the resource up meanwhile.
  caf::expected<std::uint64_t> bind(caf::abstract_actor& owner) {
    if (!heir)
      return core->bind(owner);
    if (auto gen = core->reclaim(owner, heir))
      return *gen;
    return caf::make_error(errc::name_taken);
  }
};

/// The first step of creating a resource named `name` with heir `heir`: if
/// that heir holds the resource of that name (its owner died), take it back;
/// else make a new one with `make()` and register its name. Errors:
/// name_taken (a live resource holds the name), wrong_type (the heir holds
/// a resource of another type under the name).
template <class Core, class Make>
caf::expected<opening<Core>> open(caf::actor_system& sys,
                                  const std::string& name,
                                  const caf::actor_addr& heir, Make make) {
  if (!name.empty() && heir) {
    if (auto held = registry_of(sys)->find(name); held && held->held_by(heir)) {
      if (held->type() != typeid(Core))
        return caf::make_error(errc::wrong_type);
      return opening<Core>{std::static_pointer_cast<Core>(std::move(held)),
                           heir};
    }
  }
  std::shared_ptr<Core> core = make();
  if (auto err = core->register_name(sys))
    return err;
  return opening<Core>{std::move(core), caf::actor_addr{}};
}

/// The key type of what an owner holds (void for a snapshot).
template <class Owned, class = void>
struct key_of {
  using type = void;
};

template <class Owned>
struct key_of<Owned, std::void_t<typename Owned::key_type>> {
  using type = typename Owned::key_type;
};

/// Whether `msg` is an operation on one key of type K: constant time, so
/// it may run on the thread that delivers messages from other nodes.
/// Walks, batches, dumps and clears never do.
template <class K>
bool single_key_message(const caf::type_erased_tuple& msg) {
  if constexpr (std::is_void_v<K>) {
    return false;
  } else {
    if (msg.size() < 2 || !msg.match_element<caf::atom_value>(0)
        || !msg.match_element<K>(1))
      return false;
    switch (static_cast<std::uint64_t>(msg.get_as<caf::atom_value>(0))) {
      case lookup_atom::uint_value():
      case member_atom::uint_value():
      case insert_atom::uint_value():
      case insert_new_atom::uint_value():
      case erase_atom::uint_value():
      case erase_object_atom::uint_value():
      case take_atom::uint_value():
      case update_counter_atom::uint_value():
      case fetch_atom::uint_value():
        return true;
      default:
        return false;
    }
  }
}

/// The actor class of cachet's owners: CAF's stateful actor, except where a
/// message from another node wakes it. CAF delivers those on the
/// middleman's multiplexer thread (dist::configure has it deserialize
/// there) and hands the woken actor to a scheduler worker, a futex wake-up
/// away; a single-key operation runs on the multiplexer's thread instead,
/// right after the delivery (network_lender), which takes two thread
/// hand-offs out of a remote call. Only the enqueue that unblocks a
/// mailbox schedules an actor, so its messages stay serialized, and a busy
/// actor (already scheduled) just gets the message queued. K is the key
/// type of the operations that may run there (void: none).
template <class State, class Base, class K>
class owner_impl : public caf::stateful_actor<State, Base> {
public:
  using super = caf::stateful_actor<State, Base>;

  template <class... Ts>
  explicit owner_impl(caf::actor_config& cfg, Ts&&... xs)
    : super(cfg, std::forward<Ts>(xs)...),
      network_(&network_unit_of(this->home_system())),
      lender_(network_lender(this->home_system())) {
    // nop
  }

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* eu) override {
    if (eu != nullptr && eu == network_->load(std::memory_order_relaxed)
        && single_key_message<K>(x->content()))
      eu = lender_;
    super::enqueue(std::move(x), eu);
  }

private:
  const std::atomic<caf::execution_unit*>* network_;
  caf::execution_unit* lender_;
};

/// Hands the owner capability from spawn_holding to the owner's init.
template <class Owned>
using owner_slot = std::shared_ptr<std::optional<Owned>>;

template <class Handle, class State, class Owned, class Init>
typename Handle::behavior_type
run_owner(owner_impl<State, typename Handle::base,
                     typename key_of<Owned>::type>* self,
          owner_slot<Owned> slot, Init init) {
  if (!*slot) {
    // spawn_holding gave up on this actor and killed it; the kill is this
    // lazy actor's first message, so init runs anyway.
    self->quit(caf::make_error(errc::table_gone));
    return Handle::behavior_type::make_empty_behavior();
  }
  Owned owned = std::move(**slot);
  slot->reset();
  return init(self, std::move(owned));
}

/// Spawns an actor of interface `Handle` and state `State` that owns what
/// `op` opened: `init(self, Owned&&)` gives its behavior. The actor's init
/// is deferred (lazy_init) to its first message, which nobody can send
/// before this returns, so it takes a capability already bound to it.
/// `prepare(Owned&)` runs first (to load a dump, say); its error kills the
/// actor, ends a new resource, and is returned.
template <class Handle, class State, class Owned, class Core, class Init,
          class Prepare>
caf::expected<Handle> spawn_holding(caf::actor_system& sys, opening<Core> op,
                                    Init init, Prepare prepare) {
  auto slot = std::make_shared<std::optional<Owned>>();
  auto owner = sys.spawn<caf::lazy_init>(run_owner<Handle, State, Owned, Init>,
                                         slot, std::move(init));
  auto gen = op.bind(*caf::actor_cast<caf::abstract_actor*>(owner));
  if (!gen) {
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    return std::move(gen.error());
  }
  auto core = op.core;
  slot->emplace(std::move(op.core), *gen);
  if (auto err = prepare(**slot)) {
    if (!op.heir)
      core->retire(); // a new resource that failed to start: not the heir's
    slot->reset();
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    return err;
  }
  return owner;
}

/// spawn_holding with nothing to prepare.
template <class Handle, class State, class Owned, class Core, class Init>
caf::expected<Handle> spawn_holding(caf::actor_system& sys, opening<Core> op,
                                    Init init) {
  return spawn_holding<Handle, State, Owned>(
    sys, std::move(op), std::move(init), [](Owned&) { return caf::error{}; });
}

} // namespace cachet::detail
