// The two kinds of handle every resource has (tables, caches, snapshots): a
// shared handle with the rights of non-owners, and the owner's capability.
//
// Both hold the resource's core and an ownership generation: 0 for a shared
// handle, the owner's generation for a capability. Every operation asks
// `with(write, f)`, which makes the one rights check (permits) and runs `f`
// on the core, or answers access_denied or table_gone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include "cachet/access_mode.hpp"
#include "cachet/detail/resource_core.hpp"
#include "cachet/errc.hpp"

namespace cachet::detail {

template <class Core>
class handle_base {
public:
  using core_type = Core;

  /// Operations of a handle run once: a table_gone is final (named_table
  /// retries instead).
  static constexpr bool retries = false;

  /// True until the owner dies with no heir to take over. Informational:
  /// the resource may die right after.
  bool alive() const noexcept {
    return core_ && core_->alive();
  }

  /// The access mode; protected for a moved-from handle.
  access_mode mode() const noexcept {
    return core_ ? core_->mode() : access_mode::protected_;
  }

  /// The registry name, empty if anonymous (or moved from).
  std::string name() const {
    return core_ ? core_->name() : std::string{};
  }

  /// The owner actor (invalid once it died), for message-based access.
  caf::actor_addr owner() const {
    return core_ ? core_->owner() : caf::actor_addr{};
  }

  /// Runs `f(core)` if this handle may read (or write), else answers
  /// access_denied, or table_gone once the resource died.
  template <class F>
  auto with(bool write, F&& f) const -> decltype(f(std::declval<Core&>())) {
    if (!permitted(write))
      return denial();
    return f(*core_);
  }

  /// Runs `f(core)` whatever the rights (info is public, as in ETS), or
  /// answers table_gone for a moved-from handle.
  template <class F>
  auto with_any(F&& f) const -> decltype(f(std::declval<Core&>())) {
    if (!core_)
      return caf::make_error(errc::table_gone);
    return f(*core_);
  }

  /// For tests and tools: the shared state behind a handle.
  friend const std::shared_ptr<Core>& core_of(const handle_base& x) noexcept {
    return x.core_;
  }

  friend bool operator==(const handle_base& x, const handle_base& y) noexcept {
    return x.core_ == y.core_;
  }

  friend bool operator!=(const handle_base& x, const handle_base& y) noexcept {
    return !(x == y);
  }

protected:
  handle_base(std::shared_ptr<Core> core, std::uint64_t gen)
    : core_(std::move(core)), gen_(gen) {
    // nop
  }

  /// Whether this handle is the capability of the current owner.
  bool is_owner() const noexcept {
    return gen_ != 0 && gen_ == core_->generation();
  }

  /// ETS's rights for this handle. Inline and error-free: the check sits on
  /// every direct read.
  bool permitted(bool write) const noexcept {
    return core_ && permits(core_->mode(), is_owner(), write);
  }

  /// Why permitted() said no.
  caf::error denial() const {
    if (core_ && core_->alive())
      return caf::make_error(errc::access_denied);
    return caf::make_error(errc::table_gone);
  }

  std::shared_ptr<Core> core_;
  std::uint64_t gen_;
};

/// The owner's capability: full rights while its generation is current,
/// move-only so that exactly one exists. Destroying it ends this owner's
/// ownership as the owner's exit does: the resource passes to a live heir,
/// or retires. After give_away (or once the resource passed to an heir and
/// on) it keeps only the rights of non-owners.
template <class Core, class Shared>
class owned_base : public handle_base<Core> {
public:
  owned_base(owned_base&& other) noexcept
    : handle_base<Core>(std::move(other.core_), other.gen_) {
    // nop
  }

  owned_base(const owned_base&) = delete;
  owned_base& operator=(const owned_base&) = delete;

  /// Drops the capability this handle held (see the class comment).
  owned_base& operator=(owned_base&& other) noexcept {
    if (this != &other) {
      release();
      this->core_ = std::move(other.core_);
      this->gen_ = other.gen_;
    }
    return *this;
  }

  ~owned_base() {
    release();
  }

  /// A handle with the rights of non-owners, to give to others.
  Shared share() const {
    return Shared{this->core_};
  }

  /// ETS give_away: makes `to` (alive, local, not the owner) the owner,
  /// who is sent a transfer carrying `data`; this handle loses its owner
  /// rights. Errors: access_denied (not the owner any more), table_gone,
  /// invalid_owner (nothing changed: this handle still owns it).
  caf::error give_away(const caf::actor& to, caf::message data = {}) {
    if (!this->core_)
      return caf::make_error(errc::table_gone);
    return this->core_->give_away(this->gen_, to, std::move(data));
  }

protected:
  owned_base(std::shared_ptr<Core> core, std::uint64_t gen)
    : handle_base<Core>(std::move(core), gen) {
    // nop
  }

private:
  void release() noexcept {
    if (this->core_)
      this->core_->owner_gone(this->gen_);
  }
};

} // namespace cachet::detail
