// maxmemory: the policies' state (evict.hpp) and make_room, which evicts.
#include "evict.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <thread>

#include <cachet/detail/epoch.hpp>
#include <cachet/detail/hash.hpp>
#include <cachet/detail/varint.hpp>

#include "call.hpp"
#include "memory.hpp"

namespace cachet::redis {

namespace {

constexpr std::pair<std::string_view, maxmemory_policy> names[] = {
  {"noeviction", maxmemory_policy::noeviction},
  {"allkeys-s3fifo", maxmemory_policy::allkeys_s3fifo},
  {"allkeys-lru", maxmemory_policy::allkeys_lru},
  {"allkeys-lfu", maxmemory_policy::allkeys_lfu},
  {"allkeys-random", maxmemory_policy::allkeys_random},
  {"volatile-lru", maxmemory_policy::volatile_lru},
  {"volatile-lfu", maxmemory_policy::volatile_lfu},
  {"volatile-random", maxmemory_policy::volatile_random},
  {"volatile-ttl", maxmemory_policy::volatile_ttl},
};

// redis's LFU parameters (lfu-log-factor, lfu-decay-time in minutes, and
// the counter a new key starts with).
constexpr double lfu_log_factor = 10;
constexpr std::uint32_t lfu_decay_minutes = 1;
constexpr std::uint8_t lfu_init = 5;

/// Bytes a key costs besides its key, its value's block and its slot: the
/// table's entry and node, and what malloc adds (180 B per key of 16 bytes
/// with a value of 100, measured by bench-redis.sh: 63 besides the key and
/// the value's 101-byte block, which the node holds).
constexpr std::size_t entry_overhead = 63;

/// Evictions by one thread after which it frees what it retired. The
/// table frees a removed value only once no reader can hold it, and a
/// thread otherwise lets up to a thousand such wait (epoch.cpp): under a
/// small bound that garbage would take memory keys could have. A reclaim
/// costs two epoch advances (membarrier calls).
constexpr std::size_t reclaim_every = 64;

/// Keys one command evicts at most; it runs if it evicted any.
constexpr std::size_t max_evictions_per_call = 4096;

/// How long a command waits at most for readers to let removed keys go.
constexpr std::chrono::milliseconds max_reader_wait{2};

/// How long a command waits at most for a save that holds twice the bound.
constexpr std::chrono::milliseconds max_save_wait{100};

std::uint32_t minutes_now() noexcept {
  return static_cast<std::uint32_t>(now_ms() / 60000) & 0xffff;
}

/// A key that sampling found, and its score: the higher, the sooner it goes.
struct candidate {
  std::string key;
  slot_ptr slot;
  double score = -1;
};

std::uint64_t next_random() noexcept {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

/// How eagerly `policy` evicts a key with `slot` and `expire_at`; nullopt
/// if it may not (volatile-* and a key without expiry).
std::optional<double> score(maxmemory_policy p, const key_slot* slot,
                            std::int64_t expire_at) {
  using mp = maxmemory_policy;
  bool volatile_only = p == mp::volatile_lru || p == mp::volatile_lfu
                       || p == mp::volatile_random || p == mp::volatile_ttl;
  if (volatile_only && expire_at == 0)
    return std::nullopt;
  switch (p) {
    case mp::allkeys_lru:
    case mp::allkeys_s3fifo:
    case mp::volatile_lru:
      // A key written before the bound was set has no slot: idlest of all.
      return slot != nullptr ? double(evictor::idle_seconds(*slot))
                             : std::numeric_limits<double>::max();
    case mp::allkeys_lfu:
    case mp::volatile_lfu:
      return slot != nullptr ? 255.0 - evictor::lfu_count(*slot) : 256.0;
    case mp::volatile_ttl:
      return -double(expire_at);
    default:
      return double(next_random() >> 11);
  }
}

/// Samples about `samples` keys from a random point of the table and
/// returns the one the policy would evict first.
std::optional<candidate> sample(store_table& tab, server_env& env) {
  auto policy = env.evict.policy();
  auto want = static_cast<std::size_t>(std::max(env.evict.samples(), 1));
  std::optional<candidate> best;
  std::size_t seen = 0;
  // Volatile policies skip keys without expiry: a bounded number of steps.
  auto cursor = (next_random() >> 32) | 1;
  for (int step = 0; step < 16 && seen < want; ++step) {
    auto next = tab.scan(cursor, want, [&](std::string_view k, const value& v) {
      auto s = score(policy, v.slot.get(), v.expire_at);
      if (!s)
        return;
      ++seen;
      if (!best || *s > best->score)
        best = candidate{std::string{k}, v.slot, *s};
    });
    if (!next)
      return std::nullopt;
    cursor = *next == 0 ? 1 : *next;
  }
  return best;
}

/// What an evicted `v` frees with its node besides the node (which the
/// table counts as retired): its slot, whose other holders (the policy's
/// queues, the eviction in progress) let go of it first, and its hash
/// where it holds the last reference.
std::size_t held_beside_node(const value& v) {
  std::size_t bytes = 0;
  if (v.slot != nullptr)
    bytes += key_slot::bytes_for(v.slot->key().size());
  if (auto* h = v.hash(); h != nullptr && h->use_count() == 1)
    bytes += h->memory(); // edited only under the key's lock, which we hold
  return bytes;
}

/// Removes `key` if its value still carries `slot` (any value if `slot`
/// is null); false if it was not removed.
bool remove(store_table& tab, server_env& env, const std::string& key,
            const key_slot* slot) {
  std::size_t beside = 0;
  auto erased = tab.erase_if(key, [&](const value& v) {
    if (slot != nullptr && v.slot.get() != slot)
      return false;
    beside = held_beside_node(v);
    return true;
  });
  if (!erased || !*erased)
    return false;
  // Freed with the node, once no reader holds it: until then it counts
  // as retired, as the node does, and eviction does not pay for it twice.
  detail::retire_bytes(beside);
  if (slot != nullptr)
    env.evict.forget(const_cast<key_slot*>(slot));
  env.evict.evicted_keys.fetch_add(1, std::memory_order_relaxed);
  // As a write: EXEC fails for connections that WATCH the key.
  env.watches.touch(key);
  return true;
}

/// Evicts one key; false if the policy has none to give.
bool evict_one(store_table& tab, server_env& env) {
  if (env.evict.queued()) {
    // Stale slots (keys deleted, renamed or overwritten as a whole) are
    // dropped on the way.
    while (auto s = env.evict.next_victim())
      if (remove(tab, env, std::string{s->key()}, s.get()))
        return true;
    // Queues empty: keys without a slot, by sampling.
  }
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto victim = sample(tab, env);
    if (!victim)
      return false;
    if (remove(tab, env, victim->key, victim->slot.get()))
      return true;
  }
  return false;
}

} // namespace

std::string_view policy_name(maxmemory_policy p) {
  for (auto& [name, policy] : names)
    if (policy == p)
      return name;
  return "noeviction";
}

std::optional<maxmemory_policy> parse_policy(std::string_view name) {
  for (auto& [n, policy] : names)
    if (iequals(n, name))
      return policy;
  return std::nullopt;
}

std::optional<std::int64_t> parse_memory(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0 || digits > 18)
    return std::nullopt;
  std::int64_t n = 0;
  for (std::size_t i = 0; i < digits; ++i)
    n = n * 10 + (text[i] - '0');
  constexpr std::pair<std::string_view, std::int64_t> units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1000},
    {"kb", 1024},
    {"m", 1000 * 1000},
    {"mb", 1024 * 1024},
    {"g", 1000 * 1000 * 1000},
    {"gb", std::int64_t{1024} * 1024 * 1024},
  };
  auto unit = text.substr(digits);
  for (auto& [name, factor] : units)
    if (iequals(unit, name)) {
      if (n > std::numeric_limits<std::int64_t>::max() / factor)
        return std::nullopt;
      return n * factor;
    }
  return std::nullopt;
}

