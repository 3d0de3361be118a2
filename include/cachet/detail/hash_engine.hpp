// The engine behind hashed tables (set, bag keys, caches): a flat hash table
// of cache-line groups whose readers take no lock and write no shared
// memory, and whose growth never makes a reader wait.
//
// Layout. A key's 64-bit hash picks its home group by its top 32 bits (the
// key's fragment), scaled to the number of groups (a multiply, not a mask,
// so the table may have any number of groups). A group is one 64-byte
// line: a sequence word, a count, and either the entries themselves (keys
// and values of small trivially copyable types, stored as 64-bit words:
// u64 -> u64 holds 3 per group) or 5 pointers to immutable nodes with a
// byte of each key's hash (a tag), the 5 tags in one word. A full group
// chains overflow groups of the same shape. A lookup of an inline entry is
// one cache line, a node's two. A node slot keeps no fragment: walks and
// growth hash the node's key when they need it.
//
// Reads are optimistic: a reader loads the home group's sequence (even),
// reads the chain, and checks the sequence again; a writer makes it odd
// while it writes (it is the group's lock), so a reader that overlapped a
// write reads again. Nodes are immutable once published; a write that
// replaces or removes one retires it through epoch-based reclamation
// (epoch.hpp), as it does overflow groups it unlinks and arrays it
// replaces, so a reader that followed a stale pointer still reads valid
// memory. (A mapped array's own pool of overflow groups lives as long as
// the array: one unlinked waits in the array for the same grace period,
// then serves another chain.)
//
// Growth. Groups fill to `max_load` of their slots on average, then the
// table allocates an array 1.5 times larger and migrates to it a few groups
// at a time, each write helping with a step: a group is locked, its entries
// are copied into the new array, and it is marked moved before it is
// unlocked. Readers and writers that find a moved group go on in the new
// array; the old one is retired once every group moved. No reader ever
// waits for more than one group's migration, and no write copies the whole
// table.
//
// Order. A group holds the fragments of one interval, and the intervals
// ascend with the group's index whatever the array's size. Walks (for_each,
// select's pages, scan's cursor) visit the groups in that order and
// remember the fragment they stopped at: after a growth, the walk goes on
// from the group holding that fragment and skips the entries below it. An
// entry present for the whole walk is shown exactly once. first/next follow
// the same order.
//
// Batches (insert of many keys) lock every group they write, in index
// order, before they change any, and unlock them after: readers of those
// groups wait, as ETS readers wait on a batch's write locks, and see all of
// the batch or none of it.
//
// A node is one allocation: std::string keys and values keep their bytes
// inline behind it, after their sizes as varints (16 B key, 100 B value: a
// 128-byte malloc chunk), and so does a value type's own block if it
// specializes node_tail (engine_common.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cachet/detail/engine_common.hpp"
#include "cachet/detail/epoch.hpp"
#include "cachet/detail/pages.hpp"
#include "cachet/detail/varint.hpp"

namespace cachet::detail {

/// ceil(x / n) for 0 < n and x <= 2^63, given recip = UINT64_MAX / n: a
/// multiplication instead of a division, which costs tens of cycles.
/// x * recip / 2^64 falls short of x / n by less than one, so the quotient
/// it gives is floor(x / n) or one less.
constexpr std::uint64_t ceil_div(std::uint64_t x, std::uint64_t n,
                                 std::uint64_t recip) noexcept {
  auto q = static_cast<std::uint64_t>(
    (static_cast<unsigned __int128>(x) * recip) >> 64);
  auto r = x - q * n;
  if (r >= n) {
    ++q;
    r -= n;
  }
  return q + (r != 0 ? 1 : 0);
}

template <class K, class V, class Hash, class KeyEqual>
class hash_engine {
  /// Words of 8 bytes a trivially copyable T takes inline.
  template <class T>
  static constexpr std::size_t words_of = (sizeof(T) + 7) / 8;

  template <class T>
  static constexpr bool inlinable = std::is_trivially_copyable_v<T>
                                    && std::is_default_constructible_v<T>
                                    && alignof(T) <= 8;

public:
  /// Entries small and trivially copyable enough live in the groups.
  static constexpr bool inline_entries
    = inlinable<K> && inlinable<V> && words_of<K> + words_of<V> <= 3;

  /// Counters, one cache line each; an entry counts in the stripe of the low
  /// bits of its hash, which no growth changes.
  static constexpr std::size_t stripe_count = 64;

  hash_engine() : arr_(make_array(min_groups)) {
    // nop
  }

  explicit hash_engine(Hash hash, KeyEqual eq = KeyEqual{})
    : hash_engine() {
    hash_ = std::move(hash);
    eq_ = std::move(eq);
  }

  hash_engine(const hash_engine&) = delete;
  hash_engine& operator=(const hash_engine&) = delete;

  /// Destroyed only when no handle, hence no reader or writer, is left.
  ~hash_engine() {
    if (auto* arr = arr_.load(std::memory_order_relaxed))
      free_arrays(arr);
    free_spares();
  }

  // -- reads: any thread, lock-free ------------------------------------------

  /// Calls `f(const value_ref*)` once, with the key's value or nullptr.
  /// `key` is a K or, for std::string keys, a std::string_view.
  template <class Q, class F>
  op_status find(const Q& key, F&& f) const {
    auto h = hash_of(key);
    auto frag = frag_of(h);
    epoch_guard pin;
    auto* arr = arr_.load(std::memory_order_acquire);
    if (arr == nullptr)
      return op_status::gone;
    for (;;) {
      const auto& g = arr->groups[index_of(frag, arr->n)];
      auto s = read_begin(g);
      if ((s & moved_bit) != 0) {
        arr = arr->next.load(std::memory_order_acquire);
        continue;
      }
      if constexpr (inline_entries) {
        entry_copy e;
        bool hit = search_inline(g, key, e);
        if (!read_valid(g, s))
          continue;
        if (!hit) {
          f(static_cast<const V*>(nullptr));
          return op_status::ok;
        }
        const V& v = e.value();
        f(&v);
        return op_status::ok;
      } else {
        const node* n = search_nodes(g, h, key);
        if (!read_valid(g, s))
          continue;
        show_value(n, f);
        return op_status::ok;
      }
    }
  }

  /// Calls `f(key, value)` for each entry, each a `const T&` or, if stored
  /// inline, a std::string_view. Not a snapshot: an entry present for the
  /// whole walk is visited exactly once, others at most once.
  template <class F>
  op_status for_each(F&& f) const {
    position pos;
    if (!visit_groups(pos, f, [] { return true; }))
      return op_status::gone;
    return op_status::ok;
  }

  /// Redis SCAN over the groups: calls `f(key, value)` for the entries of
  /// the groups from `cursor` on, stopping after a group once `count`
  /// entries were shown or `10 * count` groups visited, and stores the
  /// cursor to go on from in `next` (0: the walk is complete). A walk from
  /// cursor 0 to 0 shows every entry present for all of it at least once
  /// (exactly once unless clear() ran during it), and each call does
  /// bounded work whatever the table's size or growth.
  template <class F>
  op_status scan(std::uint64_t cursor, std::size_t count, F&& f,
                 std::uint64_t& next) const {
    count = std::max<std::size_t>(count, 1);
    std::size_t shown = 0;
    std::size_t groups = 0;
    auto counting = [&](const auto& k, const auto& v) {
      ++shown;
      f(k, v);
    };
    auto pos = position::of_cursor(cursor);
    if (!visit_groups(pos, counting, [&] {
          return shown < count && ++groups < 10 * count;
        }))
      return op_status::gone;
    next = pos.cursor();
    return op_status::ok;
  }

  /// Where a resumable walk (select with a limit, scan) stands: the first
  /// fragment it has not shown yet.
  struct position {
    std::uint64_t at = 0;
    bool done = false;

    /// Scan's cursor: the fragment to go on from (0 starts and ends a walk).
    std::uint64_t cursor() const noexcept {
      return done ? 0 : at;
    }

    static position of_cursor(std::uint64_t c) noexcept {
      position pos;
      pos.at = std::min<std::uint64_t>(c, frag_end);
      pos.done = pos.at == frag_end;
      return pos;
    }
  };

  /// Shows `f(key, value) -> bool` the entries of whole groups from `pos`
  /// on, in for_each's order, and stops after a group in which `f` said
  /// false (or at the end: pos.done). Across calls, an entry present for
  /// the whole walk is shown exactly once, as by for_each.
  template <class F>
  op_status walk(position& pos, F&& f) const {
    if (pos.done)
      return op_status::ok;
    bool more = true;
    auto wanting = [&](const auto& k, const auto& v) {
      if (!f(k, v))
        more = false;
    };
    if (!visit_groups(pos, wanting, [&] { return more; }))
      return op_status::gone;
    return op_status::ok;
  }

  /// Calls `f(const key_view*)` with the first key in walk order (ETS
  /// first on a set), or nullptr if the table is empty.
  template <class F>
  op_status first(F&& f) const {
    return successor(0, no_rank, f);
  }

  /// Calls `f(const key_view*)` with the key after `key` in walk order, or
  /// nullptr after the last one; no_key if `key` is not in the table (ETS's
  /// badarg). Stateless, as ETS's next without safe_fixtable: a walk by
  /// first/next over a table that changes meanwhile may skip or repeat keys
  /// (walk, scan and for_each do not).
  template <class Q, class F>
  op_status next(const Q& key, F&& f) const {
    auto h = hash_of(key);
    auto frag = frag_of(h);
    epoch_guard pin;
    auto* arr = arr_.load(std::memory_order_acquire);
    if (arr == nullptr)
      return op_status::gone;
    // The key's place in the order: its fragment, then its rank among the
    // entries of its group with the same fragment.
    for (;;) {
      const auto& g = arr->groups[index_of(frag, arr->n)];
      auto s = read_begin(g);
      if ((s & moved_bit) != 0) {
        arr = arr->next.load(std::memory_order_acquire);
        continue;
      }
      auto rank = no_rank;
      std::size_t same = 0;
      for_chain(g, [&](const group& x, std::size_t i) {
        if (entry_frag(x, i) != frag)
          return;
        if (rank == no_rank && holds(x, i, key))
          rank = same;
        ++same;
      });
      if (!read_valid(g, s))
        continue;
      if (rank == no_rank)
        return op_status::no_key;
      return successor(frag, rank, f);
    }
  }

  /// Under each group's write lock in turn, shows `g(key, const value_ref&,
  /// std::optional<V>& out)` every entry and applies the write_action it
  /// returns (`put` stores `out`, under the same key): the decision and the
  /// write are atomic per entry. Covers every entry present for the whole
  /// call exactly once, across growth (walk order). Writers of other
  /// groups go on meanwhile. If `g` or a copy throws, the entries done so
  /// far stay done and the exception propagates.
  template <class G>
  op_status edit_each(G&& g) {
    return edit_each(g, every_entry{});
  }

