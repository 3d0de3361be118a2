// Keys derived from content (a fragment cache's keys): equal values give
// equal keys, so a fragment is cached once per distinct input.
//
// Example:
//   auto key = cachet::content_key(page_inputs{user_id, "en", version});
//   if (key) fragments->fetch(*key, render);
#pragma once

#include <cstdint>
#include <vector>

#include <caf/binary_serializer.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "cachet/detail/hash.hpp"

namespace cachet {

/// XXH3-64 of `value`'s bytes in CAF's binary format. `T` needs an
/// inspect() overload (or be a type CAF knows). Errors: the error of T's
/// inspect, if it fails (no key then: a partial encoding would make unequal
/// values share keys).
template <class T>
caf::expected<std::uint64_t> content_key(const T& value) {
  std::vector<char> buf;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), buf};
  // A serializer only reads its argument; CAF's inspect takes it non-const.
  if (auto err = sink(const_cast<T&>(value)))
    return err;
  return detail::hash_bytes(buf.data(), buf.size());
}

} // namespace cachet
