// The message a new owner gets when a table, cache or snapshot passes to it
// (ETS's {'ETS-TRANSFER', Tab, FromPid, Data}): by give_away, or as the heir
// of a dead owner. `table_transfer<K, V, Kind>`, `cache_transfer<K, V>` and
// `snapshot_transfer<T>` (fwd.hpp) name the three.
//
// `claim()` turns it into the owner capability, once. An heir that never
// claims still owns the resource (it lives as long as the heir does), and a
// restarted owner created with the same name and heir takes it back.
//
// Example (an heir's handler):
//   [=](cachet::table_transfer<std::string, int>& t) {
//     if (auto tab = t.claim()) self->state.tab.emplace(std::move(*tab));
//   }
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "cachet/errc.hpp"
#include "cachet/fwd.hpp"

namespace cachet {

/// The transfer of the resource behind `Owned` (owned_table, owned_cache or
/// owned_snapshot). Local messages only.
template <class Owned>
class transfer {
public:
  using core_type = typename Owned::core_type;

  transfer() = default;

  /// For internal use: sent by the resource's core.
  transfer(std::shared_ptr<core_type> core, std::uint64_t gen,
           caf::actor_addr from, caf::message data)
    : core_(std::move(core)),
      gen_(gen),
      from_(std::move(from)),
      data_(std::move(data)) {
    // nop
  }

  /// The resource's registry name.
  std::string name() const {
    return core_->name();
  }

  /// The previous owner.
  const caf::actor_addr& from() const {
    return from_;
  }

  /// give_away's data, or the heir_data of the options.
  const caf::message& data() const {
    return data_;
  }

  /// The owner capability. access_denied if claimed already or if ownership
  /// moved on since; table_gone if the resource died.
  caf::expected<Owned> claim() const {
    if (!core_ || !core_->alive())
      return caf::make_error(errc::table_gone);
    if (!core_->claim(gen_))
      return caf::make_error(errc::access_denied);
    return Owned{core_, gen_};
  }

private:
  std::shared_ptr<core_type> core_;
  std::uint64_t gen_ = 0;
  caf::actor_addr from_;
  caf::message data_;
};

namespace detail {

/// A resource core's transfer message for the owner of `gen`.
template <class Owned, class Core>
caf::message make_transfer(Core& core, std::uint64_t gen,
                           const caf::actor_addr& from,
                           const caf::message& data) {
  auto self = std::static_pointer_cast<Core>(core.shared_from_this());
  return caf::make_message(transfer<Owned>{std::move(self), gen, from, data});
}

} // namespace detail

} // namespace cachet

namespace caf {

// Transfers point into this process's memory.
template <class Owned>
struct allowed_unsafe_message_type<cachet::transfer<Owned>> : std::true_type {
};

} // namespace caf
