// A hash's fields (redis's hash type), kept as redis keeps them. A small
// hash is its (field, value) pairs in insertion order, redis's listpack, so
// HGETALL, HKEYS and HSCAN answer in redis's order. Past 512 fields, or once
// a field or value is longer than 64 bytes (redis's hash-max-listpack-*,
// which CONFIG SET changes), it becomes a hash table for good, as redis's
// hashtable: open addressing with linear probing, each field in the slots
// from its home (the top bits of a per-process seeded hash) kept in hash
// order (Amble and Knuth's ordered hash table). The whole array is then
// sorted by hash, so HSCAN's cursor, a point in hash order, holds across
// inserts, deletes and growth; and any slot can be drawn at random, so
// HRANDFIELD draws uniformly by rejecting empty ones.
//
// The table copies a value on every update; the copies share the object,
// which is changed in place under the key's write lock, so a write costs
// the same whatever the hash's size. Readers hold its shared lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <boost/smart_ptr/intrusive_ref_counter.hpp>

namespace cachet::redis {

class hash_object;

/// When a listpack becomes a table: redis's hash-max-listpack-entries and
/// hash-max-listpack-value, read by every write, set by CONFIG SET.
struct listpack_limits {
  std::atomic<std::size_t> entries{512};
  std::atomic<std::size_t> value{64};
};

/// A counted reference to a hash (8 bytes in every value; null: a string).
using hash_ptr = boost::intrusive_ptr<hash_object>;

class hash_object
  : public boost::intrusive_ref_counter<hash_object,
                                        boost::thread_safe_counter> {
public:
  hash_object() = default;
  hash_object(const hash_object&) = delete;
  hash_object& operator=(const hash_object&) = delete;

  /// Readers share it; writers (under the key's write lock) hold it alone.
  std::shared_mutex& mutex() const noexcept {
    return mtx_;
  }

  std::size_t size() const noexcept {
    return table_ ? count_ : pairs_.size();
  }

  /// OBJECT ENCODING: "listpack" or "hashtable".
  bool listpack() const noexcept {
    return !table_;
  }

  /// The field's value; null if absent.
  const std::string* find(std::string_view field) const;

  /// Sets the field; true if it is new. A listpack past `limits` becomes
  /// a table.
  bool set(std::string_view field, std::string_view value,
           const listpack_limits& limits);

  /// Removes the field; true if it was there.
  bool erase(std::string_view field);

  /// Positions a draw picks from, uniformly: a listpack's pairs, or a
  /// table's slots, some of them empty.
  std::size_t positions() const noexcept {
    return table_ ? slots_.size() : pairs_.size();
  }

  /// The field and its value at `i` (< positions()); null if that slot is
  /// empty. Positions go in iteration order.
  const std::pair<std::string, std::string>* at(std::size_t i) const {
    if (!table_)
      return &pairs_[i];
    return slots_[i].hash != 0 ? slots_[i].pair.get() : nullptr;
  }

  /// Calls `f(field, value)` for every field, in iteration order.
  template <class F>
  void for_each(F&& f) const {
    if (table_) {
      for (auto& s : slots_)
        if (s.hash != 0)
          f(s.pair->first, s.pair->second);
    } else {
      for (auto& [field, value] : pairs_)
        f(field, value);
    }
  }

  /// One HSCAN step from `cursor`: `f(field, value)` for about `count`
  /// fields; the next cursor, 0 when done. A listpack answers whole, as
  /// redis's does. In a table the cursor is the hash to go on from, and a
  /// run of equal hashes is never split: a field present for the whole
  /// walk comes exactly once.
  template <class F>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, F&& f) const {
    if (!table_) {
      for_each(f);
      return 0;
    }
    // A field sits at its home or after it, and homes follow hashes: none
    // at or past the cursor is before the cursor's home.
    std::size_t n = 0;
    std::uint64_t last = 0;
    for (auto i = home(cursor); i < slots_.size(); ++i) {
      auto h = slots_[i].hash;
      if (h == 0 || h < cursor)
        continue;
      if (n >= count && h != last)
        return h; // nonzero: above the hash of what this step returned
      f(slots_[i].pair->first, slots_[i].pair->second);
      ++n;
      last = h;
    }
    return 0;
  }

  /// About what the hash holds, in bytes (MEMORY USAGE, eviction).
  std::size_t memory() const noexcept;

  /// A deep copy (COPY); the caller holds the shared lock.
  hash_ptr clone() const;

private:
  using pair_ptr = std::unique_ptr<std::pair<std::string, std::string>>;

  /// A table's slot: the field's hash (0: empty) and the pair, on its
  /// own (16-byte slots: an insert's shift and a half-empty table cost
  /// little).
  struct slot {
    std::uint64_t hash = 0;
    pair_ptr pair;
  };

  /// The field's place in the table (seeded per process, as redis's
  /// siphash); never 0, which marks an empty slot.
  static std::uint64_t hash_of(std::string_view field) noexcept;

  /// Where a field of hash `h` would sit in an empty table.
  std::size_t home(std::uint64_t h) const noexcept {
    return static_cast<std::size_t>(h >> shift_);
  }

  /// The slot holding `field` (of hash `h`), or slots_.size().
  std::size_t find_slot(std::uint64_t h, std::string_view field) const;

  /// Empties slot `i` and moves the fields after it that can come closer
  /// to their homes back by one.
  void erase_slot(std::size_t i);

  /// Rebuilds the table with 2^bits homes, from the fields in order.
  void rehash(unsigned bits);

  /// The listpack's pair holding `field`, or its end.
  std::vector<std::pair<std::string, std::string>>::const_iterator
  find_pair(std::string_view field) const;

  /// The listpack becomes a table, for good.
  void convert();

  /// convert() if the listpack holds more than `limits` allow and there is
  /// memory for it.
  void convert_past(const listpack_limits& limits) noexcept;

  mutable std::shared_mutex mtx_;
  std::vector<std::pair<std::string, std::string>> pairs_;
  /// The table: homes 0..2^(64 - shift_) - 1, then slots for the fields
  /// pushed past the last home (no wrap-around, so that the array stays
  /// in hash order).
  bool table_ = false;
  std::vector<slot> slots_;
  unsigned shift_ = 60;
  std::size_t count_ = 0;
  /// What the fields' and values' strings hold on the heap.
  std::size_t heap_ = 0;
};

} // namespace cachet::redis
