// maxmemory and its eviction policies (redis-server 7.0's evict.c as seen
// by clients, plus cachet's S3-FIFO).
//
// Once maxmemory is set, every command first makes room (make_room, in
// evict.cpp): while used_memory (memory.hpp) is over the bound it removes
// keys the policy picks, and a command that needs memory (redis's
// `denyoom`) is refused with redis's OOM error if none can go.
//
// How keys are picked:
// * allkeys-s3fifo (cachet's default for a bound) and allkeys-lru use the
//   cache layer's own policies (cachet/detail/eviction.hpp): each key gets a
//   `key_slot` that the policy links into its queues. S3-FIFO's hit is one
//   relaxed store; LRU's takes the policy's lock to move the slot.
// * allkeys-lfu, allkeys-random and the volatile-* policies sample keys
//   from a random point of the table and evict the best of the sample, as
//   redis does (maxmemory-samples, default 5), by the key's idle time, its
//   logarithmic access counter (redis's LFU, lfu-log-factor 10, decay one
//   per minute), its expiry, or at random. volatile-* consider only keys
//   with an expiry; with none to evict they refuse as noeviction does.
//
// The slot follows its key's value (a copy of the value shares it); a
// value's slot may be unlinked (its key is then evicted by sampling, and
// the policies only ever lose a hint). Slots exist only while maxmemory is
// set; keys written before get theirs when a policy with queues starts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <cachet/detail/eviction.hpp>

namespace cachet::redis {

enum class maxmemory_policy : std::uint8_t {
  noeviction,
  allkeys_s3fifo,
  allkeys_lru,
  allkeys_lfu,
  allkeys_random,
  volatile_lru,
  volatile_lfu,
  volatile_random,
  volatile_ttl,
};

/// redis's name of `p` ("allkeys-lru").
std::string_view policy_name(maxmemory_policy p);

/// Whether `p` counts accesses (redis's LFU) rather than their time.
inline bool lfu_policy(maxmemory_policy p) {
  return p == maxmemory_policy::allkeys_lfu
         || p == maxmemory_policy::volatile_lfu;
}

/// The policy named `name` (any case), if any.
std::optional<maxmemory_policy> parse_policy(std::string_view name);

/// A memory value as redis's config takes it: digits and an optional unit
/// (b, k = 1000, kb = 1024, m, mb, g, gb; any case); nullopt if malformed.
std::optional<std::int64_t> parse_memory(std::string_view text);

/// The names, for CONFIG SET's error.
inline constexpr std::string_view policy_names
  = "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
    "allkeys-lru, allkeys-lfu, allkeys-random, allkeys-s3fifo, noeviction";

/// A key's eviction bookkeeping, in one allocation with a copy of the key:
/// the fields the cache layer's policies use, redis's access clock or LFU
/// counter for the sampled ones, and a reference count (values that carry
/// the slot, and the queues while it is linked there). 27 bytes, then the
/// key's size as a varint and its bytes: a 48-byte block of malloc's for a
/// key of up to 12 bytes, 64 up to 28. Every key held under a bound has
/// one, so its size is keys lost: at 40 bytes and a 64-byte block (before
/// the key's hash was computed instead of kept and its size became a
/// varint), a 1 MB bound held 3% fewer keys of 9 bytes.
struct key_slot {
  /// A slot for `key`, with one reference (the caller's).
  static key_slot* make(std::string_view key);

  /// The bytes make asks malloc for, for a key of `n` bytes.
  static std::size_t bytes_for(std::size_t n) noexcept;

  std::string_view key() const noexcept;

  /// The hash S3-FIFO's ghost queue remembers the key by, computed from it
  /// when the policy asks (under the evictor's lock, once per admission
  /// and per exit from the small queue).
  std::uint64_t ghost_hash() const noexcept;

  // -- the cache layer's policy (under the evictor's lock, but freq) ------
  key_slot* prev = nullptr;
  key_slot* next = nullptr;
  // -- sampling -------------------------------------------------------------
  /// As redis's 24-bit `lru` field, one word for either use: under an LFU
  /// policy, minutes of the last decrement << 8 | counter (redis's LFU);
  /// under any other, seconds of the LRU clock at the last access. A
  /// policy change reinterprets it, as in redis.
  std::atomic<std::uint32_t> clock{0};
  // -- ownership ------------------------------------------------------------
  std::atomic<std::uint32_t> refs{1};
  // -- the cache layer's policy, continued -----------------------------------
  std::atomic<std::uint8_t> freq{0};
  std::uint8_t queue = 0;
  /// In the queues, which then hold a reference.
  bool linked = false;
  /// Every key weighs one: the queues count keys.
  static constexpr std::uint64_t weight = 1;
  /// The key's size and bytes begin here and run on past the struct, into
  /// the rest of the block make allocated.
  char key_bytes[5];
};

/// A counted reference to a key_slot (null, or one reference).
class slot_ptr {
public:
  slot_ptr() noexcept = default;

