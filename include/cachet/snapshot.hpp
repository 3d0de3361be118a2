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
// A snapshot is owned as a table is (table.hpp): created by its owner actor
// (make_snapshot, in the owner's init), it lives as long as that actor, or
// passes to its heir; give_away hands it on. Access modes as for tables:
// `private_` lets only the owner read, `protected_` (default) lets anyone
// read, `public_` lets anyone publish too.
//
// Over messages: `spawn_snapshot` (snapshot_owner.hpp) starts an owner actor
// holding the snapshot, which answers lookup and publish in every mode.
// Direct handles come from whereis_snapshot as usual.
//
// Thread safety: every operation is safe from any thread. A read guard must
// be released on the thread that took it, and should be short: while it is
// alive the thread stays pinned, which delays reclamation (memory only).
//
// Example:
//   // in the owner's init:
//   auto config = cachet::make_snapshot(self, {"config"}, settings{...});
//   config->publish(settings{...});                    // owner: swap
//   // anywhere else:
//   auto cfg = cachet::whereis_snapshot<settings>(sys, "config");
//   cfg->visit([](const settings& s) { use(s.limit); });  // anyone: no copy
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>
#include <caf/message.hpp>

#include "cachet/access_mode.hpp"
#include "cachet/configure.hpp"
#include "cachet/detail/epoch.hpp"
#include "cachet/detail/handle.hpp"
#include "cachet/detail/owner_start.hpp"
#include "cachet/detail/resource_core.hpp"
#include "cachet/errc.hpp"
#include "cachet/fwd.hpp"
#include "cachet/ownership_options.hpp"
#include "cachet/transfer.hpp"

namespace cachet {

/// How to create a snapshot: name, access mode and heir; its transfer is a
/// snapshot_transfer.
struct snapshot_options : ownership_options {
  using ownership_options::ownership_options;
};

namespace detail {

template <class T>
class snapshot_core final : public resource_core {
public:
  struct version {
    std::shared_ptr<const T> value;
  };

  snapshot_core(ownership_options opts, T initial)
    : resource_core(std::move(opts), typeid(snapshot_core)),
      current_(new version{std::make_shared<const T>(std::move(initial))}) {
    // nop
  }

  ~snapshot_core() override {
    // Every reader holds a handle, hence this core: none is inside.
    delete current_.load(std::memory_order_relaxed);
  }

  bool alive() const noexcept override {
    return current_.load(std::memory_order_acquire) != nullptr;
  }

  held_types_t held_types() const noexcept override {
    return {"snapshot", type_ref_of<void>(), type_ref_of<T>()};
  }

  /// Publishes `value` for every later reader; false once retired.
  bool publish(T value) {
    auto* next = new version{std::make_shared<const T>(std::move(value))};
    auto* prev = current_.load(std::memory_order_acquire);
    do {
      if (prev == nullptr) {
        delete next;
        return false;
      }
    } while (!current_.compare_exchange_weak(prev, next,
                                             std::memory_order_acq_rel,
                                             std::memory_order_acquire));
    publishes_.fetch_add(1, std::memory_order_relaxed);
    detail::retire(prev); // freed once no reader pinned before the swap remains
    return true;
  }

  /// Call pinned: the current version, valid until the pin ends; null once
  /// retired.
  const T* current() const noexcept {
    auto* v = current_.load(std::memory_order_acquire);
    return v != nullptr ? v->value.get() : nullptr;
  }

  std::shared_ptr<const T> acquire() const {
    epoch_guard pin;
    auto* v = current_.load(std::memory_order_acquire);
    return v != nullptr ? v->value : nullptr;
  }

  std::uint64_t publishes() const noexcept {
    return publishes_.load(std::memory_order_relaxed);
  }

protected:
  void retire_storage() noexcept override {
    if (auto* prev = current_.exchange(nullptr, std::memory_order_acq_rel))
      detail::retire(prev);
  }

  // Defined below, where the transfer's owner type is complete.
  caf::message transfer_message(std::uint64_t gen, const caf::actor_addr& from,
                                const caf::message& data) override;

private:
  std::atomic<version*> current_;
  std::atomic<std::uint64_t> publishes_{0};
};

/// The operations of both snapshot handles; each asks `Derived::with(write,
/// f)` for the snapshot's core, which checks the handle's rights.
template <class Derived, class T>
class snapshot_ops {
public:
  using value_type = T;
  using core_type = snapshot_core<T>;

  /// A pinned view of the version current when it was taken: `*r`, `r->`.
  /// Move-only; release it on the thread that took it.
  class reader {
  public:
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
    friend class snapshot_ops;

    explicit reader(const T* value) noexcept : value_(value) {
      // nop
    }

    const T* value_;
  };

  /// Calls `f(const T&)` on the current version, with no lock and no copy;
  /// returns what `f` returns. Needs read rights.
  template <class F>
  auto visit(F&& f) const
    -> caf::expected<std::conditional_t<
      std::is_void_v<std::invoke_result_t<F, const T&>>, void,
      std::invoke_result_t<F, const T&>>> {
    using result = std::invoke_result_t<F, const T&>;
    using expected_type = caf::expected<
      std::conditional_t<std::is_void_v<result>, void, result>>;
    return run(false, [&](core_type& c) -> expected_type {
      epoch_guard pin;
      auto* v = c.current();
      if (v == nullptr)
        return caf::make_error(errc::table_gone);
      if constexpr (std::is_void_v<result>) {
        f(*v);
        return caf::unit;
      } else {
        return f(*v);
      }
    });
  }

