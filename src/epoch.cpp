// The slow half of cachet's epoch-based reclamation: slot claiming, retiring,
// epoch advancing and freeing. The fast half (pin/unpin) is inline in
// cachet/detail/epoch.hpp.
//
// Slots form a push-only linked list; a thread claims a free slot on its first
// pin and releases it at thread exit. Retired nodes wait in their thread's
// bag; every `reclaim_batch` retires, the thread tries to advance the epoch,
// which advances only when every pinned slot was pinned in the current
// epoch. Objects retired two or more epochs ago are safe to free; each retire
// frees at most two of them, oldest first, rather than a whole batch at
// once: a writer then frees about one node per node it allocates, which
// malloc's per-thread cache absorbs. Freeing a thousand at once overflowed
// that cache into the arenas' locks, and half the nodes a writer replaces
// were allocated by another thread, from another arena (two writers on 1K
// string keys spent a sixth of their time waiting on those locks).
//
// A shared list, freed from by every thread's reclaim, takes what exited
// threads left in their bags and the large, rare retirements (a table's whole
// storage), which must not wait for the retiring thread to retire again.
//
// The domain is never destroyed: threads cachet does not join (its loader
// threads, a user's detached threads) may still read and retire while static
// destructors run at exit. What waits at exit stays reachable from it.
//
// Retiring allocates nothing but its record in a bag. If even that fails
// (out of memory), the retiring thread waits for a grace period, two epoch
// advances that every pinned reader lets happen once it unpins, and frees
// the object itself: retire never throws, so owners can die and tables
// retire in noexcept paths.
#include "cachet/detail/epoch.hpp"

#include <algorithm>
#include <mutex>
#include <thread>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cachet::detail {

namespace {

// A bag this large triggers an attempt to free: enough to amortize the
// membarrier calls of an epoch advance (each interrupts every core running
// the process; at 64 they were a third of a write-heavy profile), small
// enough to bound the memory a thread holds back.
constexpr std::size_t reclaim_batch = 1024;

bool register_membarrier() {
#if defined(CACHET_TSAN) || !defined(__NR_membarrier)
  return false;
#else
  auto cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
    return false;
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                 0)
         == 0;
#endif
}

