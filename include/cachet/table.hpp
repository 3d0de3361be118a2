// Tables with ETS semantics, read and written directly from any thread.
//
// A table is created by its owner actor, in the owner's init, and lives
// exactly as long as that actor: when the owner exits (normally, by an
// exception, or killed) the table is retired and every handle answers
// errc::table_gone. Two handle types carry the two kinds of rights:
//
// * `owned_table` is the owner's capability: full rights, move-only, so
//   there is only ever one. Keep it in the owner's state.
// * `table` is what everyone else holds (from `owned_table::share()` or
//   `whereis`): copyable, and checked against the table's access mode on
//   every operation; a violation returns errc::access_denied and changes
//   nothing.
//
// Direct access vs messages: a direct read runs on the caller's thread, takes
// no lock and scales with reader threads; a message to the owner (owner.hpp)
// is serialized by its mailbox. Use direct reads for hot paths, messages when
// the owner must decide (read-through fetch, validation, private tables).
//
// Thread safety: every operation of both handle types is safe to call
// concurrently from any thread. Each single-key operation is atomic and
// isolated; batch inserts are atomic and isolated too (readers of a key in
// the batch wait for it). Walks (for_each, fold, to_list) are not snapshots:
// an entry present for the whole walk is seen exactly once.
//
// NOTE: values are returned as copies, or shown to a function while
// protected; no reference into the table escapes. Shown means as
// `view_t<T>`: `const T&`, except that std::string keys and values are shown
// as std::string_view (set tables keep their bytes inline in the entry).
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

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>
#include <caf/send.hpp>

#include "cachet/access.hpp"
#include "cachet/counter.hpp"
#include "cachet/detail/table_core.hpp"
#include "cachet/errc.hpp"
#include "cachet/fwd.hpp"
#include "cachet/kind.hpp"
#include "cachet/table_options.hpp"

namespace cachet {

/// How visit, for_each and fold show a key or value: `const T&`, or
/// std::string_view for std::string.
template <class T>
using view_t = detail::view_t<T>;

namespace detail {

/// The operations both handle types offer; `Derived::allowed(bool write)`
/// decides the rights.
template <class Derived, class K, class V, class Kind>
class table_ops {
public:
  using key_type = K;
  using mapped_type = V;
  using kind_type = Kind;
  using core_type = table_core<K, V, Kind>;
  using entry = std::pair<K, V>;

  // -- properties -------------------------------------------------------------

  /// True until the owner dies. Informational: the table may die right after.
  bool alive() const noexcept {
    return core_->alive();
  }

  access mode() const noexcept {
    return core_->mode();
  }

  /// The registry name, empty if anonymous.
  const std::string& name() const noexcept {
    return core_->name();
  }

  /// The owner actor (invalid once it died), for message-based access.
  caf::actor_addr owner() const {
    return core_->owner();
  }

  // -- writes: need write rights (owner; others only in public mode) ---------

  /// Inserts or replaces (ETS insert). The entry is built straight from
  /// `key` and `value`: passing lvalues copies each once, into the table.
  template <class KK = K, class VV = V>
  caf::expected<void> insert(KK&& key, VV&& value) {
    if (!permitted(true))
      return denial();
    return status(engine().put(as<K>(std::forward<KK>(key)),
                               as<V>(std::forward<VV>(value))));
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
      out.emplace(std::move(value));
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
    bool existed = false;
    auto res = write(key, [&](const auto* cur, std::optional<V>&) {
      existed = cur != nullptr;
      return write_action::erase;
    });
    if (!res)
      return std::move(res.error());
    return existed;
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
    if (!permitted(true))
      return denial();
    return status(engine().clear());
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
    if (!permitted(false))
      return denial();
    bool found = false;
    auto st = engine().find(key, [&](const auto* v) {
      if (v != nullptr) {
        found = true;
        f(static_cast<view_t<V>>(*v));
      }
    });
    if (st != op_status::ok)
      return caf::make_error(errc::table_gone);
    return found;
  }

  /// True if the key is present.
  caf::expected<bool> member(const K& key) const {
    return visit(key, [](view_t<V>) {});
  }

  /// Number of entries; exact when no write is in flight.
  caf::expected<std::size_t> size() const {
    if (!permitted(false))
      return denial();
    std::size_t n = 0;
    if (engine().size(n) != op_status::ok)
      return caf::make_error(errc::table_gone);
    return n;
  }

  /// Calls `f(view_t<K>, view_t<V>)` for every entry (in key order for
  /// ordered_set). Not a snapshot; see the header comment.
  template <class F>
  caf::expected<void> for_each(F&& f) const {
    if (!permitted(false))
      return denial();
    return status(engine().for_each([&](const auto& k, const auto& v) {
      f(static_cast<view_t<K>>(k), static_cast<view_t<V>>(v));
    }));
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
    if (!permitted(false))
      return denial();
    std::vector<entry> out;
    if (engine().range(lo, hi, limit, out) != op_status::ok)
      return caf::make_error(errc::table_gone);
    return out;
  }

protected:
  explicit table_ops(std::shared_ptr<core_type> core) : core_(std::move(core)) {
    // nop
  }

