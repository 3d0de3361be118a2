// The engine behind `ordered_set` tables: a skip list whose readers take no
// lock and write no shared memory.
//
// As in the hash engine, nodes are immutable once published except for their
// links: an update links a new node in place of the old one and retires the
// old one through epoch-based reclamation. Writers are serialized by one
// mutex (ETS's ordered_set also has a single write lock by default). Links
// are published bottom-up, so level 0 is the linearization point; a reader
// always decides at level 0. A reader that wandered onto a node being
// unlinked still follows links that were valid when the unlink began, and no
// other write can happen before that unlink ends.
//
// Batch writes bump one sequence that readers validate against.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "cachet/detail/engine_common.hpp"
#include "cachet/detail/epoch.hpp"

namespace cachet::detail {

template <class K, class V, class Compare>
class skiplist_engine {
public:
  /// Enough for 4^20 entries at p = 1/4.
  static constexpr unsigned max_height = 20;

  skiplist_engine() {
    for (auto& h : head_)
      h.store(nullptr, std::memory_order_relaxed);
  }

  explicit skiplist_engine(Compare less) : skiplist_engine() {
    less_ = std::move(less);
  }

  skiplist_engine(const skiplist_engine&) = delete;
  skiplist_engine& operator=(const skiplist_engine&) = delete;

  ~skiplist_engine() {
    free_chain(head_[0].load(std::memory_order_relaxed));
  }

  // -- reads: any thread, lock-free --------------------------------------------

  /// Calls `f(const V*)` once, with the key's value or nullptr. `key` is
  /// a K or anything `Compare` compares with one (std::less<> is
  /// transparent).
  template <class Q, class F>
  op_status find(const Q& key, F&& f) const {
    return read_one(
      [&] {
        auto* n = lower_bound(key);
        return n != nullptr && !less_(key, n->key) ? n : nullptr;
      },
      [&](const node* n) { f(n != nullptr ? &n->value : nullptr); });
  }

  /// Calls `f(const K*)` with the smallest key, or nullptr if empty.
  template <class F>
  op_status first(F&& f) const {
    return read_one([&] { return head_[0].load(std::memory_order_acquire); },
                    key_of(f));
  }

  /// Calls `f(const K*)` with the largest key, or nullptr if empty.
  template <class F>
  op_status last(F&& f) const {
    return read_one([&] { return rightmost(nullptr); }, key_of(f));
  }

  /// Calls `f(const K*)` with the smallest key greater than `key`.
  template <class Q, class F>
  op_status next(const Q& key, F&& f) const {
    return read_one([&] { return upper_bound(key); }, key_of(f));
  }

  /// Calls `f(const K*)` with the largest key less than `key`.
  template <class F>
  op_status prev(const K& key, F&& f) const {
    return read_one([&] { return rightmost(&key); }, key_of(f));
  }

  /// Copies entries with `lo <= key < hi`, in order, at most `limit`, into
  /// `out`; isolated from batch writes like a single-key read.
  op_status range(const K& lo, const K& hi, std::size_t limit,
                  std::vector<std::pair<K, V>>& out) const {
    epoch_guard pin;
    for (;;) {
      out.clear();
      auto s = seq_begin(seq_);
      if (retired_.load(std::memory_order_acquire))
        return op_status::gone;
      for (auto* n = lower_bound(lo);
           n != nullptr && less_(n->key, hi) && out.size() < limit;
           n = n->links()[0].load(std::memory_order_acquire))
        out.emplace_back(n->key, n->value);
      if (seq_valid(seq_, s))
        return op_status::ok;
    }
  }

  /// Where a resumable walk stands: past `after` (the last key shown, if
  /// any), within [lo, hi) when bounded, forwards or in reverse.
  struct position {
    std::optional<K> lo;
    std::optional<K> hi;
    bool reverse = false;
    std::optional<K> after;
    bool done = false;
  };

