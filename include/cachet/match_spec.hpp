// Declarative queries: ETS's match specifications in a form that is data,
// so that a select can cross the network (a `match<K, V>` holds a function
// and cannot).
//
// A spec is an OR of clauses, each an AND of conditions; a condition
// compares the key, the value, or a named field of the value with a
// constant (a signed or unsigned integer, a double or a string):
//
//   using cachet::spec::field;
//   using cachet::spec::key;
//   auto expired = cachet::match_spec{field("expires_at") < now};
//   auto admins = cachet::match_spec{key().starts_with("user:"),
//                                    field("role") == "admin"}   // AND
//                   .or_where({key() == "root"});                 // OR
//
// The owner evaluates it: `(select_atom, spec)`, `(select_count_atom,
// spec)` and `(select_delete_atom, spec)` over messages, from this node or
// another one. A field is what ETS's positional element is in a tuple: a
// function of the value registered, under a name, on the node that
// evaluates (`add_field<V>(sys, "expires_at", fn)`). The key and the value
// themselves compare when they are integers, floating point or strings.
//
// Comparisons: numbers compare as numbers whatever their kinds (an unsigned
// above INT64_MAX is above every signed one), strings as bytes; a number and
// a string are never equal (== is false, != true) and never ordered (<, <=,
// >, >= are false), and `starts_with` holds for strings only. A spec that names a field not
// registered for V, or compares a key or value that is neither a number nor
// a string, is errc::invalid_argument, before any object is visited.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "cachet/detail/engine_common.hpp"
#include "cachet/detail/registry.hpp"
#include "cachet/errc.hpp"

namespace cachet {

/// A constant in a spec, or a key, value or field to compare with one.
struct scalar {
  enum class kind : std::uint8_t { i64, u64, f64, str };
  kind k = kind::i64;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;
  std::string s;

  scalar() = default;

  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  scalar(T x) { // NOLINT: implicit, as a constant in a condition
    if constexpr (std::is_floating_point_v<T>) {
      k = kind::f64;
      d = static_cast<double>(x);
    } else if constexpr (std::is_signed_v<T>) {
      k = kind::i64;
      i = static_cast<std::int64_t>(x);
    } else {
      k = kind::u64;
      u = static_cast<std::uint64_t>(x);
    }
  }

  scalar(std::string x) : k(kind::str), s(std::move(x)) {
    // nop
  }

  scalar(std::string_view x) : scalar(std::string{x}) {
    // nop
  }

  scalar(const char* x) : scalar(std::string{x}) {
    // nop
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scalar& x) {
  return f(caf::meta::type_name("cachet::scalar"), x.k, x.i, x.u, x.d, x.s);
}

namespace spec {

enum class subject : std::uint8_t { key, value, field };
enum class comparison : std::uint8_t { eq, ne, lt, le, gt, ge, starts_with };

/// One comparison of a key, value or field with a constant.
struct condition {
  subject on = subject::key;
  std::string field;
  comparison op = comparison::eq;
  scalar operand;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, condition& x) {
  return f(caf::meta::type_name("cachet::spec::condition"), x.on, x.field,
           x.op, x.operand);
}

/// What a condition compares: build one with key(), value() or field().
struct operand_ref {
  subject on;
  std::string field;

  condition compare(comparison op, scalar x) const {
    return condition{on, field, op, std::move(x)};
  }

  condition starts_with(std::string prefix) const {
    return compare(comparison::starts_with, std::move(prefix));
  }
};

inline operand_ref key() {
  return {subject::key, {}};
}

inline operand_ref value() {
  return {subject::value, {}};
}

inline operand_ref field(std::string name) {
  return {subject::field, std::move(name)};
}

#define CACHET_SPEC_OP(sym, name)                                              \
  inline condition operator sym(const operand_ref& x, scalar y) {              \
    return x.compare(comparison::name, std::move(y));                          \
  }
CACHET_SPEC_OP(==, eq)
CACHET_SPEC_OP(!=, ne)
CACHET_SPEC_OP(<, lt)
CACHET_SPEC_OP(<=, le)
CACHET_SPEC_OP(>, gt)
CACHET_SPEC_OP(>=, ge)
#undef CACHET_SPEC_OP

/// Whether `x op y` holds (see the header comment for mixed kinds).
bool holds(const scalar& x, comparison op, const scalar& y);

} // namespace spec

/// An OR of clauses, each an AND of conditions. An empty spec matches
/// nothing; a clause without conditions matches everything.
class match_spec {
public:
  match_spec() = default;

