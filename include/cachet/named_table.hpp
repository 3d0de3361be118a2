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
// of whichever table currently holds the name.
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

template <class K, class V, class Kind = set<>>
class named_table {
public:
  using handle_type = table<K, V, Kind>;
  using entry = std::pair<K, V>;

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
  caf::expected<handle_type> resolve() {
    return with([](handle_type& t) -> caf::expected<handle_type> { return t; });
  }

  // -- the operations of table<K, V, Kind> -------------------------------------

  caf::expected<void> insert(const K& key, const V& value) {
    return with([&](handle_type& t) { return t.insert(key, value); });
  }

  caf::expected<void> insert(const std::vector<entry>& entries) {
    return with([&](handle_type& t) { return t.insert(entries); });
  }

  caf::expected<void> insert_new(const K& key, const V& value) {
    return with([&](handle_type& t) { return t.insert_new(key, value); });
  }

  caf::expected<void> insert_new(const std::vector<entry>& entries) {
    return with([&](handle_type& t) { return t.insert_new(entries); });
  }

  caf::expected<bool> erase(const K& key) {
    return with([&](handle_type& t) { return t.erase(key); });
  }

  caf::expected<std::optional<V>> take(const K& key) {
    return with([&](handle_type& t) { return t.take(key); });
  }

  caf::expected<std::int64_t> update_counter(const K& key, counter_op op = {}) {
    return with([&](handle_type& t) { return t.update_counter(key, op); });
  }

  caf::expected<std::int64_t> update_counter(const K& key, counter_op op,
                                             const V& default_value) {
    return with(
      [&](handle_type& t) { return t.update_counter(key, op, default_value); });
  }

  template <class F>
  caf::expected<bool> update(const K& key, F&& f) {
    return with([&](handle_type& t) { return t.update(key, f); });
  }

  caf::expected<void> clear() {
    return with([](handle_type& t) { return t.clear(); });
  }

  caf::expected<std::optional<V>> lookup(const K& key) {
    return with([&](handle_type& t) { return t.lookup(key); });
  }

  template <class F>
  caf::expected<bool> visit(const K& key, F&& f) {
    return with([&](handle_type& t) { return t.visit(key, f); });
  }

  caf::expected<bool> member(const K& key) {
    return with([&](handle_type& t) { return t.member(key); });
  }

  caf::expected<std::size_t> size() {
    return with([](handle_type& t) { return t.size(); });
  }

  template <class F>
  caf::expected<void> for_each(F&& f) {
    return with([&](handle_type& t) { return t.for_each(f); });
  }

  caf::expected<std::vector<entry>> to_list() {
    return with([](handle_type& t) { return t.to_list(); });
  }

  caf::expected<std::optional<K>> first() {
    return with([](handle_type& t) { return t.first(); });
  }

  caf::expected<std::optional<K>> last() {
    return with([](handle_type& t) { return t.last(); });
  }

  caf::expected<std::optional<K>> next(const K& key) {
    return with([&](handle_type& t) { return t.next(key); });
  }

  caf::expected<std::optional<K>> prev(const K& key) {
    return with([&](handle_type& t) { return t.prev(key); });
  }

  caf::expected<std::vector<entry>>
  range(const K& lo, const K& hi,
        std::size_t limit = std::numeric_limits<std::size_t>::max()) {
    return with([&](handle_type& t) { return t.range(lo, hi, limit); });
  }

private:
  static bool gone(const caf::error& err) {
    return err == errc::table_gone || err == errc::no_such_table;
  }

  /// Runs `op` on the current table; on table_gone re-resolves and retries,
  /// until `wait_` has passed.
  template <class Op>
  auto with(Op op) -> decltype(op(std::declval<handle_type&>())) {
    using result_type = decltype(op(std::declval<handle_type&>()));
    auto deadline = std::chrono::steady_clock::now() + wait_;
    for (unsigned attempt = 0;; ++attempt) {
      caf::error err;
      if (cached_) {
        auto res = op(*cached_);
        if (res || !gone(res.error()))
          return res;
        err = res.error();
        cached_.reset();
      }
      if (auto found = whereis<K, V, Kind>(*sys_, name_)) {
        cached_ = std::move(*found);
        continue;
      } else if (!cached_ && !err) {
        err = found.error();
      }
      if (!gone(err) || std::chrono::steady_clock::now() >= deadline)
        return result_type{std::move(err)};
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
  std::optional<handle_type> cached_;
};

} // namespace cachet