  table_ops(const table_ops&) = default;
  table_ops(table_ops&&) noexcept = default;
  table_ops& operator=(const table_ops&) = default;
  table_ops& operator=(table_ops&&) noexcept = default;
  ~table_ops() = default;

  std::shared_ptr<core_type> core_;

private:
  using engine_type = typename core_type::engine_type;

  engine_type& engine() const {
    return core_->engine();
  }

  /// True if this handle may read (or write). Inline and error-free: the
  /// check sits on every direct read.
  bool permitted(bool write) const noexcept {
    return core_ && static_cast<const Derived&>(*this).allowed(write);
  }

  /// Why permitted() said no: access_denied, or table_gone when the table
  /// died (or the handle was moved from).
  caf::error denial() const {
    if (core_ && core_->alive())
      return caf::make_error(errc::access_denied);
    return caf::make_error(errc::table_gone);
  }

  static caf::expected<void> status(op_status st) {
    if (st == op_status::gone)
      return caf::make_error(errc::table_gone);
    return caf::unit;
  }

  template <class KK, class F>
  caf::expected<void> write(KK&& key, F&& f) {
    if (!permitted(true))
      return denial();
    return status(engine().modify(std::forward<KK>(key), f));
  }

  /// `x` itself if it is a T, else a T made from it.
  template <class T, class U>
  static decltype(auto) as(U&& x) {
    if constexpr (std::is_same_v<std::decay_t<U>, T>)
      return std::forward<U>(x);
    else
      return T(std::forward<U>(x));
  }

  caf::expected<void> batch(std::vector<entry> entries, bool only_new) {
    if (!permitted(true))
      return denial();
    auto st = engine().insert_batch(std::move(entries), only_new);
    if (st == op_status::rejected)
      return caf::make_error(errc::key_exists);
    return status(st);
  }

