// Table kinds, as in ETS: `set` (hashed, unique keys), `ordered_set`
// (sorted, unique keys, with last/prev, key ranges and reverse walks), `bag`
// (hashed, several distinct objects per key) and `duplicate_bag` (hashed,
// several objects per key, repeats allowed).
//
// Example:
//   cachet::table<std::string, int>                          // set
//   cachet::table<int, std::string, cachet::ordered_set<>>   // ordered
//   cachet::table<key, int, cachet::set<key_hash, key_eq>>   // own hash
//   cachet::table<std::string, int, cachet::bag<>>           // bag
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
  /// Hashes a std::string_view as the std::string with its bytes, so that
  /// std::string keys can be looked up by std::string_view.
  using is_transparent = void;

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

/// A hashed table whose keys hold several distinct objects each (`V` needs
/// operator==), kept in insertion order per key.
template <class Hash = default_hash, class KeyEqual = std::equal_to<>>
struct bag {
  using hasher = Hash;
  using key_equal = KeyEqual;
};

/// A hashed table whose keys hold several objects each, repeats allowed,
/// kept in insertion order per key.
template <class Hash = default_hash, class KeyEqual = std::equal_to<>>
struct duplicate_bag {
  using hasher = Hash;
  using key_equal = KeyEqual;
};

template <class Kind>
struct is_ordered : std::false_type {};

template <class Compare>
struct is_ordered<ordered_set<Compare>> : std::true_type {};

template <class Kind>
inline constexpr bool is_ordered_v = is_ordered<Kind>::value;

template <class Kind>
struct is_bag : std::false_type {};

template <class Hash, class KeyEqual>
struct is_bag<bag<Hash, KeyEqual>> : std::true_type {};

template <class Hash, class KeyEqual>
struct is_bag<duplicate_bag<Hash, KeyEqual>> : std::true_type {};

/// True for bag and duplicate_bag: a key holds a list of objects.
template <class Kind>
inline constexpr bool is_bag_v = is_bag<Kind>::value;

/// ETS's name of a kind: "set", "ordered_set", "bag" or "duplicate_bag".
template <class Kind>
struct kind_name;

template <class Hash, class KeyEqual>
struct kind_name<set<Hash, KeyEqual>> {
  static constexpr const char* value = "set";
};

template <class Compare>
struct kind_name<ordered_set<Compare>> {
  static constexpr const char* value = "ordered_set";
};

template <class Hash, class KeyEqual>
struct kind_name<bag<Hash, KeyEqual>> {
  static constexpr const char* value = "bag";
};

template <class Hash, class KeyEqual>
struct kind_name<duplicate_bag<Hash, KeyEqual>> {
  static constexpr const char* value = "duplicate_bag";
};

} // namespace cachet