  /// Shows `f(const K&, const V&) -> bool` the entries from `pos` on, in key
  /// order (or reverse key order), and stops right after the one for which
  /// `f` said false, remembering its key (or at the end: pos.done). Only
  /// the keys in [pos.lo, pos.hi) are visited. Across calls, an entry
  /// present for the whole walk is shown exactly once: the walk resumes
  /// after the last key it showed. A reverse step costs a search from the
  /// top (the list has no back links): O(log n) per entry.
  template <class F>
  op_status walk(position& pos, F&& f) const {
    epoch_guard pin;
    if (retired_.load(std::memory_order_acquire))
      return op_status::gone;
    if (pos.done)
      return op_status::ok;
    if (!pos.reverse) {
      const node* n = pos.after ? upper_bound(*pos.after)
                      : pos.lo  ? lower_bound(*pos.lo)
                                : head_[0].load(std::memory_order_acquire);
      for (; n != nullptr && (!pos.hi || less_(n->key, *pos.hi));
           n = n->links()[0].load(std::memory_order_acquire))
        if (!f(static_cast<const K&>(n->key), static_cast<const V&>(n->value))) {
          pos.after.emplace(n->key);
          return op_status::ok;
        }
    } else {
      const K* bound = pos.after ? &*pos.after : pos.hi ? &*pos.hi : nullptr;
      for (const node* n = rightmost(bound);
           n != nullptr && (!pos.lo || !less_(n->key, *pos.lo));
           n = rightmost(&n->key))
        if (!f(static_cast<const K&>(n->key), static_cast<const V&>(n->value))) {
          pos.after.emplace(n->key);
          return op_status::ok;
        }
    }
    pos.done = true;
    return op_status::ok;
  }

  /// Under the writer lock, shows `g(const K&, const V&, std::optional<V>&
  /// out)` each entry with a key in [lo, hi) (unbounded where null) and
  /// applies the write_action it returns: atomic per entry. Releases the
  /// lock every `chunk` entries so that writers are not held up for the
  /// whole table; an entry present for the whole call is shown exactly
  /// once. If `g` or a copy throws, the entries done so far stay done.
  template <class G>
  op_status edit_each(const K* lo, const K* hi, G&& g) {
    constexpr std::size_t chunk = 256;
    std::optional<K> from; // the first key not yet shown
    if (lo != nullptr)
      from.emplace(*lo);
    std::vector<node*> garbage;
    for (bool more = true; more;) {
      more = false;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (retired_.load(std::memory_order_relaxed))
          return op_status::gone;
        try {
          auto* cur = const_cast<node*>(
            from ? lower_bound(*from)
                 : head_[0].load(std::memory_order_relaxed));
          for (std::size_t seen = 0;
               cur != nullptr && (hi == nullptr || less_(cur->key, *hi));
               ++seen) {
            if (seen == chunk) {
              from.emplace(cur->key); // may throw: nothing half done
              more = true;
              break;
            }
            std::optional<V> out;
            auto action = g(static_cast<const K&>(cur->key),
                            static_cast<const V&>(cur->value), out);
            auto* succ = cur->links()[0].load(std::memory_order_relaxed);
            if (action == write_action::keep) {
              cur = succ;
              continue;
            }
            garbage.reserve(garbage.size() + 1);
            links_t preds;
            find_preds(cur->key, preds);
            if (action == write_action::put) {
              auto* n = make_node(cur->height, cur->key, std::move(*out));
              link(preds, cur, n);
              succ = n->links()[0].load(std::memory_order_relaxed);
            } else {
              unlink(preds, cur);
            }
            garbage.push_back(cur);
            cur = succ;
          }
        } catch (...) {
          for (auto* n : garbage)
            retire_node(n);
          throw;
        }
      }
      for (auto* n : garbage)
        retire_node(n);
      garbage.clear();
    }
    return op_status::ok;
  }

  /// Bytes the table holds from the allocator: every node with its links
  /// and the heap blocks of std::string and std::vector keys and values.
  /// Memory of nodes replaced or erased but not yet reclaimed is not
  /// counted. Exact when no write is in flight.
  op_status memory(std::size_t& out) const {
    if (retired_.load(std::memory_order_acquire))
      return op_status::gone;
    out = bytes_.load(std::memory_order_relaxed);
    return op_status::ok;
  }

