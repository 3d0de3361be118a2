// Tables with ETS semantics, read and written directly from any thread.
//
// A table is created by its owner actor, in the owner's init, and lives
// exactly as long as that actor: when the owner exits (normally, by an
// exception, or killed) the table passes to its heir if one is alive, else
// it is retired and every handle answers errc::table_gone. Two handle types
// carry the two kinds of rights:
//
// * `owned_table` is the owner's capability: full rights, move-only, so
//   there is only ever one. Keep it in the owner's state.
// * `table` is what everyone else holds (from `owned_table::share()` or
//   `whereis`): copyable, and checked against the table's access mode on
//   every operation; a violation returns errc::access_denied and changes
//   nothing.
//
// Caches (cache.hpp) and snapshots (snapshot.hpp) have the same two handle
// types, lifetime, heir and give_away.
//
// Direct access vs messages: a direct read runs on the caller's thread, takes
// no lock and scales with reader threads; a message to the owner (owner.hpp)
// is serialized by its mailbox. Use direct reads for hot paths, messages when
// the owner must decide (read-through fetch, validation, private tables).
//
// Thread safety: every operation of both handle types is safe to call
// concurrently from any thread. Each single-key operation is atomic and
// isolated; batch inserts are atomic and isolated too (readers of a key in
// the batch wait for it). Walks (for_each, fold, to_list, scan, and the
// select family, paged or not) are not snapshots: an object present for the
// whole walk is seen exactly once (scan: at least once), and walks never
// hold up writers or the table's growth. select_delete and select_replace
// decide and write under each key's write lock: atomic per object, as in
// ETS, not as a whole.
//
// Kinds (kind.hpp): set and ordered_set hold one object per key (the
// operations of detail::table_ops), bag and duplicate_bag a list of objects
// per key (detail::bag_ops: lookup returns all of a key's objects,
// erase_object removes one; update_counter, update, upsert and
// select_replace do not compile on them, where ETS answers badarg). Every
// kind has the walks, the select family, first/next, info and rename
// (detail::walk_ops). docs/queries.md maps each ETS call to its C++ form.
//
// NOTE: values are returned as copies, or shown to a function while
// protected; no reference into the table escapes. Shown means as
// `view_t<T>`: `const T&`, except that std::string keys and values are shown
// as std::string_view, in every kind of table (set tables keep a string's
// bytes inline in the entry, so there is no std::string to refer to).
// Functions passed to `update` run under a write lock: they must not touch
// the same table.
//
// Example:
//   // in the owner's init:
//   auto tab = cachet::make_table<std::string, int>(self, {"scores"});
//   // anywhere else:
//   auto scores = cachet::whereis<std::string, int>(sys, "scores");
//   auto v = scores->lookup("alice");      // expected<optional<int>>
//   scores->insert("bob", 3);              // errc::access_denied: protected
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>

#include "cachet/access_mode.hpp"
#include "cachet/configure.hpp"
#include "cachet/counter.hpp"
#include "cachet/detail/handle.hpp"
#include "cachet/detail/owner_start.hpp"
#include "cachet/detail/table_core.hpp"
#include "cachet/errc.hpp"
#include "cachet/fwd.hpp"
#include "cachet/kind.hpp"
#include "cachet/select.hpp"
#include "cachet/table_info.hpp"
#include "cachet/table_options.hpp"
#include "cachet/transfer.hpp"

namespace cachet {

/// How visit, for_each and fold show a key or value: `const T&`, or
/// std::string_view for std::string.
template <class T>
using view_t = detail::view_t<T>;

namespace detail {

template <class T, class = void>
struct is_transparent : std::false_type {};

template <class T>
struct is_transparent<T, std::void_t<typename T::is_transparent>>
  : std::true_type {};

/// Whether a kind looks std::string keys up by std::string_view (abseil's
/// transparent lookup): its hash and equality, or its order, take one.
template <class Kind>
struct transparent_kind;

template <class Hash, class Eq>
struct transparent_hashing
  : std::bool_constant<is_transparent<Hash>::value
                       && (is_transparent<Eq>::value
                           || std::is_same_v<Eq, std::equal_to<std::string>>)> {
};

template <class Hash, class Eq>
struct transparent_kind<set<Hash, Eq>> : transparent_hashing<Hash, Eq> {};

template <class Hash, class Eq>
struct transparent_kind<bag<Hash, Eq>> : transparent_hashing<Hash, Eq> {};

template <class Hash, class Eq>
struct transparent_kind<duplicate_bag<Hash, Eq>>
  : transparent_hashing<Hash, Eq> {};

template <class Compare>
struct transparent_kind<ordered_set<Compare>> : is_transparent<Compare> {};

/// A key argument as the engine takes it: a K as it is; for std::string
/// keys of a transparent kind, anything that converts to std::string_view
/// as a std::string_view (no temporary string); else a K made from it.
template <class K, class Kind, class Q>
decltype(auto) key_arg(const Q& key) {
  if constexpr (std::is_same_v<Q, K>)
    return key;
  else if constexpr (std::is_same_v<K, std::string>
                     && transparent_kind<Kind>::value
                     && std::is_convertible_v<const Q&, std::string_view>)
    return std::string_view{key};
  else
    return K(key);
}

/// As key_arg, for a key that may be stored: a K is forwarded as given.
template <class K, class Kind, class KK>
decltype(auto) key_fwd(KK&& key) {
  if constexpr (std::is_same_v<std::decay_t<KK>, K>)
    return std::forward<KK>(key);
  else
    return key_arg<K, Kind>(key);
}

/// An argument for one attempt: forwarded as given, or, when the handle may
/// retry (named_table), as an lvalue that the attempt copies.
template <bool Retries, class T, class U>
decltype(auto) pass_arg(U& x) {
  if constexpr (Retries || std::is_lvalue_reference_v<T>)
    return static_cast<const U&>(x);
  else
    return static_cast<U&&>(x);
}

/// `x` itself if it is a T, else a T made from it.
template <class T, class U>
decltype(auto) as_type(U&& x) {
  if constexpr (std::is_same_v<std::decay_t<U>, T>)
    return std::forward<U>(x);
  else
    return T(std::forward<U>(x));
}

inline caf::expected<void> status_of(op_status st) {
  if (st == op_status::gone)
    return caf::make_error(errc::table_gone);
  return caf::unit;
}

template <class...>
inline constexpr bool always_false = false;

/// What a match `F(view_t<K>, view_t<V>)` returns an optional of.
template <class F, class K, class V>
using match_result_t = typename std::decay_t<
  std::invoke_result_t<F&, view_t<K>, view_t<V>>>::value_type;

template <class F, class K, class V>
inline constexpr bool is_match_v
  = std::is_invocable_v<F&, view_t<K>, view_t<V>>;

/// The operations of every kind: walks, queries, cursors, info. Each asks
/// `Derived::with(write, f)` for the table's core: table and owned_table
/// check their rights and run `f` once, named_table resolves its name and
/// runs `f` again on the next table after a table_gone. So that such a
/// retry is sound, an operation has no effect when it fails, and consumes
/// its arguments only when `Derived::retries` is false.
template <class Derived, class K, class V, class Kind, class Engine>
class walk_ops {
public:
  using key_type = K;
  using mapped_type = V;
  using kind_type = Kind;
  using core_type = table_core<K, V, Kind>;
  using entry = std::pair<K, V>;
  using position = typename Engine::position;