  /// edit_each for a `g` that changes only the entries for which
  /// `wanted(key, value) -> bool` holds, a pure test: a group is first
  /// read without its lock, and locked only if `wanted` holds for one of
  /// its entries as read (g decides then). A purge that removes a few
  /// entries writes only to the groups that hold them.
  template <class G, class W>
  op_status edit_each(G&& g, W&& wanted) {
    constexpr bool tested = !std::is_same_v<std::decay_t<W>, every_entry>;
    constexpr std::size_t groups_per_pin = 64;
    std::uint64_t at = 0;
    std::vector<void*> garbage;
    collected got;
    while (at < frag_end) {
      epoch_guard pin;
      auto* arr = arr_.load(std::memory_order_acquire);
      if (arr == nullptr)
        return op_status::gone;
      std::size_t budget = groups_per_pin;
      while (budget != 0 && at < frag_end) {
        if constexpr (tested) {
          bool found = skip_run(*arr, at, budget, got, wanted);
          if (!found) {
            if (budget == 0 || at >= frag_end)
              break;
            --budget;
            auto rg = find_group(arr, static_cast<std::uint32_t>(at));
            prefetch_ahead(*rg.arr, rg.index);
            if (collect(rg, at, got) && !any_of(got, wanted)) {
              at = rg.until;
              continue;
            }
          }
        } else {
          --budget;
        }
        auto [home, until, owner] = lock_group(arr,
                                               static_cast<std::uint32_t>(at));
        if constexpr (!tested)
          prefetch_ahead(*owner,
                         static_cast<std::size_t>(home - owner->groups));
        try {
          edit_chain(owner, *home, at, until, g, garbage);
        } catch (...) {
          unlock(*home);
          retire_all(garbage);
          throw;
        }
        unlock(*home);
        retire_all(garbage);
        at = until;
      }
    }
    return op_status::ok;
  }

  /// Number of entries; exact when no write is in flight.
  op_status size(std::size_t& out) const {
    if (arr_.load(std::memory_order_acquire) == nullptr)
      return op_status::gone;
    out = 0;
    for (auto& s : stripes_)
      out += s.count.load(std::memory_order_relaxed);
    return op_status::ok;
  }

  bool alive() const noexcept {
    return arr_.load(std::memory_order_acquire) != nullptr;
  }

  /// Bytes the table holds from the allocator: its entries (each node with
  /// its inline bytes, and the heap blocks of std::string and std::vector
  /// keys and values), its group arrays (two while it migrates) and their
  /// overflow groups. Memory of entries, groups and arrays retired but not
  /// yet reclaimed is not counted. Exact when no write is in flight.
  op_status memory(std::size_t& out) const {
    epoch_guard pin;
    auto* arr = arr_.load(std::memory_order_acquire);
    if (arr == nullptr)
      return op_status::gone;
    out = 0;
    for (auto* a = arr; a != nullptr; a = a->next.load(std::memory_order_acquire))
      out += held_bytes(*a);
    for (auto& s : stripes_)
      out += s.bytes.load(std::memory_order_relaxed);
    out += spare_count_.load(std::memory_order_relaxed) * sizeof(group)
           + spare_capacity_.load(std::memory_order_relaxed) * sizeof(group*);
    return op_status::ok;
  }

  /// The slots of the current group array, 0 once retired (for tests and
  /// tools: it grows with the table).
  std::size_t bucket_count() const noexcept {
    epoch_guard pin;
    auto* arr = arr_.load(std::memory_order_acquire);
    return arr != nullptr ? arr->n * slots : 0;
  }

  // -- writes: any thread, serialized per group -------------------------------

  /// Shows `f(const value_ref* current, std::optional<V>& out)` the key's
  /// value (or nullptr) under the key's write lock and applies the
  /// write_action it returns; `put` stores `out`. Atomic and isolated; if `f`
  /// or a copy throws, the table is unchanged. `key` is a K (or reference).
  template <class KK, class F>
  op_status modify(KK&& key, F&& f) {
    auto h = hash_of(key);
    auto frag = frag_of(h);
    void* garbage = nullptr;
    bool grew = false;
    // Pinned throughout: after_write still reads the array.
    epoch_guard pin;
    auto* arr = arr_.load(std::memory_order_acquire);
    if (arr == nullptr)
      return op_status::gone;
    auto [home, until, owner] = lock_group(arr, frag);
    (void) until;
    try {
      auto at = locate(*home, h, key);
      std::optional<V> out;
      write_action action;
      if constexpr (inline_entries) {
        if (at.where != nullptr) {
          auto e = copy_entry(*at.where, at.i);
          const V& v = e.value();
          action = f(&v, out);
        } else {
          action = f(static_cast<const V*>(nullptr), out);
        }
        if (action == write_action::put) {
          write_scope ws{*home};
          if (at.where != nullptr)
            store_value(*at.where, at.i, *out);
          else
            append_inline(owner, *home, h, key, *out);
        }
      } else {
        const node* cur = at.where != nullptr ? node_at(*at.where, at.i)
                                              : nullptr;
        action = show_value(cur, [&](const value_ref* v) {
          return f(v, out);
        });
        if (action == write_action::put) {
          auto* n = make_node(std::forward<KK>(key), std::move(*out));
          write_scope ws{*home};
          if (at.where != nullptr) {
            replace_node(*at.where, at.i, h, n);
            garbage = const_cast<node*>(cur);
          } else {
            try {
              append_node(owner, *home, h, n);
            } catch (...) {
              destroy(n);
              throw;
            }
          }
        }
      }
      if (action == write_action::erase && at.where != nullptr) {
        write_scope ws{*home};
        garbage = erase_at(owner, *home, at, h);
      }
      grew = action == write_action::put && at.where == nullptr;
    } catch (...) {
      unlock(*home);
      throw;
    }
    unlock(*home);
    after_write(garbage, grew ? h : no_growth, arr);
    return op_status::ok;
  }

  /// Inserts or replaces the key's entry, built before taking the lock from
  /// `key` and `value` (each a K or V, or a reference to one).
  template <class KK, class VV>
  op_status put(KK&& key, VV&& value) {
    if constexpr (inline_entries) {
      return modify(std::forward<KK>(key),
                    [&](const V*, std::optional<V>& out) {
                      out.emplace(std::forward<VV>(value));
                      return write_action::put;
                    });
    } else {
      auto h = hash_of(key);
      auto frag = frag_of(h);
      auto* n = make_node(std::forward<KK>(key), std::forward<VV>(value));
      void* garbage = nullptr;
      array* arr;
      bool added;
      epoch_guard pin; // throughout: after_write still reads the array
      {
        arr = arr_.load(std::memory_order_acquire);
        if (arr == nullptr) {
          destroy(n);
          return op_status::gone;
        }
        auto [home, until, owner] = lock_group(arr, frag);
        (void) until;
        auto at = locate(*home, h, n->key());
        added = at.where == nullptr;
        try {
          write_scope ws{*home};
          if (!added) {
            garbage = const_cast<node*>(node_at(*at.where, at.i));
            replace_node(*at.where, at.i, h, n);
          } else {
            append_node(owner, *home, h, n);
          }
        } catch (...) {
          unlock(*home);
          destroy(n);
          throw;
        }
        unlock(*home);
      }
      after_write(garbage, added ? h : no_growth, arr);
      return op_status::ok;
    }
  }

  /// Inserts all `items` atomically and isolated from readers; duplicate keys
  /// in `items`: the last wins. With `only_new`, inserts nothing and returns
  /// `rejected` if any key is present.
  op_status insert_batch(std::vector<std::pair<K, V>> items, bool only_new) {
    return merge_batch(items, only_new,
                       [](const value_ref*, V& x, std::optional<V>& out) {
                         out.emplace(std::move(x));
                         return true;
                       });
  }