  /// A guard on the current version (no copy). Needs read rights.
  caf::expected<reader> read() const {
    return run(false, [&](core_type& c) -> caf::expected<reader> {
      epoch_pin();
      auto* v = c.current();
      if (v == nullptr) {
        epoch_unpin();
        return caf::make_error(errc::table_gone);
      }
      return reader{v};
    });
  }

  /// The current version, kept alive for as long as the pointer is. Needs
  /// read rights.
  caf::expected<std::shared_ptr<const T>> acquire() const {
    return run(false,
               [&](core_type& c) -> caf::expected<std::shared_ptr<const T>> {
                 if (auto v = c.acquire())
                   return v;
                 return caf::make_error(errc::table_gone);
               });
  }

  /// Replaces the value for every later reader; readers of the previous
  /// version keep it. Needs write rights (the owner; others if public).
  caf::expected<void> publish(T value) {
    return run(true, [&](core_type& c) -> caf::expected<void> {
      if (!c.publish(std::move(value)))
        return caf::make_error(errc::table_gone);
      return caf::unit;
    });
  }

  /// Number of publishes since creation (0 for a moved-from handle).
  std::uint64_t publishes() const noexcept {
    auto& core = static_cast<const Derived&>(*this).core_;
    return core ? core->publishes() : 0;
  }

private:
  template <class F>
  auto run(bool write, F&& f) const {
    return static_cast<const Derived&>(*this).with(write, std::forward<F>(f));
  }
};

} // namespace detail

/// A reader's handle on someone else's snapshot: copyable; reads unless
/// private, publishes only if public.
template <class T>
class snapshot : public detail::handle_base<detail::snapshot_core<T>>,
                 public detail::snapshot_ops<snapshot<T>, T> {
public:
  using core_type = detail::snapshot_core<T>;

  /// For internal use: handles come from owned_snapshot::share and
  /// whereis_snapshot.
  explicit snapshot(std::shared_ptr<core_type> core)
    : detail::handle_base<core_type>(std::move(core), 0) {
    // nop
  }

private:
  friend class detail::snapshot_ops<snapshot<T>, T>;
};

/// The owner's capability: full rights, move-only; its destruction (the
/// owner's exit) passes the snapshot to a live heir or ends it (handles
/// answer table_gone, readers inside finish safely).
template <class T>
class owned_snapshot
  : public detail::owned_base<detail::snapshot_core<T>, snapshot<T>>,
    public detail::snapshot_ops<owned_snapshot<T>, T> {
public:
  using core_type = detail::snapshot_core<T>;

  /// For internal use: owned snapshots come from make_snapshot,
  /// spawn_snapshot and snapshot_transfer::claim.
  owned_snapshot(std::shared_ptr<core_type> core, std::uint64_t gen)
    : detail::owned_base<core_type, snapshot<T>>(std::move(core), gen) {
    // nop
  }

private:
  friend class detail::snapshot_ops<owned_snapshot<T>, T>;
};

template <class T>
caf::message detail::snapshot_core<T>::transfer_message(
  std::uint64_t gen, const caf::actor_addr& from, const caf::message& data) {
  return make_transfer<owned_snapshot<T>>(*this, gen, from, data);
}

namespace detail {

/// The first step of creating a snapshot (see open).
template <class T>
caf::expected<opening<snapshot_core<T>>>
open_snapshot(caf::actor_system& sys, snapshot_options opts, T initial) {
  auto name = opts.name;
  auto heir = opts.heir;
  return open<snapshot_core<T>>(sys, name, heir, [&] {
    return std::make_shared<snapshot_core<T>>(opts, std::move(initial));
  });
}

} // namespace detail

/// Creates a snapshot holding `initial`, owned by `self` (call it in the
/// owner's init), registered under `opts.name` if named. If `opts.heir`
/// holds the snapshot of that name (its owner died), `self` takes it back
/// as it was and `initial` is dropped. Errors: name_taken, wrong_type.
template <class T>
caf::expected<owned_snapshot<T>>
make_snapshot(caf::local_actor* self, snapshot_options opts, T initial) {
  auto op = detail::open_snapshot(self->system(), std::move(opts),
                                  std::move(initial));
  if (!op)
    return std::move(op.error());
  auto gen = op->bind(*self);
  if (!gen)
    return std::move(gen.error());
  return owned_snapshot<T>{std::move(op->core), *gen};
}

/// The live snapshot registered as `name`. Errors: no_such_table,
/// wrong_type.
template <class T>
caf::expected<snapshot<T>> whereis_snapshot(caf::actor_system& sys,
                                            const std::string& name) {
  using core_type = detail::snapshot_core<T>;
  auto core = detail::registry_of(sys)->find(name);
  if (!core)
    return caf::make_error(errc::no_such_table);
  if (core->type() != typeid(core_type))
    return caf::make_error(errc::wrong_type);
  return snapshot<T>{std::static_pointer_cast<core_type>(std::move(core))};
}

} // namespace cachet