// The heavy side of the asymmetric fence pair; see epoch.hpp.
void heavy_fence() {
#ifndef CACHET_TSAN
  if (asymmetric_fences) {
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    return;
  }
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// What a waiting record counts for in retired_bytes.
std::int64_t weight(const retired& x) noexcept {
  return static_cast<std::int64_t>(x.bytes);
}

// What a record of an object holding `bytes` counts for: the object and
// itself, while counting is on.
std::size_t weight_of(std::size_t bytes) noexcept {
  return counting_retired.load(std::memory_order_relaxed)
           ? bytes + sizeof(retired)
           : 0;
}

// Records a bag keeps room for once drained; more it gives back (see
// free_oldest).
constexpr std::size_t resting_room = 4 * reclaim_batch;

// The empty room a bag has grown beyond its resting room, while a reader
// held what it waits to free (its records count apart, by weight; the
// resting room is a thread's lasting cost, not held back by readers).
std::int64_t spare_room(const std::vector<retired>& bag) noexcept {
  auto used = std::max(bag.size(), resting_room);
  auto n = bag.capacity() > used ? bag.capacity() - used : 0;
  return static_cast<std::int64_t>(n * sizeof(retired));
}

void count_unfreed(epoch_slot& s, std::int64_t delta) noexcept {
  s.unfreed.store(s.unfreed.load(std::memory_order_relaxed) + delta,
                  std::memory_order_relaxed);
}

// Recounts the slot's spare room after its bag changed.
void recount_room(epoch_slot& s) noexcept {
  auto now = spare_room(s.bag);
  if (now != s.room) {
    count_unfreed(s, now - s.room);
    s.room = now;
  }
}

void no_op(void*) noexcept {
  // nop
}

struct domain {
  std::atomic<epoch_slot*> slots{nullptr};
  std::mutex shared_mtx;
  std::vector<retired> shared;
  // retired_bytes' share for the shared list: what was retired onto it
  // minus what was freed from it. (What an exited thread's bag moved there
  // stays counted by that thread's slot: this goes below zero for it.)
  std::atomic<std::int64_t> shared_unfreed{0};

  domain() {
    asymmetric_fences = register_membarrier();
  }

  // Advances the global epoch if every pinned slot has seen the current one.
  void try_advance() {
    auto current = global_epoch.load(std::memory_order_acquire);
    heavy_fence();
    for (auto* s = slots.load(std::memory_order_acquire); s != nullptr;
         s = s->next) {
      auto state = s->state.load(std::memory_order_acquire);
      if ((state & 1) != 0 && (state >> 1) != current)
        return;
    }
    global_epoch.compare_exchange_strong(current, current + 1,
                                         std::memory_order_acq_rel);
  }

  // Frees up to `n` of the slot's oldest objects retired at least two epochs
  // ago (its bag is in epoch order).
  static void free_oldest(epoch_slot& s, std::size_t n) {
    auto now = global_epoch.load(std::memory_order_acquire);
    auto& xs = s.bag;
    std::int64_t gone = 0;
    for (; n > 0 && s.freed < xs.size() && xs[s.freed].epoch + 2 <= now; --n) {
      xs[s.freed].deleter(xs[s.freed].ptr);
      gone += weight(xs[s.freed]);
      ++s.freed;
    }
    if (gone != 0)
      count_unfreed(s, -gone);
    // Drop the freed prefix once it is most of the bag: amortized O(1).
    if (s.freed >= 64 && s.freed * 2 >= xs.size()) {
      xs.erase(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(s.freed));
      s.freed = 0;
      // A bag that grew while a reader stayed pinned (a long save) gives
      // its room back once drained, rather than keep it for good.
      if (xs.capacity() > std::max(4 * xs.size(), resting_room))
        xs.shrink_to_fit();
      if (counting_retired.load(std::memory_order_relaxed))
        recount_room(s);
    }
  }

  // Frees what on the shared list was retired at least two epochs ago;
  // the caller holds shared_mtx.
  void free_safe() {
    auto now = global_epoch.load(std::memory_order_acquire);
    auto waiting = std::partition(shared.begin(), shared.end(),
                                  [now](const retired& x) {
                                    return x.epoch + 2 <= now;
                                  });
    std::int64_t gone = 0;
    std::for_each(shared.begin(), waiting, [&gone](retired& x) {
      x.deleter(x.ptr);
      gone += weight(x);
    });
    shared.erase(shared.begin(), waiting);
    if (gone != 0)
      shared_unfreed.fetch_sub(gone, std::memory_order_relaxed);
  }

  std::size_t reclaim(epoch_slot* self) {
    try_advance();
    try_advance();
    std::size_t waiting = 0;
    if (self != nullptr) {
      free_oldest(*self, self->bag.size());
      waiting += self->bag.size() - self->freed;
    }
    return waiting + free_shared();
  }

  // Frees what is safe on the shared list; returns how many still wait.
  std::size_t free_shared() {
    std::lock_guard<std::mutex> guard{shared_mtx};
    free_safe();
    shared_waiting.store(shared.size(), std::memory_order_relaxed);
    return shared.size();
  }
};

domain& the_domain() {
  static auto* instance = new domain; // never freed: see the file comment
  return *instance;
}

// Frees `ptr` once a grace period has passed: when no reader pinned before
// now can still hold it. The fallback of a retire that cannot record `ptr`.
// A pinned caller cannot wait for itself: `ptr` is leaked instead.
void free_after_grace_period(void* ptr, void (*deleter)(void*),
                             std::uint64_t epoch) noexcept {
  auto* slot = this_thread_slot;
  if (slot != nullptr && slot->depth != 0)
    return;
  auto& dom = the_domain();
  for (unsigned spins = 0;
       global_epoch.load(std::memory_order_acquire) < epoch + 2; ++spins) {
    dom.try_advance();
    if (spins > 64)
      std::this_thread::yield();
  }
  deleter(ptr);
}

// Releases the thread's slot at thread exit.
struct slot_releaser {
  ~slot_releaser() {
    auto* slot = this_thread_slot;
    if (slot == nullptr)
      return;
    auto& dom = the_domain();
    {
      std::lock_guard<std::mutex> guard{dom.shared_mtx};
      dom.shared.insert(dom.shared.end(),
                        slot->bag.begin()
                          + static_cast<std::ptrdiff_t>(slot->freed),
                        slot->bag.end());
      shared_waiting.store(dom.shared.size(), std::memory_order_relaxed);
    }
    // Its room goes too: a slot may wait long for its next thread.
    std::vector<retired>{}.swap(slot->bag);
    recount_room(*slot);
    slot->freed = 0;
    slot->advance_in = 0;
    slot->depth = 0;
    slot->state.store(0, std::memory_order_release);
    slot->in_use.store(false, std::memory_order_release);
    this_thread_slot = nullptr;
  }
};

} // namespace

epoch_slot* claim_epoch_slot() {
  auto& dom = the_domain();
  thread_local slot_releaser releaser;
  (void) releaser;
  for (auto* s = dom.slots.load(std::memory_order_acquire); s != nullptr;
       s = s->next) {
    bool expected = false;
    if (!s->in_use.load(std::memory_order_relaxed)
        && s->in_use.compare_exchange_strong(expected, true)) {
      this_thread_slot = s;
      return s;
    }
  }
  auto* fresh = new epoch_slot;
  fresh->in_use.store(true, std::memory_order_relaxed);
  auto* head = dom.slots.load(std::memory_order_relaxed);
  do {
    fresh->next = head;
  } while (!dom.slots.compare_exchange_weak(head, fresh,
                                            std::memory_order_acq_rel));
  this_thread_slot = fresh;
  return fresh;
}

