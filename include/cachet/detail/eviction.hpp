// Eviction policies of cachet's caches: S3-FIFO (the default) and plain LRU
// (for comparison).
//
// A policy orders the cache's slots and names the next victim. It is not
// thread-safe: the cache calls admit/remove/victim/clear (and LRU's `touch`)
// under its write lock. The one exception is S3-FIFO's hit, `s3fifo::hit`,
// which readers call with no lock at all: it only bumps the slot's 2-bit
// frequency counter (a relaxed atomic), which is why S3-FIFO keeps cachet's
// direct reads lock-free while LRU has to take the lock on every hit to move
// the slot to the front of its list.
//
// S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction",
// SOSP 2023): a small FIFO (10% of the capacity) takes new entries; at its
// tail an entry read since insertion moves to the main FIFO, the others leave
// and their key hashes go to a ghost FIFO. An entry whose key is a ghost is
// admitted straight to main. At main's tail an entry read since it was last
// examined goes back to the head with its counter decremented ("lazy
// promotion"), the others leave. One-hit wonders, and a scan, pass through the
// small queue without displacing the main queue's hot entries.
//
// A policy never throws: a cache calls it between the steps of a write that
// must not fail halfway. The ghost queue is a hint, so a ghost that cannot
// be recorded for want of memory is skipped.
//
// NOTE: the weight a policy counts is the slot's `weight` (1 per entry when
// the cache has no weigher).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cachet {

namespace detail {

/// The policy's and the cache's per-entry bookkeeping. Fields other than the
/// atomics are touched under the cache's write lock only.
template <class K>
struct cache_slot {
  explicit cache_slot(K k) : key(std::move(k)) {
    // nop
  }

  K key;
  /// S3-FIFO's access counter, 0..3; written by readers without a lock.
  std::atomic<std::uint8_t> freq{0};
  /// Expiry, in nanoseconds of the cache's clock; 0 means never. Readers
  /// renew it on touch-on-read.
  std::atomic<std::int64_t> expires{0};
  /// The entry's time to live in nanoseconds (0: none), for touch-on-read.
  std::int64_t ttl = 0;
  /// The weight charged against max_weight (1 without a weigher).
  std::uint64_t weight = 1;
  /// Hash of the key, for the ghost queue.
  std::uint64_t hash = 0;
  /// What the ghost queue remembers the key by. A slot type of one's own
  /// may compute it instead of keeping a field.
  std::uint64_t ghost_hash() const noexcept {
    return hash;
  }
  /// The slot's place in the cache's expiry heap, and the deadline it is
  /// ordered by there (expiry_heap.hpp); `no_pos` when not in the heap.
  static constexpr std::size_t no_pos = static_cast<std::size_t>(-1);
  std::size_t heap_pos = no_pos;
  std::int64_t heap_key = 0;
  cache_slot* prev = nullptr;
  cache_slot* next = nullptr;
  /// 0: S3-FIFO's small queue or LRU's list; 1: S3-FIFO's main queue.
  std::uint8_t queue = 0;
  /// False once removed from the cache (lazy deletion in the expiry heap).
  bool live = true;
  /// The entry's key in each secondary index of its cache, if any.
  std::vector<std::optional<std::string>> index_keys;
};

/// An intrusive doubly linked FIFO of slots: push at the head, pop at the
/// tail.
template <class Slot>
class slot_list {
public:
  void push_head(Slot* s) noexcept {
    s->prev = nullptr;
    s->next = head_;
    if (head_ != nullptr)
      head_->prev = s;
    head_ = s;
    if (tail_ == nullptr)
      tail_ = s;
    weight_ += s->weight;
    ++size_;
  }

  void unlink(Slot* s) noexcept {
    if (s->prev != nullptr)
      s->prev->next = s->next;
    else
      head_ = s->next;
    if (s->next != nullptr)
      s->next->prev = s->prev;
    else
      tail_ = s->prev;
    s->prev = s->next = nullptr;
    weight_ -= s->weight;
    --size_;
  }

  Slot* tail() const noexcept {
    return tail_;
  }

