// What each public header pulls in: a snapshot or cache user compiles
// neither the supervisor nor the dump format, and a table user not the
// supervisor. (Every public header also compiles on its own: see the
// header-check library in tests/CMakeLists.txt.)
#include <cachet/cache_owner.hpp>
#include <cachet/named_table.hpp>
#include <cachet/snapshot_owner.hpp>
#include <cachet/table.hpp>

#include <catch2/catch.hpp>

#include <type_traits>

namespace {

template <class T, class = void>
struct is_complete : std::false_type {};

template <class T>
struct is_complete<T, std::void_t<decltype(sizeof(T))>> : std::true_type {};

} // namespace

// fwd.hpp declares these; only their own headers define them.
static_assert(!is_complete<cachet::supervisor_flags>::value,
              "tables, caches and snapshots must not include supervisor.hpp");
static_assert(!is_complete<cachet::child_spec>::value,
              "tables, caches and snapshots must not include supervisor.hpp");
static_assert(!is_complete<cachet::blocking_caller>::value,
              "tables, caches and snapshots must not include blocking_caller");

namespace cachet::detail {
class dump_writer; // dump.hpp's, defined only there
} // namespace cachet::detail

static_assert(!is_complete<cachet::detail::dump_writer>::value,
              "caches and snapshots must not include dump.hpp");

TEST_CASE("the headers of tables, caches and snapshots stand alone") {
  // The checks are static_asserts above: compiling this file is the test.
  CHECK(std::is_class_v<cachet::snapshot<int>>);
}
