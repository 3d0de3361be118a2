// Comparing scalars in match specs; see include/cachet/match_spec.hpp.
#include "cachet/match_spec.hpp"

namespace cachet::spec {

namespace {

/// -1, 0 or 1 as x is below, equal to or above y (both numbers).
int compare_numbers(const scalar& x, const scalar& y) {
  using kind = scalar::kind;
  auto three_way = [](auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); };
  if (x.k == kind::f64 || y.k == kind::f64) {
    auto as_double = [](const scalar& v) -> long double {
      switch (v.k) {
        case kind::i64: return static_cast<long double>(v.i);
        case kind::u64: return static_cast<long double>(v.u);
        default: return static_cast<long double>(v.d);
      }
    };
    return three_way(as_double(x), as_double(y));
  }
  if (x.k == y.k)
    return x.k == kind::i64 ? three_way(x.i, y.i) : three_way(x.u, y.u);
  // One signed, one unsigned: a negative one is below every unsigned.
  if (x.k == kind::i64)
    return x.i < 0 ? -1 : three_way(static_cast<std::uint64_t>(x.i), y.u);
  return y.i < 0 ? 1 : three_way(x.u, static_cast<std::uint64_t>(y.i));
}

} // namespace

bool holds(const scalar& x, comparison op, const scalar& y) {
  bool x_str = x.k == scalar::kind::str;
  bool y_str = y.k == scalar::kind::str;
  if (op == comparison::starts_with)
    return x_str && y_str && x.s.compare(0, y.s.size(), y.s) == 0;
  if (x_str != y_str)
    return op == comparison::ne;
  int c = x_str ? x.s.compare(y.s) : compare_numbers(x, y);
  switch (op) {
    case comparison::eq: return c == 0;
    case comparison::ne: return c != 0;
    case comparison::lt: return c < 0;
    case comparison::le: return c <= 0;
    case comparison::gt: return c > 0;
    case comparison::ge: return c >= 0;
    case comparison::starts_with: break;
  }
  return false;
}

} // namespace cachet::spec