  /// Calls `f(const K&, const V&)` in key order. Not a snapshot: an entry
  /// present for the whole walk is visited exactly once, others at most once.
  template <class F>
  op_status for_each(F&& f) const {
    epoch_guard pin;
    if (retired_.load(std::memory_order_acquire))
      return op_status::gone;
    for (auto* n = head_[0].load(std::memory_order_acquire); n != nullptr;
         n = n->links()[0].load(std::memory_order_acquire))
      f(static_cast<const K&>(n->key), static_cast<const V&>(n->value));
    return op_status::ok;
  }

  op_status size(std::size_t& out) const {
    if (retired_.load(std::memory_order_acquire))
      return op_status::gone;
    out = count_.load(std::memory_order_relaxed);
    return op_status::ok;
  }

  bool alive() const noexcept {
    return !retired_.load(std::memory_order_acquire);
  }

  // -- writes: any thread, serialized ------------------------------------------

  /// See hash_engine::modify. The node a `put` stores is built under the
  /// lock; if that throws, the table is unchanged.
  template <class KK, class F>
  op_status modify(KK&& key, F&& f) {
    node* garbage = nullptr;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (retired_.load(std::memory_order_relaxed))
        return op_status::gone;
      std::optional<V> out;
      links_t preds;
      auto* cur = find_preds(key, preds);
      switch (f(cur != nullptr ? &cur->value : nullptr, out)) {
        case write_action::keep:
          break;
        case write_action::put:
          garbage = link(preds, cur,
                         make_node(cur != nullptr ? cur->height
                                                  : random_height(),
                                   std::forward<KK>(key), std::move(*out)));
          break;
        case write_action::erase:
          garbage = unlink(preds, cur);
          break;
      }
    }
    if (garbage != nullptr)
      retire_node(garbage);
    return op_status::ok;
  }

  /// See hash_engine::put.
  template <class KK, class VV>
  op_status put(KK&& key, VV&& value) {
    return modify(std::forward<KK>(key), [&](const V*, std::optional<V>& out) {
      out.emplace(std::forward<VV>(value));
      return write_action::put;
    });
  }

  /// See hash_engine::insert_batch. The nodes are built before the lock is
  /// taken: an allocation (or a copy) that fails leaves the table untouched,
  /// and the lock is held for linking only.
  op_status insert_batch(std::vector<std::pair<K, V>> items, bool only_new) {
    std::vector<node*> fresh;
    std::vector<node*> garbage;
    fresh.reserve(items.size());
    garbage.reserve(items.size());
    try {
      for (auto& kv : items)
        fresh.push_back(make_node(random_height(), std::move(kv.first),
                                  std::move(kv.second)));
    } catch (...) {
      free_all(fresh);
      throw;
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      links_t preds;
      if (retired_.load(std::memory_order_relaxed)
          || (only_new
              && std::any_of(fresh.begin(), fresh.end(), [&](node* n) {
                   return find_preds(n->key, preds) != nullptr;
                 }))) {
        auto gone = retired_.load(std::memory_order_relaxed);
        free_all(fresh);
        return gone ? op_status::gone : op_status::rejected;
      }
      batch_scope batch{seq_};
      for (auto* n : fresh)
        if (auto* old = link(preds, find_preds(n->key, preds), n))
          garbage.push_back(old);
    }
    for (auto* n : garbage)
      retire_node(n);
    return op_status::ok;
  }

  op_status clear() {
    node* chain;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (retired_.load(std::memory_order_relaxed))
        return op_status::gone;
      chain = detach_all();
    }
    retire_chain(chain);
    return op_status::ok;
  }

  /// Nothing to guard: a skip list grows a node at a time, with no array
  /// to replace.
  void set_growth_guard(std::function<bool(std::size_t)>) noexcept {
    // nop
  }

  /// See hash_engine::retire_storage.
  void retire_storage() noexcept {
    node* chain;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      retired_.store(true, std::memory_order_release);
      chain = detach_all();
    }
    retire_chain(chain);
  }

