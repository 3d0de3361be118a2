// A hash's fields (redis's hash type), kept as redis keeps them. A small
// hash is its (field, value) pairs in insertion order, redis's listpack, so
// HGETALL, HKEYS and HSCAN answer in redis's order. Past 512 fields, or once
// a field or value is longer than 64 bytes (redis's hash-max-listpack-*,
// which CONFIG SET changes), it becomes a tree for good, as redis's
// hashtable: ordered by a
// seeded hash of the field and counting its subtrees (libstdc++'s
// order-statistics tree), so HRANDFIELD draws uniformly and HSCAN's cursor,
// a point in hash order, holds across inserts and deletes.
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
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

namespace cachet::redis {

class hash_object;

/// When a listpack becomes a tree: redis's hash-max-listpack-entries and
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
  using field_ref = std::pair<const std::string&, const std::string&>;

  hash_object() = default;
  hash_object(const hash_object&) = delete;
  hash_object& operator=(const hash_object&) = delete;

  /// Readers share it; writers (under the key's write lock) hold it alone.
  std::shared_mutex& mutex() const noexcept {
    return mtx_;
  }

  std::size_t size() const noexcept {
    return tree_ ? tree_->size() : pairs_.size();
  }

  /// OBJECT ENCODING: "listpack" or "hashtable".
  bool listpack() const noexcept {
    return tree_ == nullptr;
  }

  /// The field's value; null if absent.
  const std::string* find(std::string_view field) const;

  /// Sets the field; true if it is new. A listpack past `limits` becomes
  /// a tree.
  bool set(std::string_view field, std::string_view value,
           const listpack_limits& limits);

  /// Removes the field; true if it was there.
  bool erase(std::string_view field);

  /// The i-th field and its value in iteration order (i < size()).
  field_ref at(std::size_t i) const;

  /// Calls `f(field, value)` for every field, in iteration order.
  template <class F>
  void for_each(F&& f) const {
    if (tree_)
      for (auto& [key, value] : *tree_)
        f(key.second, value);
    else
      for (auto& [field, value] : pairs_)
        f(field, value);
  }

  /// One HSCAN step from `cursor`: `f(field, value)` for about `count`
  /// fields; the next cursor, 0 when done. A listpack answers whole, as
  /// redis's does. In a tree the cursor is the hash to go on from, and a
  /// run of equal hashes is never split: a field present for the whole
  /// walk comes exactly once.
  template <class F>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, F&& f) const {
    if (!tree_) {
      for_each(f);
      return 0;
    }
    auto it = tree_->lower_bound(tree_key{cursor, std::string{}});
    std::size_t n = 0;
    std::uint64_t last = 0;
    for (; it != tree_->end(); ++it) {
      auto h = it->first.first;
      if (n >= count && h != last)
        return h; // nonzero: above the hash of what this step returned
      f(it->first.second, it->second);
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
  using tree_key = std::pair<std::uint64_t, std::string>;
  using tree_type
    = __gnu_pbds::tree<tree_key, std::string, std::less<tree_key>,
                       __gnu_pbds::rb_tree_tag,
                       __gnu_pbds::tree_order_statistics_node_update>;

  /// The field's place in the tree (seeded per process, as redis's siphash).
  static std::uint64_t hash_of(std::string_view field) noexcept;

  /// The listpack's pair holding `field`, or its end.
  std::vector<std::pair<std::string, std::string>>::const_iterator
  find_pair(std::string_view field) const;

  /// The listpack becomes a tree, for good.
  void convert();

  mutable std::shared_mutex mtx_;
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::unique_ptr<tree_type> tree_;
  /// What the fields' and values' strings hold on the heap.
  std::size_t heap_ = 0;
};

} // namespace cachet::redis
