// The engine behind `set` tables: a chained hash table whose readers take no
// lock and write no shared memory.
//
// Nodes are immutable once published (only their `next` link changes), so a
// reader that found a node may copy from it while writers replace it: a write
// builds a new node, swings one atomic link and retires the old node through
// epoch-based reclamation (epoch.hpp). Writers lock one of `stripe_count`
// mutexes chosen by the key's hash; growing, clearing and retiring the table
// lock all of them. Growing relinks every node into a bucket array twice the
// size and publishes it with one store; nodes are not copied, so a growth
// costs no memory beyond the new array. A reader walking a chain that is
// being relinked may be led into another chain and miss its key: a miss is
// trusted only if no growth ran meanwhile (a sequence that growth makes odd),
// else the reader waits for the growth to end and looks again. Hits need no
// check: a node found is a node that was in the table.
//
// Walks (for_each, and scan's cursor) never hold growth off: they visit
// grains of 64 adjacent buckets in reverse-binary order of the grain
// (Redis's dictScan, a grain for a bucket), so a bucket array that doubles
// between two visits maps the grains visited so far onto grains visited so
// far, and the walk goes on from the same grain. A walk that stopped inside
// a grain remembers the array's size: after a growth it visits the rest of
// that grain's buckets as their entries now lie, every (old size)-th bucket
// from each. Each grain's chains are collected under the growth sequence
// and collected again if a growth relinked them meanwhile, so a walk sees
// every entry present from its start to its end exactly once, and no growth
// waits for a walk. A grain's heads are adjacent and its first nodes are
// fetched together, so that a walk of a table larger than the caches
// overlaps its cache misses.
//
// A node is one allocation: std::string keys and values keep their bytes
// inline behind it (node::key/value show them as std::string_view).
//
// Batch writes (insert of many keys) are isolated from readers by a per-stripe
// sequence that only batch writers bump: a reader of a key in a stripe being
// written waits and re-reads, as ETS readers wait on the batch's write locks.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
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

namespace cachet::detail {

template <class K, class V, class Hash, class KeyEqual>
class hash_engine {
public:
  /// Write locks; a power of two so that a key keeps its stripe when the
  /// bucket array (never smaller) doubles.
  static constexpr std::size_t stripe_count = 64;
  // The smallest bucket array has stripe_count buckets: a whole grain, and
  // every (size)-th bucket from one shares its stripe (edit_bucket).
  static_assert(stripe_count == walk_grain);

  hash_engine() : buckets_(make_array(stripe_count)) {
    for (auto& s : seqs_)
      s.store(0, std::memory_order_relaxed);
  }

  explicit hash_engine(Hash hash, KeyEqual eq = KeyEqual{})
    : hash_engine() {
    hash_ = std::move(hash);
    eq_ = std::move(eq);
  }

  hash_engine(const hash_engine&) = delete;
  hash_engine& operator=(const hash_engine&) = delete;

  /// Destroyed only when no handle, hence no reader, is left.
  ~hash_engine() {
    if (auto* arr = buckets_.load(std::memory_order_relaxed))
      free_array(arr);
  }

  // -- reads: any thread, lock-free --------------------------------------------

  /// Calls `f(const value_ref*)` once, with the key's value or nullptr.
  /// `key` is a K or, for std::string keys, a std::string_view.
  template <class Q, class F>
  op_status find(const Q& key, F&& f) const {
    auto h = hash_of(key);
    const auto& seq = seqs_[h & (stripe_count - 1)];
    epoch_guard pin;
    for (;;) {
      auto s = seq_begin(seq);
      auto g = growth_.load(std::memory_order_acquire);
      auto* arr = buckets_.load(std::memory_order_acquire);
      if (arr == nullptr)
        return op_status::gone;
      auto* n = arr->heads[h & arr->mask].load(std::memory_order_acquire);
      while (n != nullptr && !holds(n, h, key))
        n = n->next.load(std::memory_order_acquire);
      if (!seq_valid(seq, s))
        continue;
      if (n == nullptr && ((g & 1) != 0 || !seq_valid(growth_, g))) {
        seq_begin(growth_); // relinked under our feet: wait, look again
        continue;
      }
      show_value(n, f);
      return op_status::ok;
    }
  }

  /// Calls `f(key, value)` for each entry, each a `const T&` or, if stored
  /// inline, a std::string_view. Not a snapshot: an entry present for the
  /// whole walk is visited exactly once, others at most once.
  template <class F>
  op_status for_each(F&& f) const {
    position pos;
    if (!visit_buckets(pos, f, [] { return true; }))
      return op_status::gone;
    return op_status::ok;
  }