  slot_ptr(std::nullptr_t) noexcept {
    // nop
  }

  /// Takes over one reference the caller holds.
  static slot_ptr adopt(key_slot* s) noexcept {
    slot_ptr p;
    p.p_ = s;
    return p;
  }

  slot_ptr(const slot_ptr& other) noexcept : p_(other.p_) {
    if (p_ != nullptr)
      p_->refs.fetch_add(1, std::memory_order_relaxed);
  }

  slot_ptr(slot_ptr&& other) noexcept : p_(other.p_) {
    other.p_ = nullptr;
  }

  slot_ptr& operator=(slot_ptr other) noexcept {
    std::swap(p_, other.p_);
    return *this;
  }

  ~slot_ptr() {
    release(p_);
  }

  key_slot* get() const noexcept {
    return p_;
  }

  key_slot* operator->() const noexcept {
    return p_;
  }

  explicit operator bool() const noexcept {
    return p_ != nullptr;
  }

  friend bool operator==(const slot_ptr& p, std::nullptr_t) noexcept {
    return p.p_ == nullptr;
  }

  friend bool operator!=(const slot_ptr& p, std::nullptr_t) noexcept {
    return p.p_ != nullptr;
  }

  /// Drops one reference to `s`, freeing it with the last.
  static void release(key_slot* s) noexcept;

private:
  key_slot* p_ = nullptr;
};

/// maxmemory's state, shared by every thread: the bound, the policy, the
/// policy's queues and the counters INFO shows.
class evictor {
public:
  evictor();
  ~evictor();

  evictor(const evictor&) = delete;
  evictor& operator=(const evictor&) = delete;

  // -- configuration ----------------------------------------------------------

  /// The bound in bytes (0: none).
  std::int64_t maxmemory() const noexcept {
    return maxmemory_.load(std::memory_order_relaxed);
  }

  maxmemory_policy policy() const noexcept {
    return policy_.load(std::memory_order_relaxed);
  }

  int samples() const noexcept {
    return samples_.load(std::memory_order_relaxed);
  }

  void set_samples(int n) noexcept {
    samples_.store(n, std::memory_order_relaxed);
  }

  /// Sets the bound and the policy; true if keys that have no slot or an
  /// unlinked one must be adopted (a policy with queues starts).
  bool configure(std::int64_t maxmemory, maxmemory_policy p);

  /// Whether keys carry slots (a bound is set).
  bool tracking() const noexcept {
    return maxmemory() != 0;
  }

  // -- keys -------------------------------------------------------------------

  /// A slot for a new key; null while not tracking.
  slot_ptr make_slot(std::string_view key) const;

  /// Links `s` into the policy's queues (if the policy has queues and it is
  /// not linked yet).
  void admit(const slot_ptr& s);

  /// Unlinks `s`: its key's value is gone.
  void forget(key_slot* s) noexcept;

  /// A read of the key whose slot is `s`.
  void hit(key_slot& s) noexcept;

  /// Unlinks every slot (FLUSHALL, a policy change).
  void drain() noexcept;

  /// The queues' next victim, unlinked (null: the queues are empty or the
  /// policy samples).
  slot_ptr next_victim();

  /// Whether the policy keeps queues (s3fifo, lru).
  bool queued() const noexcept;

  // -- figures ----------------------------------------------------------------

  /// Keys evicted (INFO evicted_keys).
  std::atomic<std::int64_t> evicted_keys{0};

  /// Notes `used` for used_memory_peak.
  void note(std::int64_t used) noexcept {
    auto p = peak_.load(std::memory_order_relaxed);
    while (used > p
           && !peak_.compare_exchange_weak(p, used, std::memory_order_relaxed)) {
      // p reloaded
    }
  }

  std::int64_t peak() const noexcept {
    return peak_.load(std::memory_order_relaxed);
  }

  /// redis's LFU counter of `s` now, decayed (OBJECT FREQ; eviction).
  static std::uint8_t lfu_count(const key_slot& s) noexcept;

  /// Seconds since `s` was last read or written (OBJECT IDLETIME).
  static std::uint32_t idle_seconds(const key_slot& s) noexcept;

  /// The LRU clock: seconds.
  static std::uint32_t clock_now() noexcept;

private:
  /// Under mtx_: empties the queues, dropping their references.
  void unlink_all() noexcept;
  /// Under mtx_: sizes the queues to the keys they hold.
  void resize();

  std::atomic<std::int64_t> maxmemory_{0};
  std::atomic<maxmemory_policy> policy_{maxmemory_policy::noeviction};
  std::atomic<int> samples_{5};
  std::atomic<std::int64_t> peak_{0};
  /// Guards the queues.
  mutable std::mutex mtx_;
  std::unique_ptr<detail::eviction<key_slot>> queues_;
  /// Slots in the queues, and admissions since their capacity was set.
  std::size_t linked_ = 0;
  std::size_t since_resize_ = 0;
};

} // namespace cachet::redis
