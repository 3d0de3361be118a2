// What every handle of one table shares: the engine, the access mode, the
// name and the owner's address. Handles keep the core alive; the owner's
// death retires the engine (all entries freed once no reader is inside) but
// leaves the core, so late handles answer table_gone instead of crashing.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <unordered_map>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "cachet/access.hpp"
#include "cachet/detail/hash_engine.hpp"
#include "cachet/detail/skiplist_engine.hpp"
#include "cachet/kind.hpp"
#include "cachet/table_options.hpp"

namespace cachet::detail {

class registry;

/// The type-erased part of a table's shared state.
class table_core_base {
public:
  table_core_base(table_options opts, std::type_index type)
    : name_(std::move(opts.name)), mode_(opts.mode), type_(type) {
    // nop
  }

  virtual ~table_core_base();

  const std::string& name() const noexcept {
    return name_;
  }

  access mode() const noexcept {
    return mode_;
  }

  std::type_index type() const noexcept {
    return type_;
  }

  /// The owner, or an invalid address before binding.
  caf::actor_addr owner() const;

  virtual bool alive() const noexcept = 0;

  /// Registers the name (if any) in `sys`'s registry; name_taken if a live
  /// table holds it.
  caf::error register_name(caf::actor_system& sys,
                           const std::shared_ptr<table_core_base>& self);

  /// Ties the table to `owner`: its termination, for any reason, retires it.
  void bind(caf::abstract_actor& owner,
            const std::shared_ptr<table_core_base>& self);

  /// Retires the engine and frees the name. Idempotent.
  void retire() noexcept;

protected:
  virtual void retire_engine() = 0;

private:
  const std::string name_;
  const access mode_;
  const std::type_index type_;
  mutable std::mutex mtx_;
  caf::actor_addr owner_;
  std::shared_ptr<registry> registry_;
};

template <class K, class V, class Kind>
struct engine_of;

template <class K, class V, class Hash, class KeyEqual>
struct engine_of<K, V, set<Hash, KeyEqual>> {
  using type = hash_engine<K, V, Hash, KeyEqual>;
};

template <class K, class V, class Compare>
struct engine_of<K, V, ordered_set<Compare>> {
  using type = skiplist_engine<K, V, Compare>;
};

template <class K, class V, class Kind>
class table_core final : public table_core_base {
public:
  using engine_type = typename engine_of<K, V, Kind>::type;

  explicit table_core(table_options opts)
    : table_core_base(std::move(opts), typeid(table_core)) {
    // nop
  }

  engine_type& engine() noexcept {
    return engine_;
  }

  bool alive() const noexcept override {
    return engine_.alive();
  }

protected:
  void retire_engine() override {
    engine_.retire_storage();
  }

private:
  engine_type engine_;
};

/// Name -> table, per actor system. Holds no table alive.
class registry {
public:
  /// The registry of `sys`, created on first use.
  static std::shared_ptr<registry> of(caf::actor_system& sys);

  caf::error add(const std::string& name,
                 const std::shared_ptr<table_core_base>& core);

  /// Frees `name` if it still maps to `core`.
  void remove(const std::string& name, const table_core_base* core);

  /// The live table registered as `name`, or null.
  std::shared_ptr<table_core_base> find(const std::string& name) const;

private:
  mutable std::mutex mtx_;
  std::unordered_map<std::string, std::weak_ptr<table_core_base>> tables_;
};

} // namespace cachet::detail