  /// Redis SCAN over the buckets: calls `f(key, value)` for the entries of
  /// the buckets from `cursor` on, stopping after a bucket once `count`
  /// entries were shown or `10 * count` buckets visited, and stores the
  /// cursor to go on from in `next` (0: the walk is complete). A walk from
  /// cursor 0 to 0 shows every entry present for all of it at least once
  /// (exactly once unless clear() ran during it), and each call does
  /// bounded work whatever the table's size or growth.
  template <class F>
  op_status scan(std::uint64_t cursor, std::size_t count, F&& f,
                 std::uint64_t& next) const {
    count = std::max<std::size_t>(count, 1);
    std::size_t shown = 0;
    std::size_t buckets = 0;
    auto counting = [&](const auto& k, const auto& v) {
      ++shown;
      f(k, v);
    };
    auto pos = position::of_cursor(cursor);
    if (!visit_buckets(pos, counting, [&] {
          return shown < count && ++buckets < 10 * count;
        }))
      return op_status::gone;
    next = pos.cursor();
    return op_status::ok;
  }

  /// Where a resumable walk (select with a limit, scan) stands: the next
  /// bucket in walk order and, if that is inside a grain, the mask of the
  /// bucket array it was counted in (see visit_buckets).
  struct position {
    std::uint64_t bucket = 0;
    std::uint64_t mask = 0;
    bool done = false;

    /// Scan's cursor: the bucket, with log2 of the array's size in the top
    /// bits when inside a grain (0 starts and ends a walk).
    std::uint64_t cursor() const noexcept {
      if (bucket % walk_grain == 0)
        return bucket;
      return bucket | std::uint64_t(__builtin_popcountll(mask)) << size_shift;
    }
    static position of_cursor(std::uint64_t c) noexcept {
      position pos;
      pos.bucket = c & ((std::uint64_t{1} << size_shift) - 1);
      if (auto bits = c >> size_shift; bits < size_shift)
        pos.mask = (std::uint64_t{1} << bits) - 1;
      return pos;
    }
    static constexpr unsigned size_shift = 58;
  };

  /// Shows `f(key, value) -> bool` the entries of whole buckets from `pos`
  /// on, in for_each's order, and stops after a bucket in which `f` said
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
    if (!visit_buckets(pos, wanting, [&] { return more; }))
      return op_status::gone;
    pos.done = pos.bucket == 0;
    return op_status::ok;
  }

  /// Calls `f(const key_view*)` with the first key in walk order (ETS
  /// first on a set), or nullptr if the table is empty.
  template <class F>
  op_status first(F&& f) const {
    epoch_guard pin;
    for (;;) {
      auto g = seq_begin(growth_);
      auto* arr = buckets_.load(std::memory_order_acquire);
      if (arr == nullptr)
        return op_status::gone;
      auto* n = first_from(arr, 0, true);
      if (!seq_valid(growth_, g))
        continue;
      show_key(n, f);
      return op_status::ok;
    }
  }

  /// Calls `f(const key_view*)` with the key after `key` in walk order, or
  /// nullptr after the last one; no_key if `key` is not in the table (ETS's
  /// badarg). Stateless, as ETS's next without safe_fixtable: a walk by
  /// first/next over a table that grows meanwhile may skip or repeat keys
  /// (walk, scan and for_each do not).
  template <class Q, class F>
  op_status next(const Q& key, F&& f) const {
    auto h = hash_of(key);
    epoch_guard pin;
    for (;;) {
      auto g = seq_begin(growth_);
      auto* arr = buckets_.load(std::memory_order_acquire);
      if (arr == nullptr)
        return op_status::gone;
      std::uint64_t bucket = h & arr->mask;
      const node* n = arr->heads[bucket].load(std::memory_order_acquire);
      while (n != nullptr && !holds(n, h, key))
        n = n->next.load(std::memory_order_acquire);
      const node* succ = nullptr;
      if (n != nullptr) {
        succ = n->next.load(std::memory_order_acquire);
        if (succ == nullptr)
          succ = first_from(arr, next_bucket(bucket, arr->mask), false);
      }
      if (!seq_valid(growth_, g))
        continue;
      if (n == nullptr)
        return op_status::no_key;
      show_key(succ, f);
      return op_status::ok;
    }
  }

  /// Under each bucket's write lock in turn, shows `g(key, const value_ref&,
  /// std::optional<V>& out)` every entry and applies the write_action it
  /// returns (`put` stores `out`, under the same key): the decision and
  /// the write are atomic per entry. Covers every entry present for the
  /// whole call exactly once, across growth (the buckets' walk order).
  /// Writers of other buckets go on meanwhile. If `g` or a copy throws,
  /// the entries done so far stay done and the exception propagates.
  template <class G>
  op_status edit_each(G&& g) {
    std::uint64_t cursor = 0;
    std::uint64_t last_mask = 0;
    bool occupied[walk_grain];
    std::vector<node*> garbage;
    do {
      // Most buckets are empty (two per entry): find a grain's occupied
      // ones without locks, then lock those one at a time.
      std::uint64_t mask;
      {
        epoch_guard pin;
        for (;;) {
          auto gen = seq_begin(growth_);
          auto* arr = buckets_.load(std::memory_order_acquire);
          if (arr == nullptr)
            return op_status::gone;
          mask = arr->mask;
          if (mask < last_mask)
            return op_status::ok; // cleared: nothing left from the start
          const auto* heads = &arr->heads[cursor & mask];
          for (std::size_t i = 0; i < walk_grain; ++i) {
            auto* h = heads[i].load(std::memory_order_acquire);
            occupied[i] = h != nullptr;
            if (h != nullptr)
              __builtin_prefetch(h);
          }
          if (seq_valid(growth_, gen))
            break; // else an empty bucket's verdict may be stale
        }
      }
      for (std::size_t i = 0; i < walk_grain; ++i) {
        if (!occupied[i])
          continue;
        auto st = edit_bucket((cursor & mask) + i, mask, g, garbage);
        if (st == edit_status::gone)
          return op_status::gone;
        if (st == edit_status::cleared)
          return op_status::ok;
      }
      last_mask = mask;
      cursor = next_grain(cursor & mask, mask);
    } while (cursor != 0);
    return op_status::ok;
  }

