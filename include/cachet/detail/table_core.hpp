// What every handle of one table shares: its ownership (resource_core) and
// its engine. Handles keep the core alive; the owner's death retires the
// engine (all entries freed once no reader is inside) but leaves the core,
// so late handles answer table_gone instead of crashing.
#pragma once

#include <functional>
#include <memory>
#include <typeinfo>

#include "cachet/detail/bag_engine.hpp"
#include "cachet/detail/hash_engine.hpp"
#include "cachet/detail/resource_core.hpp"
#include "cachet/detail/skiplist_engine.hpp"
#include "cachet/kind.hpp"

namespace cachet::detail {

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

template <class K, class V, class Hash, class KeyEqual>
struct engine_of<K, V, bag<Hash, KeyEqual>> {
  using type = bag_engine<K, V, Hash, KeyEqual, true>;
};

template <class K, class V, class Hash, class KeyEqual>
struct engine_of<K, V, duplicate_bag<Hash, KeyEqual>> {
  using type = bag_engine<K, V, Hash, KeyEqual, false>;
};

template <class K, class V, class Kind>
class table_core final : public resource_core {
public:
  using engine_type = typename engine_of<K, V, Kind>::type;

  explicit table_core(ownership_options opts,
                      std::function<bool(std::size_t)> may_grow = {})
    : resource_core(std::move(opts), typeid(table_core)) {
    if (may_grow)
      engine_.set_growth_guard(std::move(may_grow));
  }

  engine_type& engine() noexcept {
    return engine_;
  }

  bool alive() const noexcept override {
    return engine_.alive();
  }

  held_types_t held_types() const noexcept override {
    return {kind_name<Kind>::value, type_ref_of<K>(), type_ref_of<V>()};
  }

protected:
  bool describe(table_info& out) const override {
    out.kind = kind_name<Kind>::value;
    if (engine_.size(out.size) != op_status::ok
        || engine_.memory(out.memory) != op_status::ok)
      out.size = out.memory = 0; // retired meanwhile
    return true;
  }

  void retire_storage() noexcept override {
    engine_.retire_storage();
  }

  // Defined in table.hpp, where the transfer's owner type is complete.
  caf::message transfer_message(std::uint64_t gen, const caf::actor_addr& from,
                                const caf::message& data) override;

private:
  engine_type engine_;
};

} // namespace cachet::detail
