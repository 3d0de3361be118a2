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
// the batch wait for it). Walks (for_each, fold, to_list, scan) are not
// snapshots: an entry present for the whole walk is seen exactly once (scan:
// at least once), and walks never hold up writers or the table's growth.
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

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
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
#include "cachet/table_options.hpp"
#include "cachet/transfer.hpp"

namespace cachet {

/// How visit, for_each and fold show a key or value: `const T&`, or
/// std::string_view for std::string.
template <class T>
using view_t = detail::view_t<T>;

namespace detail {

/// The operations of every table handle. Each asks `Derived::with(write,
/// f)` for the table's core: table and owned_table check their rights and
/// run `f` once, named_table resolves its name and runs `f` again on the
/// next table after a table_gone. So that such a retry is sound, an
/// operation has no effect when it fails, and consumes its arguments only
/// when `Derived::retries` is false.
template <class Derived, class K, class V, class Kind>
class table_ops {
public:
  using key_type = K;
  using mapped_type = V;
  using kind_type = Kind;
  using core_type = table_core<K, V, Kind>;
  using entry = std::pair<K, V>;

  // -- writes: need write rights (owner; others only in public mode) ---------

  /// Inserts or replaces (ETS insert). The entry is built straight from
  /// `key` and `value`: passing lvalues copies each once, into the table.
  template <class KK = K, class VV = V>
  caf::expected<void> insert(KK&& key, VV&& value) {
    return run(true, [&](core_type& c) {
      return status(c.engine().put(as<K>(pass<KK>(key)), as<V>(pass<VV>(value))));
    });
  }

  /// Inserts or replaces every entry, atomically and isolated.
  caf::expected<void> insert(std::vector<entry> entries) {
    return batch(std::move(entries), false);
  }