  /// Number of entries; exact when no write is in flight.
  op_status size(std::size_t& out) const {
    if (buckets_.load(std::memory_order_acquire) == nullptr)
      return op_status::gone;
    out = 0;
    for (auto& s : stripes_)
      out += s.count.load(std::memory_order_relaxed);
    return op_status::ok;
  }

  bool alive() const noexcept {
    return buckets_.load(std::memory_order_acquire) != nullptr;
  }

  /// Bytes the table holds from the allocator: its entries (each node with
  /// its inline bytes, and the heap blocks of std::string and std::vector
  /// keys and values) and its bucket array. Memory of entries replaced or
  /// erased but not yet reclaimed is not counted. Exact when no write is in
  /// flight.
  op_status memory(std::size_t& out) const {
    epoch_guard pin;
    auto* arr = buckets_.load(std::memory_order_acquire);
    if (arr == nullptr)
      return op_status::gone;
    out = array_bytes(arr->mask + 1);
    for (auto& s : stripes_)
      out += s.bytes.load(std::memory_order_relaxed);
    return op_status::ok;
  }

  /// The size of the bucket array, 0 once retired (for tests and tools).
  std::size_t bucket_count() const noexcept {
    epoch_guard pin;
    auto* arr = buckets_.load(std::memory_order_acquire);
    return arr != nullptr ? arr->mask + 1 : 0;
  }

  // -- writes: any thread, serialized per stripe -----------------------------------

  /// Shows `f(const value_ref* current, std::optional<V>& out)` the key's
  /// value (or nullptr) under the key's write lock and applies the
  /// write_action it returns; `put` stores `out`. Atomic and isolated; if `f`
  /// or a copy throws, the table is unchanged. `key` is a K (or reference).
  template <class KK, class F>
  op_status modify(KK&& key, F&& f) {
    auto h = hash_of(key);
    auto& st = stripes_[h & (stripe_count - 1)];
    node* garbage = nullptr;
    bool grow_now = false;
    bucket_array* arr;
    {
      std::lock_guard<std::mutex> guard{st.mtx};
      arr = buckets_.load(std::memory_order_relaxed);
      if (arr == nullptr)
        return op_status::gone;
      std::optional<V> out;
      auto [link, cur] = locate(arr, h, key);
      auto action = show_value(cur, [&](const value_ref* v) {
        return f(v, out);
      });
      if (action == write_action::put) {
        auto* n = make_node(h, std::forward<KK>(key), std::move(*out));
        garbage = link_node(st, link, cur, n);
        grow_now = cur == nullptr && overloaded(arr, st);
      } else if (action == write_action::erase) {
        garbage = unlink_node(st, link, cur);
      }
    }
    return after_write(garbage, grow_now, arr);
  }

  /// Inserts or replaces the key's entry, built before taking the lock from
  /// `key` and `value` (each a K or V, or a reference to one).
  template <class KK, class VV>
  op_status put(KK&& key, VV&& value) {
    auto h = hash_of(key);
    auto& st = stripes_[h & (stripe_count - 1)];
    auto* n = make_node(h, std::forward<KK>(key), std::forward<VV>(value));
    node* garbage = nullptr;
    bool grow_now = false;
    bucket_array* arr;
    {
      std::lock_guard<std::mutex> guard{st.mtx};
      arr = buckets_.load(std::memory_order_relaxed);
      if (arr != nullptr) {
        auto [link, cur] = locate(arr, h, n->key());
        garbage = link_node(st, link, cur, n);
        grow_now = cur == nullptr && overloaded(arr, st);
      }
    }
    if (arr == nullptr) {
      destroy(n);
      return op_status::gone;
    }
    return after_write(garbage, grow_now, arr);
  }