private:
  /// Key, value, height; `height` links follow the object in memory, so the
  /// node is aligned for them (else sizeof(node) may not be, e.g. int -> int).
  struct alignas(K) alignas(V) alignas(std::atomic<void*>) node {
    template <class KK, class VV>
    node(KK&& k, VV&& v, unsigned h)
      : key(std::forward<KK>(k)), value(std::forward<VV>(v)), height(h) {
      for (unsigned i = 0; i < h; ++i)
        new (&links()[i]) std::atomic<node*>(nullptr);
    }
    std::atomic<node*>* links() noexcept {
      return reinterpret_cast<std::atomic<node*>*>(this + 1);
    }
    const std::atomic<node*>* links() const noexcept {
      return reinterpret_cast<const std::atomic<node*>*>(this + 1);
    }
    const K key;
    const V value;
    const unsigned height;
  };
  static_assert(sizeof(node) % alignof(std::atomic<node*>) == 0);

  /// Per level, the link to update: a node's or the head's.
  using links_t = std::atomic<node*>* [max_height];

  struct batch_scope {
    explicit batch_scope(std::atomic<std::uint32_t>& s) : seq(s) {
      seq.fetch_add(1, std::memory_order_release);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    ~batch_scope() {
      seq.fetch_add(1, std::memory_order_release);
    }
    std::atomic<std::uint32_t>& seq;
  };

  // Aligned allocation: K or V may be over-aligned.
  static constexpr std::align_val_t node_align{alignof(node)};

  template <class... Args>
  static node* make_node(unsigned height, Args&&... args) {
    void* mem = ::operator new(sizeof(node)
                                 + height * sizeof(std::atomic<node*>),
                               node_align);
    try {
      return new (mem) node(std::forward<Args>(args)..., height);
    } catch (...) {
      ::operator delete(mem, node_align);
      throw;
    }
  }

  /// What `n` holds from the allocator (see memory()).
  static std::size_t footprint(const node* n) noexcept {
    return sizeof(node) + n->height * sizeof(std::atomic<node*>)
           + heap_bytes(n->key) + heap_bytes(n->value);
  }

  static void free_node(node* n) {
    n->~node();
    ::operator delete(n, node_align);
  }

  static void free_all(std::vector<node*>& xs) noexcept {
    for (auto* n : xs)
      free_node(n);
    xs.clear();
  }

  static void free_chain(node* n) {
    while (n != nullptr) {
      auto* next = n->links()[0].load(std::memory_order_relaxed);
      free_node(n);
      n = next;
    }
  }

  static void retire_node(node* n) {
    detail::retire(n, [](void* p) { free_node(static_cast<node*>(p)); },
                   detail::retire_size([n] { return footprint(n); }));
  }

  static void retire_chain(node* n) {
    if (n != nullptr)
      detail::retire_shared(n, [](void* p) {
        free_chain(static_cast<node*>(p));
      });
  }

  /// Runs `locate` under a pin until no batch interfered, then `use`.
  template <class Locate, class Use>
  op_status read_one(Locate&& locate, Use&& use) const {
    epoch_guard pin;
    for (;;) {
      auto s = seq_begin(seq_);
      if (retired_.load(std::memory_order_acquire))
        return op_status::gone;
      const node* n = locate();
      if (!seq_valid(seq_, s))
        continue;
      use(n);
      return op_status::ok;
    }
  }

  template <class F>
  static auto key_of(F& f) {
    return [&f](const node* n) { f(n != nullptr ? &n->key : nullptr); };
  }

  const std::atomic<node*>* links_of(const node* n) const {
    return n == nullptr ? head_ : n->links();
  }

  unsigned top() const {
    return height_.load(std::memory_order_relaxed);
  }

  /// First node with key >= k (readers).
  template <class Q>
  const node* lower_bound(const Q& k) const {
    const node* pred = nullptr;
    const node* next = nullptr;
    for (auto lvl = top(); lvl-- > 0;) {
      next = links_of(pred)[lvl].load(std::memory_order_acquire);
      while (next != nullptr && less_(next->key, k)) {
        pred = next;
        next = next->links()[lvl].load(std::memory_order_acquire);
      }
    }
    return next;
  }

  /// First node with key > k (readers).
  template <class Q>
  const node* upper_bound(const Q& k) const {
    const node* pred = nullptr;
    const node* next = nullptr;
    for (auto lvl = top(); lvl-- > 0;) {
      next = links_of(pred)[lvl].load(std::memory_order_acquire);
      while (next != nullptr && !less_(k, next->key)) {
        pred = next;
        next = next->links()[lvl].load(std::memory_order_acquire);
      }
    }
    return next;
  }

  /// Last node with key < *bound, or the last node if bound is null.
  const node* rightmost(const K* bound) const {
    const node* pred = nullptr;
    for (auto lvl = top(); lvl-- > 0;) {
      auto* next = links_of(pred)[lvl].load(std::memory_order_acquire);
      while (next != nullptr && (bound == nullptr || less_(next->key, *bound))) {
        pred = next;
        next = next->links()[lvl].load(std::memory_order_acquire);
      }
    }
    return pred;
  }

  /// Fills `preds` with the links to update for `key` at every level and
  /// returns the node holding `key`, if any. Writers only.
  template <class Q>
  node* find_preds(const Q& key, links_t& preds) {
    node* pred = nullptr;
    node* next = nullptr;
    for (auto lvl = max_height; lvl-- > 0;) {
      auto* links = pred == nullptr ? head_ : pred->links();
      next = links[lvl].load(std::memory_order_relaxed);
      while (next != nullptr && less_(next->key, key)) {
        pred = next;
        links = pred->links();
        next = links[lvl].load(std::memory_order_relaxed);
      }
      preds[lvl] = &links[lvl];
    }
    return next != nullptr && !less_(key, next->key) ? next : nullptr;
  }

  /// A node height with P(h > k) = 4^-k, from a per-thread xorshift64, so
  /// that nodes can be built before the writer lock is taken.
  static unsigned random_height() noexcept {
    thread_local std::uint64_t rng = 0x9e3779b97f4a7c15ULL
                                     ^ reinterpret_cast<std::uintptr_t>(&rng);
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    unsigned h = 1;
    for (auto bits = rng; h < max_height && (bits & 3) == 0; bits >>= 2)
      ++h;
    return h;
  }

  /// Publishes `n` in place of `cur` (or as a new key if `cur` is null),
  /// bottom-up: level 0, where readers decide, changes with one store. The
  /// heights of `n` and `cur` may differ. Returns `cur`, to retire.
  node* link(links_t& preds, node* cur, node* n) noexcept {
    auto h = n->height;
    auto old_h = cur != nullptr ? cur->height : 0u;
    for (unsigned i = 0; i < h; ++i) {
      // Where cur stands, n takes over its successor; above, the link that
      // find_preds found already points past the key.
      auto* succ = i < old_h ? cur->links()[i].load(std::memory_order_relaxed)
                             : preds[i]->load(std::memory_order_relaxed);
      n->links()[i].store(succ, std::memory_order_relaxed);
    }
    if (h > top())
      height_.store(h, std::memory_order_release);
    for (unsigned i = 0; i < h; ++i)
      preds[i]->store(n, std::memory_order_release);
    for (unsigned i = h; i < old_h; ++i) // cur stood higher than n
      preds[i]->store(cur->links()[i].load(std::memory_order_relaxed),
                      std::memory_order_release);
    if (cur == nullptr)
      count_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(footprint(n) - (cur != nullptr ? footprint(cur) : 0),
                     std::memory_order_relaxed);
    return cur;
  }

  /// Unlinks `cur`, if any, bottom-up. Returns it, to retire.
  node* unlink(links_t& preds, node* cur) noexcept {
    if (cur == nullptr)
      return nullptr;
    for (unsigned i = 0; i < cur->height; ++i)
      preds[i]->store(cur->links()[i].load(std::memory_order_relaxed),
                      std::memory_order_release);
    count_.fetch_sub(1, std::memory_order_relaxed);
    bytes_.fetch_sub(footprint(cur), std::memory_order_relaxed);
    return cur;
  }

  /// Unlinks every node; returns the level-0 chain. Writer lock held.
  node* detach_all() {
    auto* chain = head_[0].load(std::memory_order_relaxed);
    batch_scope batch{seq_};
    for (auto& h : head_)
      h.store(nullptr, std::memory_order_release);
    count_.store(0, std::memory_order_relaxed);
    bytes_.store(0, std::memory_order_relaxed);
    return chain;
  }

  Compare less_;
  std::atomic<node*> head_[max_height];
  std::atomic<unsigned> height_{1};
  std::atomic<bool> retired_{false};
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> bytes_{0};
  std::mutex mtx_;
  alignas(64) std::atomic<std::uint32_t> seq_{0};
};

} // namespace cachet::detail