  /// The continuation of a select whose match returns std::optional<R>.
  template <class R>
  using continuation_type = continuation<K, V, position, R>;

  /// A page of a select whose match returns std::optional<R>.
  template <class R>
  using page_type = select_page<R, continuation_type<R>>;

  // -- size and walks: need read rights (owner; others unless private) -----

  /// Number of objects (for bags: objects, not keys); exact when no write
  /// is in flight.
  caf::expected<std::size_t> size() const {
    return run(false, [&](core_type& c) -> caf::expected<std::size_t> {
      std::size_t n = 0;
      if (c.engine().size(n) != op_status::ok)
        return caf::make_error(errc::table_gone);
      return n;
    });
  }

  /// Calls `f(view_t<K>, view_t<V>)` for every object (in key order for
  /// ordered_set; a bag's objects of one key together, in insertion order).
  /// Not a snapshot; see the header comment.
  template <class F>
  caf::expected<void> for_each(F&& f) const {
    return run(false, [&](core_type& c) {
      return status_of(c.engine().for_each([&](const auto& k, const auto& v) {
        f(static_cast<view_t<K>>(k), static_cast<view_t<V>>(v));
      }));
    });
  }

  /// Folds `f(acc, view_t<K>, view_t<V>) -> acc` over every object (ETS
  /// foldl: in key order for ordered_set).
  template <class Acc, class F>
  caf::expected<Acc> fold(Acc init, F&& f) const {
    auto res = for_each([&](view_t<K> k, view_t<V> v) {
      init = f(std::move(init), k, v);
    });
    if (!res)
      return std::move(res.error());
    return init;
  }

  /// As fold, from the last key to the first on an ordered_set (ETS
  /// foldr); on the hashed kinds in the same order as fold, as in ETS.
  template <class Acc, class F>
  caf::expected<Acc> foldr(Acc init, F&& f) const {
    if constexpr (!is_ordered_v<Kind>) {
      return fold(std::move(init), std::forward<F>(f));
    } else {
      auto res = run(false, [&](core_type& c) {
        position pos;
        pos.reverse = true;
        return status_of(c.engine().walk(pos, [&](const K& k, const V& v) {
          init = f(std::move(init), static_cast<view_t<K>>(k),
                   static_cast<view_t<V>>(v));
          return true;
        }));
      });
      if (!res)
        return std::move(res.error());
      return init;
    }
  }

  /// Every object as a list (ETS tab2list).
  caf::expected<std::vector<entry>> to_list() const {
    std::vector<entry> out;
    auto res = for_each([&](view_t<K> k, view_t<V> v) {
      out.emplace_back(k, v);
    });
    if (!res)
      return std::move(res.error());
    return out;
  }

  // -- select: read rights ---------------------------------------------------

  /// ETS select/2: the results of `f(view_t<K>, view_t<V>) ->
  /// std::optional<R>` over every object, those that are not nullopt. Not a
  /// snapshot: an object present for the whole select is matched exactly
  /// once; key order on an ordered_set.
  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select(F&& f) const
    -> caf::expected<std::vector<match_result_t<F, K, V>>> {
    return select_all(position{}, f);
  }

  /// ETS select/3: the first page of up to `limit` results (at least 1)
  /// and its continuation; see continuation (select.hpp) for what holds
  /// across pages. Errors: invalid_argument for a limit of 0.
  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select(F&& f, std::size_t limit) const
    -> caf::expected<page_type<match_result_t<F, K, V>>> {
    return select_first(position{}, f, limit);
  }

