// A value of cachet-redis's store: a string or a hash, its expiry, and its
// key's eviction slot.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "evict.hpp"
#include "hash.hpp"

namespace cachet::redis {

/// A value: a string's bytes or a hash's fields (hash.hpp), when it
/// expires (unix ms; 0: never) and, while maxmemory is set, its key's
/// eviction slot (evict.hpp).
struct value {
  std::string bytes;
  std::int64_t expire_at = 0;
  slot_ptr slot;
  hash_ptr hash;

  /// A string value.
  static value string(std::string bytes, std::int64_t expire_at) {
    value v;
    v.bytes = std::move(bytes);
    v.expire_at = expire_at;
    return v;
  }

  bool is_string() const noexcept {
    return hash == nullptr;
  }

  /// TYPE's name for it.
  std::string_view type_name() const noexcept {
    return is_string() ? "string" : "hash";
  }
};

/// True if `v` has an expiry and it is not after `now`.
inline bool expired(const value& v, std::int64_t now) {
  return v.expire_at != 0 && v.expire_at <= now;
}

} // namespace cachet::redis
