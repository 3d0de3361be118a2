// Constant snapshots: a read-mostly value published by its owner and read by
// anyone with no lock and no copy (Erlang's persistent_term, Elixir's
// fastglobal).
//
// The owner holds an `owned_snapshot<T>` and `publish`es whole new versions;
// everyone else holds a `snapshot<T>` (copyable) and reads the current
// version. Publishing swaps one pointer atomically: a reader sees the old
// version or the new one, never a mixture, and a reader still holding the
// old version keeps it valid:
//
// * `visit(f)` / `read()`: the fast path. The reader pins the thread's epoch
//   (one store to its own cache line, epoch.hpp), loads the pointer and
//   calls `f(const T&)` or hands out a guard; the old version is freed only
//   after every reader pinned at the swap has unpinned. No lock, no shared
//   write, no copy.
// * `acquire()`: a `shared_ptr<const T>` to keep a version for as long as you
//   like (one atomic increment on a shared counter: slower under contention,
//   as cachet-bench shows).
//
// Access modes as for tables: `private_` lets only the owner read,
// `protected_` (default) lets anyone read, `public_` lets anyone publish too.
//
// Over messages: `spawn_snapshot` starts an owner actor holding the snapshot
// (snapshot_actor<T>): `(lookup_atom)` answers a copy of the current
// version and `(publish_atom, T)` publishes, in every mode; the snapshot
// ends with the actor. Direct handles come from whereis_snapshot as usual.
//
// Thread safety: every operation is safe from any thread. A read guard must
// be released on the thread that took it, and should be short: while it is
// alive the thread stays pinned, which delays reclamation (memory only).
//
// Example:
//   auto config = cachet::make_snapshot(sys, {"config"}, settings{...});
//   config->publish(settings{...});                    // owner: swap
//   auto cfg = cachet::whereis_snapshot<settings>(sys, "config");
//   cfg->visit([](const settings& s) { use(s.limit); });  // anyone: no copy
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cachet/access.hpp"
#include "cachet/detail/cache_support.hpp"
#include "cachet/detail/epoch.hpp"
#include "cachet/errc.hpp"
#include "cachet/owner.hpp"

CAF_ADD_ATOM(cachet, cachet, publish_atom, "publish")

namespace cachet {

/// How to create a snapshot.
struct snapshot_options {
  /// Registry name (whereis_snapshot), empty for an anonymous snapshot.
  std::string name;
  access mode = access::protected_;
};

namespace detail {

template <class T>
class snapshot_core {
public:
  struct version {
    std::shared_ptr<const T> value;
  };

  snapshot_core(snapshot_options opts, T initial)
    : opts_(std::move(opts)),
      current_(new version{std::make_shared<const T>(std::move(initial))}) {
    // nop
  }

  ~snapshot_core() {
    // Every reader holds a handle, hence this core: none is inside.
    delete current_.load(std::memory_order_relaxed);
  }

  snapshot_core(const snapshot_core&) = delete;
  snapshot_core& operator=(const snapshot_core&) = delete;

  void publish(T value) {
    auto* next = new version{std::make_shared<const T>(std::move(value))};
    auto* prev = current_.exchange(next, std::memory_order_acq_rel);
    publishes_.fetch_add(1, std::memory_order_relaxed);
    retire(prev); // freed once no reader pinned before the swap remains
  }

  /// Call pinned: the current version, valid until the pin ends.
  const T& current() const noexcept {
    return *current_.load(std::memory_order_acquire)->value;
  }

  std::shared_ptr<const T> acquire() const {
    epoch_guard pin;
    return current_.load(std::memory_order_acquire)->value;
  }

  std::uint64_t publishes() const noexcept {
    return publishes_.load(std::memory_order_relaxed);
  }

  const snapshot_options& options() const noexcept {
    return opts_;
  }

  bool alive() const noexcept {
    return alive_.load(std::memory_order_acquire);
  }

