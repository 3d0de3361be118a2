// A handle by name that rides through owner restarts.
//
// `named_table` resolves its name on first use and keeps the handle; when an
// operation answers table_gone (the owner died and a supervisor restarts it),
// it resolves the name again and retries, so callers keep working with no
// action of their own. A failed operation had no effect, so the retry never
// applies anything twice.
//
// During the gap between the old table's death and the new table's
// registration, an operation answers no_such_table (or table_gone) at once —
// or, if the handle was made with a `wait`, keeps retrying for up to that
// long before it does. With the `heir` policy there is no gap: the table
// lives on in its heir and is never gone.
//
// Rights are those of non-owners (see table.hpp), checked against the mode
// of whichever table currently holds the name. Every operation of
// `table<K, V, Kind>` is there, the same code (detail::ops_of) serving
// both, so the two cannot drift apart.
//
// Thread safety: a named_table caches a handle, so give each thread its own
// copy (copies are cheap); the tables themselves are safe to share.
//
// Example:
//   cachet::named_table<std::string, int> scores{sys, "scores", 5ms};
//   auto v = scores.lookup("alice");   // works across restarts of the owner
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "cachet/table.hpp"

namespace cachet {

/// A handle on whatever table is registered under a name; every operation of
/// `table<K, V, Kind>` (table.hpp), retried across owner restarts.
template <class K, class V, class Kind>
class named_table
  : public detail::ops_of<named_table<K, V, Kind>, K, V, Kind> {
public:
  using handle_type = table<K, V, Kind>;

  /// Operations retry after table_gone, so they consume no argument.
  static constexpr bool retries = true;

  /// A handle on whatever table holds `name` in `sys`. Operations falling
  /// into a restart's gap retry for up to `wait` before failing.
  named_table(caf::actor_system& sys, std::string name,
              std::chrono::milliseconds wait = std::chrono::milliseconds{0})
    : sys_(&sys), name_(std::move(name)), wait_(wait) {
    // nop
  }

  const std::string& name() const noexcept {
    return name_;
  }

  /// The table currently registered under the name.
  caf::expected<handle_type> resolve() const {
    clock::time_point deadline{};
    if (auto err = current(deadline))
      return err;
    return *cached_;
  }

  /// Runs `f` on the current table's core with the rights of non-owners;
  /// on table_gone resolves the name again and retries, until `wait` has
  /// passed. The operations call it for every operation.
  template <class F>
  auto with(bool write, F&& f) const
    -> decltype(f(std::declval<typename handle_type::core_type&>())) {
    clock::time_point deadline{};
    for (;;) {
      if (auto err = current(deadline))
        return err;
      auto res = cached_->with(write, f);
      if (res || !gone(res.error()))
        return res;
      cached_.reset(); // the owner died: find its successor
    }
  }

  /// Runs `f` on the current table's core whatever the rights (info).
  template <class F>
  auto with_any(F&& f) const
    -> decltype(f(std::declval<typename handle_type::core_type&>())) {
    clock::time_point deadline{};
    if (auto err = current(deadline))
      return err;
    return cached_->with_any(f);
  }

private:
  using clock = std::chrono::steady_clock;

  static bool gone(const caf::error& err) {
    return err == errc::table_gone || err == errc::no_such_table;
  }

  /// Makes `cached_` the table the name resolves to, unless it holds one;
  /// in a restart's gap retries until `deadline`, which it sets on first
  /// need (now + wait).
  caf::error current(clock::time_point& deadline) const {
    if (cached_)
      return caf::none;
    for (unsigned attempt = 0;; ++attempt) {
      auto found = whereis<K, V, Kind>(*sys_, name_);
      if (found) {
        cached_ = std::move(*found);
        return caf::none;
      }
      if (deadline == clock::time_point{})
        deadline = clock::now() + wait_;
      if (!gone(found.error()) || clock::now() >= deadline)
        return std::move(found.error());
      // In a restart's gap: the owner's start takes microseconds.
      if (attempt < 16)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds{50});
    }
  }

  caf::actor_system* sys_;
  std::string name_;
  std::chrono::milliseconds wait_;
  mutable std::optional<handle_type> cached_;
};

} // namespace cachet