namespace {

constexpr std::size_t key_offset = offsetof(key_slot, key_bytes);
static_assert(key_offset == 27 && sizeof(key_slot) == 32,
              "key_slot: 27 bytes of fields, then the key");

} // namespace

key_slot* key_slot::make(std::string_view key) {
  void* mem = ::operator new(bytes_for(key.size()));
  auto* s = new (mem) key_slot;
  auto* out = detail::put_varint(static_cast<char*>(mem) + key_offset,
                                 key.size());
  std::memcpy(out, key.data(), key.size());
  return s;
}

std::size_t key_slot::bytes_for(std::size_t n) noexcept {
  return std::max(sizeof(key_slot), key_offset + detail::varint_size(n) + n);
}

std::string_view key_slot::key() const noexcept {
  std::size_t n = 0;
  auto* at = detail::get_varint(reinterpret_cast<const char*>(this)
                                  + key_offset,
                                n);
  return {at, n};
}

std::uint64_t key_slot::ghost_hash() const noexcept {
  auto k = key();
  return detail::hash_bytes(k.data(), k.size());
}

void slot_ptr::release(key_slot* s) noexcept {
  if (s != nullptr && s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    s->~key_slot();
    ::operator delete(s);
  }
}

evictor::evictor() = default;

evictor::~evictor() {
  drain();
}