  /// One clause: every condition must hold.
  match_spec(std::initializer_list<spec::condition> all_of)
    : clauses_{std::vector<spec::condition>(all_of)} {
    // nop
  }

  /// Adds a clause: the spec matches if any clause does.
  match_spec& or_where(std::vector<spec::condition> all_of) {
    clauses_.push_back(std::move(all_of));
    return *this;
  }

  /// Matches every object (ETS's '_').
  static match_spec everything() {
    match_spec out;
    out.clauses_.emplace_back();
    return out;
  }

  const std::vector<std::vector<spec::condition>>& clauses() const noexcept {
    return clauses_;
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, match_spec& x) {
    return f(caf::meta::type_name("cachet::match_spec"), x.clauses_);
  }

private:
  std::vector<std::vector<spec::condition>> clauses_;
};

/// Registers `fn` as the field `name` of values of type V in `sys`, for
/// the specs evaluated there. Needs cachet::configure.
template <class V, class F>
void add_field(caf::actor_system& sys, const std::string& name, F fn) {
  using fn_type = std::function<scalar(const V&)>;
  detail::registry_of(sys)->add_field(
    typeid(V), name,
    std::make_shared<const fn_type>(
      [fn = std::move(fn)](const V& v) { return scalar(fn(v)); }));
}

namespace detail {

/// The key or value itself as a scalar, if it is a number or a string.
template <class T>
constexpr bool is_scalar_like
  = std::is_arithmetic_v<std::decay_t<T>>
    || std::is_convertible_v<const std::decay_t<T>&, std::string_view>;

template <class T>
scalar as_scalar(const T& x) {
  if constexpr (std::is_arithmetic_v<T>)
    return scalar(x);
  else
    return scalar(std::string_view{x});
}

/// `spec` as a predicate on objects of a table of K -> V, with the fields
/// of `reg` (null: none).
template <class K, class V>
caf::expected<std::function<bool(view_t<K>, view_t<V>)>>
compile(const std::shared_ptr<registry>& reg, const match_spec& spec) {
  using field_fn = std::function<scalar(const V&)>;
  struct step {
    spec::condition c;
    std::shared_ptr<const field_fn> field;
  };
  std::vector<std::vector<step>> clauses;
  for (auto& clause : spec.clauses()) {
    auto& out = clauses.emplace_back();
    for (auto& c : clause) {
      step s{c, nullptr};
      if (c.on == spec::subject::key && !is_scalar_like<view_t<K>>)
        return caf::make_error(errc::invalid_argument,
                               "the key is neither a number nor a string");
      if (c.on == spec::subject::value && !is_scalar_like<view_t<V>>)
        return caf::make_error(errc::invalid_argument,
                               "the value is neither a number nor a string: "
                               "compare a field");
      if (c.on == spec::subject::field) {
        if constexpr (std::is_same_v<view_t<V>, const V&>) {
          if (reg)
            s.field = std::static_pointer_cast<const field_fn>(
              reg->field(typeid(V), c.field));
        }
        if (!s.field)
          return caf::make_error(errc::invalid_argument,
                                 "no field '" + c.field
                                   + "' registered for the value type");
      }
      out.push_back(std::move(s));
    }
  }
  return [clauses = std::move(clauses)](view_t<K> k, view_t<V> v) {
    for (auto& clause : clauses) {
      bool all = true;
      for (auto& s : clause) {
        scalar x;
        if (s.c.on == spec::subject::key) {
          if constexpr (is_scalar_like<view_t<K>>)
            x = as_scalar(k);
        } else if (s.c.on == spec::subject::value) {
          if constexpr (is_scalar_like<view_t<V>>)
            x = as_scalar(v);
        } else {
          if constexpr (std::is_same_v<view_t<V>, const V&>)
            x = (*s.field)(v);
        }
        if (!spec::holds(x, s.c.op, s.c.operand)) {
          all = false;
          break;
        }
      }
      if (all)
        return true;
    }
    return false;
  };
}

} // namespace detail

} // namespace cachet
