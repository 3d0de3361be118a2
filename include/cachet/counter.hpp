// update_counter: ETS's atomic counter update, with optional threshold and
// reset value, for integer values and for decimal strings (as Redis INCR).
//
// A value is a counter when `counter_traits<V>` says so: every integral type
// but bool (within its range), and std::string holding a canonical decimal
// integer ("42", "-7"; not "+1", "007" or " 1"). Any other V type, or a
// string that is not such an integer, makes update_counter fail with
// errc::not_a_counter, leaving the value untouched.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <caf/meta/type_name.hpp>

namespace cachet {

/// One counter update. With a threshold, as in ETS's {Pos, Incr, Threshold,
/// SetValue}: if `incr >= 0` and the result exceeds `threshold`, or
/// `incr < 0` and the result falls below it, the counter becomes `reset`.
struct counter_op {
  constexpr counter_op() = default;

  constexpr counter_op(std::int64_t increment,
                       std::optional<std::int64_t> limit = std::nullopt,
                       std::int64_t reset_to = 0)
    : incr(increment), threshold(limit), reset(reset_to) {
    // nop
  }

  std::int64_t incr = 1;
  std::optional<std::int64_t> threshold;
  std::int64_t reset = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, counter_op& x) {
  return f(caf::meta::type_name("cachet.counter_op"), x.incr, x.threshold,
           x.reset);
}

/// Which value types update_counter accepts, and how it reads and writes
/// them. Specialize for your own counter-like types.
template <class V, class = void>
struct counter_traits {
  static constexpr bool supported = false;
};

template <class V>
struct counter_traits<V, std::enable_if_t<std::is_integral_v<V>
                                          && !std::is_same_v<V, bool>>> {
  static constexpr bool supported = true;

  static std::optional<std::int64_t> read(V x) {
    if constexpr (std::is_unsigned_v<V> && sizeof(V) >= sizeof(std::int64_t))
      if (x > static_cast<V>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    return static_cast<std::int64_t>(x);
  }

  static std::optional<V> make(std::int64_t x) {
    using lim = std::numeric_limits<V>;
    if constexpr (std::is_signed_v<V>) {
      if (x < static_cast<std::int64_t>(lim::min())
          || x > static_cast<std::int64_t>(lim::max()))
        return std::nullopt;
    } else {
      if (x < 0 || static_cast<std::uint64_t>(x) > lim::max())
        return std::nullopt;
    }
    return static_cast<V>(x);
  }
};

template <>
struct counter_traits<std::string> {
  static constexpr bool supported = true;

  static std::optional<std::int64_t> read(std::string_view x) {
    if (x.empty())
      return std::nullopt;
    auto first = x.data();
    auto last = x.data() + x.size();
    auto digits = x[0] == '-' ? first + 1 : first;
    // Canonical form only, as Redis: no "+1", "01", "-0" or blanks.
    if (digits == last || (*digits == '0' && (last - digits > 1 || digits != first)))
      return std::nullopt;
    std::int64_t result = 0;
    auto [end, ec] = std::from_chars(first, last, result);
    if (ec != std::errc{} || end != last)
      return std::nullopt;
    return result;
  }

  static std::optional<std::string> make(std::int64_t x) {
    return std::to_string(x);
  }
};

namespace detail {

/// Applies `op` to `x`: nullopt on overflow. With a threshold, a sum past the
/// range of int64 is past the threshold too, so it resets instead.
inline std::optional<std::int64_t> apply_counter(std::int64_t x,
                                                 const counter_op& op) {
  std::int64_t sum = 0;
  bool overflow = __builtin_add_overflow(x, op.incr, &sum);
  if (op.threshold) {
    if (op.incr >= 0 && (overflow || sum > *op.threshold))
      return op.reset;
    if (op.incr < 0 && (overflow || sum < *op.threshold))
      return op.reset;
  }
  if (overflow)
    return std::nullopt;
  return sum;
}

} // namespace detail

} // namespace cachet
