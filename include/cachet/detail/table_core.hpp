// What every handle of one table shares: the engine, the access mode, the
// name and the owner's address. Handles keep the core alive; the owner's
// death retires the engine (all entries freed once no reader is inside) but
// leaves the core, so late handles answer table_gone instead of crashing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <typeindex>
#include <unordered_map>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "cachet/access.hpp"
#include "cachet/detail/hash_engine.hpp"
#include "cachet/detail/skiplist_engine.hpp"
#include "cachet/kind.hpp"
#include "cachet/table_options.hpp"

namespace cachet::detail {

class registry;

/// The type-erased part of a table's shared state.
///
/// Ownership is versioned: every change of owner (binding at creation,
/// inheritance by the heir, give_away, a restarted owner taking the table
/// back) bumps the generation, and an owner capability is valid only for the
/// generation it was made for.
class table_core_base : public std::enable_shared_from_this<table_core_base> {
public:
  table_core_base(table_options opts, std::type_index type)
    : name_(std::move(opts.name)),
      mode_(opts.mode),
      type_(type),
      heir_(std::move(opts.heir)),
      heir_data_(std::move(opts.heir_data)) {
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

  /// The current owner's generation.
  std::uint64_t generation() const noexcept {
    return gen_.load(std::memory_order_acquire);
  }

  /// The owner, or an invalid address before binding.
  caf::actor_addr owner() const;

  virtual bool alive() const noexcept = 0;

  /// Registers the name (if any) in `sys`'s registry; name_taken if a live
  /// table holds it.
  caf::error register_name(caf::actor_system& sys);

  /// Makes `owner` the owner, tied to its lifetime: its termination, for any
  /// reason, passes the table to a live heir or retires it. Returns the new
  /// generation, claimed by the caller.
  std::uint64_t bind(caf::abstract_actor& owner);

  /// The owner of generation `gen` is gone (it exited, or dropped its
  /// capability): the table passes to its heir if alive, else retires.
  void owner_gone(std::uint64_t gen) noexcept;

  /// Hands a table that `heir` inherited to `claimant` (a restarted owner
  /// taking its table back). Returns the new generation, or nothing if the
  /// table is not held by that heir.
  std::optional<std::uint64_t> reclaim(caf::abstract_actor& claimant,
                                       const caf::actor_addr& heir);

  /// ETS give_away: passes the table from generation `gen` to `to`, who is
  /// sent a transfer with `data`. access_denied if `gen` is stale.
  caf::error give_away(std::uint64_t gen, const caf::actor& to,
                       caf::message data);

  /// Claims generation `gen` for an owner capability, once.
  bool claim(std::uint64_t gen);

  /// Retires the engine and frees the name. Idempotent.
  void retire() noexcept;

protected:
  virtual void retire_engine() = 0;

  /// Sends `to` the typed transfer message for generation `gen`.
  virtual void send_transfer(const caf::actor& to, std::uint64_t gen,
                             const caf::actor_addr& from,
                             const caf::message& data)
    = 0;

private:
  /// Ties generation `gen` to `owner`'s lifetime.
  void attach_binding(caf::abstract_actor& owner, std::uint64_t gen);

  const std::string name_;
  const access mode_;
  const std::type_index type_;
  const caf::actor_addr heir_;
  const caf::message heir_data_;
  std::atomic<std::uint64_t> gen_{0};
  mutable std::mutex mtx_;
  caf::actor_addr owner_;         // guarded by mtx_
  std::uint64_t claimed_gen_ = 0; // guarded by mtx_
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

  void send_transfer(const caf::actor& to, std::uint64_t gen,
                     const caf::actor_addr& from,
                     const caf::message& data) override;

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
