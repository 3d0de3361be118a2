// Lets std::optional travel in CAF 0.17 messages (CAF 0.17 inspects only its
// own caf::optional). Found by ADL through the inspector, which lives in
// namespace caf.
#pragma once

#include <optional>
#include <type_traits>

#include <caf/error.hpp>

namespace caf {

template <class Inspector, class T>
std::enable_if_t<Inspector::reads_state, typename Inspector::result_type>
inspect(Inspector& f, std::optional<T>& x) {
  bool engaged = x.has_value();
  if (engaged)
    return f(engaged, *x);
  return f(engaged);
}

template <class Inspector, class T>
std::enable_if_t<Inspector::writes_state, typename Inspector::result_type>
inspect(Inspector& f, std::optional<T>& x) {
  bool engaged = false;
  if (auto err = f(engaged))
    return err;
  if (!engaged) {
    x.reset();
    return {};
  }
  T value{};
  if (auto err = f(value))
    return err;
  x = std::move(value);
  return {};
}

} // namespace caf
