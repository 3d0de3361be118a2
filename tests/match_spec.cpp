// Declarative select specs (match_spec.hpp): comparisons, fields, errors,
// and the owner's select, select_count and select_delete over messages.
#include <cstdint>
#include <limits>
#include <set>
#include <string>

#include "test_support.hpp"

using cachet::scalar;
using cachet::spec::comparison;
using cachet::spec::field;
using cachet::spec::holds;
using cachet::spec::key;
using cachet::spec::value;
using cachet_test::outcome;
using namespace std::chrono_literals;

namespace {

struct session {
  std::string user;
  std::uint64_t expires_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session& x) {
  return f(x.user, x.expires_at);
}

} // namespace

TEST_CASE("spec comparisons: numbers as numbers, strings as bytes, never "
          "one with the other", "[match_spec]") {
  CHECK(holds(scalar(-1), comparison::lt, scalar(std::uint64_t{0})));
  CHECK(holds(scalar(std::numeric_limits<std::uint64_t>::max()),
              comparison::gt, scalar(std::numeric_limits<std::int64_t>::max())));
  CHECK(holds(scalar(std::uint64_t{3}), comparison::eq, scalar(3)));
  CHECK(holds(scalar(2.5), comparison::gt, scalar(2)));
  CHECK(holds(scalar(2), comparison::le, scalar(2.0)));
  CHECK_FALSE(holds(scalar(2), comparison::ne, scalar(2.0)));
  CHECK(holds(scalar("abc"), comparison::lt, scalar("abd")));
  CHECK(holds(scalar("user:7"), comparison::starts_with, scalar("user:")));
  CHECK_FALSE(holds(scalar("use"), comparison::starts_with, scalar("user:")));
  CHECK_FALSE(holds(scalar(1), comparison::starts_with, scalar("1")));
  // A number and a string: never equal, never ordered.
  CHECK_FALSE(holds(scalar(1), comparison::eq, scalar("1")));
  CHECK(holds(scalar(1), comparison::ne, scalar("1")));
  CHECK_FALSE(holds(scalar(1), comparison::lt, scalar("2")));
  CHECK_FALSE(holds(scalar("2"), comparison::ge, scalar(1)));
}

TEST_CASE_METHOD(cachet_test::system_fixture, "the owner evaluates specs "
                 "over messages: select, select_count, select_delete",
                 "[match_spec]") {
  cachet::table_options opts{"sessions"};
  auto owner = cachet::spawn_owner<std::string, session>(sys, opts);
  REQUIRE(owner);
  cachet::add_field<session>(sys, "expires_at",
                             [](const session& s) { return s.expires_at; });
  cachet::add_field<session>(sys, "user",
                             [](const session& s) { return s.user; });
  cachet::blocking_caller caller{sys};
  for (std::uint64_t i = 0; i < 100; ++i)
    REQUIRE(outcome(caller.call(*owner, 5s, cachet::insert_atom_v,
                                "s" + std::to_string(i),
                                session{i % 2 ? "ann" : "bob", i}))
            == "ok");
  // OR of ANDs: ann's sessions expiring before 10, or the key "s99".
  auto spec = cachet::match_spec{field("user") == "ann",
                                 field("expires_at") < 10}
                .or_where({key() == "s99"});
  auto picked = caller.call(*owner, 5s, cachet::select_atom_v, spec);
  REQUIRE(outcome(picked) == "ok");
  std::set<std::string> keys;
  for (auto& [k, v] : *picked)
    keys.insert(k);
  CHECK(keys == std::set<std::string>{"s1", "s3", "s5", "s7", "s9", "s99"});
  auto all = caller.call(*owner, 5s, cachet::select_count_atom_v,
                         cachet::match_spec::everything());
  REQUIRE(outcome(all) == "ok");
  CHECK(*all == 100);
  CHECK(*caller.call(*owner, 5s, cachet::select_count_atom_v,
                     cachet::match_spec{})
        == 0);
  // Cachex's purge: delete what expired before 40.
  auto purged = caller.call(*owner, 5s, cachet::select_delete_atom_v,
                            cachet::match_spec{field("expires_at") < 40});
  REQUIRE(outcome(purged) == "ok");
  CHECK(*purged == 40);
  CHECK(*caller.call(*owner, 5s, cachet::size_atom_v) == 60);
  // s40 to s49 are left ("s4" itself expired at 4).
  CHECK(*caller.call(*owner, 5s, cachet::select_count_atom_v,
                     cachet::match_spec{key().starts_with("s4")})
        == 10);
  // A field nobody registered, or comparing a struct value itself: a clear
  // error before any object is visited, nothing deleted.
  auto unknown = caller.call(*owner, 5s, cachet::select_delete_atom_v,
                             cachet::match_spec{field("nope") == 1});
  CHECK(outcome(unknown) == "invalid_argument");
  auto whole = caller.call(*owner, 5s, cachet::select_count_atom_v,
                           cachet::match_spec{value() == 1});
  CHECK(outcome(whole) == "invalid_argument");
  CHECK(*caller.call(*owner, 5s, cachet::size_atom_v) == 60);
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(cachet_test::system_fixture, "specs compare integer and "
                 "string keys and values themselves", "[match_spec]") {
  cachet::table_options opts;
  auto owner = cachet::spawn_owner<std::uint64_t, std::string>(sys, opts);
  REQUIRE(owner);
  cachet::blocking_caller caller{sys};
  for (std::uint64_t i = 0; i < 50; ++i)
    REQUIRE(outcome(caller.call(*owner, 5s, cachet::insert_atom_v, i,
                                std::string{i % 5 ? "x" : "y"} + "-tag"))
            == "ok");
  auto n = caller.call(*owner, 5s, cachet::select_count_atom_v,
                       cachet::match_spec{key() >= 10, key() < 20,
                                          value().starts_with("y")});
  REQUIRE(outcome(n) == "ok");
  CHECK(*n == 2); // 10 and 15
  auto fields = caller.call(*owner, 5s, cachet::select_count_atom_v,
                            cachet::match_spec{field("len") == 1});
  CHECK(outcome(fields) == "invalid_argument"); // strings have no fields
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
}