  bool empty() const noexcept {
    return size_ == 0;
  }

  std::size_t size() const noexcept {
    return size_;
  }

  std::uint64_t weight() const noexcept {
    return weight_;
  }

  void clear() noexcept {
    head_ = tail_ = nullptr;
    size_ = 0;
    weight_ = 0;
  }

private:
  Slot* head_ = nullptr;
  Slot* tail_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t weight_ = 0;
};

/// A bounded FIFO set of key hashes (S3-FIFO's ghost queue): a hash is a
/// member from its latest add() until `capacity` adds later or its take().
///
/// Compact, since a ghost takes room that could hold a live entry: a ring
/// of 32-bit fingerprints, oldest first, as long as the capacity, and an
/// open-addressing index (at most 3/4 full) with a slot per fingerprint in
/// the ring: the fingerprint, and a byte saying whether it was taken and
/// how many times the ring holds it. 11 to 17 bytes a ghost (a node-based
/// map's are 50-odd; with 64-bit slots keeping each fingerprint's latest
/// add and a ring of a power of two, 15 to 30). Two keys whose
/// fingerprints collide share a ghost, which is only a hint; with 32 bits,
/// a new key is mistaken for one of a million ghosts 0.02% of the time
/// (24 bits in the slot's word made that 6%).
class ghost_fifo {
public:
  /// Keeps the newest `n` (at least 1); may free room, never takes any.
  void set_capacity(std::size_t n) noexcept {
    cap_ = n == 0 ? 1 : n;
    while (size_ > cap_)
      pop();
    // A capacity that fell far below the ring returns the room.
    if (ring_.size() > 64 && ring_.size() / 4 > cap_)
      rebuild(std::max(size_, ring_.size() / 2));
    if (fps_.size() > 64 && fps_.size() / 8 > cap_)
      rehash(fps_.size() / 2);
  }

  /// Remembers `h`; skipped if there is no memory for it.
  void add(std::uint64_t h) noexcept {
    auto fp = fingerprint(h);
    if (!fps_.empty()) {
      auto i = find(fp);
      if (fps_[i] != 0 && (marks_[i] & count_mask) == count_mask)
        return; // its count is full (no key is added so often): skipped
    }
    if (size_ == cap_)
      pop();
    if (size_ == ring_.size()
        && !rebuild(std::min(cap_, std::max<std::size_t>(16, 2 * size_))))
      return;
    if (4 * (indexed_ + 1) > 3 * fps_.size()
        && !rehash(fps_.empty() ? 32 : 2 * fps_.size()))
      return;
    auto i = find(fp);
    if (fps_[i] == 0) {
      fps_[i] = fp;
      marks_[i] = 0;
      ++indexed_;
    }
    auto& m = marks_[i];
    if ((m & taken_bit) != 0 || (m & count_mask) == 0)
      ++members_;
    m = static_cast<std::uint8_t>((m & count_mask) + 1);
    auto at = head_ + size_;
    ring_[at < ring_.size() ? at : at - ring_.size()] = fp;
    ++size_;
  }

  /// Removes `h` if present (it then counts as one admission to main).
  bool take(std::uint64_t h) noexcept {
    if (members_ == 0)
      return false;
    auto i = find(fingerprint(h));
    if (fps_[i] == 0 || (marks_[i] & taken_bit) != 0)
      return false;
    // Its ring entries stay: the slot does too, until pop() counts them
    // out, so that a later add is counted out by its own entry only.
    marks_[i] |= taken_bit;
    --members_;
    return true;
  }

  void clear() noexcept {
    std::fill(fps_.begin(), fps_.end(), 0);
    head_ = size_ = members_ = indexed_ = 0;
  }

  /// Hashes remembered now.
  std::size_t size() const noexcept {
    return members_;
  }

private:
  static constexpr std::uint8_t taken_bit = 0x80;
  static constexpr std::uint8_t count_mask = 0x7f;

