// The deadlines of a cache's entries with a TTL: a binary min-heap of slots
// that knows each slot's place in it, so that replacing or removing an entry
// takes its record out at once. It holds exactly one record per live entry
// with a TTL: memory is O(live entries), whatever the rate of puts.
//
// A slot's `heap_key` is the deadline the heap orders it by; its `expires`
// may be later (readers renew it on touch-on-read, with no lock), so a sweep
// that finds a due record rechecks `expires` and moves the record instead.
// Not thread-safe: the cache calls it under its write lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace cachet::detail {

template <class Slot>
class expiry_heap {
public:
  bool empty() const noexcept {
    return heap_.empty();
  }

  std::size_t size() const noexcept {
    return heap_.size();
  }

  /// Makes room for one more record, so that the push after it cannot fail.
  void reserve_one() {
    heap_.reserve(heap_.size() + 1);
  }

  /// The record with the earliest deadline; the heap is not empty.
  Slot* top() const noexcept {
    return heap_.front();
  }

  /// Adds `s`, due at `deadline`; after reserve_one, never throws.
  void push(Slot* s, std::int64_t deadline) noexcept {
    s->heap_key = deadline;
    s->heap_pos = heap_.size();
    heap_.push_back(s); // reserved: no allocation
    sift_up(s->heap_pos);
  }

  /// Moves `s`, which is in the heap, to `deadline`.
  void update(Slot* s, std::int64_t deadline) noexcept {
    auto earlier = deadline < s->heap_key;
    s->heap_key = deadline;
    if (earlier)
      sift_up(s->heap_pos);
    else
      sift_down(s->heap_pos);
  }

  /// Takes `s` out if it is in the heap.
  void remove(Slot* s) noexcept {
    auto i = s->heap_pos;
    if (i == Slot::no_pos)
      return;
    s->heap_pos = Slot::no_pos;
    auto* last = heap_.back();
    heap_.pop_back();
    if (last == s)
      return;
    place(i, last);
    sift_up(i);
    sift_down(last->heap_pos);
  }

  void clear() noexcept {
    for (auto* s : heap_)
      s->heap_pos = Slot::no_pos;
    heap_.clear();
  }

private:
  void place(std::size_t i, Slot* s) noexcept {
    heap_[i] = s;
    s->heap_pos = i;
  }

  void sift_up(std::size_t i) noexcept {
    auto* s = heap_[i];
    while (i > 0) {
      auto parent = (i - 1) / 2;
      if (heap_[parent]->heap_key <= s->heap_key)
        break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, s);
  }

  void sift_down(std::size_t i) noexcept {
    auto* s = heap_[i];
    auto n = heap_.size();
    for (;;) {
      auto child = 2 * i + 1;
      if (child >= n)
        break;
      if (child + 1 < n && heap_[child + 1]->heap_key < heap_[child]->heap_key)
        ++child;
      if (s->heap_key <= heap_[child]->heap_key)
        break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, s);
  }

  std::vector<Slot*> heap_;
};

} // namespace cachet::detail
