// The engine behind `bag` and `duplicate_bag` tables: a hash engine whose
// value per key is the key's objects, in insertion order.
//
// A key's objects live in one immutable std::vector<V> in the key's node, so
// reads stay lock-free (a reader copies from a node that no writer changes)
// and every operation on one key is atomic: adding an object builds a new
// vector (the old objects plus the new one) and swings the node. Adding to
// a key with n objects costs O(n), as in ETS's bag, which compares the new
// object with each present one; ETS's duplicate_bag appends in O(1), so keys
// with thousands of objects are cheaper there.
//
// Sizes count objects, as ETS's size does; the object count is kept apart
// from the key count of the hash engine.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cachet/detail/engine_common.hpp"
#include "cachet/detail/hash_engine.hpp"

namespace cachet::detail {

template <class K, class V, class Hash, class KeyEqual, bool Distinct>
class bag_engine {
public:
  using objects = std::vector<V>;
  using keys_engine = hash_engine<K, objects, Hash, KeyEqual>;
  using position = typename keys_engine::position;

  bag_engine() = default;

  // -- reads -------------------------------------------------------------------

  /// Calls `f(const objects*)` with the key's objects, or nullptr.
  template <class Q, class F>
  op_status find(const Q& key, F&& f) const {
    return keys_.find(key, std::forward<F>(f));
  }

  /// Calls `f(key, object)` for each object, a key's objects together and
  /// in insertion order.
  template <class F>
  op_status for_each(F&& f) const {
    return keys_.for_each([&](const auto& k, const objects& xs) {
      for (const auto& x : xs)
        f(k, x);
    });
  }

  template <class F>
  op_status walk(position& pos, F&& f) const {
    return keys_.walk(pos, [&](const auto& k, const objects& xs) {
      bool more = true;
      for (const auto& x : xs)
        if (!f(k, x))
          more = false;
      return more;
    });
  }

  template <class F>
  op_status scan(std::uint64_t cursor, std::size_t count, F&& f,
                 std::uint64_t& next) const {
    return keys_.scan(cursor, count,
                      [&](const auto& k, const objects& xs) {
                        for (const auto& x : xs)
                          f(k, x);
                      },
                      next);
  }

  template <class F>
  op_status first(F&& f) const {
    return keys_.first(std::forward<F>(f));
  }

  template <class Q, class F>
  op_status next(const Q& key, F&& f) const {
    return keys_.next(key, std::forward<F>(f));
  }

  /// Number of objects; exact when no write is in flight.
  op_status size(std::size_t& out) const {
    if (!keys_.alive())
      return op_status::gone;
    auto n = objects_.load(std::memory_order_relaxed);
    out = n > 0 ? static_cast<std::size_t>(n) : 0;
    return op_status::ok;
  }

  /// Number of keys.
  op_status key_count(std::size_t& out) const {
    return keys_.size(out);
  }

  op_status memory(std::size_t& out) const {
    return keys_.memory(out);
  }

  bool alive() const noexcept {
    return keys_.alive();
  }

  // -- writes ------------------------------------------------------------------

  /// Adds `x` to the key's objects (a bag skips an equal object present);
  /// `added` tells whether it did.
  template <class Q, class VV>
  op_status add(Q&& key, VV&& x, bool& added) {
    added = false;
    auto st = keys_.modify(std::forward<Q>(key),
                           [&](const objects* cur, std::optional<objects>& out) {
                             if (cur != nullptr && holds(*cur, x))
                               return write_action::keep;
                             out.emplace(grown(cur, 1));
                             out->push_back(x);
                             added = true;
                             return write_action::put;
                           });
    count(st, added ? 1 : 0);
    return st;
  }

  /// Adds every object of `items` in one atomic, isolated batch, in order
  /// (a bag's insert of a list). With `only_new`, adds nothing and returns
  /// `rejected` if any key of `items` is present (ETS insert_new of a list).
  op_status insert_batch(std::vector<std::pair<K, V>> items, bool only_new) {
    // Group by key, keeping the order of objects within each key.
    std::vector<std::pair<K, objects>> groups;
    {
      std::unordered_map<K, std::size_t, Hash, KeyEqual> index;
      index.reserve(items.size());
      for (auto& [k, v] : items) {
        auto [i, fresh] = index.try_emplace(k, groups.size());
        if (fresh)
          groups.emplace_back(std::move(k), objects{});
        groups[i->second].second.push_back(std::move(v));
      }
    }
    std::int64_t added = 0;
    auto st = keys_.merge_batch(
      groups, only_new,
      [&](const objects* cur, objects& xs, std::optional<objects>& out) {
        out.emplace(grown(cur, xs.size()));
        for (auto& x : xs)
          if (!holds(*out, x))
            out->push_back(x);
        out->shrink_to_fit();
        auto before = cur != nullptr ? cur->size() : 0;
        added += static_cast<std::int64_t>(out->size() - before);
        return out->size() != before;
      });
    count(st, added);
    return st;
  }

