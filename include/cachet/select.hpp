// What ETS's select family takes and returns, in C++: a match is a callable
// `f(view_t<K>, view_t<V>) -> std::optional<R>` (the match spec's guard and
// body in one: nullopt rejects the object, a value is the result), a page
// of results comes with a continuation, and an ordered_set select may be
// bounded by a key range (ETS's partially bound key).
//
// Example:
//   auto page = tab.select([](int k, const user& u) -> std::optional<int> {
//     if (u.active) return k; return std::nullopt; }, 100);
//   while (page && !page->items.empty()) {
//     use(page->items);
//     page = tab.select(std::move(page->next));   // done(): empty items
//   }
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "cachet/detail/engine_common.hpp"

namespace cachet {

/// Keys in [lo, hi) of an ordered_set; an absent bound is open.
template <class K>
struct key_range {
  std::optional<K> lo;
  std::optional<K> hi;
};

namespace detail {

template <class Derived, class K, class V, class Kind, class Engine>
class walk_ops;

} // namespace detail

/// Where a select with a limit stopped, to go on from with `select(cont)`
/// (ETS's continuation). It holds the match, so it is all a caller needs to
/// keep. Valid across concurrent writes and the table's growth: an object
/// present from the first call to the last is returned exactly once over
/// all pages; objects written meanwhile may or may not be. It belongs to
/// its table: passed to another one, select answers errc::invalid_argument.
template <class K, class V, class Position, class R>
class continuation {
public:
  using match_type
    = std::function<std::optional<R>(detail::view_t<K>, detail::view_t<V>)>;

  continuation() = default;

  /// True once every page was returned (ETS's '$end_of_table').
  bool done() const noexcept {
    return pos_.done && pending_.empty();
  }

private:
  template <class, class, class, class, class>
  friend class detail::walk_ops;

  continuation(const void* table, match_type f, std::size_t limit,
               Position pos)
    : table_(table), match_(std::move(f)), limit_(limit), pos_(std::move(pos)) {
    // nop
  }

  const void* table_ = nullptr;
  match_type match_;
  std::size_t limit_ = 0;
  Position pos_;
  /// Results of the last bucket walked that did not fit in the page.
  std::vector<R> pending_;
};

/// One page of a select with a limit: up to `limit` results and where to
/// go on. `items` is empty only when the select is done.
template <class R, class Continuation>
struct select_page {
  std::vector<R> items;
  Continuation next;
};

} // namespace cachet