  /// ETS select/1: the next page after `cont`. Errors: invalid_argument if
  /// `cont` belongs to another table.
  template <class R>
  caf::expected<page_type<R>> select(continuation_type<R> cont) const {
    return run(false, [&](core_type& c) -> caf::expected<page_type<R>> {
      if (cont.table_ != &c)
        return caf::make_error(errc::invalid_argument,
                               "select: a continuation of another table");
      if constexpr (Derived::retries)
        return next_page(c, continuation_type<R>{cont});
      else
        return next_page(c, std::move(cont));
    });
  }

  /// select over the keys in `r` only, visiting nothing outside it (ETS's
  /// partially bound key on an ordered_set).
  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select(const key_range<K>& r, F&& f) const
    -> caf::expected<std::vector<match_result_t<F, K, V>>> {
    return select_all(ranged(r, false), f);
  }

  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select(const key_range<K>& r, F&& f, std::size_t limit) const
    -> caf::expected<page_type<match_result_t<F, K, V>>> {
    return select_first(ranged(r, false), f, limit);
  }

  /// ETS select_reverse: as select, from the last key to the first on an
  /// ordered_set (each step of a reverse walk is a search: O(log n) per
  /// object); on the hashed kinds the same as select, as in ETS.
  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select_reverse(F&& f) const
    -> caf::expected<std::vector<match_result_t<F, K, V>>> {
    return select_all(reversed(), f);
  }

  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select_reverse(F&& f, std::size_t limit) const
    -> caf::expected<page_type<match_result_t<F, K, V>>> {
    return select_first(reversed(), f, limit);
  }

  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select_reverse(const key_range<K>& r, F&& f) const
    -> caf::expected<std::vector<match_result_t<F, K, V>>> {
    return select_all(ranged(r, true), f);
  }

  template <class F, std::enable_if_t<is_match_v<F, K, V>, int> = 0>
  auto select_reverse(const key_range<K>& r, F&& f, std::size_t limit) const
    -> caf::expected<page_type<match_result_t<F, K, V>>> {
    return select_first(ranged(r, true), f, limit);
  }

  /// ETS select_count: the number of objects for which `pred(view_t<K>,
  /// view_t<V>) -> bool` holds. Not a snapshot, as select.
  template <class Pred>
  caf::expected<std::size_t> select_count(Pred&& pred) const {
    return count_where(position{}, pred);
  }

  /// select_count over the keys in `r` only (ordered_set).
  template <class Pred>
  caf::expected<std::size_t> select_count(const key_range<K>& r,
                                          Pred&& pred) const {
    return count_where(ranged(r, false), pred);
  }

  // -- select_delete: write rights (owner; others only in public mode) -----

  /// ETS select_delete: removes every object for which `pred(view_t<K>,
  /// view_t<V>) -> bool` holds and returns how many it removed. Each object
  /// is tested and removed under its key's write lock, so one that a
  /// writer changed after the walk saw it is removed only if the predicate
  /// holds for what it is now. An object present for the whole call is
  /// decided exactly once; writers of other keys go on meanwhile. `pred`
  /// runs under a write lock: it must not touch the same table. It must be
  /// pure, as a match spec is: the hashed kinds also run it on a lock-free
  /// read first, to lock only where it matches.
  template <class Pred>
  caf::expected<std::size_t> select_delete(Pred&& pred) {
    return delete_where(nullptr, pred);
  }

  /// select_delete over the keys in `r` only (ordered_set).
  template <class Pred>
  caf::expected<std::size_t> select_delete(const key_range<K>& r,
                                           Pred&& pred) {
    static_assert(is_ordered_v<Kind>, "a key range needs an ordered_set");
    return delete_where(&r, pred);
  }

  /// Removes every object, atomically (ETS delete_all_objects).
  caf::expected<void> clear() {
    return run(true, [&](core_type& c) { return status_of(c.engine().clear()); });
  }

  // -- cursors -----------------------------------------------------------------

  /// The first key (ETS first): the smallest on an ordered_set, the first
  /// in walk order on the hashed kinds; nullopt if empty.
  caf::expected<std::optional<K>> first() const {
    return key_query([&](auto& e, auto&& f) { return e.first(f); });
  }

  /// The key after `key` (ETS next): on an ordered_set the smallest key
  /// greater than `key`, which need not be present; on the hashed kinds the
  /// next in walk order, and `key` must be present (errc::no_such_key, ETS's
  /// badarg). nullopt after the last key. As ETS's next without
  /// safe_fixtable, a first/next walk of a hashed table that grows
  /// meanwhile may skip or repeat keys: use scan or select for a walk that
  /// holds across writes.
  template <class Q = K>
  caf::expected<std::optional<K>> next(const Q& key) const {
    decltype(auto) k = key_arg<K, Kind>(key);
    return key_query([&](auto& e, auto&& f) { return e.next(k, f); });
  }

  /// One step of a cursor walk (Redis SCAN) on the hashed kinds: calls
  /// `f(view_t<K>, view_t<V>)` for some objects from `cursor` on (start at
  /// 0) and returns the cursor to pass next; 0 when the walk is complete.
  /// Each call does bounded work, about `count` keys, however large the
  /// table. Every object present for the whole walk is shown at least
  /// once, across the table's growth; objects written meanwhile may be
  /// shown or not.
  template <class F>
  caf::expected<std::uint64_t> scan(std::uint64_t cursor, std::size_t count,
                                    F&& f) const {
    static_assert(!is_ordered_v<Kind>,
                  "scan() needs a hashed table (set, bag, duplicate_bag)");
    return run(false, [&](core_type& c) -> caf::expected<std::uint64_t> {
      std::uint64_t next = 0;
      auto st = c.engine().scan(cursor, count,
                                [&](const auto& k, const auto& v) {
                                  f(static_cast<view_t<K>>(k),
                                    static_cast<view_t<V>>(v));
                                },
                                next);
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return next;
    });
  }