  /// Adds `x` as the key's only object if the key is absent.
  template <class Q, class VV>
  op_status add_new(Q&& key, VV&& x, bool& added) {
    added = false;
    auto st = keys_.modify(std::forward<Q>(key),
                           [&](const objects* cur, std::optional<objects>& out) {
                             if (cur != nullptr)
                               return write_action::keep;
                             out.emplace();
                             out->reserve(1);
                             out->push_back(x);
                             added = true;
                             return write_action::put;
                           });
    count(st, added ? 1 : 0);
    return st;
  }

  /// Removes the key with all its objects, moving them to `taken` if set;
  /// `removed` counts them.
  template <class Q>
  op_status erase(const Q& key, std::size_t& removed,
                  objects* taken = nullptr) {
    removed = 0;
    auto st = keys_.modify(key, [&](const objects* cur, std::optional<objects>&) {
      if (cur == nullptr)
        return write_action::keep;
      removed = cur->size();
      if (taken != nullptr)
        *taken = *cur;
      return write_action::erase;
    });
    count(st, -static_cast<std::int64_t>(removed));
    return st;
  }

  /// Removes the key's objects for which `pred(const V&)` holds, atomically
  /// for the key; `removed` counts them.
  template <class Q, class Pred>
  op_status erase_objects(const Q& key, Pred&& pred, std::size_t& removed) {
    removed = 0;
    auto st = keys_.modify(key, [&](const objects* cur,
                                    std::optional<objects>& out) {
      removed = 0;
      return filter(cur, pred, out, removed);
    });
    count(st, -static_cast<std::int64_t>(removed));
    return st;
  }

  /// Removes every object for which `pred(key, object)` holds, atomically
  /// per key (see hash_engine::edit_each); `removed` counts them.
  template <class Pred>
  op_status erase_where(Pred&& pred, std::size_t& removed) {
    removed = 0;
    std::size_t n = 0;
    auto edit = [&](const auto& k, const objects& xs,
                    std::optional<objects>& out) {
      std::size_t gone = 0;
      auto action = filter(&xs, [&](const V& x) { return pred(k, x); }, out,
                           gone);
      n += gone;
      return action;
    };
    auto wanted = [&](const auto& k, const objects& xs) {
      return std::any_of(xs.begin(), xs.end(),
                         [&](const V& x) { return pred(k, x); });
    };
    auto st = keys_.edit_each(edit, wanted);
    removed = n;
    count(op_status::ok, -static_cast<std::int64_t>(n));
    return st;
  }

  op_status clear() {
    // The count follows the keys' removal; a write racing the clear may
    // leave it off until the next clear, as any size read mid-write is.
    auto st = keys_.clear();
    if (st == op_status::ok)
      objects_.store(0, std::memory_order_relaxed);
    return st;
  }

  /// As hash_engine's: the keys' array asks before it grows.
  void set_growth_guard(std::function<bool(std::size_t)> allowed) {
    keys_.set_growth_guard(std::move(allowed));
  }

  void retire_storage() noexcept {
    keys_.retire_storage();
    objects_.store(0, std::memory_order_relaxed);
  }

private:
  /// Whether a bag's `xs` holds `x` already (never, for a duplicate_bag).
  static bool holds(const objects& xs, const V& x) {
    if constexpr (Distinct)
      return std::find(xs.begin(), xs.end(), x) != xs.end();
    else
      return false;
  }

  /// An empty vector with room for `cur`'s objects and `extra` more, holding
  /// a copy of `cur`'s objects.
  static objects grown(const objects* cur, std::size_t extra) {
    objects out;
    out.reserve((cur != nullptr ? cur->size() : 0) + extra);
    if (cur != nullptr)
      out.insert(out.end(), cur->begin(), cur->end());
    return out;
  }

  /// The write_action keeping `cur`'s objects for which `pred` is false.
  template <class Pred>
  static write_action filter(const objects* cur, Pred&& pred,
                             std::optional<objects>& out,
                             std::size_t& removed) {
    if (cur == nullptr)
      return write_action::keep;
    objects kept;
    for (const auto& x : *cur)
      if (!pred(x))
        kept.push_back(x);
    removed = cur->size() - kept.size();
    if (removed == 0)
      return write_action::keep;
    if (kept.empty())
      return write_action::erase;
    kept.shrink_to_fit();
    out.emplace(std::move(kept));
    return write_action::put;
  }

  void count(op_status st, std::int64_t delta) noexcept {
    if (st == op_status::ok && delta != 0)
      objects_.fetch_add(delta, std::memory_order_relaxed);
  }

  keys_engine keys_;
  std::atomic<std::int64_t> objects_{0};
};

} // namespace cachet::detail