  void owner_gone(const caf::actor_system* sys) {
    alive_.store(false, std::memory_order_release);
    if (sys != nullptr && !opts_.name.empty())
      unregister_cache(*sys, opts_.name, this);
  }

private:
  snapshot_options opts_;
  std::atomic<version*> current_;
  std::atomic<bool> alive_{true};
  std::atomic<std::uint64_t> publishes_{0};
};

template <class Derived, class T>
class snapshot_ops {
public:
  using value_type = T;

  /// A pinned view of the version current when it was taken: `*r`, `r->`.
  /// Move-only; release it on the thread that took it.
  class reader {
  public:
    explicit reader(const snapshot_core<T>& core) : value_(nullptr) {
      epoch_pin();
      value_ = &core.current();
    }

    reader(reader&& other) noexcept : value_(other.value_) {
      other.value_ = nullptr;
    }

    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;
    reader& operator=(reader&&) = delete;

    ~reader() {
      if (value_ != nullptr)
        epoch_unpin();
    }

    const T& operator*() const noexcept {
      return *value_;
    }

    const T* operator->() const noexcept {
      return value_;
    }

  private:
    const T* value_;
  };

  bool alive() const noexcept {
    return core_ && core_->alive();
  }

  access mode() const noexcept {
    return core_->options().mode;
  }

  const std::string& name() const noexcept {
    return core_->options().name;
  }

  /// Calls `f(const T&)` on the current version, with no lock and no copy;
  /// returns what `f` returns. Needs read rights.
  template <class F>
  auto visit(F&& f) const
    -> caf::expected<std::conditional_t<
      std::is_void_v<std::invoke_result_t<F, const T&>>, void,
      std::invoke_result_t<F, const T&>>> {
    if (auto err = check(false))
      return err;
    epoch_guard pin;
    if constexpr (std::is_void_v<std::invoke_result_t<F, const T&>>) {
      f(core_->current());
      return caf::unit;
    } else {
      return f(core_->current());
    }
  }

  /// A guard on the current version (no copy). Needs read rights.
  caf::expected<reader> read() const {
    if (auto err = check(false))
      return err;
    return reader{*core_};
  }

  /// The current version, kept alive for as long as the pointer is. Needs
  /// read rights.
  caf::expected<std::shared_ptr<const T>> acquire() const {
    if (auto err = check(false))
      return err;
    return core_->acquire();
  }

  /// Replaces the value for every later reader; readers of the previous
  /// version keep it. Needs write rights (the owner; others if public).
  caf::expected<void> publish(T value) {
    if (auto err = check(true))
      return err;
    core_->publish(std::move(value));
    return caf::unit;
  }

  /// Number of publishes since creation.
  std::uint64_t publishes() const noexcept {
    return core_->publishes();
  }

protected:
  snapshot_ops() = default;

  explicit snapshot_ops(std::shared_ptr<snapshot_core<T>> core)
    : core_(std::move(core)) {
    // nop
  }

  caf::error check(bool write) const {
    if (!core_ || !core_->alive())
      return caf::make_error(errc::table_gone);
    if (!static_cast<const Derived&>(*this).allowed(write))
      return caf::make_error(errc::access_denied);
    return caf::none;
  }

  std::shared_ptr<snapshot_core<T>> core_;
};

} // namespace detail

/// A reader's handle on someone else's snapshot: copyable; reads unless
/// private, publishes only if public.
template <class T>
class snapshot : public detail::snapshot_ops<snapshot<T>, T> {
public:
  explicit snapshot(std::shared_ptr<detail::snapshot_core<T>> core)
    : detail::snapshot_ops<snapshot<T>, T>(std::move(core)) {
    // nop
  }

  bool allowed(bool write) const noexcept {
    auto m = this->core_->options().mode;
    return write ? m == access::public_ : m != access::private_;
  }
};

/// The owner's capability: full rights, move-only; destroying it ends the
/// snapshot (handles answer table_gone, readers inside finish safely).
template <class T>
class owned_snapshot : public detail::snapshot_ops<owned_snapshot<T>, T> {
public:
  owned_snapshot(std::shared_ptr<detail::snapshot_core<T>> core,
                 const caf::actor_system* sys)
    : detail::snapshot_ops<owned_snapshot<T>, T>(std::move(core)), sys_(sys) {
    // nop
  }