  // -- the table itself --------------------------------------------------------

  /// ETS info: name, kind, mode, size, memory, owner, heir. Needs no
  /// rights (a private table's info is public, as in ETS).
  caf::expected<table_info> info() const {
    return static_cast<const Derived&>(*this).with_any(
      [&](core_type& c) -> caf::expected<table_info> {
        table_info out;
        c.info(out);
        if (!c.alive())
          return caf::make_error(errc::table_gone);
        return out;
      });
  }

  /// ETS rename: registers the table as `name`, which must be free
  /// (errc::name_taken otherwise), and frees its old name; an anonymous
  /// table becomes named. Needs write rights. Lookups by the old name fail
  /// from then on; handles keep working. Errors: name_taken,
  /// invalid_argument (empty name), access_denied, table_gone.
  caf::expected<void> rename(const std::string& name) {
    return run(true, [&](core_type& c) -> caf::expected<void> {
      if (auto err = c.rename(name))
        return err;
      return caf::unit;
    });
  }

protected:
  template <class F>
  auto run(bool write, F&& f) const {
    return static_cast<const Derived&>(*this).with(write, std::forward<F>(f));
  }

  template <class T, class U>
  static decltype(auto) pass(U& x) {
    return pass_arg<Derived::retries, T>(x);
  }

  /// A batch insert (insert or insert_new of a list), atomic and isolated.
  caf::expected<void> batch(std::vector<entry> entries, bool only_new) {
    return run(true, [&](core_type& c) -> caf::expected<void> {
      auto st = Derived::retries
                  ? c.engine().insert_batch(entries, only_new)
                  : c.engine().insert_batch(std::move(entries), only_new);
      if (st == op_status::rejected)
        return caf::make_error(errc::key_exists);
      return status_of(st);
    });
  }

private:
  /// A position over the whole table, backwards on an ordered_set.
  static position reversed() {
    position pos;
    if constexpr (is_ordered_v<Kind>)
      pos.reverse = true;
    return pos;
  }

  static position ranged(const key_range<K>& r, bool reverse) {
    static_assert(is_ordered_v<Kind>, "a key range needs an ordered_set");
    position pos;
    pos.lo = r.lo;
    pos.hi = r.hi;
    pos.reverse = reverse;
    return pos;
  }

  template <class F>
  auto select_all(const position& from, F& f) const
    -> caf::expected<std::vector<match_result_t<F, K, V>>> {
    using R = match_result_t<F, K, V>;
    return run(false, [&](core_type& c) -> caf::expected<std::vector<R>> {
      std::vector<R> out;
      auto pos = from;
      auto st = c.engine().walk(pos, [&](const auto& k, const auto& v) {
        if (auto r = f(static_cast<view_t<K>>(k), static_cast<view_t<V>>(v)))
          out.push_back(std::move(*r));
        return true;
      });
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return out;
    });
  }

  template <class F>
  auto select_first(const position& from, F& f, std::size_t limit) const
    -> caf::expected<page_type<match_result_t<F, K, V>>> {
    using R = match_result_t<F, K, V>;
    if (limit == 0)
      return caf::make_error(errc::invalid_argument,
                             "select: a limit of 0");
    return run(false, [&](core_type& c) -> caf::expected<page_type<R>> {
      return next_page(c, continuation_type<R>{&c, f, limit, from});
    });
  }

  /// Serves the pending results first, then walks on until the page is
  /// full; what the last bucket gave beyond the limit waits in `cont`.
  template <class R>
  static caf::expected<page_type<R>> next_page(core_type& c,
                                               continuation_type<R> cont) {
    page_type<R> page;
    auto& items = page.items;
    auto& pending = cont.pending_;
    auto n = std::min(cont.limit_, pending.size());
    items.assign(std::make_move_iterator(pending.begin()),
                 std::make_move_iterator(pending.begin() + n));
    pending.erase(pending.begin(), pending.begin() + n);
    if (items.size() < cont.limit_ && !cont.pos_.done) {
      auto st = c.engine().walk(cont.pos_, [&](const auto& k, const auto& v) {
        if (auto r = cont.match_(static_cast<view_t<K>>(k),
                                 static_cast<view_t<V>>(v)))
          items.push_back(std::move(*r));
        return items.size() < cont.limit_;
      });
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      if (items.size() > cont.limit_) {
        auto cut = items.begin() + static_cast<std::ptrdiff_t>(cont.limit_);
        pending.assign(std::make_move_iterator(cut),
                       std::make_move_iterator(items.end()));
        items.erase(cut, items.end());
      }
    }
    page.next = std::move(cont);
    return page;
  }

  template <class Pred>
  caf::expected<std::size_t> count_where(const position& from,
                                         Pred& pred) const {
    return run(false, [&](core_type& c) -> caf::expected<std::size_t> {
      std::size_t n = 0;
      auto pos = from;
      auto st = c.engine().walk(pos, [&](const auto& k, const auto& v) {
        if (pred(static_cast<view_t<K>>(k), static_cast<view_t<V>>(v)))
          ++n;
        return true;
      });
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return n;
    });
  }