  /// Inserts all `items` atomically and isolated from readers; duplicate keys
  /// in `items`: the last wins. With `only_new`, inserts nothing and returns
  /// `rejected` if any key is present.
  op_status insert_batch(std::vector<std::pair<K, V>> items, bool only_new) {
    // Size the buckets for the batch first: it grows nothing while it holds
    // its locks, and a large batch into a small table would make long chains.
    std::size_t n = 0;
    if (size(n) != op_status::ok)
      return op_status::gone;
    grow_to(n + items.size());
    // The nodes are built before locking: an allocation that fails leaves
    // the table untouched, and the locks are held for linking only.
    std::vector<std::pair<std::size_t, node*>> fresh;
    std::vector<node*> garbage;
    fresh.reserve(items.size());
    garbage.reserve(items.size()); // no allocation once linking began
    std::uint64_t stripe_mask = 0;
    try {
      for (auto& [k, v] : items) {
        auto h = hash_of(k);
        fresh.emplace_back(h, make_node(h, std::move(k), std::move(v)));
        stripe_mask |= std::uint64_t{1} << (h & (stripe_count - 1));
      }
    } catch (...) {
      destroy_all(fresh);
      throw;
    }
    bool grow_now = false;
    bucket_array* arr;
    {
      multi_lock locks{*this, stripe_mask};
      arr = buckets_.load(std::memory_order_relaxed);
      if (arr != nullptr && only_new)
        for (auto [h, n] : fresh)
          if (locate(arr, h, n->key()).second != nullptr) {
            destroy_all(fresh);
            return op_status::rejected;
          }
      if (arr != nullptr) {
        locks.begin_batch();
        grow_now = link_all(arr, fresh, garbage);
      }
    }
    if (arr == nullptr) {
      destroy_all(fresh);
      return op_status::gone;
    }
    for (auto* n : garbage)
      retire(n);
    if (grow_now)
      grow(arr);
    return op_status::ok;
  }

  /// A batch write whose new values depend on the current ones (bags add
  /// to a key's objects): for each item, `merge(const value_ref* cur, X&
  /// item, std::optional<V>& out) -> bool` says whether to store `out`. The
  /// keys of `items` must be distinct. Atomic and isolated as insert_batch:
  /// the new nodes are all built under the locks before the first is
  /// linked, so a failed allocation (or a throwing merge) changes nothing.
  /// With `only_new`, writes nothing and returns `rejected` if any key is
  /// present.
  template <class X, class Merge>
  op_status merge_batch(std::vector<std::pair<K, X>>& items, bool only_new,
                        Merge&& merge) {
    std::size_t n = 0;
    if (size(n) != op_status::ok)
      return op_status::gone;
    grow_to(n + items.size());
    std::vector<std::size_t> hashes;
    hashes.reserve(items.size());
    std::uint64_t stripe_mask = 0;
    for (auto& item : items) {
      hashes.push_back(hash_of(item.first));
      stripe_mask |= std::uint64_t{1} << (hashes.back() & (stripe_count - 1));
    }
    std::vector<std::pair<std::size_t, node*>> fresh;
    std::vector<node*> garbage;
    fresh.reserve(items.size());
    garbage.reserve(items.size());
    bool grow_now = false;
    bucket_array* arr;
    {
      multi_lock locks{*this, stripe_mask};
      arr = buckets_.load(std::memory_order_relaxed);
      if (arr == nullptr)
        return op_status::gone;
      if (only_new)
        for (std::size_t i = 0; i < items.size(); ++i)
          if (locate(arr, hashes[i], items[i].first).second != nullptr)
            return op_status::rejected;
      try {
        for (std::size_t i = 0; i < items.size(); ++i) {
          auto* cur = locate(arr, hashes[i], items[i].first).second;
          std::optional<V> out;
          bool store = show_value(cur, [&](const value_ref* v) {
            return merge(v, items[i].second, out);
          });
          if (store)
            fresh.emplace_back(hashes[i], make_node(hashes[i], items[i].first,
                                                    std::move(*out)));
        }
      } catch (...) {
        destroy_all(fresh);
        throw;
      }
      locks.begin_batch();
      grow_now = link_all(arr, fresh, garbage);
    }
    for (auto* x : garbage)
      retire(x);
    if (grow_now)
      grow(arr);
    return op_status::ok;
  }

  /// Removes every entry atomically (ETS delete_all_objects).
  op_status clear() {
    bucket_array* old;
    {
      multi_lock locks{*this, ~std::uint64_t{0}};
      old = buckets_.load(std::memory_order_relaxed);
      if (old == nullptr)
        return op_status::gone;
      auto* fresh = make_array(stripe_count);
      buckets_.store(fresh, std::memory_order_release);
      for (auto& s : stripes_) {
        s.count.store(0, std::memory_order_relaxed);
        s.bytes.store(0, std::memory_order_relaxed);
      }
    }
    retire_array(old);
    return op_status::ok;
  }

  /// Turns the table into a tombstone: every later operation returns `gone`;
  /// the entries are freed once no reader is inside.
  void retire_storage() noexcept {
    bucket_array* old;
    {
      multi_lock locks{*this, ~std::uint64_t{0}};
      old = buckets_.exchange(nullptr, std::memory_order_acq_rel);
      for (auto& s : stripes_) {
        s.count.store(0, std::memory_order_relaxed);
        s.bytes.store(0, std::memory_order_relaxed);
      }
    }
    if (old != nullptr)
      retire_array(old);
  }

private:
  /// Nodes keep their key's hash when comparing keys may cost more than
  /// comparing hashes (a string's bytes can be one more cache miss). An
  /// integer key compares as fast as its hash: its node stays 8 bytes
  /// smaller (u64 -> u64: a 32-byte malloc chunk instead of 48).
  static constexpr bool stores_hash = !std::is_arithmetic_v<K>
                                      && !std::is_enum_v<K>;