  /// A batch write whose new values depend on the current ones (bags add
  /// to a key's objects): for each item, `merge(const value_ref* cur, X&
  /// item, std::optional<V>& out) -> bool` says whether to store `out`.
  /// Items with equal keys are merged in order, each seeing the previous
  /// one's result. Atomic and isolated: every group the batch writes is
  /// locked before the first entry changes, the new entries and any
  /// overflow groups they need are built first, so a failed allocation (or
  /// a throwing merge) changes nothing. With `only_new`, writes nothing and
  /// returns `rejected` if any key is present.
  template <class X, class Merge>
  op_status merge_batch(std::vector<std::pair<K, X>>& items, bool only_new,
                        Merge&& merge) {
    std::lock_guard<std::mutex> resizing{resize_};
    auto* arr = arr_.load(std::memory_order_acquire);
    if (arr == nullptr)
      return op_status::gone;
    // Size the table for the batch and finish any migration first: then
    // every key's group is in one array, and nothing grows while the batch
    // holds its groups.
    std::size_t n = 0;
    size(n);
    arr = grow_to_locked(n + items.size());
    std::vector<std::uint64_t> hashes;
    std::vector<std::size_t> order;
    hashes.reserve(items.size());
    order.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      hashes.push_back(hash_of(items[i].first));
      order.push_back(i);
    }
    auto group_of = [&](std::size_t i) {
      return index_of(frag_of(hashes[i]), arr->n);
    };
    // Items by group, then in their order: groups lock in ascending order,
    // and equal keys meet in the order they came, in one run.
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) {
      return group_of(a) < group_of(b);
    });
    // Everything the batch needs besides nodes and overflow groups is
    // allocated before the first lock: a lock is never left held.
    constexpr auto npos = ~std::size_t{0};
    std::vector<std::size_t> earlier(items.size(), npos);
    std::vector<std::optional<V>> outs; // inline entries: new values
    std::vector<node*> fresh;           // nodes: new nodes
    if constexpr (inline_entries)
      outs.resize(items.size());
    else
      fresh.resize(items.size(), nullptr);
    std::vector<void*> garbage;
    garbage.reserve(items.size());
    std::vector<std::pair<group*, std::uint32_t>> held; // and sequences
    held.reserve(items.size());
    epoch_guard pin;
    for (auto i : order) {
      auto* g = &arr->groups[group_of(i)];
      if (held.empty() || held.back().first != g) {
        lock(*g);
        held.emplace_back(g, 0);
      }
    }
    auto unlock_all = [&] {
      for (auto& [g, s] : held)
        unlock(*g);
    };
    auto present = [&](std::size_t i) {
      return locate(home_of(arr, hashes[i]), hashes[i],
                    items[i].first)
               .where
             != nullptr;
    };
    if (only_new)
      for (auto i : order)
        if (present(i)) {
          unlock_all();
          return op_status::rejected;
        }
    // The latest earlier item of `i`'s run with the same key that stores
    // something (npos: none), and whether an item stores.
    auto stores = [&](std::size_t j) {
      if constexpr (inline_entries)
        return outs[j].has_value();
      else
        return fresh[j] != nullptr;
    };
    try {
      // Decide every item first: merges and allocations may throw, and
      // nothing has changed yet.
      std::size_t run = 0;
      for (std::size_t k = 0; k < order.size(); ++k) {
        auto i = order[k];
        if (k > 0 && group_of(order[k - 1]) != group_of(i))
          run = k;
        for (auto m = k; m-- > run;) {
          auto j = order[m];
          if (stores(j) && eq_(items[j].first, items[i].first)) {
            earlier[i] = j;
            break;
          }
        }
        if constexpr (inline_entries) {
          std::optional<V> found;
          const V* cur = nullptr;
          if (earlier[i] != npos) {
            cur = &*outs[earlier[i]];
          } else {
            auto at = locate(home_of(arr, hashes[i]), hashes[i],
                             items[i].first);
            if (at.where != nullptr) {
              found = copy_entry(*at.where, at.i).value();
              cur = &*found;
            }
          }
          if (!merge(cur, items[i].second, outs[i]))
            outs[i].reset();
        } else {
          const node* cur = nullptr;
          if (earlier[i] != npos) {
            cur = fresh[earlier[i]];
          } else {
            auto at = locate(home_of(arr, hashes[i]), hashes[i],
                             items[i].first);
            if (at.where != nullptr)
              cur = node_at(*at.where, at.i);
          }
          std::optional<V> out;
          bool store = show_value(cur, [&](const value_ref* v) {
            return merge(v, items[i].second, out);
          });
          if (store)
            fresh[i] = make_node(items[i].first, std::move(*out));
        }
      }
      // Overflow groups for the keys new to their chains, taken before the
      // first change.
      std::size_t need = 0;
      for (std::size_t k = 0; k < order.size();) {
        auto gi = group_of(order[k]);
        std::size_t appends = 0;
        for (; k < order.size() && group_of(order[k]) == gi; ++k) {
          auto i = order[k];
          if (stores(i) && earlier[i] == npos && !present(i))
            ++appends;
        }
        need += overflows_for(arr->groups[gi], appends);
      }
      if (!stock_spares(need))
        throw std::bad_alloc{};
    } catch (...) {
      for (auto* x : fresh)
        if (x != nullptr)
          destroy(x);
      unlock_all();
      throw;
    }
    // Apply, in order: nothing below allocates. Readers of the batch's
    // groups wait from the first change to the last.
    for (auto& [g, s] : held)
      s = begin_write(*g);
    for (auto i : order) {
      if (!stores(i))
        continue;
      auto& home = home_of(arr, hashes[i]);
      auto at = locate(home, hashes[i], items[i].first);
      if constexpr (inline_entries) {
        if (at.where != nullptr)
          store_value(*at.where, at.i, *outs[i]);
        else
          append_inline(arr, home, hashes[i], items[i].first, *outs[i],
                        true);
      } else {
        if (at.where != nullptr) {
          garbage.push_back(const_cast<node*>(node_at(*at.where, at.i)));
          replace_node(*at.where, at.i, hashes[i], fresh[i]);
        } else {
          append_node(arr, home, hashes[i], fresh[i], true);
        }
      }
    }
    for (auto& [g, s] : held)
      end_write(*g, s);
    unlock_all();
    retire_all(garbage);
    free_spares();
    detail::poll_shared();
    return op_status::ok;
  }

  /// Removes every entry atomically (ETS delete_all_objects): every group
  /// is locked, then forwarded to a new, small array at once.
  op_status clear() {
    std::lock_guard<std::mutex> resizing{resize_};
    auto* arr = arr_.load(std::memory_order_relaxed);
    if (arr == nullptr)
      return op_status::gone;
    auto* fresh = make_array(min_groups);
    epoch_guard pin;
    // The array and, while it migrates, its successor: their groups, moved
    // ones aside (they forward to the successor), locked in order.
    std::vector<std::pair<group*, std::uint32_t>> held;
    std::size_t total = 0;
    for (auto* a = arr; a != nullptr;
         a = a->next.load(std::memory_order_relaxed))
      total += a->n;
    held.reserve(total); // before the first lock: none is left held
    for (auto* a = arr; a != nullptr;
         a = a->next.load(std::memory_order_relaxed))
      for (std::size_t i = 0; i < a->n; ++i) {
        lock(a->groups[i]);
        held.emplace_back(&a->groups[i], 0);
      }
    for (auto& [g, s] : held)
      s = begin_write(*g);
    auto* last = arr;
    while (auto* nx = last->next.load(std::memory_order_relaxed))
      last = nx;
    last->next.store(fresh, std::memory_order_release);
    for (auto& [g, s] : held)
      if (g->moved.load(std::memory_order_relaxed) == 0)
        g->moved.store(cleared, std::memory_order_relaxed);
    arr_.store(fresh, std::memory_order_release);
    for (auto& s : stripes_) {
      s.count.store(0, std::memory_order_relaxed);
      s.bytes.store(0, std::memory_order_relaxed);
    }
    migrated_ = 0;
    for (auto& [g, s] : held) {
      end_write(*g, s, true);
      unlock(*g);
    }
    retire_arrays(arr, fresh);
    free_spares();
    detail::poll_shared();
    return op_status::ok;
  }

  /// Makes every growth of the array first ask `allowed(bytes)`, bytes
  /// being what the larger array takes, while the groups average at most
  /// twice max_load: declined, the array stays and its groups chain
  /// overflow groups. Past that load the table grows regardless. So a
  /// table under a memory bound does not evict a slice of itself to pay
  /// for an array it can do without (redis's dictExpandAllowed).
  void set_growth_guard(std::function<bool(std::size_t)> allowed) {
    std::lock_guard<std::mutex> resizing{resize_};
    growth_guard_ = std::move(allowed);
  }

  /// Turns the table into a tombstone: every later operation returns `gone`;
  /// the entries are freed once no reader or writer is inside.
  void retire_storage() noexcept {
    std::lock_guard<std::mutex> resizing{resize_};
    auto* arr = arr_.exchange(nullptr, std::memory_order_acq_rel);
    for (auto& s : stripes_) {
      s.count.store(0, std::memory_order_relaxed);
      s.bytes.store(0, std::memory_order_relaxed);
    }
    if (arr != nullptr)
      retire_arrays(arr, nullptr);
    free_spares();
  }