  template <class Pred>
  caf::expected<std::size_t> delete_where(const key_range<K>* r, Pred& pred) {
    return run(true, [&](core_type& c) -> caf::expected<std::size_t> {
      std::size_t n = 0;
      auto test = [&](const auto& k, const auto& v) -> bool {
        return pred(static_cast<view_t<K>>(k), static_cast<view_t<V>>(v));
      };
      op_status st;
      if constexpr (is_bag_v<Kind>) {
        st = c.engine().erase_where(test, n);
      } else {
        auto g = [&](const auto& k, const auto& v, std::optional<V>&) {
          if (!test(k, v))
            return write_action::keep;
          ++n;
          return write_action::erase;
        };
        if constexpr (is_ordered_v<Kind>)
          st = c.engine().edit_each(r != nullptr && r->lo ? &*r->lo : nullptr,
                                    r != nullptr && r->hi ? &*r->hi : nullptr,
                                    g);
        else
          st = c.engine().edit_each(g, test);
      }
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return n;
    });
  }

  template <class Call>
  caf::expected<std::optional<K>> key_query(Call&& call) const {
    return run(false, [&](core_type& c) -> caf::expected<std::optional<K>> {
      std::optional<K> result;
      auto st = call(c.engine(), [&](const auto* k) {
        if (k != nullptr)
          result.emplace(*k);
      });
      if (st == op_status::no_key)
        return caf::make_error(errc::no_such_key);
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return result;
    });
  }
};

template <class K, class V, class Kind>
using engine_t = typename table_core<K, V, Kind>::engine_type;

/// The operations of set and ordered_set tables: one object per key.
template <class Derived, class K, class V, class Kind>
class table_ops
  : public walk_ops<Derived, K, V, Kind, engine_t<K, V, Kind>> {
  using base = walk_ops<Derived, K, V, Kind, engine_t<K, V, Kind>>;

public:
  using typename base::core_type;
  using typename base::entry;

  // -- writes: need write rights (owner; others only in public mode) ---------

  /// Inserts or replaces (ETS insert). The entry is built straight from
  /// `key` and `value`: passing lvalues copies each once, into the table
  /// (a std::string key may come as a std::string_view).
  template <class KK = K, class VV = V>
  caf::expected<void> insert(KK&& key, VV&& value) {
    return this->run(true, [&](core_type& c) {
      return status_of(c.engine().put(key_fwd<K, Kind>(pass<KK>(key)),
                                      as_type<V>(pass<VV>(value))));
    });
  }

  /// Inserts or replaces every entry, atomically and isolated.
  caf::expected<void> insert(std::vector<entry> entries) {
    return this->batch(std::move(entries), false);
  }

  /// Inserts if absent; errc::key_exists otherwise (ETS insert_new). A
  /// std::string key may come as a std::string_view: its bytes are copied
  /// into the table only if it is inserted.
  template <class KK = K>
  caf::expected<void> insert_new(KK&& key, V value) {
    bool exists = false;
    auto res = write(key_fwd<K, Kind>(std::forward<KK>(key)),
                     [&](const auto* cur, std::optional<V>& out) {
      if (cur != nullptr) {
        exists = true;
        return write_action::keep;
      }
      out.emplace(pass<V>(value));
      return write_action::put;
    });
    if (res && exists)
      return caf::make_error(errc::key_exists);
    return res;
  }

  /// Inserts all entries if none of their keys is present, else nothing:
  /// errc::key_exists.
  caf::expected<void> insert_new(std::vector<entry> entries) {
    return this->batch(std::move(entries), true);
  }

  /// Removes the key; true if it was present. Like every single-key
  /// operation below, takes a K or, for std::string keys, anything that
  /// converts to std::string_view (no temporary string is made).
  template <class Q = K>
  caf::expected<bool> erase(const Q& key) {
    return erase_if(key, [](const auto&) { return true; });
  }

  /// Removes the key if `pred(view_t<V>)` holds for its value, atomically:
  /// no write of the key lands between the test and the removal (ETS's
  /// delete_object on one key); true if it removed the key. `pred` runs
  /// under the key's write lock: it must not touch the same table.
  template <class Q = K, class Pred>
  caf::expected<bool> erase_if(const Q& key, Pred&& pred) {
    bool erased = false;
    auto res = write(key_arg<K, Kind>(key), [&](const auto* cur,
                                                std::optional<V>&) {
      erased = cur != nullptr && pred(static_cast<view_t<V>>(*cur));
      return erased ? write_action::erase : write_action::keep;
    });
    if (!res)
      return std::move(res.error());
    return erased;
  }

  /// Removes the key and returns its value (ETS take).
  template <class Q = K>
  caf::expected<std::optional<V>> take(const Q& key) {
    std::optional<V> result;
    auto res = write(key_arg<K, Kind>(key), [&](const auto* cur,
                                                std::optional<V>&) {
      if (cur != nullptr)
        result.emplace(*cur);
      return write_action::erase;
    });
    if (!res)
      return std::move(res.error());
    return result;
  }

  /// Atomically adds `op.incr` to the key's counter and returns the new
  /// value (ETS update_counter). Errors: no_such_key, not_a_counter,
  /// counter_overflow (the value is then unchanged).
  template <class Q = K>
  caf::expected<std::int64_t> update_counter(const Q& key,
                                             counter_op op = {}) {
    return counter(key_arg<K, Kind>(key), op, nullptr);
  }

  /// As above; a missing key is first inserted as `default_value`.
  template <class Q = K>
  caf::expected<std::int64_t> update_counter(const Q& key, counter_op op,
                                             const V& default_value) {
    return counter(key_arg<K, Kind>(key), op, &default_value);
  }

  /// Applies `f(V&)` to a copy of the key's value and stores the result,
  /// atomically; false if the key is absent. `f` runs under the key's write
  /// lock; if it throws, the value is unchanged and the exception propagates.
  template <class Q = K, class F>
  caf::expected<bool> update(const Q& key, F&& f) {
    bool found = false;
    auto res = write(key_arg<K, Kind>(key), [&](const auto* cur,
                                                std::optional<V>& out) {
      if (cur == nullptr)
        return write_action::keep;
      found = true;
      out.emplace(*cur);
      f(*out);
      return write_action::put;
    });
    if (!res)
      return std::move(res.error());
    return found;
  }

  /// libcuckoo's upsert: applies `f(V&)` to a copy of the key's value and
  /// stores it if the key is present, else inserts `default_value` (without
  /// calling `f`); atomic either way. True if it inserted. `f` runs under
  /// the key's write lock, as for update.
  template <class Q = K, class F>
  caf::expected<bool> upsert(const Q& key, F&& f, V default_value) {
    bool inserted = false;
    auto res = write(key_arg<K, Kind>(key), [&](const auto* cur,
                                                std::optional<V>& out) {
      inserted = cur == nullptr;
      if (inserted) {
        out.emplace(pass<V>(default_value));
      } else {
        out.emplace(*cur);
        f(*out);
      }
      return write_action::put;
    });
    if (!res)
      return std::move(res.error());
    return inserted;
  }

  /// ETS select_replace: for every entry, `f(view_t<K>, view_t<V>) ->
  /// std::optional<V>` gives a new value (nullopt leaves the entry alone);
  /// the key cannot change, as ETS requires. Each entry is read and
  /// replaced under its key's write lock, atomic per entry as in ETS.
  /// Returns the number replaced. `f` must not touch the same table.
  template <class F>
  caf::expected<std::size_t> select_replace(F&& f) {
    return this->run(true, [&](core_type& c) -> caf::expected<std::size_t> {
      std::size_t n = 0;
      auto g = [&](const auto& k, const auto& v, std::optional<V>& out) {
        auto fresh = f(static_cast<view_t<K>>(k), static_cast<view_t<V>>(v));
        if (!fresh)
          return write_action::keep;
        out.emplace(std::move(*fresh));
        ++n;
        return write_action::put;
      };
      op_status st;
      if constexpr (is_ordered_v<Kind>)
        st = c.engine().edit_each(nullptr, nullptr, g);
      else
        st = c.engine().edit_each(g);
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return n;
    });
  }

  // -- reads: need read rights (owner; others unless private) -----------------

  /// A copy of the key's value, or nullopt if absent.
  template <class Q = K>
  caf::expected<std::optional<V>> lookup(const Q& key) const {
    std::optional<V> result;
    auto res = visit(key, [&](view_t<V> v) { result.emplace(v); });
    if (!res)
      return std::move(res.error());
    return result;
  }

  /// Calls `f(view_t<V>)` on the key's value while it is protected from
  /// reclamation; true if the key was present. No copy is made.
  template <class Q = K, class F>
  caf::expected<bool> visit(const Q& key, F&& f) const {
    decltype(auto) k = key_arg<K, Kind>(key);
    return this->run(false, [&](core_type& c) -> caf::expected<bool> {
      bool found = false;
      auto st = c.engine().find(k, [&](const auto* v) {
        if (v != nullptr) {
          found = true;
          f(static_cast<view_t<V>>(*v));
        }
      });
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return found;
    });
  }

  /// True if the key is present.
  template <class Q = K>
  caf::expected<bool> member(const Q& key) const {
    return visit(key, [](view_t<V>) {});
  }

  // -- ordered_set only ------------------------------------------------------

  /// The largest key, or nullopt if empty.
  caf::expected<std::optional<K>> last() const {
    return ordered_key([&](auto& e, auto&& f) { return e.last(f); });
  }

  /// The largest key less than `key` (which need not be present).
  caf::expected<std::optional<K>> prev(const K& key) const {
    return ordered_key([&](auto& e, auto&& f) { return e.prev(key, f); });
  }

  /// Entries with `lo <= key < hi` in key order, at most `limit`; isolated
  /// from batch inserts.
  caf::expected<std::vector<entry>>
  range(const K& lo, const K& hi,
        std::size_t limit = std::numeric_limits<std::size_t>::max()) const {
    static_assert(is_ordered_v<Kind>, "range() needs an ordered_set table");
    return this->run(false,
                     [&](core_type& c) -> caf::expected<std::vector<entry>> {
                       std::vector<entry> out;
                       if (c.engine().range(lo, hi, limit, out)
                           != op_status::ok)
                         return caf::make_error(errc::table_gone);
                       return out;
                     });
  }

private:
  template <class T, class U>
  static decltype(auto) pass(U& x) {
    return pass_arg<Derived::retries, T>(x);
  }

  template <class KK, class F>
  caf::expected<void> write(KK&& key, F&& f) {
    return this->run(true, [&](core_type& c) {
      return status_of(c.engine().modify(pass<KK>(key), f));
    });
  }

  template <class KK>
  caf::expected<std::int64_t> counter(KK&& key, const counter_op& op,
                                      const V* default_value) {
    using traits = counter_traits<V>;
    if constexpr (!traits::supported) {
      return this->run(true, [&](core_type& c) -> caf::expected<std::int64_t> {
        return c.alive() ? caf::make_error(errc::not_a_counter)
                         : caf::make_error(errc::table_gone);
      });
    } else {
      std::int64_t result = 0;
      errc failure{};
      auto res = write(std::forward<KK>(key), [&](const auto* cur,
                                                  std::optional<V>& out) {
        failure = errc{};
        if (cur == nullptr && default_value == nullptr) {
          failure = errc::no_such_key;
          return write_action::keep;
        }
        auto base = traits::read(cur != nullptr ? *cur : *default_value);
        if (!base) {
          failure = errc::not_a_counter;
          return write_action::keep;
        }
        auto sum = apply_counter(*base, op);
        auto stored = sum ? traits::make(*sum) : std::nullopt;
        if (!stored) {
          failure = errc::counter_overflow;
          return write_action::keep;
        }
        result = *sum;
        out.emplace(std::move(*stored));
        return write_action::put;
      });
      if (!res)
        return std::move(res.error());
      if (failure != errc{})
        return caf::make_error(failure);
      return result;
    }
  }

  template <class Call>
  caf::expected<std::optional<K>> ordered_key(Call&& call) const {
    static_assert(is_ordered_v<Kind>, "last/prev need an ordered_set table");
    return this->run(false,
                     [&](core_type& c) -> caf::expected<std::optional<K>> {
                       std::optional<K> result;
                       auto st = call(c.engine(), [&](const K* k) {
                         if (k != nullptr)
                           result.emplace(*k);
                       });
                       if (st != op_status::ok)
                         return caf::make_error(errc::table_gone);
                       return result;
                     });
  }
};

/// The operations of bag and duplicate_bag tables: a key holds a list of
/// objects, in insertion order.
template <class Derived, class K, class V, class Kind>
class bag_ops : public walk_ops<Derived, K, V, Kind, engine_t<K, V, Kind>> {
  using base = walk_ops<Derived, K, V, Kind, engine_t<K, V, Kind>>;

public:
  using typename base::core_type;
  using typename base::entry;

