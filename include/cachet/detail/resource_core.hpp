// What every table, cache and snapshot stands on: ETS's table ownership.
//
// A resource has a name in its actor system's registry (or none), an access
// mode, and an owner actor. The owner's termination, for any reason, passes
// the resource to a live heir or retires it: every handle then answers
// table_gone, and the storage is freed once no reader is inside. Ownership
// also moves by give_away, and back from the heir to a restarted owner.
//
// Ownership is versioned: every change of owner bumps the generation, and an
// owner capability (owned_table, owned_cache, owned_snapshot) is valid only
// for the generation it was made for. A binding attached to the owner actor
// remembers its generation, so a binding that fires late (the heir exiting
// long after a restarted owner took the resource back) does nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <type_traits>

#include <caf/actor_addr.hpp>
#include <caf/attachable.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/type_nr.hpp>

#include "cachet/access_mode.hpp"
#include "cachet/ownership_options.hpp"
#include "cachet/table_info.hpp"

namespace cachet::detail {

class registry;

/// ETS's rights rule, the one check every handle makes: the owner may do
/// anything; others read unless the mode is private and write only if it is
/// public.
constexpr bool permits(access_mode mode, bool owner, bool write) noexcept {
  if (owner)
    return true;
  return write ? mode == access_mode::public_
               : mode != access_mode::private_;
}

/// A type as CAF names it in messages: its builtin number (0 if none) and
/// its RTTI, which uniform_type_info_map::portable_name takes.
struct type_ref {
  std::uint16_t nr;
  const std::type_info* ti;
};

template <class T>
type_ref type_ref_of() noexcept {
  if constexpr (std::is_void_v<T>)
    return {0, &typeid(void)};
  else
    return {caf::type_nr<T>::value, &typeid(T)};
}

/// The type-erased ownership of one table, cache or snapshot.
class resource_core : public std::enable_shared_from_this<resource_core> {
public:
  resource_core(ownership_options opts, std::type_index type);

  resource_core(const resource_core&) = delete;
  resource_core& operator=(const resource_core&) = delete;

  virtual ~resource_core();

  /// The registry name (empty if anonymous); rename may change it.
  std::string name() const;

  access_mode mode() const noexcept {
    return mode_;
  }

  /// The concrete core's type: lookups by name check it.
  std::type_index type() const noexcept {
    return type_;
  }

  /// The current owner's generation; 0 before the first owner.
  std::uint64_t generation() const noexcept {
    return gen_.load(std::memory_order_acquire);
  }

  /// The owner, or an invalid address before binding.
  caf::actor_addr owner() const;

  /// The heir named at creation, if any.
  const caf::actor_addr& heir() const noexcept {
    return heir_;
  }

  /// ETS rename: registers the resource as `to` and frees its old name.
  /// Errors: name_taken (a live resource holds `to`), invalid_argument
  /// (`to` is empty), table_gone. Throws std::logic_error, as naming does,
  /// if the system was not configured.
  caf::error rename(const std::string& to);

  /// The resource's description; false if it is not a table (caches and
  /// snapshots are not listed by all_tables).
  bool info(table_info& out) const;

  /// False once retired.
  virtual bool alive() const noexcept = 0;

  /// The registry the resource is listed in; null if its system was not
  /// configured, or once retired.
  std::shared_ptr<registry> listed_in() const;

  /// What the resource holds, for a peer node to check against the type it
  /// expects: ETS's kind ("set", ...), "cache" or "snapshot", and the key
  /// and value types (the key is void for a snapshot).
  struct held_types_t {
    const char* kind;
    type_ref key;
    type_ref value;
  };
  virtual held_types_t held_types() const noexcept = 0;

  /// Registers the name (if any) in `sys`'s registry, which also lists
  /// anonymous resources of a configured system (all_tables); name_taken if
  /// a live resource holds the name.
  caf::error register_name(caf::actor_system& sys);

  /// Makes `owner` the first owner, tied to its lifetime. Returns the new
  /// generation, claimed by the caller.
  std::uint64_t bind(caf::abstract_actor& owner);

  /// The owner of generation `gen` is gone (it exited, or dropped its
  /// capability): the resource passes to its heir if alive, else retires.
  /// Allocates nothing: what the heir needs was prepared when `gen` began.
  void owner_gone(std::uint64_t gen) noexcept;

  /// Whether `heir` holds this resource, inherited from a dead owner.
  bool held_by(const caf::actor_addr& heir) const;

  /// Hands a resource that `heir` inherited to `claimant` (a restarted owner
  /// taking it back). Returns the new generation, or nothing if the
  /// resource is not held by that heir.
  std::optional<std::uint64_t> reclaim(caf::abstract_actor& claimant,
                                       const caf::actor_addr& heir);

  /// ETS give_away: passes the resource from generation `gen` to `to`, who
  /// is sent a transfer carrying `data`. Errors: table_gone; access_denied
  /// (`gen` is not the owner's any more); invalid_owner (`to` is invalid,
  /// dead, on another node, or the owner already), with nothing changed.
  caf::error give_away(std::uint64_t gen, const caf::actor& to,
                       caf::message data);

  /// Claims generation `gen` for an owner capability, once.
  bool claim(std::uint64_t gen);

  /// Retires the storage and frees the name. Idempotent.
  void retire() noexcept;

protected:
  /// Frees the storage once no reader is inside; every later operation
  /// answers table_gone. Called once, by retire.
  virtual void retire_storage() noexcept = 0;

  /// The typed transfer message (transfer.hpp) for the owner of `gen`.
  virtual caf::message transfer_message(std::uint64_t gen,
                                        const caf::actor_addr& from,
                                        const caf::message& data)
    = 0;

  /// Fills in what only the concrete core knows (kind, size, memory);
  /// false if it is not a table.
  virtual bool describe(table_info&) const {
    return false;
  }

  /// Told after ownership moved to a new owner or heir, with no lock held.
  virtual void owner_changed() noexcept {
    // nop
  }

private:
  /// The heir's binding and transfer message for generation `next`,
  /// prepared while the owner of `next - 1` lives.
  struct handoff {
    std::unique_ptr<caf::attachable> binding;
    caf::mailbox_element_ptr note;
  };

  handoff prepare_handoff(std::uint64_t next, const caf::actor_addr& from);

  std::string name_; // guarded by mtx_
  const access_mode mode_;
  const std::type_index type_;
  const caf::actor_addr heir_;
  const caf::message heir_data_;
  std::atomic<std::uint64_t> gen_{0};
  mutable std::mutex mtx_;
  std::mutex rename_mtx_; // one rename at a time
  caf::actor_addr owner_;         // guarded by mtx_
  std::uint64_t claimed_gen_ = 0; // guarded by mtx_
  handoff handoff_;               // guarded by mtx_
  bool retired_ = false;          // guarded by mtx_
  std::shared_ptr<registry> registry_;
};

} // namespace cachet::detail
