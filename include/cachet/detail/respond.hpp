// Direct results as message responses, for the owners' handlers.
#pragma once

#include <utility>

#include <caf/expected.hpp>
#include <caf/result.hpp>

namespace cachet::detail {

/// Converts a direct result into a response: the value, or the error.
template <class T>
caf::result<T> respond(caf::expected<T>&& x) {
  if (x)
    return std::move(*x);
  return std::move(x.error());
}

inline caf::result<void> respond(caf::expected<void>&& x) {
  if (x)
    return caf::unit;
  return x.error();
}

} // namespace cachet::detail