  // -- writes: need write rights (owner; others only in public mode) ---------

  /// Adds the object (ETS insert on a bag): a bag skips an object equal to
  /// one the key holds, a duplicate_bag adds it again.
  template <class KK = K, class VV = V>
  caf::expected<void> insert(KK&& key, VV&& value) {
    return this->run(true, [&](core_type& c) {
      bool added = false;
      return status_of(c.engine().add(as_type<K>(pass<KK>(key)),
                                      as_type<V>(pass<VV>(value)), added));
    });
  }

  /// Adds every object, atomically and isolated, in order.
  caf::expected<void> insert(std::vector<entry> entries) {
    return this->batch(std::move(entries), false);
  }

  /// Adds the object if the key is absent; errc::key_exists otherwise (ETS
  /// insert_new looks at keys, not objects).
  caf::expected<void> insert_new(K key, V value) {
    return this->run(true, [&](core_type& c) -> caf::expected<void> {
      bool added = false;
      auto st = c.engine().add_new(pass<K>(key), pass<V>(value), added);
      if (st == op_status::ok && !added)
        return caf::make_error(errc::key_exists);
      return status_of(st);
    });
  }

  /// Adds all objects if none of their keys is present, else nothing:
  /// errc::key_exists.
  caf::expected<void> insert_new(std::vector<entry> entries) {
    return this->batch(std::move(entries), true);
  }

