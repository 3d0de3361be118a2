// cachet's per-actor-system state: the registry of names (ETS's named_table,
// for tables, caches and snapshots alike) and the execution unit that
// blocking calls lend their thread through.
//
// The state belongs to the actor system: `cachet::configure(cfg)` loads it as
// a CAF module, so it is created with the system and destroyed with it, and a
// system created later at the same address starts empty.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace cachet::detail {

class resource_core;

/// Name -> resource, for one actor system. Holds no resource alive: a name
/// whose resource died is free again at once, even before its entry is
/// erased, which lets a restarted owner take its name straight back.
class registry {
public:
  /// Registers `core` as `name`; name_taken if a live resource holds it.
  caf::error add(const std::string& name,
                 const std::shared_ptr<resource_core>& core);

  /// Frees `name` if it still maps to `core`.
  void remove(const std::string& name, const resource_core* core) noexcept;

  /// The live resource registered as `name`, or null.
  std::shared_ptr<resource_core> find(const std::string& name) const;

  /// Moves `core` from name `from` (empty: none) to `to` in one step;
  /// name_taken if a live resource other than `core` holds `to`.
  caf::error rename(const std::string& from, const std::string& to,
                    const std::shared_ptr<resource_core>& core);

  /// Lists `core` (named or not) among the system's resources.
  void track(const std::shared_ptr<resource_core>& core);

  /// Drops `core` from the list.
  void untrack(const resource_core* core) noexcept;

  /// Every live resource listed.
  std::vector<std::shared_ptr<resource_core>> all() const;

  /// Registers `fn` as the field `name` of values of type `type` (match
  /// specs, match_spec.hpp); replaces an earlier one.
  void add_field(std::type_index type, const std::string& name,
                 std::shared_ptr<const void> fn);

  /// The field `name` of `type`, or null.
  std::shared_ptr<const void> field(std::type_index type,
                                    const std::string& name) const;

private:
  mutable std::mutex mtx_;
  std::unordered_map<std::string, std::weak_ptr<resource_core>> names_;
  std::unordered_map<const resource_core*, std::weak_ptr<resource_core>> all_;
  std::map<std::pair<std::type_index, std::string>, std::shared_ptr<const void>>
    fields_;
};

/// The registry of `sys`, or null if the system was not configured.
std::shared_ptr<registry> registry_if(caf::actor_system& sys);

/// The registry of `sys`. Resources keep it alive while registered in it, so
/// a resource that outlives its system can still free its name.
/// Throws std::logic_error if `cachet::configure` was not called on the
/// system's config (a programmer error).
std::shared_ptr<registry> registry_of(caf::actor_system& sys);

/// cachet's execution units of a system (detail/lending.hpp).
enum class unit_slot { caller, network };

/// The execution unit of `sys` in `slot` that threads are lent through,
/// made by `make` on first use; it lives as long as the system's module,
/// because an actor keeps a pointer to the unit that last ran it. Throws
/// std::logic_error as registry_of does.
caf::execution_unit&
lent_unit_of(caf::actor_system& sys, unit_slot slot,
             const std::function<std::unique_ptr<caf::execution_unit>()>& make);

} // namespace cachet::detail