void retire(void* ptr, void (*deleter)(void*), std::size_t bytes) noexcept {
  // The unlink that precedes this call must be visible before we read the
  // epoch we tag the object with (StoreLoad).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto epoch = global_epoch.load(std::memory_order_seq_cst);
  epoch_slot* slot = nullptr;
  try {
    slot = this_thread_slot != nullptr ? this_thread_slot : claim_epoch_slot();
    auto& bag = slot->bag;
    auto counted = weight_of(bytes);
    std::int64_t growing = 0;
    if (counted != 0 && bag.size() == bag.capacity()) {
      // Growing, the bag holds its records twice for a moment, and a
      // thread taken off the CPU meanwhile holds them so for its time
      // slice: count the new room from before it is taken, or eviction
      // pays for it in keys (1 800 of 12 500, under an 8 MB bound).
      auto want = std::max<std::size_t>(2 * bag.capacity(), 16);
      growing = static_cast<std::int64_t>(want * sizeof(retired));
      count_unfreed(*slot, growing);
      try {
        bag.reserve(want);
      } catch (...) {
        count_unfreed(*slot, -growing);
        throw;
      }
    }
    bag.push_back(retired{ptr, deleter, epoch, counted});
    if (counted != 0) {
      if (bag.capacity() > resting_room) // else it has no spare room
        recount_room(*slot);
      count_unfreed(*slot, static_cast<std::int64_t>(counted) - growing);
    }
  } catch (...) {
    free_after_grace_period(ptr, deleter, epoch);
    return;
  }
  // A pinned caller (a table write retires what it replaced while pinned)
  // lets the epoch advance once past its pin, and frees what was retired
  // two epochs ago, which it cannot hold: enough for its bag to drain.
  // Next advance only after another batch: a reader pinned for long must not
  // turn every retire into a membarrier call.
  auto& dom = the_domain();
  if (slot->advance_in == 0) {
    dom.try_advance();
    dom.try_advance();
    dom.free_shared();
    slot->advance_in = reclaim_batch;
  }
  --slot->advance_in;
  dom.free_oldest(*slot, 2);
}

void retire_shared(void* ptr, void (*deleter)(void*),
                   std::size_t bytes) noexcept {
  auto& dom = the_domain();
  std::atomic_thread_fence(std::memory_order_seq_cst); // as in retire
  auto epoch = global_epoch.load(std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> guard{dom.shared_mtx};
    try {
      dom.shared.push_back(retired{ptr, deleter, epoch, weight_of(bytes)});
      dom.shared_unfreed.fetch_add(weight(dom.shared.back()),
                                 std::memory_order_relaxed);
      shared_waiting.store(dom.shared.size(), std::memory_order_relaxed);
      return;
    } catch (...) {
      // out of memory: fall through
    }
  }
  free_after_grace_period(ptr, deleter, epoch);
}

std::uint64_t unlink_epoch() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst); // as in retire
  return global_epoch.load(std::memory_order_seq_cst);
}

void advance_epoch() noexcept {
  auto& dom = the_domain();
  dom.try_advance();
  dom.try_advance();
}

void poll_shared_slow() noexcept {
  // Pinned, a writer still lets the epoch advance once past its own pin;
  // its next polls, pinned in a later epoch, let it go further.
  static thread_local unsigned countdown = 0;
  if (countdown-- != 0)
    return;
  countdown = 63;
  auto& dom = the_domain();
  dom.try_advance();
  dom.try_advance();
  dom.free_shared();
}

void retire_bytes(std::size_t bytes) noexcept {
  // A record with nothing to free, after (so freed no sooner than) what
  // this thread retired before.
  if (counting_retired.load(std::memory_order_relaxed))
    retire(nullptr, no_op, bytes);
}

std::int64_t retired_bytes() noexcept {
  auto& dom = the_domain();
  auto sum = dom.shared_unfreed.load(std::memory_order_relaxed);
  for (auto* s = dom.slots.load(std::memory_order_acquire); s != nullptr;
       s = s->next)
    sum += s->unfreed.load(std::memory_order_relaxed);
  return sum;
}

void free_retired() noexcept {
  if (auto* slot = this_thread_slot)
    domain::free_oldest(*slot, slot->bag.size());
}

std::size_t reclaim() {
  auto* slot = this_thread_slot;
  if (slot != nullptr && slot->depth != 0)
    return slot->bag.size(); // cannot advance past ourselves
  return the_domain().reclaim(slot);
}

} // namespace cachet::detail