private:
  // -- layout -----------------------------------------------------------------

  static constexpr std::uint64_t frag_end = std::uint64_t{1} << 32;

  /// Entries per group: 48 bytes of slots after the sequence, the count and
  /// the overflow link.
  static constexpr std::size_t slots
    = inline_entries ? 48 / (8 * (words_of<K> + words_of<V>)) : 5;

  /// Groups grow once their entries average this share of their slots: a
  /// lookup then rarely needs an overflow group.
  static constexpr double max_load = 0.8;

  static constexpr std::size_t min_groups = 8;

  /// The words of an inline entry: the key's, then the value's.
  static constexpr std::size_t entry_words
    = inline_entries ? words_of<K> + words_of<V> : 1;

  struct node;

  struct inline_area {
    std::atomic<std::uint64_t> words[slots * entry_words];
  };

  struct node_area {
    /// Byte i: the tag (tag_of) of node i's key.
    std::atomic<std::uint64_t> tags;
    std::atomic<const node*> nodes[slots];
  };

  using slot_area = std::conditional_t<inline_entries, inline_area, node_area>;

  /// One cache line: a home group, or an overflow group of its chain (whose
  /// sequence and flags are unused: the home group's cover the chain).
  struct alignas(64) group {
    /// Odd while a writer changes the group; each change adds 2; moved_bit
    /// once the group moved.
    std::atomic<std::uint32_t> seq;
    /// Entries in this group's own slots; those of a chain fill its groups
    /// in order, all but the last full.
    std::atomic<std::uint8_t> count;
    /// `migrated`: the entries live on in the array's successor; `cleared`:
    /// they are gone (clear); the successor holds what came after.
    std::atomic<std::uint8_t> moved;
    /// The writers' lock: 1 while a writer holds the group (readers never
    /// look at it; they wait only while `seq` is odd).
    std::atomic<std::uint8_t> writer;
    /// An overflow group taken from its array's pool: it goes with the
    /// array, never on its own. Set before the group is linked.
    std::uint8_t pooled;
    std::atomic<group*> overflow;
    slot_area area;
  };

  static_assert(sizeof(group) == 64, "a group is one cache line");

  static constexpr std::uint8_t migrated = 1;
  static constexpr std::uint8_t cleared = 2;

  /// Set in a moved group's sequence (with `moved`), so that readers learn
  /// it from the one word they load anyway.
  static constexpr std::uint32_t moved_bit = std::uint32_t{1} << 31;

  struct array {
    std::size_t n;
    /// UINT64_MAX / n, for group_end.
    std::uint64_t recip;
    /// Entries in one counter stripe beyond which the table grows.
    std::size_t stripe_limit;
    /// The array that takes over while this one migrates or after it was
    /// cleared; null otherwise.
    std::atomic<array*> next;
    /// Overflow groups allocated for this array's chains (memory()).
    std::atomic<std::size_t> overflows;
    group* groups;
    /// Overflow groups mapped behind the groups of a mapped array (the
    /// pages are committed only as they are taken), and how many were.
    group* pool;
    std::size_t pool_n;
    std::atomic<std::size_t> pool_taken;
    /// Pooled groups unlinked from their chains, oldest first, each with
    /// the epoch it left in: taken again once no reader can be in it.
    /// They stay counted in `overflows` meanwhile.
    std::mutex limbo_mtx;
    std::vector<std::pair<group*, std::uint64_t>> limbo;
    std::size_t limbo_head = 0;
    /// limbo.capacity(), for memory().
    std::atomic<std::size_t> limbo_capacity{0};
    /// Overflow groups taken elsewhere while the limbo's head was not yet
    /// reusable, since the last try to move the epoch, and how many such
    /// make the next try.
    std::size_t limbo_misses = 0;
    std::size_t limbo_backoff = 1;
  };

  struct alignas(64) stripe {
    std::atomic<std::size_t> count{0};
    /// Footprints of the stripe's nodes (see memory()).
    std::atomic<std::size_t> bytes{0};
  };

  static std::size_t array_bytes(std::size_t n) noexcept {
    return sizeof(array) + n * sizeof(group);
  }

  /// What `a` holds from the allocator: its groups, the overflow groups its
  /// chains took (from its pool or the heap), its limbo and, if malloc gave
  /// it, the rest of its pool (a mapped pool's untaken pages hold nothing).
  static std::size_t held_bytes(const array& a) noexcept {
    auto out = array_bytes(a.n)
               + a.overflows.load(std::memory_order_relaxed) * sizeof(group)
               + a.limbo_capacity.load(std::memory_order_relaxed)
                   * sizeof(std::pair<group*, std::uint64_t>);
    if (!mapped(a.n + a.pool_n))
      out += (a.pool_n
              - std::min(a.pool_taken.load(std::memory_order_relaxed),
                         a.pool_n))
             * sizeof(group);
    return out;
  }

  /// A zeroed array of `n` groups.
  static array* make_array(std::size_t n) {
    auto* arr = new array;
    arr->n = n;
    arr->recip = ~std::uint64_t{0} / n;
    arr->stripe_limit = static_cast<std::size_t>(
      static_cast<double>(n * slots) * max_load / stripe_count);
    arr->next.store(nullptr, std::memory_order_relaxed);
    arr->overflows.store(0, std::memory_order_relaxed);
    arr->pool_n = pool_for(n);
    arr->pool_taken.store(0, std::memory_order_relaxed);
    try {
      arr->groups = static_cast<group*>(allocate_groups(n + arr->pool_n, n));
    } catch (...) {
      delete arr;
      throw;
    }
    arr->pool = arr->pool_n > 0 ? arr->groups + n : nullptr;
    for (std::size_t i = 0; i < n; ++i)
      init_group(arr->groups[i]);
    return arr;
  }

  static void init_group(group& g) noexcept {
    // Atomics with trivial constructors: zero them explicitly.
    new (&g) group;
    g.seq.store(0, std::memory_order_relaxed);
    g.count.store(0, std::memory_order_relaxed);
    g.moved.store(0, std::memory_order_relaxed);
    g.writer.store(0, std::memory_order_relaxed);
    g.pooled = 0;
    g.overflow.store(nullptr, std::memory_order_relaxed);
  }

  /// Whether an array of `groups` (its pool included) is mapped from the
  /// OS: from 2 MiB on, in huge pages where the kernel gives them. A lookup
  /// in a table of a million entries then misses the TLB rarely, and a
  /// replaced array goes back to the OS at once (malloc would keep it in
  /// the heap, where the next growth cannot reuse it).
  static constexpr bool mapped(std::size_t groups) noexcept {
    return groups * sizeof(group) >= (std::size_t{2} << 20);
  }

  /// The overflow pool of an array of `n` groups: a quarter as many, about
  /// what chains need at the maximum load (with 3 or 4 slots a group and
  /// 0.8 of them used on average, about 22% of groups overflow). The
  /// overflow groups leave with the array, in one block, instead of each
  /// freeing a 64-byte hole among the nodes when a migration drops them:
  /// malloc rarely fills such holes again (1 B an entry of a table of a
  /// million strings). A mapped pool's pages not taken cost nothing.
  static std::size_t pool_for(std::size_t n) noexcept {
    return n / 4;
  }

  /// Room for `n` groups: the first `home` are the array's own, read by
  /// every lookup (in huge pages where the kernel gives them); the rest
  /// are its overflow pool, in small pages so that only the groups taken
  /// are committed (2 MiB at a time, a pool partly taken cost up to 2 B
  /// per entry of a table of a million).
  static void* allocate_groups(std::size_t n, std::size_t home) {
    auto bytes = n * sizeof(group);
    if (!mapped(n))
      return ::operator new(bytes, std::align_val_t{alignof(group)});
    return map_pages(bytes, home * sizeof(group));
  }

  static void free_groups(void* p, std::size_t n) noexcept {
    if (!mapped(n))
      ::operator delete(p, std::align_val_t{alignof(group)});
    else
      unmap_pages(p, n * sizeof(group));
  }

  /// An overflow group from `arr`'s pool, or null once it is used up.
  static group* pool_overflow(array* arr) noexcept {
    if (arr->pool == nullptr)
      return nullptr;
    auto i = arr->pool_taken.fetch_add(1, std::memory_order_relaxed);
    if (i >= arr->pool_n)
      return nullptr;
    auto* g = &arr->pool[i];
    init_group(*g);
    g->pooled = 1;
    return g;
  }

  static group* make_overflow() {
    auto* g = static_cast<group*>(
      ::operator new(sizeof(group), std::align_val_t{alignof(group)}));
    init_group(*g);
    return g;
  }

  static void free_overflow(void* p) noexcept {
    ::operator delete(p, std::align_val_t{alignof(group)});
  }

  // -- hashing and order --------------------------------------------------------

  template <class Q>
  std::uint64_t hash_of(const Q& key) const {
    return mix_hash(hash_(key));
  }

  static std::uint32_t frag_of(std::uint64_t h) noexcept {
    return static_cast<std::uint32_t>(h >> 32);
  }

  /// The group of fragment `f` among `n`: the fragments' intervals ascend
  /// with the index.
  static std::size_t index_of(std::uint32_t f, std::size_t n) noexcept {
    return static_cast<std::size_t>((std::uint64_t{f} * n) >> 32);
  }

  /// Whether fragment `f`, in group `i` among `n`, is its first.
  static bool starts_group(std::uint64_t f, std::size_t i,
                           std::size_t n) noexcept {
    return f == 0 || index_of(static_cast<std::uint32_t>(f - 1), n) != i;
  }

  /// Whether `f`, past fragments of group `i` among `n`, is at or beyond
  /// the group's end.
  static bool ends_group(std::uint64_t f, std::size_t i,
                         std::size_t n) noexcept {
    return f >= frag_end || index_of(static_cast<std::uint32_t>(f), n) != i;
  }

  /// The first fragment after group `i` of `arr` (frag_end after the
  /// last): ceil((i + 1) 2^32 / n). A walk's next group depends on it.
  static std::uint64_t group_end(std::size_t i, const array& arr) noexcept {
    return ceil_div(std::uint64_t{i + 1} << 32, arr.n, arr.recip);
  }

  group& home_of(array* arr, std::uint64_t h) const noexcept {
    return arr->groups[index_of(frag_of(h), arr->n)];
  }

  // -- the sequence lock ------------------------------------------------------------

  /// Waits out a writer; the even sequence to validate against.
  static std::uint32_t read_begin(const group& g) noexcept {
    unsigned spins = 0;
    for (;;) {
      auto s = g.seq.load(std::memory_order_acquire);
      if ((s & 1) == 0)
        return s;
      seq_pause(spins);
    }
  }

  /// True if no writer held `g` since read_begin returned `s`.
  static bool read_valid(const group& g, std::uint32_t s) noexcept {
    std::atomic_thread_fence(std::memory_order_acquire);
    return g.seq.load(std::memory_order_relaxed) == s;
  }

  /// Takes `g`'s writer lock. Holding it, a writer reads the group and
  /// decides (user functions run here), and makes its changes inside a
  /// write_scope, the only time readers wait.
  static void lock(group& g) noexcept {
    unsigned spins = 0;
    for (;;) {
      std::uint8_t free = 0;
      if (g.writer.load(std::memory_order_relaxed) == 0
          && g.writer.compare_exchange_weak(free, 1,
                                            std::memory_order_acquire,
                                            std::memory_order_relaxed))
        return;
      seq_pause(spins);
    }
  }

  static void unlock(group& g) noexcept {
    g.writer.store(0, std::memory_order_release);
  }

  /// Makes the sequence of `g` (whose lock is held) odd; the value to pass
  /// to end_write.
  static std::uint32_t begin_write(group& g) noexcept {
    auto s = g.seq.load(std::memory_order_relaxed);
    g.seq.store(s + 1, std::memory_order_relaxed);
    // The odd sequence is visible before any of the changes it covers.
    std::atomic_thread_fence(std::memory_order_release);
    return s;
  }

  /// Ends a write; `moving` marks the group moved, for good (no writer
  /// changes it after that). The count wraps below moved_bit.
  static void end_write(group& g, std::uint32_t s,
                        bool moving = false) noexcept {
    auto next = (s + 2) & ~moved_bit;
    g.seq.store(moving ? next | moved_bit : next, std::memory_order_release);
  }

  /// The changes of one write to a locked group.
  class write_scope {
  public:
    explicit write_scope(group& g) noexcept : g_(g), s_(begin_write(g)) {
      // nop
    }
    ~write_scope() {
      end_write(g_, s_, moving_);
    }
    /// The group moves (migrated or cleared) as this write ends.
    void move() noexcept {
      moving_ = true;
    }
    write_scope(const write_scope&) = delete;
    write_scope& operator=(const write_scope&) = delete;

  private:
    group& g_;
    std::uint32_t s_;
    bool moving_ = false;
  };

  struct locked_group {
    group* home;
    /// The end of the interval this group holds for fragment `f` (walks):
    /// a group reached through a moved one may also hold fragments of the
    /// old group after that one, which need not have moved yet.
    std::uint64_t until;
    /// The array `home` belongs to: what its chain's overflow groups and
    /// counts are taken from.
    array* owner;
  };

  /// Locks the group that holds fragment `f` now, following moved groups
  /// into the successor array.
  static locked_group lock_group(array* arr, std::uint32_t f) noexcept {
    auto until = frag_end;
    for (;;) {
      auto i = index_of(f, arr->n);
      auto& g = arr->groups[i];
      lock(g);
      until = std::min(until, group_end(i, *arr));
      if (g.moved.load(std::memory_order_relaxed) == 0)
        return {&g, until, arr};
      unlock(g);
      arr = arr->next.load(std::memory_order_acquire);
    }
  }

  /// The group that holds fragment `f` now for a reader, with its sequence
  /// and, as lock_group's, the end of the interval it holds for `f`.
  struct read_group {
    const group* g;
    std::size_t index;
    const array* arr;
    std::uint32_t seq;
    std::uint64_t until;
  };

  static read_group find_group(const array* arr, std::uint32_t f) noexcept {
    auto until = frag_end;
    for (;;) {
      auto i = index_of(f, arr->n);
      const auto& g = arr->groups[i];
      auto s = read_begin(g);
      until = std::min(until, group_end(i, *arr));
      if ((s & moved_bit) == 0)
        return {&g, i, arr, s, until};
      arr = arr->next.load(std::memory_order_acquire);
    }
  }

  // -- entries ------------------------------------------------------------------------

  /// Inline keys of one word under the standard equality compare as
  /// stored words (to_words zeroes the rest of a shorter key's word).
  static constexpr bool raw_keys
    = inline_entries && words_of<K> == 1
      && std::has_unique_object_representations_v<K>
      && (std::is_same_v<KeyEqual, std::equal_to<K>>
          || std::is_same_v<KeyEqual, std::equal_to<>>);

  /// The slots of `x` whose key word is `kw`, as bits (unrolled).
  template <std::size_t... I>
  static unsigned raw_hits(const group& x, std::uint64_t kw,
                           std::index_sequence<I...>) noexcept {
    return ((static_cast<unsigned>(
               x.area.words[I * entry_words].load(std::memory_order_relaxed)
               == kw)
             << I)
            | ...);
  }

  /// The node slots of `x` below `count` whose tag is `tag`: the high bit
  /// of byte i set for slot i (a byte-wise compare of the tag word, exact:
  /// no carry crosses a byte).
  static std::uint64_t tag_hits(const group& x, std::uint64_t tag,
                                std::size_t count) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101;
    constexpr std::uint64_t lows = 0x7f7f7f7f7f7f7f7f;
    auto v = x.area.tags.load(std::memory_order_relaxed) ^ (tag * ones);
    auto zero = ~(((v & lows) + lows) | v | lows); // zero bytes of v
    return zero & ((std::uint64_t{1} << (8 * count)) - 1);
  }

  /// An inline entry copied out of its words.
  struct entry_copy {
    alignas(8) std::uint64_t words[entry_words > 0 ? entry_words : 1];

    const K& key() const noexcept {
      return *std::launder(reinterpret_cast<const K*>(&words[0]));
    }
    const V& value() const noexcept {
      return *std::launder(
        reinterpret_cast<const V*>(&words[words_of<K>]));
    }
  };

  /// Copies entry `i` of `g` into `out`, a word at a time and in place:
  /// copied through a temporary, its words would be read back wider than
  /// they were stored, which stalls store forwarding on every entry.
  static void copy_entry(const group& g, std::size_t i,
                         entry_copy& out) noexcept {
    copy_words(g, i, out, std::make_index_sequence<entry_words>{});
  }

  template <std::size_t... W>
  static void copy_words(const group& g, std::size_t i, entry_copy& out,
                         std::index_sequence<W...>) noexcept {
    ((out.words[W] = g.area.words[i * entry_words + W].load(
        std::memory_order_relaxed)),
     ...);
  }

  static entry_copy copy_entry(const group& g, std::size_t i) noexcept {
    entry_copy e;
    copy_entry(g, i, e);
    return e;
  }

  template <class T>
  static void to_words(const T& x, std::uint64_t* out) noexcept {
    std::uint64_t w[words_of<T>] = {};
    std::memcpy(w, &x, sizeof(T));
    for (std::size_t i = 0; i < words_of<T>; ++i)
      out[i] = w[i];
  }

  static void store_entry_words(group& g, std::size_t i,
                                const std::uint64_t* w) noexcept {
    for (std::size_t k = 0; k < entry_words; ++k)
      g.area.words[i * entry_words + k].store(w[k],
                                              std::memory_order_relaxed);
  }

  static void store_value(group& g, std::size_t i, const V& v) noexcept {
    std::uint64_t w[words_of<V>];
    to_words(v, w);
    for (std::size_t k = 0; k < words_of<V>; ++k)
      g.area.words[i * entry_words + words_of<K> + k].store(
        w[k], std::memory_order_relaxed);
  }

  /// The key of inline entry `i` of `g`, as stored.
  static K key_at(const group& g, std::size_t i) noexcept {
    std::uint64_t w[words_of<K>];
    for (std::size_t k = 0; k < words_of<K>; ++k)
      w[k] = g.area.words[i * entry_words + k].load(std::memory_order_relaxed);
    K out;
    std::memcpy(&out, w, sizeof(K));
    return out;
  }

  static std::size_t count_of(const group& g) noexcept {
    return std::min<std::size_t>(g.count.load(std::memory_order_relaxed),
                                 slots);
  }

  /// Calls `f(group&, i)` for every entry of the chain at `g`.
  template <class G, class F>
  static void for_chain(G& g, F&& f) {
    for (auto* x = &g; x != nullptr;
         x = x->overflow.load(std::memory_order_acquire)) {
      auto c = count_of(*x);
      for (std::size_t i = 0; i < c; ++i)
        f(*x, i);
    }
  }

  /// The fragment of entry `i` of `g` (0 for a slot an optimistic reader
  /// found empty: its read fails validation).
  std::uint32_t entry_frag(const group& g, std::size_t i) const {
    if constexpr (inline_entries) {
      return frag_of(hash_of(key_at(g, i)));
    } else {
      auto* n = node_at(g, i);
      return n != nullptr ? frag_of(node_hash(n)) : 0;
    }
  }

  /// The hash of `n`'s key: of its bytes as a K for a Hash that takes no
  /// std::string_view.
  std::uint64_t node_hash(const node* n) const {
    if constexpr (inline_key
                  && !std::is_invocable_v<const Hash&, std::string_view>)
      return hash_of(K(n->key()));
    else
      return hash_of(n->key());
  }

  /// A byte of hash `h` that chooses neither its group (the top bits) nor
  /// its counter stripe (the lowest): a lookup derefs a node whose key is
  /// not the one it seeks for 1 slot in 256.
  static std::uint64_t tag_of(std::uint64_t h) noexcept {
    return (h >> 16) & 0xff;
  }

  /// Sets the tag of node slot `i` of `g` (its lock held).
  static void set_tag(group& g, std::size_t i, std::uint64_t tag) noexcept {
    auto shift = 8 * i;
    auto tags = g.area.tags.load(std::memory_order_relaxed);
    tags = (tags & ~(std::uint64_t{0xff} << shift)) | tag << shift;
    g.area.tags.store(tags, std::memory_order_relaxed);
  }

  static std::uint64_t tag_at(const group& g, std::size_t i) noexcept {
    return (g.area.tags.load(std::memory_order_relaxed) >> (8 * i)) & 0xff;
  }

  static const node* node_at(const group& g, std::size_t i) noexcept {
    return g.area.nodes[i].load(std::memory_order_acquire);
  }

  /// Whether entry `i` of `g` holds `key`.
  template <class Q>
  bool holds(const group& g, std::size_t i, const Q& key) const {
    if constexpr (inline_entries) {
      return eq_(key_at(g, i), key);
    } else {
      auto* n = node_at(g, i);
      return n != nullptr && node_holds(n, key);
    }
  }

  template <class Q>
  bool search_inline(const group& g, const Q& key, entry_copy& out) const {
    if constexpr (raw_keys && std::is_same_v<Q, K>) {
      // One word per key, compared as stored: no K is rebuilt per slot.
      std::uint64_t kw[1];
      to_words(key, kw);
      for (auto* x = &g; x != nullptr;
           x = x->overflow.load(std::memory_order_acquire)) {
        // Every slot is compared, without a branch per slot: where in its
        // group a key sits is a coin flip no predictor gets right.
        auto hits = raw_hits(*x, kw[0], std::make_index_sequence<slots>{});
        // A count is never above `slots`, torn read or not: no clamp.
        hits &= (1u << x->count.load(std::memory_order_relaxed)) - 1;
        if (hits != 0) {
          copy_entry(*x, static_cast<std::size_t>(__builtin_ctz(hits)), out);
          return true;
        }
      }
      return false;
    } else {
      for (auto* x = &g; x != nullptr;
           x = x->overflow.load(std::memory_order_acquire)) {
        auto c = count_of(*x);
        unsigned hits = 0;
        for (std::size_t i = 0; i < slots; ++i)
          hits |= static_cast<unsigned>(eq_(key_at(*x, i), key)) << i;
        hits &= (1u << c) - 1;
        if (hits != 0) {
          copy_entry(*x, static_cast<std::size_t>(__builtin_ctz(hits)), out);
          return true;
        }
      }
      return false;
    }
  }

  template <class Q>
  const node* search_nodes(const group& g, std::uint64_t h,
                           const Q& key) const {
    auto tag = tag_of(h);
    for (auto* x = &g; x != nullptr;
         x = x->overflow.load(std::memory_order_acquire)) {
      // The slots whose tag matches, found without a branch per slot (a
      // key's slot is a coin flip no predictor gets right); nearly always
      // one at most.
      // A count is never above `slots`, torn read or not: no clamp.
      auto hits
        = tag_hits(*x, tag, x->count.load(std::memory_order_relaxed));
      for (; hits != 0; hits &= hits - 1) {
        auto i = static_cast<std::size_t>(__builtin_ctzll(hits) / 8);
        if (auto* n = node_at(*x, i); n != nullptr && node_holds(n, key))
          return n;
      }
    }
    return nullptr;
  }

  /// Where a key is in its chain (the home group's lock held).
  struct place {
    group* where = nullptr;
    std::size_t i = 0;
  };

  template <class Q>
  place locate(group& home, std::uint64_t h, const Q& key) const {
    for (auto* x = &home; x != nullptr;
         x = x->overflow.load(std::memory_order_relaxed)) {
      if constexpr (inline_entries) {
        (void) h;
        auto c = count_of(*x);
        for (std::size_t i = 0; i < c; ++i)
          if (eq_(key_at(*x, i), key))
            return {x, i};
      } else {
        auto hits = tag_hits(*x, tag_of(h), count_of(*x));
        for (; hits != 0; hits &= hits - 1) {
          auto i = static_cast<std::size_t>(__builtin_ctzll(hits) / 8);
          if (node_holds(node_at(*x, i), key))
            return {x, i};
        }
      }
    }
    return {};
  }

  /// The last group of the chain at `home` and, if full, a new overflow
  /// group linked after it: a spare (stocked before; resize_ held) or a new
  /// one, which may throw.
  group& tail_with_room(array* arr, group& home, bool spare) {
    auto* x = &home;
    while (auto* nx = x->overflow.load(std::memory_order_relaxed))
      x = nx;
    if (count_of(*x) < slots)
      return *x;
    auto* fresh = reuse_pooled(arr);
    if (fresh == nullptr) {
      fresh = pool_overflow(arr);
      if (fresh == nullptr)
        fresh = spare && !spares_.empty() ? take_spare() : make_overflow();
      arr->overflows.fetch_add(1, std::memory_order_relaxed);
    }
    x->overflow.store(fresh, std::memory_order_release);
    return *fresh;
  }

  /// Parks pooled group `g`, just unlinked, in its array's limbo. Out of
  /// memory for the record, it stays unused in the pool (still counted).
  static void park_pooled(array* arr, group* g) noexcept {
    auto epoch = detail::unlink_epoch();
    std::lock_guard<std::mutex> guard{arr->limbo_mtx};
    auto& xs = arr->limbo;
    // Drop the reused prefix once it is most of the vector: amortized O(1),
    // and the vector holds at most twice the groups waiting.
    if (arr->limbo_head * 2 >= xs.size()) {
      xs.erase(xs.begin(),
               xs.begin() + static_cast<std::ptrdiff_t>(arr->limbo_head));
      arr->limbo_head = 0;
    }
    try {
      xs.emplace_back(g, epoch);
    } catch (...) {
      return;
    }
    arr->limbo_capacity.store(xs.capacity(), std::memory_order_relaxed);
  }

  /// The oldest group in `arr`'s limbo if no reader can be in it any more,
  /// ready for a chain; else null. A table that churns through its
  /// overflow groups and retires nothing else would not move the epoch:
  /// this moves it.
  static group* reuse_pooled(array* arr) noexcept {
    std::lock_guard<std::mutex> guard{arr->limbo_mtx};
    auto& xs = arr->limbo;
    if (arr->limbo_head == xs.size())
      return nullptr;
    if (!detail::reusable(xs[arr->limbo_head].second)) {
      // The epoch moves with a membarrier: try at once, but back off while
      // a reader pinned long holds it.
      if (++arr->limbo_misses < arr->limbo_backoff)
        return nullptr;
      arr->limbo_misses = 0;
      detail::advance_epoch();
      if (!detail::reusable(xs[arr->limbo_head].second)) {
        arr->limbo_backoff = std::min<std::size_t>(2 * arr->limbo_backoff,
                                                   1024);
        return nullptr;
      }
      arr->limbo_backoff = 1;
    }
    auto* g = xs[arr->limbo_head++].first;
    init_group(*g);
    g->pooled = 1;
    return g;
  }

  /// Overflow groups `appends` more entries need in the chain at `home`.
  static std::size_t overflows_for(const group& home,
                                   std::size_t appends) noexcept {
    auto* x = &home;
    while (auto* nx = x->overflow.load(std::memory_order_relaxed))
      x = nx;
    auto room = slots - count_of(*x);
    return appends <= room ? 0 : (appends - room + slots - 1) / slots;
  }

  /// Makes sure `n` spare overflow groups wait (resize_ held); false if out
  /// of memory.
  bool stock_spares(std::size_t n) noexcept {
    bool ok = true;
    try {
      spares_.reserve(n);
      while (spares_.size() < n)
        spares_.push_back(make_overflow());
    } catch (...) {
      ok = false;
    }
    spare_count_.store(spares_.size(), std::memory_order_relaxed);
    spare_capacity_.store(spares_.capacity(), std::memory_order_relaxed);
    return ok;
  }

  group* take_spare() noexcept {
    auto* g = spares_.back();
    spares_.pop_back();
    spare_count_.store(spares_.size(), std::memory_order_relaxed);
    return g;
  }

  void free_spares() noexcept {
    for (auto* g : spares_)
      free_overflow(g);
    std::vector<group*>().swap(spares_); // its buffer too
    spare_count_.store(0, std::memory_order_relaxed);
    spare_capacity_.store(0, std::memory_order_relaxed);
  }

  template <class KK>
  void append_inline(array* arr, group& home, std::uint64_t h, const KK& key,
                     const V& value, bool spare = false) {
    auto& x = tail_with_room(arr, home, spare);
    std::uint64_t w[entry_words];
    to_words(static_cast<const K&>(key), w);
    to_words(value, w + words_of<K>);
    auto c = count_of(x);
    store_entry_words(x, c, w);
    x.count.store(static_cast<std::uint8_t>(c + 1), std::memory_order_relaxed);
    auto& st = stripes_[h & (stripe_count - 1)];
    st.count.fetch_add(1, std::memory_order_relaxed);
  }

  void append_node(array* arr, group& home, std::uint64_t h, node* n,
                   bool spare = false) {
    auto& x = tail_with_room(arr, home, spare);
    auto c = count_of(x);
    set_tag(x, c, tag_of(h));
    x.area.nodes[c].store(n, std::memory_order_release);
    x.count.store(static_cast<std::uint8_t>(c + 1), std::memory_order_relaxed);
    auto& st = stripes_[h & (stripe_count - 1)];
    st.count.fetch_add(1, std::memory_order_relaxed);
    st.bytes.fetch_add(footprint(n), std::memory_order_relaxed);
  }

  void replace_node(group& g, std::size_t i, std::uint64_t h, node* n) {
    auto* old = node_at(g, i);
    (void) h; // the same key: the tag stays
    g.area.nodes[i].store(n, std::memory_order_release);
    // Unsigned wrap-around adds the difference either way.
    stripes_[h & (stripe_count - 1)].bytes.fetch_add(
      footprint(n) - footprint(old), std::memory_order_relaxed);
  }

  /// Removes the entry at `at` from the chain at `home` (its lock held): the
  /// chain's last entry takes its slot, and an overflow group left empty is
  /// unlinked. Returns the node to retire, if any; overflow groups are
  /// retired here.
  void* erase_at(array* arr, group& home, place at, std::uint64_t h) {
    void* garbage = nullptr;
    auto& st = stripes_[h & (stripe_count - 1)];
    if constexpr (!inline_entries) {
      auto* n = node_at(*at.where, at.i);
      garbage = const_cast<node*>(n);
      st.bytes.fetch_sub(footprint(n), std::memory_order_relaxed);
    }
    st.count.fetch_sub(1, std::memory_order_relaxed);
    group* prev = nullptr;
    group* last = &home;
    while (auto* nx = last->overflow.load(std::memory_order_relaxed)) {
      prev = last;
      last = nx;
    }
    auto lc = count_of(*last);
    if (last != at.where || lc - 1 != at.i)
      move_entry(*last, lc - 1, *at.where, at.i);
    last->count.store(static_cast<std::uint8_t>(lc - 1),
                      std::memory_order_relaxed);
    if (lc == 1 && prev != nullptr) {
      prev->overflow.store(nullptr, std::memory_order_release);
      // A pooled group goes back to its pool, still counted, for the
      // array's chains to take again.
      if (last->pooled == 0) {
        arr->overflows.fetch_sub(1, std::memory_order_relaxed);
        detail::retire(last, &free_overflow, sizeof(group));
      } else {
        park_pooled(arr, last);
      }
    }
    return garbage;
  }

  static void move_entry(const group& from, std::size_t i, group& to,
                         std::size_t j) noexcept {
    if constexpr (inline_entries) {
      for (std::size_t k = 0; k < entry_words; ++k)
        to.area.words[j * entry_words + k].store(
          from.area.words[i * entry_words + k].load(std::memory_order_relaxed),
          std::memory_order_relaxed);
    } else {
      set_tag(to, j, tag_at(from, i));
      to.area.nodes[j].store(from.area.nodes[i].load(std::memory_order_relaxed),
                             std::memory_order_release);
    }
  }

  /// Applies edit_each's `g` to the chain at `home` (locked): its entries
  /// with fragments in [from, until). An erase pulls the chain's last entry
  /// into the slot, which is then looked at in turn.
  template <class G>
  void edit_chain(array* arr, group& home, std::uint64_t from,
                  std::uint64_t until, G& g, std::vector<void*>& garbage) {
    group* x = &home;
    std::size_t i = 0;
    while (x != nullptr) {
      if (i >= count_of(*x)) {
        x = x->overflow.load(std::memory_order_relaxed);
        i = 0;
        continue;
      }
      std::optional<V> out;
      write_action action;
      std::uint64_t h = 0;
      // `g` decides with the writer lock held; readers wait only for the
      // change itself.
      if constexpr (inline_entries) {
        entry_copy e;
        copy_entry(*x, i, e);
        h = hash_of(e.key());
        if (!in_range(frag_of(h), from, until)) {
          ++i;
          continue;
        }
        action = g(e.key(), e.value(), out);
        if (action == write_action::put) {
          write_scope ws{home};
          store_value(*x, i, *out);
        }
      } else {
        if (!in_range(entry_frag(*x, i), from, until)) {
          ++i;
          continue;
        }
        const node* cur = node_at(*x, i);
        action = show_value(cur, [&](const value_ref* v) {
          return g(cur->key(), *v, out);
        });
        if (action != write_action::keep) {
          h = node_hash(cur);
          garbage.reserve(garbage.size() + 1); // nothing changed yet
        }
        if (action == write_action::put) {
          auto* n = make_node(cur->key(), std::move(*out));
          write_scope ws{home};
          replace_node(*x, i, h, n);
          garbage.push_back(const_cast<node*>(cur));
        }
      }
      if (action == write_action::erase) {
        {
          write_scope ws{home};
          if (auto* old = erase_at(arr, home, {x, i}, h))
            garbage.push_back(old);
        }
        // The chain may have lost its last group: start the group over.
        if (i >= count_of(*x) && !reachable(home, x))
          x = nullptr;
        continue;
      }
      ++i;
    }
  }

  static bool reachable(const group& home, const group* x) noexcept {
    for (auto* y = &home; y != nullptr;
         y = y->overflow.load(std::memory_order_relaxed))
      if (y == x)
        return true;
    return false;
  }

  // -- walks ------------------------------------------------------------------------

  /// What a walk collects of one group, under its sequence, to show once
  /// the sequence held: copies of inline entries, or nodes. Chains are
  /// short: they fit in place, but for a pile of colliding keys.
  class collected {
  public:
    using item = std::conditional_t<inline_entries, entry_copy, const node*>;

    void clear() noexcept {
      if (n_ > local)
        spill_.clear();
      n_ = 0;
    }
    item& push() {
      if (n_ < local)
        return local_[n_++];
      ++n_;
      return spill_.emplace_back();
    }
    void pop() noexcept {
      if (--n_ >= local)
        spill_.pop_back();
    }
    template <class F>
    bool any(F&& f) const {
      for (std::size_t i = 0; i < std::min(n_, local); ++i)
        if (f(local_[i]))
          return true;
      if (n_ > local)
        for (auto& x : spill_)
          if (f(x))
            return true;
      return false;
    }
    template <class F>
    void each(F&& f) const {
      any([&](const item& x) {
        f(x);
        return false;
      });
    }

  private:
    static constexpr std::size_t local = 4 * slots;
    std::size_t n_ = 0;
    item local_[local];
    std::vector<item> spill_;
  };

  /// Collects the entries of `at`'s chain with fragments in [from,
  /// at.until); false if a writer interfered (collect again).
  bool collect(const read_group& at, std::uint64_t from,
               collected& out) const {
    // Only a group reached after a growth, or through a moved one, holds
    // entries outside the range: the rest need no fragment.
    if (starts_group(from, at.index, at.arr->n)
        && ends_group(at.until, at.index, at.arr->n)) {
      collect_all(*at.g, out);
      return read_valid(*at.g, at.seq);
    }
    out.clear();
    for_chain(*at.g, [&](const group& x, std::size_t i) {
      if constexpr (inline_entries) {
        auto& e = out.push();
        copy_entry(x, i, e);
        if (!in_range(frag_of(hash_of(e.key())), from, at.until))
          out.pop();
      } else {
        if (auto* n = node_at(x, i))
          if (in_range(frag_of(node_hash(n)), from, at.until))
            out.push() = n;
      }
    });
    return read_valid(*at.g, at.seq);
  }

  /// Collects every entry of the chain at `g` (validate after).
  static void collect_all(const group& g, collected& out) {
    out.clear();
    for_chain(g, [&](const group& x, std::size_t i) {
      if constexpr (inline_entries) {
        copy_entry(x, i, out.push());
      } else {
        if (auto* n = node_at(x, i))
          out.push() = n;
      }
    });
  }

  /// Shows `f(key, value)` what collect gathered.
  template <class F>
  static void show(const collected& got, F& f) {
    if constexpr (inline_entries) {
      got.each([&](const entry_copy& e) { f(e.key(), e.value()); });
    } else {
      got.each([](const node* n) { __builtin_prefetch(n); });
      got.each([&](const node* n) { f(n->key(), n->value()); });
    }
  }

  /// The first fragment of group `i` of `arr`.
  static std::uint64_t group_start(std::size_t i, const array& arr) noexcept {
    return i == 0 ? 0 : group_end(i - 1, arr);
  }

  /// A walk's fast lane (visit_groups, pinned): from pos.at, the first
  /// fragment of a group of `arr`, shows the groups of `arr` in index
  /// order, whole, for up to `budget` groups, and stops early at a moved
  /// group (the caller's general path follows it) or once `more()` says
  /// false (then returns false). Unlike find_group and collect, it needs
  /// no fragment arithmetic per group: a group of an array that has not
  /// moved holds exactly its own interval, and the interval after it
  /// starts where it ends. Advances pos and `budget` past the groups shown.
  template <class F, class More>
  bool visit_run(const array& arr, position& pos, std::size_t& budget,
                 collected& got, F& f, More& more) const {
    const auto n = arr.n;
    auto i = index_of(static_cast<std::uint32_t>(pos.at), n);
    if (!starts_group(pos.at, i, n))
      return true;
    bool go_on = true;
    // Counted against a local end, not `budget`: a count kept in memory is
    // reloaded after every store of a copied word (they may alias).
    const auto first = i;
    const auto stop = std::min(n, i + budget);
    while (i < stop) {
      const auto& g = arr.groups[i];
      prefetch_ahead(arr, i);
      std::uint32_t s;
      do {
        s = read_begin(g);
        if ((s & moved_bit) != 0)
          break;
        collect_all(g, got);
      } while (!read_valid(g, s));
      if ((s & moved_bit) != 0)
        break;
      show(got, f);
      ++i;
      if (!more()) {
        go_on = false;
        break;
      }
    }
    budget -= i - first;
    pos.at = i < n ? group_start(i, arr) : frag_end;
    pos.done = pos.at >= frag_end;
    return go_on;
  }

  /// A walk at group `i` asks for the groups it reaches a few steps on,
  /// and for their overflow groups, which lie anywhere: a walk is bound by
  /// memory latency, not bandwidth, without it. Nodes lie anywhere too: it
  /// asks for the first line of each node of the chain 8 groups on (whose
  /// lines are there by then), so that a walk waits on a few dozen nodes at
  /// once rather than on one group's (1M string entries: 29 -> 17 ms).
  static void prefetch_ahead(const array& arr, std::size_t i) noexcept {
    constexpr std::size_t ahead = 64;
    constexpr std::size_t nodes_ahead = 8;
    // One bound for both: the overflow groups of the last 32 groups go
    // unasked for, a few misses at the end of a walk.
    if (i + ahead < arr.n) {
      __builtin_prefetch(&arr.groups[i + ahead]);
      if (auto* o = arr.groups[i + ahead / 2].overflow.load(
            std::memory_order_relaxed))
        __builtin_prefetch(o);
    }
    // Unvalidated: a stale or null node costs one useless prefetch, never
    // a fault; the pin keeps every group readable, and for_chain follows
    // a chain as a reader does (acquire: a new overflow group is whole).
    if constexpr (!inline_entries)
      if (i + nodes_ahead < arr.n)
        for_chain(arr.groups[i + nodes_ahead],
                  [](const group& x, std::size_t k) {
                    __builtin_prefetch(
                      x.area.nodes[k].load(std::memory_order_relaxed));
                  });
  }

  /// edit_each's fast lane, as visit_run is a walk's: from `at`, the first
  /// fragment of a group of `arr`, skips the groups of `arr` in which
  /// `wanted` holds for no entry, for up to `budget` groups, and stops at a
  /// moved group, at one whose read a writer disturbed, or at one where
  /// `wanted` holds: then true, with `at` its first fragment and the group
  /// counted in `budget`, for the caller to lock.
  template <class W>
  bool skip_run(const array& arr, std::uint64_t& at, std::size_t& budget,
                collected& got, W& wanted) const {
    const auto n = arr.n;
    auto i = index_of(static_cast<std::uint32_t>(at), n);
    if (!starts_group(at, i, n))
      return false;
    bool found = false;
    for (; budget != 0 && i < n; ++i) {
      const auto& g = arr.groups[i];
      prefetch_ahead(arr, i);
      auto s = read_begin(g);
      if ((s & moved_bit) != 0)
        break;
      collect_all(g, got);
      if (!read_valid(g, s))
        break;
      --budget;
      if (any_of(got, wanted)) {
        found = true;
        break;
      }
    }
    at = i < n ? group_start(i, arr) : frag_end;
    return found;
  }

  /// edit_each without a test: every group is locked.
  struct every_entry {};

  /// Whether `wanted(key, value)` holds for one of `got`'s entries.
  template <class W>
  static bool any_of(const collected& got, W& wanted) {
    return got.any([&](const typename collected::item& x) -> bool {
      if constexpr (inline_entries)
        return wanted(x.key(), x.value());
      else
        return wanted(x->key(), x->value());
    });
  }

  static bool in_range(std::uint64_t f, std::uint64_t from,
                       std::uint64_t until) noexcept {
    return f >= from && f < until;
  }

  /// Shows `f(key, value)` the entries of the groups from `pos` on, in
  /// walk order, advancing `pos` past each group shown (to the end: done),
  /// until `more()` says false after a group. A group is collected under
  /// its sequence and shown while still pinned; a pin covers a run of
  /// groups. False if the table is retired.
  template <class F, class More>
  bool visit_groups(position& pos, F& f, More&& more) const {
    constexpr std::size_t groups_per_pin = 64;
    collected got;
    while (!pos.done) {
      epoch_guard pin;
      auto* arr = arr_.load(std::memory_order_acquire);
      if (arr == nullptr)
        return false;
      std::size_t budget = groups_per_pin;
      if (!visit_run(*arr, pos, budget, got, f, more))
        return true;
      // A moved group, or a position inside a group (after a growth): one
      // group at a time, following moved groups.
      for (; budget != 0 && !pos.done; --budget) {
        read_group at;
        for (;;) {
          at = find_group(arr, static_cast<std::uint32_t>(pos.at));
          prefetch_ahead(*at.arr, at.index);
          if (collect(at, pos.at, got))
            break;
        }
        show(got, f);
        pos.at = at.until;
        pos.done = pos.at >= frag_end;
        if (!more())
          return true;
      }
    }
    return true;
  }

  static constexpr std::size_t no_rank = ~std::size_t{0};

  /// Shows `f(const key_view*)` the first entry after (`frag`, `rank`) in
  /// walk order (after nothing if `rank` is no_rank), or nullptr.
  template <class F>
  op_status successor(std::uint32_t frag, std::size_t rank, F& f) const {
    std::uint64_t at = frag;
    epoch_guard pin;
    auto* arr = arr_.load(std::memory_order_acquire);
    if (arr == nullptr)
      return op_status::gone;
    std::vector<std::pair<std::uint32_t, std::size_t>> seen;
    while (at < frag_end) {
      auto rg = find_group(arr, static_cast<std::uint32_t>(at));
      // The smallest (fragment, rank among equal fragments) past the start.
      const group* best_g = nullptr;
      std::size_t best_i = 0;
      std::uint32_t best_f = 0;
      std::size_t best_r = 0;
      seen.clear();
      for_chain(*rg.g, [&](const group& x, std::size_t i) {
        auto ef = entry_frag(x, i);
        if (!in_range(ef, at, rg.until))
          return;
        std::size_t r = 0;
        for (auto& [f2, c] : seen)
          if (f2 == ef)
            r = ++c;
        if (r == 0)
          seen.emplace_back(ef, 0);
        if (rank != no_rank && ef == frag && r <= rank)
          return;
        if (best_g == nullptr || ef < best_f || (ef == best_f && r < best_r)) {
          best_g = &x;
          best_i = i;
          best_f = ef;
          best_r = r;
        }
      });
      if (best_g != nullptr) {
        if constexpr (inline_entries) {
          auto e = copy_entry(*best_g, best_i);
          if (!read_valid(*rg.g, rg.seq))
            continue;
          const K& k = e.key();
          f(&k);
        } else {
          auto* n = node_at(*best_g, best_i);
          if (!read_valid(*rg.g, rg.seq) || n == nullptr)
            continue;
          decltype(auto) k = n->key();
          f(&k);
        }
        return op_status::ok;
      }
      if (!read_valid(*rg.g, rg.seq))
        continue;
      at = rg.until;
      rank = no_rank;
    }
    f(static_cast<const key_view*>(nullptr));
    return op_status::ok;
  }

  // -- growth ---------------------------------------------------------------------

  static constexpr std::uint64_t no_growth = ~std::uint64_t{0};

  /// Retires what a single-key write unlinked; an insert (`h` its hash)
  /// that overfilled its stripe, or any write during a migration, takes a
  /// step of the growth.
  void after_write(void* garbage, std::uint64_t h, array* arr) {
    if (garbage != nullptr)
      retire(static_cast<node*>(garbage));
    detail::poll_shared();
    bool migrating = arr->next.load(std::memory_order_relaxed) != nullptr;
    if (migrating
        || (h != no_growth
            && stripes_[h & (stripe_count - 1)].count.load(
                 std::memory_order_relaxed)
                 > arr->stripe_limit))
      help_grow();
  }

  /// Groups one write migrates: a 1.5x growth is done long before the
  /// table fills the new array.
  static constexpr std::size_t migration_step = 16;

  /// Starts a growth if the table is overloaded, and migrates a step of the
  /// one in progress; skipped if another thread is at it.
  void help_grow() noexcept {
    std::unique_lock<std::mutex> resizing{resize_, std::try_to_lock};
    if (!resizing.owns_lock())
      return;
    auto* arr = arr_.load(std::memory_order_relaxed);
    if (arr == nullptr)
      return;
    auto* next = arr->next.load(std::memory_order_relaxed);
    if (next == nullptr) {
      std::size_t n = 0;
      size(n);
      if (static_cast<double>(n)
            <= static_cast<double>(arr->n * slots) * max_load
          || !growth_allowed(arr->n, arr->n + arr->n / 2, n))
        return;
      try {
        next = make_array(arr->n + arr->n / 2);
      } catch (...) {
        return; // out of memory: stay at this size, still correct
      }
      migrated_ = 0;
      arr->next.store(next, std::memory_order_release);
    }
    migrate(arr, migration_step);
  }

  /// Migrates up to `steps` groups of `arr` to its successor, and makes the
  /// successor current once all moved. The resize mutex is held. False if
  /// an allocation failed (the migration goes on at a later step).
  bool migrate(array* arr, std::size_t steps) noexcept {
    auto* next = arr->next.load(std::memory_order_relaxed);
    epoch_guard pin;
    for (std::size_t k = 0; k < steps && migrated_ < arr->n; ++k) {
      if (!migrate_group(arr->groups[migrated_], next))
        return false;
      ++migrated_;
    }
    if (migrated_ == arr->n) {
      arr_.store(next, std::memory_order_release);
      migrated_ = 0;
      retire_arrays(arr, next);
      free_spares();
    }
    return true;
  }

  /// Copies the entries of `g` into `to` and marks it migrated, under its
  /// lock; the destination groups, at most three adjacent ones, are locked
  /// one at a time. False if an allocation failed: nothing changed then.
  bool migrate_group(group& g, array* to) noexcept {
    if constexpr (!inline_entries) {
      // Each node's key is hashed below, with the group locked: its lines
      // are asked for first, all at once, so readers wait for one memory
      // access rather than one per entry.
      for_chain(g, [](const group& x, std::size_t i) {
        __builtin_prefetch(node_at(x, i));
      });
    }
    lock(g);
    if (g.moved.load(std::memory_order_relaxed) != 0) {
      unlock(g);
      return true;
    }
    struct item {
      std::size_t dest;
      const group* x;
      std::size_t i;
    };
    // Chains are short: their entries fit on the stack, but for a pile of
    // colliding keys.
    constexpr std::size_t on_stack = 32;
    item buf[on_stack];
    std::vector<item> heap;
    std::size_t total = 0;
    for_chain(g, [&](const group&, std::size_t) { ++total; });
    // A group's interval spans at most three of a 1.5x larger array.
    if (!stock_spares(total / slots + 3)) {
      unlock(g);
      return false;
    }
    item* items = buf;
    if (total > on_stack) {
      try {
        heap.resize(total);
      } catch (...) {
        unlock(g);
        return false;
      }
      items = heap.data();
    }
    std::size_t k = 0;
    try {
      for_chain(g, [&](const group& x, std::size_t i) {
        items[k++] = {index_of(entry_frag(x, i), to->n), &x, i};
      });
    } catch (...) { // a Hash that allocates ran out of memory
      unlock(g);
      return false;
    }
    std::sort(items, items + total,
              [](const item& a, const item& b) { return a.dest < b.dest; });
    for (std::size_t b = 0; b < total;) {
      auto& d = to->groups[items[b].dest];
      lock(d);
      {
        write_scope ws{d};
        for (; b < total && &to->groups[items[b].dest] == &d; ++b) {
          auto& x = tail_with_room(to, d, true);
          auto c = count_of(x);
          move_entry(*items[b].x, items[b].i, x, c);
          x.count.store(static_cast<std::uint8_t>(c + 1),
                        std::memory_order_relaxed);
        }
      }
      unlock(d);
    }
    // Readers of `g` read its entries until here: they did not change.
    {
      write_scope ws{g};
      g.moved.store(migrated, std::memory_order_relaxed);
      ws.move();
    }
    unlock(g);
    return true;
  }

  /// Whether an array of `from` groups holding `entries` may give way to
  /// one of `to` groups (resize_ held): the growth guard's say, while the
  /// load allows it one.
  bool growth_allowed(std::size_t from, std::size_t to,
                      std::size_t entries) const noexcept {
    if (!growth_guard_
        || static_cast<double>(entries)
             > 2 * static_cast<double>(from * slots) * max_load)
      return true;
    try {
      return growth_guard_((to + pool_for(to)) * sizeof(group));
    } catch (...) {
      return true; // a guard that cannot tell does not hold growth back
    }
  }

  /// Grows to hold `entries` and finishes any migration, synchronously (the
  /// resize mutex held); returns the current array. Out of memory: stays.
  array* grow_to_locked(std::size_t entries) noexcept {
    for (;;) {
      auto* arr = arr_.load(std::memory_order_relaxed);
      auto* next = arr->next.load(std::memory_order_relaxed);
      if (next != nullptr) {
        if (!migrate(arr, arr->n))
          return arr;
        continue;
      }
      auto cap = static_cast<double>(arr->n * slots) * max_load;
      if (static_cast<double>(entries) <= cap)
        return arr;
      auto n = arr->n;
      while (static_cast<double>(n * slots) * max_load
             < static_cast<double>(entries))
        n += n / 2;
      if (!growth_allowed(arr->n, n, entries))
        return arr;
      try {
        next = make_array(n);
      } catch (...) {
        return arr;
      }
      migrated_ = 0;
      arr->next.store(next, std::memory_order_release);
    }
  }

  // -- reclamation ------------------------------------------------------------------

  /// Retires `arr` and its successors up to (not including) `keep`: their
  /// overflow groups, and the nodes of groups not migrated, go with them.
  /// Their links stay: a reader still in one follows its moved groups.
  static void retire_arrays(array* arr, array* keep) noexcept {
    for (auto* a = arr; a != nullptr && a != keep;) {
      auto* next = a->next.load(std::memory_order_relaxed);
      detail::retire_shared(
        a, [](void* p) { free_array(static_cast<array*>(p), false); },
        held_bytes(*a));
      a = next;
    }
  }

  /// Frees `arr` (and, if `chain`, its successors) with its overflow groups
  /// and the nodes of its groups that were not migrated.
  static void free_array(array* arr, bool chain) noexcept {
    auto* next = arr->next.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < arr->n; ++i) {
      auto& g = arr->groups[i];
      bool owns = g.moved.load(std::memory_order_relaxed) != migrated;
      for (auto* x = &g; x != nullptr;) {
        auto* nx = x->overflow.load(std::memory_order_relaxed);
        if constexpr (!inline_entries)
          if (owns)
            for (std::size_t k = 0; k < count_of(*x); ++k)
              destroy(const_cast<node*>(node_at(*x, k)));
        if (x != &g && x->pooled == 0) // pooled: goes with the array
          free_overflow(x);
        x = nx;
      }
    }
    free_groups(arr->groups, arr->n + arr->pool_n);
    delete arr;
    if (chain && next != nullptr)
      free_array(next, true);
  }

  static void free_arrays(array* arr) noexcept {
    free_array(arr, true);
  }

  void retire_all(std::vector<void*>& xs) {
    for (auto* x : xs)
      retire(static_cast<node*>(x));
    xs.clear();
  }

  // -- nodes ---------------------------------------------------------------------

  /// A std::string key (under the standard equality) or value is stored
  /// inline in its node: its size as a varint, its bytes right behind, key
  /// first. An entry is then one allocation, and a read one run of adjacent
  /// cache lines instead of a node plus two heap blocks.
  static constexpr bool inline_key
    = std::is_same_v<K, std::string>
      && (std::is_same_v<KeyEqual, std::equal_to<std::string>>
          || std::is_same_v<KeyEqual, std::equal_to<>>);
  static constexpr bool inline_value = std::is_same_v<V, std::string>;
  /// A V that keeps its block in the node, after the key's bytes.
  static constexpr bool tail_value = !inline_value && node_tail<V>::enabled;