  /// Removes the key with all its objects (ETS delete/2); the number of
  /// objects removed. Like every single-key operation below, takes a K or,
  /// for std::string keys, anything that converts to std::string_view.
  template <class Q = K>
  caf::expected<std::size_t> erase(const Q& key) {
    decltype(auto) k = key_arg<K, Kind>(key);
    return this->run(true, [&](core_type& c) -> caf::expected<std::size_t> {
      std::size_t n = 0;
      if (c.engine().erase(k, n) != op_status::ok)
        return caf::make_error(errc::table_gone);
      return n;
    });
  }

  /// Removes the key's objects equal to `value` (ETS delete_object: every
  /// copy in a duplicate_bag), atomically; the number removed.
  template <class Q = K>
  caf::expected<std::size_t> erase_object(const Q& key, const V& value) {
    decltype(auto) k = key_arg<K, Kind>(key);
    return this->run(true, [&](core_type& c) -> caf::expected<std::size_t> {
      std::size_t n = 0;
      auto st = c.engine().erase_objects(
        k, [&](const V& x) { return x == value; }, n);
      if (st != op_status::ok)
        return caf::make_error(errc::table_gone);
      return n;
    });
  }

  /// Removes the key and returns its objects in insertion order (ETS take).
  template <class Q = K>
  caf::expected<std::vector<V>> take(const Q& key) {
    decltype(auto) k = key_arg<K, Kind>(key);
    return this->run(true, [&](core_type& c) -> caf::expected<std::vector<V>> {
      std::vector<V> out;
      std::size_t n = 0;
      if (c.engine().erase(k, n, &out) != op_status::ok)
        return caf::make_error(errc::table_gone);
      return out;
    });
  }

  /// ETS answers badarg for these on a bag; cachet refuses to compile them.
  template <class... Ts>
  void update_counter(Ts&&...) {
    static_assert(always_false<Ts...>,
                  "update_counter on a bag: ETS answers badarg (a key holds "
                  "several objects); use a set table for counters");
  }

  template <class... Ts>
  void update(Ts&&...) {
    static_assert(always_false<Ts...>,
                  "update on a bag: a key holds several objects; use "
                  "erase_object and insert");
  }

  template <class... Ts>
  void select_replace(Ts&&...) {
    static_assert(always_false<Ts...>,
                  "select_replace on a bag: ETS answers badarg; use "
                  "select_delete and insert");
  }

  // -- reads: need read rights (owner; others unless private) -----------------