bool evictor::configure(std::int64_t maxmemory, maxmemory_policy p) {
  std::lock_guard<std::mutex> guard{mtx_};
  maxmemory_.store(maxmemory, std::memory_order_relaxed);
  auto old = policy_.exchange(p, std::memory_order_relaxed);
  bool queued = maxmemory != 0
                && (p == maxmemory_policy::allkeys_s3fifo
                    || p == maxmemory_policy::allkeys_lru);
  if (queues_ != nullptr && queued && old == p)
    return false; // a new bound only
  // A new policy starts from empty queues.
  if (queues_ != nullptr) {
    unlink_all();
    queues_.reset();
  }
  if (!queued)
    return false;
  if (p == maxmemory_policy::allkeys_lru)
    queues_ = std::make_unique<detail::lru<key_slot>>();
  else
    queues_ = std::make_unique<detail::s3fifo<key_slot>>();
  resize();
  return true;
}

slot_ptr evictor::make_slot(std::string_view key) const {
  if (!tracking())
    return nullptr;
  auto s = slot_ptr::adopt(key_slot::make(key));
  s->clock.store(lfu_policy(policy()) ? minutes_now() << 8 | lfu_init
                                       : clock_now(),
                 std::memory_order_relaxed);
  return s;
}

bool evictor::queued() const noexcept {
  std::lock_guard<std::mutex> guard{mtx_};
  return queues_ != nullptr;
}

void evictor::admit(const slot_ptr& s) {
  if (s == nullptr)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (queues_ == nullptr || s->linked)
    return;
  s->refs.fetch_add(1, std::memory_order_relaxed); // the queues'
  s->linked = true;
  queues_->admit(s.get());
  ++linked_;
  if (++since_resize_ >= 1024)
    resize();
}

void evictor::forget(key_slot* s) noexcept {
  if (s == nullptr)
    return;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (queues_ == nullptr || !s->linked)
      return;
    queues_->remove(s);
    s->linked = false;
    --linked_;
  }
  slot_ptr::release(s); // the queues' reference
}

void evictor::hit(key_slot& s) noexcept {
  switch (policy()) {
    case maxmemory_policy::allkeys_s3fifo:
      detail::eviction<key_slot>::hit(s);
      break;
    case maxmemory_policy::allkeys_lru: {
      std::lock_guard<std::mutex> guard{mtx_};
      if (queues_ != nullptr && s.linked)
        queues_->touch(&s);
      break;
    }
    case maxmemory_policy::allkeys_lfu:
    case maxmemory_policy::volatile_lfu: {
      // redis's LFUDecrAndReturn, then LFULogIncr; racing readers may lose
      // an increment.
      auto count = lfu_count(s);
      if (count < 255) {
        double base = count > lfu_init ? count - lfu_init : 0;
        double p = 1.0 / (base * lfu_log_factor + 1);
        if (double(next_random() >> 11) * 0x1.0p-53 < p)
          ++count;
      }
      s.clock.store(minutes_now() << 8 | count, std::memory_order_relaxed);
      break;
    }
    default: {
      auto now = clock_now();
      // Only a changed clock is written: a hot key's line stays shared.
      if (s.clock.load(std::memory_order_relaxed) != now)
        s.clock.store(now, std::memory_order_relaxed);
      break;
    }
  }
}

void evictor::drain() noexcept {
  std::lock_guard<std::mutex> guard{mtx_};
  if (queues_ != nullptr)
    unlink_all();
}

slot_ptr evictor::next_victim() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (queues_ == nullptr)
    return nullptr;
  auto* s = queues_->victim();
  if (s == nullptr)
    return nullptr;
  s->linked = false;
  --linked_;
  return slot_ptr::adopt(s); // the queues' reference, handed over
}

void evictor::unlink_all() noexcept {
  while (auto* s = queues_->victim()) {
    s->linked = false;
    slot_ptr::release(s);
  }
  linked_ = 0;
}

void evictor::resize() {
  // S3-FIFO's small queue is a tenth of the keys, its ghost remembers as
  // many as the queues hold (they count keys: every slot weighs one).
  since_resize_ = 0;
  auto n = std::max<std::size_t>(linked_, 1024);
  queues_->set_capacity(n, n);
}

std::uint8_t evictor::lfu_count(const key_slot& s) noexcept {
  auto packed = s.clock.load(std::memory_order_relaxed);
  auto then = packed >> 8;
  std::uint32_t count = packed & 0xff;
  auto now = minutes_now();
  // The minutes wrap at 16 bits, as redis's do.
  auto elapsed = now >= then ? now - then : 0x10000 - then + now;
  auto periods = elapsed / lfu_decay_minutes;
  return static_cast<std::uint8_t>(periods > count ? 0 : count - periods);
}

std::uint32_t evictor::idle_seconds(const key_slot& s) noexcept {
  auto now = clock_now();
  auto then = s.clock.load(std::memory_order_relaxed);
  return now >= then ? now - then : 0;
}