  owned_snapshot(owned_snapshot&& other) noexcept
    : detail::snapshot_ops<owned_snapshot<T>, T>(std::move(other.core_)),
      sys_(other.sys_) {
    // nop
  }

  owned_snapshot(const owned_snapshot&) = delete;
  owned_snapshot& operator=(const owned_snapshot&) = delete;
  owned_snapshot& operator=(owned_snapshot&&) = delete;

  ~owned_snapshot() {
    if (this->core_)
      this->core_->owner_gone(sys_);
  }

  bool allowed(bool) const noexcept {
    return true;
  }

  /// A handle with the rights of non-owners.
  snapshot<T> share() const {
    return snapshot<T>{this->core_};
  }

private:
  const caf::actor_system* sys_;
};

/// Creates a snapshot holding `initial`, registered under `opts.name` in
/// `sys` if named. Errors: name_taken.
template <class T>
caf::expected<owned_snapshot<T>>
make_snapshot(caf::actor_system& sys, snapshot_options opts, T initial) {
  auto name = opts.name;
  auto core = std::make_shared<detail::snapshot_core<T>>(std::move(opts),
                                                         std::move(initial));
  if (!name.empty()
      && !detail::register_cache(sys, name, typeid(detail::snapshot_core<T>),
                                 core))
    return caf::make_error(errc::name_taken);
  return owned_snapshot<T>{std::move(core), &sys};
}

/// The live snapshot registered as `name`. Errors: no_such_table,
/// wrong_type.
template <class T>
caf::expected<snapshot<T>> whereis_snapshot(caf::actor_system& sys,
                                            const std::string& name) {
  bool wrong = false;
  auto core = detail::find_cache(sys, name, typeid(detail::snapshot_core<T>),
                                 wrong);
  if (wrong)
    return caf::make_error(errc::wrong_type);
  if (!core)
    return caf::make_error(errc::no_such_table);
  auto typed = std::static_pointer_cast<detail::snapshot_core<T>>(core);
  if (!typed->alive())
    return caf::make_error(errc::no_such_table);
  return snapshot<T>{std::move(typed)};
}

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
               std::shared_ptr<std::optional<owned_snapshot<T>>> slot) {
  if (!*slot) {
    self->quit(caf::make_error(errc::table_gone));
    return snapshot_actor<T>::behavior_type::make_empty_behavior();
  }
  self->state.snap.emplace(std::move(**slot));
  slot->reset();
  auto* snap = &*self->state.snap;
  return {
    [=](lookup_atom) -> caf::result<T> {
      auto copy = snap->visit([](const T& x) { return x; });
      if (!copy)
        return std::move(copy.error());
      return std::move(*copy);
    },
    [=](publish_atom, T& value) {
      return respond(snap->publish(std::move(value)));
    },
  };
}

} // namespace detail

/// Spawns an owner actor holding a new snapshot of `initial`: readers with a
/// handle (whereis_snapshot) read directly, anyone reads and publishes over
/// messages. The name is claimed before the actor starts (errc::name_taken:
/// nothing spawned); the snapshot ends with the actor.
template <class T>
caf::expected<snapshot_actor<T>>
spawn_snapshot(caf::actor_system& sys, snapshot_options opts, T initial) {
  static_assert(caf::detail::is_serializable<T>::value,
                "the snapshot owner sends values in messages: give T an "
                "inspect() overload (or use make_snapshot)");
  auto snap = make_snapshot(sys, std::move(opts), std::move(initial));
  if (!snap)
    return std::move(snap.error());
  auto slot = std::make_shared<std::optional<owned_snapshot<T>>>();
  slot->emplace(std::move(*snap));
  return sys.spawn(detail::snapshot_owner<T>, slot);
}

} // namespace cachet