  /// The key's objects in insertion order (ETS lookup); empty if absent.
  template <class Q = K>
  caf::expected<std::vector<V>> lookup(const Q& key) const {
    std::vector<V> out;
    auto res = visit_all(key, [&](const std::vector<V>& xs) { out = xs; });
    if (!res)
      return std::move(res.error());
    return out;
  }

  /// Calls `f(view_t<V>)` on each of the key's objects in insertion order,
  /// while they are protected from reclamation; the number shown.
  template <class Q = K, class F>
  caf::expected<std::size_t> visit(const Q& key, F&& f) const {
    std::size_t n = 0;
    auto res = visit_all(key, [&](const std::vector<V>& xs) {
      n = xs.size();
      for (const auto& x : xs)
        f(static_cast<view_t<V>>(x));
    });
    if (!res)
      return std::move(res.error());
    return n;
  }

  /// True if the key holds any object.
  template <class Q = K>
  caf::expected<bool> member(const Q& key) const {
    bool found = false;
    auto res = visit_all(key, [&](const std::vector<V>&) { found = true; });
    if (!res)
      return std::move(res.error());
    return found;
  }

private:
  template <class T, class U>
  static decltype(auto) pass(U& x) {
    return pass_arg<Derived::retries, T>(x);
  }

  template <class Q, class F>
  caf::expected<void> visit_all(const Q& key, F&& f) const {
    decltype(auto) k = key_arg<K, Kind>(key);
    return this->run(false, [&](core_type& c) {
      return status_of(c.engine().find(k, [&](const std::vector<V>* xs) {
        if (xs != nullptr)
          f(*xs);
      }));
    });
  }
};

/// The operations of a table of kind `Kind`.
template <class Derived, class K, class V, class Kind>
using ops_of = std::conditional_t<is_bag_v<Kind>, bag_ops<Derived, K, V, Kind>,
                                  table_ops<Derived, K, V, Kind>>;

} // namespace detail

/// A handle to someone else's table: copyable, checked against the table's
/// access mode on every operation. See the header comment.
template <class K, class V, class Kind>
class table : public detail::handle_base<detail::table_core<K, V, Kind>>,
              public detail::ops_of<table<K, V, Kind>, K, V, Kind> {
public:
  using core_type = detail::table_core<K, V, Kind>;

  /// For internal use: handles come from owned_table::share and whereis.
  explicit table(std::shared_ptr<core_type> core)
    : detail::handle_base<core_type>(std::move(core), 0) {
    // nop
  }
};

/// The owner's capability on its table: full rights in every mode.
/// Move-only, so exactly one exists; keep it in the owner's state. Its
/// destruction ends this owner's ownership as the owner's exit does: a
/// stateful owner's state is destroyed before CAF tells monitors and links
/// that the owner is down. After give_away (or once the table passed to an
/// heir and on) it has the rights of non-owners.
template <class K, class V, class Kind>
class owned_table
  : public detail::owned_base<detail::table_core<K, V, Kind>, table<K, V, Kind>>,
    public detail::ops_of<owned_table<K, V, Kind>, K, V, Kind> {
public:
  using core_type = detail::table_core<K, V, Kind>;

  /// For internal use: owned tables come from make_table, spawn_owner and
  /// table_transfer::claim.
  owned_table(std::shared_ptr<core_type> core, std::uint64_t gen)
    : detail::owned_base<core_type, table<K, V, Kind>>(std::move(core), gen) {
    // nop
  }
};

template <class K, class V, class Kind>
caf::message detail::table_core<K, V, Kind>::transfer_message(
  std::uint64_t gen, const caf::actor_addr& from, const caf::message& data) {
  return make_transfer<owned_table<K, V, Kind>>(*this, gen, from, data);
}

/// Creates a table owned by `self` (call it in the owner's init): it dies
/// with `self` unless it has a live heir. If `opts.name` is held by a table
/// that `opts.heir` inherited (its previous owner died), `self` takes that
/// table back, data and all: how a restarted owner keeps its table. Errors:
/// name_taken if a live table holds the name otherwise, wrong_type if the
/// inherited table has other types.
template <class K, class V, class Kind = set<>>
caf::expected<owned_table<K, V, Kind>> make_table(caf::local_actor* self,
                                                  table_options opts = {}) {
  using core_type = detail::table_core<K, V, Kind>;
  auto op = detail::open<core_type>(self->system(), opts.name, opts.heir, [&] {
    return std::make_shared<core_type>(opts, opts.may_grow);
  });
  if (!op)
    return std::move(op.error());
  auto gen = op->bind(*self);
  if (!gen)
    return std::move(gen.error());
  return owned_table<K, V, Kind>{std::move(op->core), *gen};
}

/// The live table registered as `name` in `sys`. Errors: no_such_table,
/// wrong_type (it has other K, V or Kind, or is a cache or snapshot).
template <class K, class V, class Kind = set<>>
caf::expected<table<K, V, Kind>> whereis(caf::actor_system& sys,
                                         const std::string& name) {
  using core_type = detail::table_core<K, V, Kind>;
  auto core = detail::registry_of(sys)->find(name);
  if (!core)
    return caf::make_error(errc::no_such_table);
  if (core->type() != typeid(core_type))
    return caf::make_error(errc::wrong_type);
  return table<K, V, Kind>{std::static_pointer_cast<core_type>(std::move(core))};
}

} // namespace cachet

namespace caf {

// Table handles travel in local messages only (they point into this
// process's memory).
template <class K, class V, class Kind>
struct allowed_unsafe_message_type<cachet::table<K, V, Kind>> : std::true_type {
};

} // namespace caf