  /// 32 bits of `h`, never 0 (a fingerprint of 0 marks an empty slot).
  static std::uint32_t fingerprint(std::uint64_t h) noexcept {
    auto fp = static_cast<std::uint32_t>(h ^ (h >> 32));
    return fp != 0 ? fp : 1;
  }

  std::size_t home(std::uint32_t fp) const noexcept {
    // Fibonacci hashing: the fingerprint's bits spread over the index.
    return static_cast<std::size_t>((fp * 0x9E3779B97F4A7C15ull) >> 32)
           & (fps_.size() - 1);
  }

  /// `fp`'s slot, or the empty one where it would go.
  std::size_t find(std::uint32_t fp) const noexcept {
    auto mask = fps_.size() - 1;
    auto i = home(fp);
    while (fps_[i] != 0 && fps_[i] != fp)
      i = (i + 1) & mask;
    return i;
  }

  /// Linear probing's deletion: later entries of the run move back, so
  /// that no probe stops early at the hole.
  void erase(std::size_t i) noexcept {
    auto mask = fps_.size() - 1;
    for (auto j = (i + 1) & mask; fps_[j] != 0; j = (j + 1) & mask) {
      auto h = home(fps_[j]);
      // slot j may fill the hole if its home is not in (i, j].
      if (((j - h) & mask) >= ((j - i) & mask)) {
        fps_[i] = fps_[j];
        marks_[i] = marks_[j];
        i = j;
      }
    }
    fps_[i] = 0;
    --indexed_;
  }

  /// Drops the oldest add; its hash leaves with its last add in the ring.
  void pop() noexcept {
    auto fp = ring_[head_];
    if (++head_ == ring_.size())
      head_ = 0;
    --size_;
    // Every fingerprint in the ring has its slot (an add that could not
    // count is not in the ring).
    auto i = find(fp);
    auto& m = marks_[i];
    --m;
    if ((m & count_mask) != 0)
      return;
    if ((m & taken_bit) == 0)
      --members_;
    erase(i);
  }

  /// A ring of `n` (at least size_), oldest first.
  bool rebuild(std::size_t n) noexcept {
    std::vector<std::uint32_t> ring;
    try {
      ring.resize(n);
    } catch (...) {
      return false;
    }
    for (std::size_t k = 0; k < size_; ++k) {
      auto at = head_ + k;
      ring[k] = ring_[at < ring_.size() ? at : at - ring_.size()];
    }
    ring_.swap(ring);
    head_ = 0;
    return true;
  }

  /// An index of `n` slots (a power of two).
  bool rehash(std::size_t n) noexcept {
    std::vector<std::uint32_t> fps;
    std::vector<std::uint8_t> marks;
    try {
      fps.resize(round_up(n));
      marks.resize(fps.size());
    } catch (...) {
      return false;
    }
    auto old_fps = std::exchange(fps_, std::move(fps));
    auto old_marks = std::exchange(marks_, std::move(marks));
    for (std::size_t k = 0; k < old_fps.size(); ++k) {
      if (old_fps[k] != 0) {
        auto i = find(old_fps[k]);
        fps_[i] = old_fps[k];
        marks_[i] = old_marks[k];
      }
    }
    return true;
  }

  static std::size_t round_up(std::size_t n) noexcept {
    std::size_t p = 16;
    while (p < n)
      p *= 2;
    return p;
  }

  std::size_t cap_ = 1;
  /// The fingerprints of the last size_ adds, oldest at head_.
  std::vector<std::uint32_t> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  /// The index: a fingerprint per slot (0: empty), and its mark.
  std::vector<std::uint32_t> fps_;
  std::vector<std::uint8_t> marks_;
  /// Slots in use, and those of them not taken: the members.
  std::size_t indexed_ = 0;
  std::size_t members_ = 0;
};

/// The common interface; the cache holds one, chosen at run time.
template <class Slot>
class eviction {
public:
  virtual ~eviction() = default;
  /// A new slot enters the cache.
  virtual void admit(Slot* s) noexcept = 0;
  /// A slot leaves the cache other than by victim() (invalidate, expiry).
  virtual void remove(Slot* s) noexcept = 0;
  /// Picks a victim and unlinks it; nullptr if empty.
  virtual Slot* victim() noexcept = 0;
  /// A hit that needs the write lock (LRU); S3-FIFO needs none.
  virtual void touch(Slot* s) noexcept = 0;
  /// True if hits must call touch() under the write lock.
  virtual bool needs_locked_touch() const noexcept = 0;
  virtual void clear() noexcept = 0;
  /// Sets the capacity (in the slots' weight units) the policy divides.
  virtual void set_capacity(std::uint64_t cap, std::size_t max_entries) = 0;