  /// Inserts if absent; errc::key_exists otherwise (ETS insert_new).
  caf::expected<void> insert_new(K key, V value) {
    bool exists = false;
    auto res = write(std::move(key), [&](const auto* cur,
                                         std::optional<V>& out) {
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
    return batch(std::move(entries), true);
  }

  /// Removes the key; true if it was present.
  caf::expected<bool> erase(const K& key) {
    return erase_if(key, [](const auto&) { return true; });
  }

  /// Removes the key if `pred(view_t<V>)` holds for its value, atomically:
  /// no write of the key lands between the test and the removal (ETS's
  /// delete_object on one key); true if it removed the key. `pred` runs
  /// under the key's write lock: it must not touch the same table.
  template <class Pred>
  caf::expected<bool> erase_if(const K& key, Pred&& pred) {
    bool erased = false;
    auto res = write(key, [&](const auto* cur, std::optional<V>&) {
      erased = cur != nullptr && pred(static_cast<view_t<V>>(*cur));
      return erased ? write_action::erase : write_action::keep;
    });
    if (!res)
      return std::move(res.error());
    return erased;
  }

  /// Removes the key and returns its value (ETS take).
  caf::expected<std::optional<V>> take(const K& key) {
    std::optional<V> result;
    auto res = write(key, [&](const auto* cur, std::optional<V>&) {
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
  caf::expected<std::int64_t> update_counter(const K& key, counter_op op = {}) {
    return counter(key, op, nullptr);
  }

  /// As above; a missing key is first inserted as `default_value`.
  caf::expected<std::int64_t> update_counter(const K& key, counter_op op,
                                             const V& default_value) {
    return counter(key, op, &default_value);
  }

  /// Applies `f(V&)` to a copy of the key's value and stores the result,
  /// atomically; false if the key is absent. `f` runs under the key's write
  /// lock; if it throws, the value is unchanged and the exception propagates.
  template <class F>
  caf::expected<bool> update(const K& key, F&& f) {
    bool found = false;
    auto res = write(key, [&](const auto* cur, std::optional<V>& out) {
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

  /// Removes every entry, atomically (ETS delete_all_objects).
  caf::expected<void> clear() {
    return run(true, [&](core_type& c) { return status(c.engine().clear()); });
  }

  // -- reads: need read rights (owner; others unless private) -----------------

  /// A copy of the key's value, or nullopt if absent.
  caf::expected<std::optional<V>> lookup(const K& key) const {
    std::optional<V> result;
    auto res = visit(key, [&](view_t<V> v) { result.emplace(v); });
    if (!res)
      return std::move(res.error());
    return result;
  }

  /// Calls `f(view_t<V>)` on the key's value while it is protected from
  /// reclamation; true if the key was present. No copy is made.
  template <class F>
  caf::expected<bool> visit(const K& key, F&& f) const {
    return run(false, [&](core_type& c) -> caf::expected<bool> {
      bool found = false;
      auto st = c.engine().find(key, [&](const auto* v) {
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
  caf::expected<bool> member(const K& key) const {
    return visit(key, [](view_t<V>) {});
  }

  /// Number of entries; exact when no write is in flight.
  caf::expected<std::size_t> size() const {
    return run(false, [&](core_type& c) -> caf::expected<std::size_t> {
      std::size_t n = 0;
      if (c.engine().size(n) != op_status::ok)
        return caf::make_error(errc::table_gone);
      return n;
    });
  }

  /// Calls `f(view_t<K>, view_t<V>)` for every entry (in key order for
  /// ordered_set). Not a snapshot; see the header comment.
  template <class F>
  caf::expected<void> for_each(F&& f) const {
    return run(false, [&](core_type& c) {
      return status(c.engine().for_each([&](const auto& k, const auto& v) {
        f(static_cast<view_t<K>>(k), static_cast<view_t<V>>(v));
      }));
    });
  }

  /// Folds `f(acc, view_t<K>, view_t<V>) -> acc` over every entry.
  template <class Acc, class F>
  caf::expected<Acc> fold(Acc init, F&& f) const {
    auto res = for_each([&](view_t<K> k, view_t<V> v) {
      init = f(std::move(init), k, v);
    });
    if (!res)
      return std::move(res.error());
    return init;
  }

  /// Every entry as a list (ETS tab2list).
  caf::expected<std::vector<entry>> to_list() const {
    std::vector<entry> out;
    auto res = for_each([&](view_t<K> k, view_t<V> v) {
      out.emplace_back(k, v);
    });
    if (!res)
      return std::move(res.error());
    return out;
  }

  // -- set only ----------------------------------------------------------------

  /// One step of a cursor walk (Redis SCAN): calls `f(view_t<K>, view_t<V>)`
  /// for some entries from `cursor` on (start at 0) and returns the cursor
  /// to pass next; 0 when the walk is complete. Each call does bounded work,
  /// about `count` entries, however large the table. Every entry present for
  /// the whole walk is shown at least once, across the table's growth;
  /// entries written meanwhile may be shown or not.
  template <class F>
  caf::expected<std::uint64_t> scan(std::uint64_t cursor, std::size_t count,
                                    F&& f) const {
    static_assert(!is_ordered_v<Kind>, "scan() needs a set table");
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

  // -- ordered_set only ------------------------------------------------------

  /// The smallest key, or nullopt if empty.
  caf::expected<std::optional<K>> first() const {
    return ordered_key([&](auto& e, auto&& f) { return e.first(f); });
  }

  /// The largest key, or nullopt if empty.
  caf::expected<std::optional<K>> last() const {
    return ordered_key([&](auto& e, auto&& f) { return e.last(f); });
  }

  /// The smallest key greater than `key` (which need not be present).
  caf::expected<std::optional<K>> next(const K& key) const {
    return ordered_key([&](auto& e, auto&& f) { return e.next(key, f); });
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
    return run(false, [&](core_type& c) -> caf::expected<std::vector<entry>> {
      std::vector<entry> out;
      if (c.engine().range(lo, hi, limit, out) != op_status::ok)
        return caf::make_error(errc::table_gone);
      return out;
    });
  }

private:
  template <class F>
  auto run(bool write, F&& f) const {
    return static_cast<const Derived&>(*this).with(write, std::forward<F>(f));
  }

  /// An argument for one attempt: forwarded as given, or, when the handle
  /// may retry, as an lvalue that the attempt copies.
  template <class T, class U>
  static decltype(auto) pass(U& x) {
    if constexpr (Derived::retries || std::is_lvalue_reference_v<T>)
      return static_cast<const U&>(x);
    else
      return static_cast<U&&>(x);
  }

  /// `x` itself if it is a T, else a T made from it.
  template <class T, class U>
  static decltype(auto) as(U&& x) {
    if constexpr (std::is_same_v<std::decay_t<U>, T>)
      return std::forward<U>(x);
    else
      return T(std::forward<U>(x));
  }

  static caf::expected<void> status(op_status st) {
    if (st == op_status::gone)
      return caf::make_error(errc::table_gone);
    return caf::unit;
  }

  template <class KK, class F>
  caf::expected<void> write(KK&& key, F&& f) {
    return run(true, [&](core_type& c) {
      return status(c.engine().modify(pass<KK>(key), f));
    });
  }

  caf::expected<void> batch(std::vector<entry> entries, bool only_new) {
    return run(true, [&](core_type& c) -> caf::expected<void> {
      auto st = Derived::retries
                  ? c.engine().insert_batch(entries, only_new)
                  : c.engine().insert_batch(std::move(entries), only_new);
      if (st == op_status::rejected)
        return caf::make_error(errc::key_exists);
      return status(st);
    });
  }

  caf::expected<std::int64_t> counter(const K& key, const counter_op& op,
                                      const V* default_value) {
    using traits = counter_traits<V>;
    if constexpr (!traits::supported) {
      return run(true, [&](core_type& c) -> caf::expected<std::int64_t> {
        return c.alive() ? caf::make_error(errc::not_a_counter)
                         : caf::make_error(errc::table_gone);
      });
    } else {
      std::int64_t result = 0;
      errc failure{};
      auto res = write(key, [&](const auto* cur, std::optional<V>& out) {
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
    static_assert(is_ordered_v<Kind>,
                  "first/last/next/prev need an ordered_set table");
    return run(false, [&](core_type& c) -> caf::expected<std::optional<K>> {
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

} // namespace detail

/// A handle to someone else's table: copyable, checked against the table's
/// access mode on every operation. See the header comment.
template <class K, class V, class Kind>
class table : public detail::handle_base<detail::table_core<K, V, Kind>>,
              public detail::table_ops<table<K, V, Kind>, K, V, Kind> {
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
    public detail::table_ops<owned_table<K, V, Kind>, K, V, Kind> {
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
    return std::make_shared<core_type>(opts);
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