  struct stored_hash {
    explicit stored_hash(std::size_t h) : hash(h) {
      // nop
    }
    const std::size_t hash;
  };

  struct no_stored_hash {
    explicit no_stored_hash(std::size_t) {
      // nop
    }
  };

  /// A std::string key (under the standard equality) or value is stored
  /// inline: its size in the node, its bytes right behind it, key first. An
  /// entry is then one allocation, and a read one chain of adjacent cache
  /// lines instead of a node plus two heap blocks (16 B key, 100 B value:
  /// one 160 B chunk instead of 96 + 32 + 112).
  static constexpr bool inline_key
    = std::is_same_v<K, std::string>
      && (std::is_same_v<KeyEqual, std::equal_to<std::string>>
          || std::is_same_v<KeyEqual, std::equal_to<>>);
  static constexpr bool inline_value = std::is_same_v<V, std::string>;

  /// What modify and find point their functions at: V, or a view of it.
  using value_ref = std::conditional_t<inline_value, std::string_view, V>;

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
    explicit field(const U& x) : size(x.size()) {
      // nop
    }
    const std::size_t size;
  };

  struct node
    : std::conditional_t<stores_hash, stored_hash, no_stored_hash> {
    using base = std::conditional_t<stores_hash, stored_hash, no_stored_hash>;

    /// Call through make_node, which allocates room for the inline bytes.
    template <class KK, class VV>
    node(std::size_t h, KK&& k, VV&& v)
      : base(h),
        next(nullptr),
        k_(std::forward<KK>(k)),
        v_(std::forward<VV>(v)) {
      auto* out = reinterpret_cast<char*>(this + 1);
      if constexpr (inline_key)
        out = std::copy(k.data(), k.data() + k.size(), out);
      if constexpr (inline_value)
        std::copy(v.data(), v.data() + v.size(), out);
    }

    /// `const K&`, or a std::string_view of the inline bytes.
    decltype(auto) key() const noexcept {
      if constexpr (inline_key)
        return std::string_view{bytes(), k_.size};
      else
        return (k_.obj);
    }

    /// `const V&`, or a std::string_view of the inline bytes.
    decltype(auto) value() const noexcept {
      if constexpr (inline_value)
        return std::string_view{bytes() + key_bytes(), v_.size};
      else
        return (v_.obj);
    }

    std::atomic<node*> next;

  private:
    const char* bytes() const noexcept {
      return reinterpret_cast<const char*>(this + 1);
    }
    std::size_t key_bytes() const noexcept {
      if constexpr (inline_key)
        return k_.size;
      else
        return 0;
    }
    field<K, inline_key> k_;
    field<V, inline_value> v_;
  };

  /// A node not linked anywhere yet.
  template <class KK, class VV>
  static node* make_node(std::size_t h, KK&& key, VV&& value) {
    std::size_t extra = 0;
    if constexpr (inline_key)
      extra += key.size();
    if constexpr (inline_value)
      extra += value.size();
    void* mem = ::operator new(sizeof(node) + extra);
    try {
      return new (mem) node(h, std::forward<KK>(key), std::forward<VV>(value));
    } catch (...) {
      ::operator delete(mem);
      throw;
    }
  }

  /// What `n` holds from the allocator (see memory()).
  static std::size_t footprint(const node* n) noexcept {
    auto bytes = sizeof(node);
    if constexpr (inline_key)
      bytes += n->key().size();
    else
      bytes += heap_bytes(n->key());
    if constexpr (inline_value)
      bytes += n->value().size();
    else
      bytes += heap_bytes(n->value());
    return bytes;
  }

  static void destroy(node* n) noexcept {
    n->~node();
    ::operator delete(n);
  }

  static void destroy_all(std::vector<std::pair<std::size_t, node*>>& xs) {
    for (auto& x : xs)
      destroy(x.second);
    xs.clear();
  }

  static void retire(node* n) {
    detail::retire(n, [](void* p) { destroy(static_cast<node*>(p)); });
  }


  /// Calls `f(const key_view*)` with n's key, or with nullptr.
  template <class F>
  static void show_key(const node* n, F& f) {
    if (n == nullptr) {
      f(static_cast<const std::remove_reference_t<decltype(n->key())>*>(
        nullptr));
      return;
    }
    decltype(auto) k = n->key();
    f(&k);
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

  /// Whether node `n` holds `key` (a K or a view of one), whose hash is `h`.
  template <class Q>
  bool holds(const node* n, std::size_t h, const Q& key) const {
    if constexpr (stores_hash)
      if (n->hash != h)
        return false;
    if constexpr (inline_key)
      return n->key() == std::string_view{key};
    else
      return eq_(n->key(), key);
  }

  std::size_t node_hash(const node* n) const {
    if constexpr (stores_hash)
      return n->hash;
    else
      return hash_of(n->key());
  }

  /// Bucket heads allocated inline after the header: one load less per read.
  struct bucket_array {
    std::size_t mask;
    std::atomic<node*> heads[1];
  };

  /// The first node of the first non-empty bucket from `cursor` on, or
  /// null if the walk ends first; `at_start` tells that cursor 0 is the
  /// start rather than the end.
  static const node* first_from(const bucket_array* arr,
                                std::uint64_t cursor, bool at_start) {
    if (cursor == 0 && !at_start)
      return nullptr;
    do {
      if (auto* n = arr->heads[cursor & arr->mask].load(
            std::memory_order_acquire))
        return n;
      cursor = next_bucket(cursor, arr->mask);
    } while (cursor != 0);
    return nullptr;
  }

  struct alignas(64) stripe {
    std::mutex mtx;
    std::atomic<std::size_t> count{0};
    /// Footprints of the stripe's nodes (see memory()).
    std::atomic<std::size_t> bytes{0};
  };

  /// Locks the stripes in `mask` in ascending order; `begin_batch` makes
  /// readers of those stripes wait until the lock is released.
  class multi_lock {
  public:
    multi_lock(hash_engine& e, std::uint64_t mask) : e_(e), mask_(mask) {
      for (std::size_t i = 0; i < stripe_count; ++i)
        if (mask_ & (std::uint64_t{1} << i))
          e_.stripes_[i].mtx.lock();
    }
    void begin_batch() {
      bump();
      batch_ = true;
    }
    ~multi_lock() {
      if (batch_)
        bump();
      for (std::size_t i = 0; i < stripe_count; ++i)
        if (mask_ & (std::uint64_t{1} << i))
          e_.stripes_[i].mtx.unlock();
    }

  private:
    void bump() {
      for (std::size_t i = 0; i < stripe_count; ++i)
        if (mask_ & (std::uint64_t{1} << i))
          e_.seqs_[i].fetch_add(1, std::memory_order_release);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    hash_engine& e_;
    std::uint64_t mask_;
    bool batch_ = false;
  };

  template <class Q>
  std::size_t hash_of(const Q& key) const {
    return mix_hash(hash_(key));
  }

  enum class edit_status { done, cleared, gone };

  /// edit_each's step: under its stripe's lock, edits the entries of
  /// `bucket` as counted in an array of `mask + 1` buckets: that bucket's
  /// and, if the array grew since, those of every (mask + 1)-th bucket
  /// after it, where its entries now lie. These all share the stripe of the
  /// bucket's low bits, and growth takes every stripe's lock: the array
  /// holds still. `cleared` if the array is smaller than counted.
  template <class G>
  edit_status edit_bucket(std::uint64_t bucket, std::uint64_t mask, G& g,
                          std::vector<node*>& garbage) {
    auto& st = stripes_[bucket & (stripe_count - 1)];
    {
      std::lock_guard<std::mutex> guard{st.mtx};
      auto* arr = buckets_.load(std::memory_order_relaxed);
      if (arr == nullptr)
        return edit_status::gone;
      if (arr->mask < mask)
        return edit_status::cleared;
      try {
        for (auto b = bucket; b <= arr->mask; b += mask + 1)
          edit_chain(st, &arr->heads[b], g, garbage);
      } catch (...) {
        for (auto* x : garbage)
          retire(x);
        garbage.clear();
        throw;
      }
    }
    for (auto* x : garbage)
      retire(x);
    garbage.clear();
    return edit_status::done;
  }

  /// Applies `g` to each entry of the chain at `link`; the stripe's lock is
  /// held. The nodes replaced or unlinked go to `garbage`.
  template <class G>
  void edit_chain(stripe& st, std::atomic<node*>* link, G& g,
                  std::vector<node*>& garbage) {
    auto* cur = link->load(std::memory_order_relaxed);
    while (cur != nullptr) {
      std::optional<V> out;
      auto action = show_value(cur, [&](const value_ref* v) {
        return g(cur->key(), *v, out);
      });
      if (action != write_action::keep)
        garbage.reserve(garbage.size() + 1); // nothing changed yet
      if (action == write_action::put) {
        auto* n = make_node(node_hash(cur), cur->key(), std::move(*out));
        link_node(st, link, cur, n);
        garbage.push_back(cur);
        link = &n->next;
      } else if (action == write_action::erase) {
        unlink_node(st, link, cur);
        garbage.push_back(cur);
      } else {
        link = &cur->next;
      }
      cur = link->load(std::memory_order_relaxed);
    }
  }

  /// Shows `f(key, value)` the entries of the buckets from `pos` on, in
  /// walk order, advancing `pos` past each bucket shown (to bucket 0 after
  /// the last), until `more()` says false after a bucket. The rest of a
  /// grain is collected at once under the growth sequence, and collected
  /// again if a growth relinked it meanwhile; it is shown while still
  /// pinned. False if the table is retired.
  template <class F, class More>
  bool visit_buckets(position& pos, F& f, More&& more) const {
    std::size_t ends[walk_grain];
    std::vector<const node*> nodes;
    nodes.reserve(walk_grain);
    for (;;) {
      epoch_guard pin;
      std::uint64_t first;
      std::uint64_t mask;
      std::size_t n;
      for (;;) {
        auto g = seq_begin(growth_);
        auto* arr = buckets_.load(std::memory_order_acquire);
        if (arr == nullptr)
          return false;
        // Inside a grain of an array that grew since, its buckets are
        // counted in the array they were counted in.
        mask = arr->mask;
        if (pos.bucket % walk_grain != 0 && pos.mask >= walk_grain - 1 &&
            pos.mask < mask)
          mask = pos.mask;
        first = pos.bucket & mask;
        n = walk_grain - first % walk_grain;
        collect(arr, first, n, mask, nodes, ends);
        if (seq_valid(growth_, g))
          break; // else relinked under our feet: collect them again
      }
      std::size_t k = 0;
      for (std::size_t i = 0; i < n; ++i) {
        for (; k < ends[i]; ++k)
          f(nodes[k]->key(), nodes[k]->value());
        pos.bucket = next_bucket(first + i, mask);
        pos.mask = mask;
        if (pos.bucket == 0 || !more())
          return true;
      }
    }
  }

  /// The chains of the `n` buckets from `first` on (inside one grain) of
  /// an array of `mask + 1` buckets, in `nodes`, with each bucket's end in
  /// `ends`. If `arr` has grown past `mask`, a bucket's chains are those of
  /// every (mask + 1)-th bucket from it. Heads are read first and their
  /// nodes prefetched, so that the grain's cache misses overlap.
  static void collect(const bucket_array* arr, std::uint64_t first,
                      std::size_t n, std::uint64_t mask,
                      std::vector<const node*>& nodes,
                      std::size_t (&ends)[walk_grain]) {
    nodes.clear();
    if (mask == arr->mask) {
      const node* heads[walk_grain];
      for (std::size_t i = 0; i < n; ++i) {
        heads[i] = arr->heads[first + i].load(std::memory_order_acquire);
        if (heads[i] != nullptr)
          __builtin_prefetch(heads[i]);
      }
      for (std::size_t i = 0; i < n; ++i) {
        for (auto* x = heads[i]; x != nullptr;
             x = x->next.load(std::memory_order_acquire))
          nodes.push_back(x);
        ends[i] = nodes.size();
      }
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      for (auto b = first + i; b <= arr->mask; b += mask + 1)
        for (auto* x = arr->heads[b].load(std::memory_order_acquire);
             x != nullptr; x = x->next.load(std::memory_order_acquire))
          nodes.push_back(x);
      ends[i] = nodes.size();
    }
  }

  static std::size_t array_bytes(std::size_t n) noexcept {
    return sizeof(bucket_array) + (n - 1) * sizeof(std::atomic<node*>);
  }

  static bucket_array* make_array(std::size_t n) {
    auto* arr = static_cast<bucket_array*>(::operator new(array_bytes(n)));
    arr->mask = n - 1;
    for (std::size_t i = 0; i < n; ++i)
      new (&arr->heads[i]) std::atomic<node*>(nullptr);
    return arr;
  }

  /// Frees an array and every node in its chains.
  static void free_array(bucket_array* arr) {
    free_nodes(arr);
    ::operator delete(arr);
  }

  static void free_nodes(bucket_array* arr) {
    for (std::size_t i = 0; i <= arr->mask; ++i)
      for (auto* n = arr->heads[i].load(std::memory_order_relaxed);
           n != nullptr;) {
        auto* next = n->next.load(std::memory_order_relaxed);
        destroy(n);
        n = next;
      }
  }

  static void retire_array(bucket_array* arr) {
    detail::retire_shared(arr, [](void* p) {
      free_array(static_cast<bucket_array*>(p));
    });
  }

  /// The link pointing at the key's node (or at the chain's end) and the node.
  template <class Q>
  std::pair<std::atomic<node*>*, node*>
  locate(bucket_array* arr, std::size_t h, const Q& key) const {
    auto* link = &arr->heads[h & arr->mask];
    auto* cur = link->load(std::memory_order_relaxed);
    while (cur != nullptr && !holds(cur, h, key)) {
      link = &cur->next;
      cur = link->load(std::memory_order_relaxed);
    }
    return {link, cur};
  }

  /// Publishes `n` at `link`: in place of `cur`, or at the end of the chain
  /// if `cur` is null. Returns the node to retire, if any. Caller holds the
  /// stripe's lock.
  static node* link_node(stripe& st, std::atomic<node*>* link, node* cur,
                         node* n) {
    n->next.store(cur != nullptr ? cur->next.load(std::memory_order_relaxed)
                                 : nullptr,
                  std::memory_order_relaxed);
    link->store(n, std::memory_order_release);
    if (cur == nullptr)
      st.count.fetch_add(1, std::memory_order_relaxed);
    // Unsigned wrap-around adds the difference either way.
    st.bytes.fetch_add(footprint(n) - (cur != nullptr ? footprint(cur) : 0),
                       std::memory_order_relaxed);
    return cur;
  }

  /// Links a batch's nodes (their stripes locked), each in place of its
  /// key's node if any, which goes to `garbage` (reserved: no allocation
  /// once linking began). True if a stripe is overloaded: grow after.
  bool link_all(bucket_array* arr,
                const std::vector<std::pair<std::size_t, node*>>& fresh,
                std::vector<node*>& garbage) {
    bool grow_now = false;
    for (auto [h, n] : fresh) {
      auto& st = stripes_[h & (stripe_count - 1)];
      auto [link, cur] = locate(arr, h, n->key());
      if (auto* old = link_node(st, link, cur, n))
        garbage.push_back(old);
      grow_now = grow_now || overloaded(arr, st);
    }
    return grow_now;
  }

  /// Unlinks `cur` (the node at `link`), if any; returns it for retiring.
  /// Caller holds the stripe's lock.
  static node* unlink_node(stripe& st, std::atomic<node*>* link, node* cur) {
    if (cur == nullptr)
      return nullptr;
    link->store(cur->next.load(std::memory_order_relaxed),
                std::memory_order_release);
    st.count.fetch_sub(1, std::memory_order_relaxed);
    st.bytes.fetch_sub(footprint(cur), std::memory_order_relaxed);
    return cur;
  }

  /// Retires what a single-key write unlinked and grows if it asked to.
  op_status after_write(node* garbage, bool grow_now, bucket_array* arr) {
    if (garbage != nullptr)
      retire(garbage);
    if (grow_now)
      grow(arr);
    return op_status::ok;
  }

  /// Load factor at most 1/2: a hit in a table larger than the caches then
  /// follows 1.25 nodes on average instead of 1.5, each a cache miss (reads
  /// of 1M string keys: 10-20% faster), for 8 more bytes per entry.
  static constexpr std::size_t buckets_per_entry = 2;

  /// True once the stripe holds more entries than its share of buckets.
  static bool overloaded(const bucket_array* arr, const stripe& st) {
    return st.count.load(std::memory_order_relaxed) * buckets_per_entry
           > (arr->mask + 1) / stripe_count;
  }

  /// Doubles the bucket array if it is still `seen`.
  void grow(bucket_array* seen) noexcept {
    resize([&](const bucket_array* arr) {
      return arr == seen ? (arr->mask + 1) * 2 : 0;
    });
  }

  /// Grows the bucket array to hold `entries` at the load factor above.
  void grow_to(std::size_t entries) noexcept {
    resize([&](const bucket_array* arr) -> std::size_t {
      auto n = arr->mask + 1;
      if (n >= entries * buckets_per_entry)
        return 0;
      while (n < entries * buckets_per_entry)
        n *= 2;
      return n;
    });
  }

  /// Rehashes into a bucket array of `new_size(current)` buckets, unless
  /// that is 0. All writers wait; readers and walks go on, and their misses
  /// and chain collections wait for the end (see the top of this file).
  template <class F>
  void resize(F new_size) noexcept {
    bucket_array* old;
    {
      multi_lock locks{*this, ~std::uint64_t{0}};
      old = buckets_.load(std::memory_order_relaxed);
      if (old == nullptr)
        return;
      auto n = new_size(old);
      if (n == 0)
        return; // grown, cleared or retired meanwhile
      bucket_array* fresh = nullptr;
      try {
        fresh = make_array(n);
      } catch (...) {
        return; // out of memory: stay at this size, still correct
      }
      growth_.fetch_add(1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      for (std::size_t i = 0; i <= old->mask; ++i) {
        auto* x = old->heads[i].load(std::memory_order_relaxed);
        while (x != nullptr) {
          auto* next = x->next.load(std::memory_order_relaxed);
          auto& head = fresh->heads[node_hash(x) & (n - 1)];
          x->next.store(head.load(std::memory_order_relaxed),
                        std::memory_order_release);
          head.store(x, std::memory_order_relaxed);
          x = next;
        }
      }
      buckets_.store(fresh, std::memory_order_release);
      growth_.fetch_add(1, std::memory_order_release);
    }
    // The nodes live on in `fresh`; only the old heads go. Growing inserts
    // retire nothing else, so free the previous growth's heads now rather
    // than at some later write's reclaim.
    detail::retire_shared(old, [](void* p) { ::operator delete(p); });
    detail::reclaim();
  }

  Hash hash_;
  KeyEqual eq_;
  std::atomic<bucket_array*> buckets_;
  /// Odd while a growth relinks nodes; read-mostly, next to buckets_.
  std::atomic<std::uint32_t> growth_{0};
  std::array<stripe, stripe_count> stripes_;
  /// Batch sequences, apart from the mutexes: readers only load them.
  alignas(64) std::array<std::atomic<std::uint32_t>, stripe_count> seqs_;
};

} // namespace cachet::detail