public:
  /// What modify and find point their functions at: V, or a view of it.
  using value_ref = std::conditional_t<inline_value, std::string_view, V>;
  /// What first and next point their functions at: K, or a view of it.
  using key_view = std::conditional_t<inline_key && !inline_entries,
                                      std::string_view, K>;

private:
  template <class T, bool Inline>
  struct field {
    template <class U>
    explicit field(U&& x) : obj(std::forward<U>(x)) {
      // nop
    }
    const T obj;
  };

  template <class T>
  struct field<T, true> {
    template <class U>
    explicit field(const U&) {
      // nop: the bytes follow the node
    }
  };

  struct node {
    /// Call through make_node, which allocates room for the inline bytes.
    template <class KK, class VV>
    node(KK&& k, VV&& v)
      : k_(std::forward<KK>(k)), v_(placed(this, k, std::forward<VV>(v))) {
      auto* out = reinterpret_cast<char*>(this + 1);
      if constexpr (inline_key)
        out = put_varint(out, k.size());
      if constexpr (inline_value)
        out = put_varint(out, v.size());
      if constexpr (inline_key)
        out = std::copy(k.data(), k.data() + k.size(), out);
      if constexpr (inline_value)
        std::copy(v.data(), v.data() + v.size(), out);
    }

    /// `const K&`, or a std::string_view of the inline bytes.
    decltype(auto) key() const noexcept {
      if constexpr (inline_key) {
        std::size_t ks;
        auto* p = get_varint(bytes(), ks);
        if constexpr (inline_value) {
          std::size_t vs;
          p = get_varint(p, vs);
        }
        return std::string_view{p, ks};
      } else {
        return (k_.obj);
      }
    }

    /// `const V&`, or a std::string_view of the inline bytes.
    decltype(auto) value() const noexcept {
      if constexpr (inline_value) {
        std::size_t ks = 0;
        auto* p = bytes();
        if constexpr (inline_key)
          p = get_varint(p, ks);
        std::size_t vs;
        p = get_varint(p, vs);
        return std::string_view{p + ks, vs};
      } else {
        return (v_.obj);
      }
    }

  private:
    const char* bytes() const noexcept {
      return reinterpret_cast<const char*>(this + 1);
    }

    /// `v`, or for a tail_value its copy placed after the key's bytes.
    template <class KK, class VV>
    static decltype(auto) placed(node* self, const KK& k, VV&& v) {
      if constexpr (tail_value) {
        auto* at = reinterpret_cast<char*>(self) + tail_offset(k);
        return node_tail<V>::place(v, at);
      } else {
        return std::forward<VV>(v);
      }
    }
    [[no_unique_address]] field<K, inline_key> k_;
    [[no_unique_address]] field<V, inline_value> v_;
  };

  template <class KK, class VV>
  static std::size_t extra_bytes(const KK& key, const VV& value) noexcept {
    if constexpr (tail_value)
      return tail_offset(key) + node_tail<V>::size(value) - sizeof(node);
    std::size_t extra = 0;
    if constexpr (inline_key)
      extra += varint_size(key.size()) + key.size();
    if constexpr (inline_value)
      extra += varint_size(value.size()) + value.size();
    return extra;
  }

  /// Where a tail_value's block starts in the node: after the key's
  /// bytes, 8-aligned (nodes are 16-aligned).
  template <class KK>
  static std::size_t tail_offset(const KK& key) noexcept {
    std::size_t end = sizeof(node);
    if constexpr (inline_key)
      end += varint_size(key.size()) + key.size();
    return (end + 7) & ~std::size_t{7};
  }

  /// A node not linked anywhere yet.
  template <class KK, class VV>
  static node* make_node(KK&& key, VV&& value) {
    auto size = sizeof(node) + extra_bytes(key, value);
    void* mem = ::operator new(size);
    try {
      return new (mem) node(std::forward<KK>(key), std::forward<VV>(value));
    } catch (...) {
      ::operator delete(mem);
      throw;
    }
  }

  /// What `n` holds from the allocator (see memory()).
  static std::size_t footprint(const node* n) noexcept {
    auto bytes = sizeof(node) + extra_bytes(n->key(), n->value());
    if constexpr (!inline_key)
      bytes += heap_bytes(n->key());
    if constexpr (!inline_value)
      bytes += heap_bytes(n->value());
    return bytes;
  }

  static void destroy(node* n) noexcept {
    n->~node();
    ::operator delete(n);
  }

  static void retire(node* n) {
    detail::retire(n, [](void* p) { destroy(static_cast<node*>(p)); },
                   detail::retire_size([n] { return footprint(n); }));
  }

  /// How a node compares its key with `key` (a K or a view of one).
  template <class Q>
  bool node_holds(const node* n, const Q& key) const {
    if constexpr (inline_key)
      return n->key() == std::string_view{key};
    else
      return eq_(n->key(), key);
  }

  /// `key` as a node shows its key.
  template <class Q>
  static decltype(auto) view_key(const Q& key) {
    if constexpr (inline_key)
      return std::string_view{key};
    else
      return (key);
  }

  /// Calls `f(const value_ref*)` with n's value, or with nullptr.
  template <class F>
  static decltype(auto) show_value(const node* n, F&& f) {
    if constexpr (inline_value) {
      if (n == nullptr)
        return f(static_cast<const value_ref*>(nullptr));
      auto v = n->value();
      return f(static_cast<const value_ref*>(&v));
    } else {
      return f(n != nullptr ? &n->value() : nullptr);
    }
  }

  // -- state ----------------------------------------------------------------------

  Hash hash_;
  KeyEqual eq_;
  std::atomic<array*> arr_;
  /// Growth starts, migration steps, batches, clear and retirement; never
  /// waited for by readers, nor by single-key writers (they skip a step).
  std::mutex resize_;
  /// set_growth_guard's function (resize_ held); empty: growth is free.
  std::function<bool(std::size_t)> growth_guard_;
  /// The next group of the current array to migrate (resize_ held).
  std::size_t migrated_ = 0;
  /// Overflow groups that migrations and batches take before they change
  /// anything (resize_ held), and their number for memory().
  std::vector<group*> spares_;
  std::atomic<std::size_t> spare_count_{0};
  /// The capacity of spares_ itself (memory()).
  std::atomic<std::size_t> spare_capacity_{0};
  std::array<stripe, stripe_count> stripes_;
};

} // namespace cachet::detail