std::uint32_t evictor::clock_now() noexcept {
  return static_cast<std::uint32_t>(now_ms() / 1000);
}

std::int64_t key_memory(std::string_view key, const value& v) {
  auto slot = v.slot != nullptr ? key_slot::bytes_for(key.size()) : 0;
  std::size_t fields = 0;
  if (!v.is_string()) {
    std::shared_lock<std::shared_mutex> guard{v.hash()->mutex()};
    fields = v.hash()->memory();
  }
  return static_cast<std::int64_t>(key.size() + v.block_size()
                                   + entry_overhead + slot + fields);
}

std::int64_t not_counted_for_evict(const server_env& env) noexcept {
  return detail::retired_bytes()
         + env.persist.working_bytes.load(std::memory_order_relaxed);
}

bool make_room(store_table& tab, server_env& env) {
  auto& ev = env.evict;
  auto max = ev.maxmemory();
  // As redis, nothing is evicted while the dump loads: the keys it has put
  // in so far are not a cache's choice yet.
  if (max == 0 || env.persist.loading())
    return true;
  // Free what this thread retired and readers let go of (no fence): until
  // freed it counts as retired, and that lets memory over the bound.
  detail::free_retired();
  auto used = used_memory();
  ev.note(used);
  if (used <= max)
    return true;
  if (ev.policy() == maxmemory_policy::noeviction)
    return false;
  // Room once what the keys hold fits. What writes replaced, deleted or
  // evicted is freed only when no reader can hold it, which is as long as
  // any thread stays pinned (a save's for the whole save), and a save's
  // own image is not the keys': evicting more frees none of it. Counted
  // against the keys, each command during a save evicted again what the
  // ones before it had, and the table emptied.
  // Other threads' share read every 64 evictions (it sums every thread's
  // slot); this thread's, which its evictions change, at each step.
  auto others = [&] {
    return not_counted_for_evict(env) - detail::retired_bytes_here();
  };
  auto theirs = others();
  auto fits = [&] {
    return used_memory() - theirs - detail::retired_bytes_here() <= max;
  };
  thread_local std::size_t since_reclaim = 0;
  for (std::size_t evicted = 0; !fits();) {
    if (evicted == max_evictions_per_call)
      return true;
    if (!evict_one(tab, env)) // nothing left to evict: room if that made it
      return fits();
    if (++evicted % 64 == 0)
      theirs = others();
    if (++since_reclaim >= reclaim_every) {
      detail::reclaim();
      since_reclaim = 0;
    }
  }
  // The keys fit, but what they replaced may still take memory: a reader
  // pinned meanwhile holds it, and on a busy machine a thread can stay
  // pinned off the CPU for a whole time slice while writers go on. Past
  // the few removals in flight, give such a reader the time to let go
  // rather than hold the writes' garbage over the bound (redis waits so
  // for its lazy-free thread). Not while a save runs: its image holds
  // everything until written (as redis's fork holds copied pages), and
  // writes must not wait for it.
  auto slack = max / 64;
  if (used_memory() > max + slack && !env.persist.saving()) {
    auto deadline = std::chrono::steady_clock::now() + max_reader_wait;
    // reclaim() is 0 once nothing this thread could free waits; the
    // sleep takes it off the CPU, for a reader it was taken from.
    while (detail::reclaim() != 0 && used_memory() > max + slack
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds{50});
  }
  // A fork copies each page at most once: its memory stays under twice
  // the data. A save here holds every write's garbage until it ends, with
  // no such bound (80 MB under an 8 MB bound, seen when a loaded disk made
  // a save slow): past twice the bound, writes wait for the save.
  if (used_memory() > 2 * max && env.persist.saving()) {
    auto deadline = std::chrono::steady_clock::now() + max_save_wait;
    while (used_memory() > 2 * max && env.persist.saving()
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return true;
}

void adopt_keys(store_table& tab, server_env& env) {
  std::uint64_t cursor = 0;
  std::vector<std::pair<std::string, slot_ptr>> keys;
  do {
    keys.clear();
    auto next = tab.scan(cursor, 256, [&](std::string_view k, const value& v) {
      keys.emplace_back(k, v.slot);
    });
    if (!next)
      return;
    cursor = *next;
    for (auto& entry : keys) {
      auto& slot = entry.second;
      if (slot == nullptr) {
        (void) tab.update(entry.first, [&](value& v) {
          if (v.slot == nullptr)
            v.slot = env.evict.make_slot(entry.first);
          slot = v.slot;
        });
      }
      env.evict.admit(slot); // a no-op for a slot in the queues already
    }
  } while (cursor != 0);
}

} // namespace cachet::redis
