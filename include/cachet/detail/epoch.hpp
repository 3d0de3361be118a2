// Epoch-based reclamation (EBR) for cachet's lock-free readers.
//
// A direct read pins the current thread (one store to its own cache-line-sized
// slot), walks the table's immutable nodes and unpins. Writers never free a
// node a reader might still hold: they retire it, and it is freed only after
// the global epoch has advanced twice, which requires every pinned thread to
// have been seen in the newer epoch. Readers thus write no shared cache line.
//
// The store that pins must be ordered before the reader's loads (StoreLoad).
// Where Linux's membarrier(2) is available, readers pay only a compiler
// barrier and the (rare) epoch advance issues membarrier, which runs a full
// fence on every running thread of the process; elsewhere, and under
// ThreadSanitizer (which does not model membarrier), readers use a seq_cst
// exchange instead.
//
// NOTE: a thread that stays pinned (a long visit, a snapshot read guard)
// delays reclamation of everything retired meanwhile, in every table; memory,
// not correctness. Walks (for_each) pin one run of 64 groups at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#  define CACHET_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define CACHET_TSAN 1
#  endif
#endif

namespace cachet::detail {

/// Something freed once no reader can hold it any more.
struct retired {
  void* ptr;
  void (*deleter)(void*);
  std::uint64_t epoch;
  /// What it counts for in retired_bytes(): the bytes its retirer said
  /// `ptr` holds and the record itself; 0 if retired while not counting.
  std::size_t bytes;
};

/// Per-thread reader state; only its owning thread writes `state`.
struct alignas(64) epoch_slot {
  /// 0 while idle; `epoch << 1 | 1` while pinned.
  std::atomic<std::uint64_t> state{0};
  /// Claimed by a live thread.
  std::atomic<bool> in_use{false};
  /// Next slot of the domain's list; immutable once published.
  epoch_slot* next = nullptr;
  /// Pin nesting depth, touched by the owning thread only.
  unsigned depth = 0;
  /// Objects this thread retired, in non-decreasing epoch order; those
  /// before `freed` are gone already.
  std::vector<retired> bag;
  std::size_t freed = 0;
  /// Retires left before this thread next tries to advance the epoch.
  std::size_t advance_in = 0;
  /// This slot's share of retired_bytes(): what its threads retired minus
  /// what they freed. Written by the owning thread only (no shared RMW on a
  /// write's path); read by retired_bytes().
  std::atomic<std::int64_t> unfreed{0};
  /// The bag's spare room counted in `unfreed` (epoch.cpp's spare_room).
  std::int64_t room = 0;
};

/// The global epoch. Starts at 1 so that a pinned state is never 0.
inline std::atomic<std::uint64_t> global_epoch{1};

/// True when readers may rely on membarrier (set once, before any pin).
inline bool asymmetric_fences = false;

/// The calling thread's slot, or nullptr before its first pin.
inline thread_local epoch_slot* this_thread_slot
  __attribute__((tls_model("initial-exec"))) = nullptr;

/// Claims a slot for the calling thread (slow path of the first pin).
epoch_slot* claim_epoch_slot();

/// Pins the calling thread; nests. A thread's first pin claims it a slot,
/// which may throw std::bad_alloc. Always inlined: every direct read pins,
/// and as the call GCC made of it, it took 3 of a u64 lookup's 120
/// instructions more (callgrind).
__attribute__((always_inline)) inline void epoch_pin() {
  auto* slot = this_thread_slot;
  if (__builtin_expect(slot == nullptr, 0))
    slot = claim_epoch_slot();
  if (slot->depth++ != 0)
    return;
  auto pinned = global_epoch.load(std::memory_order_relaxed) << 1 | 1;
#ifdef CACHET_TSAN
  slot->state.exchange(pinned, std::memory_order_seq_cst);
#else
  if (asymmetric_fences) {
    slot->state.store(pinned, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    slot->state.exchange(pinned, std::memory_order_seq_cst);
  }
#endif
}

/// Unpins the calling thread once the outermost pin ends.
inline void epoch_unpin() noexcept {
  auto* slot = this_thread_slot;
  if (--slot->depth == 0)
    slot->state.store(0, std::memory_order_release);
}

/// RAII pin: no node reachable from a table is freed while one is alive on
/// this thread.
class epoch_guard {
public:
  epoch_guard() {
    epoch_pin();
  }
  ~epoch_guard() {
    epoch_unpin();
  }
  epoch_guard(const epoch_guard&) = delete;
  epoch_guard& operator=(const epoch_guard&) = delete;
};

/// Hands `ptr` to the domain; `deleter(ptr)` runs once no pinned reader can
/// reach it. Call after unlinking `ptr` from every shared structure. Never
/// throws: with no memory left for its record, it waits for the readers
/// (unless this thread is pinned: then `ptr` is leaked) and frees `ptr` now.
/// `bytes`, what `ptr` holds, counts in retired_bytes() until it is freed.
void retire(void* ptr, void (*deleter)(void*), std::size_t bytes = 0) noexcept;

/// Whether retirements count what they hold (retired_bytes). Off until a
/// program asks for the figure (count_retired_bytes): counting costs a
/// write-heavy string table 3-5% of its throughput.
inline std::atomic<bool> counting_retired{false};

/// Turns counting on, for good; what was retired before stays uncounted.
inline void count_retired_bytes() noexcept {
  counting_retired.store(true, std::memory_order_relaxed);
}

/// What a retire of an object holding `bytes()` should say: 0 (and no
/// call) while nothing counts.
template <class Bytes>
std::size_t retire_size(Bytes bytes) noexcept {
  return counting_retired.load(std::memory_order_relaxed) ? bytes() : 0;
}

/// Counts `bytes` in retired_bytes() as if retired now, with no object: for
/// memory that an object this thread has just retired frees besides what
/// its retire said (what it shares and lets go of as the last holder).
void retire_bytes(std::size_t bytes) noexcept;

/// Bytes retired and not yet freed, process-wide, as the retirers said,
/// with the records that hold them and the room a bag grew by beyond its
/// resting room: memory that readers hold back (all of it, while a thread
/// stays pinned for long). Sums every thread's slot. 0 unless counting
/// (count_retired_bytes).
std::int64_t retired_bytes() noexcept;

/// The calling thread's share of retired_bytes() (one load of its own
/// slot): for a loop that changes it, and would otherwise sum every slot
/// at each step.
inline std::int64_t retired_bytes_here() noexcept {
  auto* slot = this_thread_slot;
  return slot != nullptr ? slot->unfreed.load(std::memory_order_relaxed) : 0;
}

/// Like retire, but onto the domain's shared list, which every thread's
/// reclaim frees from. For large, rare retirements (a table's storage) that
/// must not wait for the retiring thread to retire again.
void retire_shared(void* ptr, void (*deleter)(void*),
                   std::size_t bytes = 0) noexcept;

/// Objects waiting on the shared list (a hint: read without its lock).
inline std::atomic<std::size_t> shared_waiting{0};

void poll_shared_slow() noexcept;

/// Called by writers, pinned or not: while the shared list holds anything,
/// every 64th call on a thread tries to advance the epoch and frees what is
/// safe there. Without it, what a table retires there (its old arrays) would
/// wait for the next retire() that happens to reach the shared list, and a
/// table of inline entries, which retires nothing else, never makes one.
inline void poll_shared() noexcept {
  if (shared_waiting.load(std::memory_order_relaxed) != 0)
    poll_shared_slow();
}

/// For memory a structure reuses itself rather than retiring (it outlives
/// the objects in it): the epoch to tag an object unlinked just now with.
std::uint64_t unlink_epoch() noexcept;

/// Whether an object tagged `epoch` by unlink_epoch is out of every
/// reader's reach, so that its memory may be reused.
inline bool reusable(std::uint64_t epoch) noexcept {
  return global_epoch.load(std::memory_order_acquire) >= epoch + 2;
}

/// Lets the epoch advance as far as readers allow, for a structure that
/// waits to reuse memory; costs a membarrier where readers rely on one.
void advance_epoch() noexcept;

template <class T>
void retire(T* ptr) {
  retire(static_cast<void*>(ptr),
         [](void* p) { delete static_cast<T*>(p); });
}

/// Frees everything this thread retired that is safe to free at the
/// current epoch, without advancing it (no fence): a retire frees only two.
void free_retired() noexcept;

/// Advances the epoch as far as readers allow and frees whatever is safe to
/// free on this thread and from exited threads. Returns how many objects
/// still wait. Tests use it to check that retired memory does get freed.
std::size_t reclaim();

} // namespace cachet::detail