  /// A lock-free hit: bumps the frequency counter, saturating at 3. Benign
  /// races between readers only lose a bump.
  static void hit(Slot& s) noexcept {
    auto f = s.freq.load(std::memory_order_relaxed);
    if (f < 3)
      s.freq.store(static_cast<std::uint8_t>(f + 1), std::memory_order_relaxed);
  }
};

/// S3-FIFO; see the header comment.
template <class Slot>
class s3fifo final : public eviction<Slot> {
public:
  void admit(Slot* s) noexcept override {
    s->freq.store(0, std::memory_order_relaxed);
    if (ghost_.take(s->ghost_hash())) {
      s->queue = 1;
      main_.push_head(s);
    } else {
      s->queue = 0;
      small_.push_head(s);
    }
  }

  void remove(Slot* s) noexcept override {
    (s->queue == 0 ? small_ : main_).unlink(s);
  }

  Slot* victim() noexcept override {
    // Terminates: each main reinsertion lowers a counter (at most 3 per
    // slot), each small promotion moves a slot to main once.
    for (;;) {
      if (small_.empty() && main_.empty())
        return nullptr;
      if (!small_.empty()
          && (small_.weight() >= small_target_ || main_.empty())) {
        auto* t = small_.tail();
        small_.unlink(t);
        if (t->freq.load(std::memory_order_relaxed) > 0) {
          t->freq.store(0, std::memory_order_relaxed);
          t->queue = 1;
          main_.push_head(t);
          continue;
        }
        ghost_.add(t->ghost_hash());
        return t;
      }
      auto* t = main_.tail();
      main_.unlink(t);
      if (auto f = t->freq.load(std::memory_order_relaxed); f > 0) {
        t->freq.store(static_cast<std::uint8_t>(f - 1),
                      std::memory_order_relaxed);
        main_.push_head(t);
        continue;
      }
      return t;
    }
  }

  void touch(Slot* s) noexcept override {
    eviction<Slot>::hit(*s);
  }

  bool needs_locked_touch() const noexcept override {
    return false;
  }

  void clear() noexcept override {
    small_.clear();
    main_.clear();
    ghost_.clear();
  }

  void set_capacity(std::uint64_t cap, std::size_t max_entries) override {
    small_target_ = cap / 10 == 0 ? 1 : cap / 10;
    // The ghost remembers about as many keys as main holds.
    ghost_.set_capacity(max_entries != 0 ? max_entries
                                         : static_cast<std::size_t>(cap));
  }

private:
  slot_list<Slot> small_;
  slot_list<Slot> main_;
  ghost_fifo ghost_;
  std::uint64_t small_target_ = 1;
};

/// Least recently used: hits move the slot to the head, victims come from
/// the tail.
template <class Slot>
class lru final : public eviction<Slot> {
public:
  void admit(Slot* s) noexcept override {
    s->queue = 0;
    list_.push_head(s);
  }

  void remove(Slot* s) noexcept override {
    list_.unlink(s);
  }

  Slot* victim() noexcept override {
    auto* t = list_.tail();
    if (t != nullptr)
      list_.unlink(t);
    return t;
  }

  void touch(Slot* s) noexcept override {
    list_.unlink(s);
    list_.push_head(s);
  }

  bool needs_locked_touch() const noexcept override {
    return true;
  }

  void clear() noexcept override {
    list_.clear();
  }

  void set_capacity(std::uint64_t, std::size_t) override {
    // nop
  }

private:
  slot_list<Slot> list_;
};

} // namespace detail

} // namespace cachet