  caf::expected<std::int64_t> counter(const K& key, const counter_op& op,
                                      const V* default_value) {
    using traits = counter_traits<V>;
    if constexpr (!traits::supported) {
      if (!permitted(true))
        return denial();
      return alive() ? caf::make_error(errc::not_a_counter)
                     : caf::make_error(errc::table_gone);
    } else {
      std::int64_t result = 0;
      errc failure{};
      auto res = write(key, [&](const auto* cur, std::optional<V>& out) {
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
    if (!permitted(false))
      return denial();
    std::optional<K> result;
    auto st = call(engine(), [&](const K* k) {
      if (k != nullptr)
        result.emplace(*k);
    });
    if (st != op_status::ok)
      return caf::make_error(errc::table_gone);
    return result;
  }
};

} // namespace detail

/// A handle to someone else's table: copyable, checked against the table's
/// access mode on every operation. See the header comment.
template <class K, class V, class Kind>
class table : public detail::table_ops<table<K, V, Kind>, K, V, Kind> {
public:
  using super = detail::table_ops<table, K, V, Kind>;

  /// For internal use: handles come from owned_table::share and whereis.
  explicit table(std::shared_ptr<typename super::core_type> core)
    : super(std::move(core)) {
    // nop
  }

  table(const table&) = default;
  table(table&&) noexcept = default;
  table& operator=(const table&) = default;
  table& operator=(table&&) noexcept = default;

  /// Rights of non-owners: ETS's protection levels.
  bool allowed(bool write) const noexcept {
    auto m = this->core_->mode();
    return write ? m == access::public_ : m != access::private_;
  }

  friend bool operator==(const table& x, const table& y) noexcept {
    return x.core_ == y.core_;
  }

  friend bool operator!=(const table& x, const table& y) noexcept {
    return !(x == y);
  }
};

/// The owner's capability on its table: full rights in every mode.
/// Move-only, so exactly one exists; keep it in the owner's state. It is valid
/// for one ownership generation: after give_away (or if the table passed to
/// an heir and on) it answers errc::access_denied.
template <class K, class V, class Kind>
class owned_table
  : public detail::table_ops<owned_table<K, V, Kind>, K, V, Kind> {
public:
  using super = detail::table_ops<owned_table, K, V, Kind>;

  /// For internal use: owned tables come from make_table, spawn_owner and
  /// table_transfer::claim.
  owned_table(std::shared_ptr<typename super::core_type> core,
              std::uint64_t gen)
    : super(std::move(core)), gen_(gen) {
    // nop
  }

  owned_table(owned_table&& other) noexcept
    : super(std::move(other)), gen_(other.gen_) {
    // nop
  }

  owned_table(const owned_table&) = delete;
  owned_table& operator=(const owned_table&) = delete;

  /// Drops the capability this handle held (see the destructor).
  owned_table& operator=(owned_table&& other) noexcept {
    if (this != &other) {
      release();
      this->core_ = std::move(other.core_);
      gen_ = other.gen_;
    }
    return *this;
  }

  /// Ends this owner's ownership, as the owner's exit does: the table passes
  /// to its heir if one is alive, else it retires. A stateful owner's state
  /// is destroyed before CAF tells monitors and links that the owner is down.
  ~owned_table() {
    release();
  }

  /// A handle with the rights of non-owners, to give to others.
  table<K, V, Kind> share() const {
    return table<K, V, Kind>{this->core_};
  }

  /// ETS give_away: makes `to` the owner, who is sent a
  /// table_transfer<K, V, Kind> carrying `data`; this handle loses its
  /// rights. Errors: access_denied (not the owner any more), table_gone.
  caf::error give_away(const caf::actor& to, caf::message data = {}) {
    return this->core_->give_away(gen_, to, std::move(data));
  }

  bool allowed(bool) const noexcept {
    return gen_ == this->core_->generation();
  }

private:
  void release() noexcept {
    if (this->core_)
      this->core_->owner_gone(gen_);
  }

  std::uint64_t gen_;
};

/// The message a new owner gets when a table passes to it (ETS's
/// {'ETS-TRANSFER', Tab, FromPid, Data}): by give_away, or as the heir of a
/// dead owner. `claim` turns it into the owner capability, once. Local
/// messages only.
template <class K, class V, class Kind>
class table_transfer {
public:
  table_transfer() = default;

  table_transfer(std::shared_ptr<detail::table_core<K, V, Kind>> core,
                 std::uint64_t gen, caf::actor_addr from, caf::message data)
    : core_(std::move(core)),
      gen_(gen),
      from_(std::move(from)),
      data_(std::move(data)) {
    // nop
  }

  /// The table's registry name.
  const std::string& name() const {
    return core_->name();
  }

  /// The previous owner.
  const caf::actor_addr& from() const {
    return from_;
  }

  /// give_away's data, or the table's heir_data.
  const caf::message& data() const {
    return data_;
  }

  /// The owner capability. access_denied if claimed already or if ownership
  /// moved on since; table_gone if the table died.
  caf::expected<owned_table<K, V, Kind>> claim() const {
    if (!core_ || !core_->alive())
      return caf::make_error(errc::table_gone);
    if (!core_->claim(gen_))
      return caf::make_error(errc::access_denied);
    return owned_table<K, V, Kind>{core_, gen_};
  }

private:
  std::shared_ptr<detail::table_core<K, V, Kind>> core_;
  std::uint64_t gen_ = 0;
  caf::actor_addr from_;
  caf::message data_;
};

template <class K, class V, class Kind>
void detail::table_core<K, V, Kind>::send_transfer(
  const caf::actor& to, std::uint64_t gen, const caf::actor_addr& from,
  const caf::message& data) {
  auto self = std::static_pointer_cast<table_core>(shared_from_this());
  caf::anon_send(to, table_transfer<K, V, Kind>{std::move(self), gen, from,
                                                data});
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
  if (!opts.name.empty() && opts.heir) {
    if (auto held = detail::registry::of(self->system())->find(opts.name)) {
      if (held->type() != typeid(core_type))
        return caf::make_error(errc::wrong_type);
      if (auto gen = held->reclaim(*self, opts.heir))
        return owned_table<K, V, Kind>{
          std::static_pointer_cast<core_type>(std::move(held)), *gen};
    }
  }
  auto core = std::make_shared<core_type>(std::move(opts));
  if (auto err = core->register_name(self->system()))
    return err;
  auto gen = core->bind(*self);
  return owned_table<K, V, Kind>{std::move(core), gen};
}

/// The live table registered as `name` in `sys`. Errors: no_such_table,
/// wrong_type (it has other K, V or Kind).
template <class K, class V, class Kind = set<>>
caf::expected<table<K, V, Kind>> whereis(caf::actor_system& sys,
                                         const std::string& name) {
  auto core = detail::registry::of(sys)->find(name);
  if (!core)
    return caf::make_error(errc::no_such_table);
  if (core->type() != typeid(detail::table_core<K, V, Kind>))
    return caf::make_error(errc::wrong_type);
  return table<K, V, Kind>{
    std::static_pointer_cast<detail::table_core<K, V, Kind>>(std::move(core))};
}

} // namespace cachet

namespace caf {

// Table handles travel in local messages only (they point into this
// process's memory).
template <class K, class V, class Kind>
struct allowed_unsafe_message_type<cachet::table<K, V, Kind>> : std::true_type {
};

template <class K, class V, class Kind>
struct allowed_unsafe_message_type<cachet::table_transfer<K, V, Kind>>
  : std::true_type {};

} // namespace caf
