// What every test file needs: an actor system that knows cachet's errors,
// and readable outcomes of expected<T> for checks.
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/actor_cast.hpp>
#include <caf/system_messages.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

// Catch prints optionals and pairs (every test file gets the same printers).
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER
#include <catch2/catch.hpp>

#include "cachet/cachet.hpp"

namespace cachet_test {

struct config : caf::actor_system_config {
  config() {
    cachet::configure(*this);
  }
};

/// An actor system per test case.
struct system_fixture {
  config cfg;
  caf::actor_system sys{cfg};
};

inline std::string name(cachet::errc x) {
  return cachet::to_string(x);
}

/// "ok" or the error's name, so that a failed check shows what happened.
inline std::string outcome(const caf::error& x) {
  if (!x)
    return "ok";
  if (x.category() == caf::atom("cachet"))
    return name(static_cast<cachet::errc>(x.code()));
  return caf::to_string(x);
}

template <class T>
std::string outcome(const caf::expected<T>& x) {
  return x ? "ok" : outcome(x.error());
}

/// What a non-owner's direct handle is answered, as in ETS: "ok" or
/// access_denied, by the table's mode and whether the operation writes.
inline std::string direct_expectation(cachet::access_mode mode, bool write) {
  switch (mode) {
    case cachet::access_mode::private_:
      return name(cachet::errc::access_denied);
    case cachet::access_mode::protected_:
      return write ? name(cachet::errc::access_denied) : "ok";
    case cachet::access_mode::public_:
      return "ok";
  }
  return "unknown mode";
}

/// Runs `n` copies of `f(index)` on threads and joins them.
template <class F>
void run_threads(int n, F f) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back(f, i);
  for (auto& t : threads)
    t.join();
}

/// The value of a successful `x`; fails the test otherwise.
template <class T>
T unwrap(caf::expected<T> x) {
  REQUIRE(outcome(x) == "ok");
  return std::move(*x);
}

/// A table's entries (to_list), sorted by key, for comparing contents.
template <class H>
auto sorted_list(const H& h) {
  auto xs = unwrap(h.to_list());
  std::sort(xs.begin(), xs.end(),
            [](auto& x, auto& y) { return x.first < y.first; });
  return xs;
}

/// Runs `trigger` and waits (by monitor, not by time) until `whom` is down;
/// returns its exit reason.
template <class Handle>
caf::error await_down(caf::actor_system& sys, const Handle& whom,
                      std::function<void()> trigger = [] {}) {
  caf::scoped_actor self{sys};
  self->monitor(caf::actor_cast<caf::actor>(whom));
  trigger();
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; });
  return reason;
}

/// A table owned by a scoped actor: it lives until the capability or the
/// scoped actor goes away.
struct owner_fixture : system_fixture {
  caf::scoped_actor self{sys};

  template <class K, class V, class Kind = cachet::set<>>
  cachet::owned_table<K, V, Kind> make(cachet::table_options opts = {}) {
    auto res = cachet::make_table<K, V, Kind>(self.ptr(), std::move(opts));
    REQUIRE(res);
    return std::move(*res);
  }
};

} // namespace cachet_test
