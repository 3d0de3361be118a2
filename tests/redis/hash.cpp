// Unit tests of cachet-redis's hash type (redis/src/hash.hpp): the
// listpack's order, when it becomes a tree, HSCAN's cursor on a tree that
// changes between steps, the order statistics HRANDFIELD draws by, COPY's
// deep copy and the memory figure eviction reads.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "hash.hpp"

using namespace cachet::redis;

namespace {

std::vector<std::string> fields_of(const hash_object& h) {
  std::vector<std::string> out;
  h.for_each(
    [&](const std::string& f, const std::string&) { out.push_back(f); });
  return out;
}

/// A whole HSCAN walk, `between(step)` after each step: field -> times seen.
template <class F>
std::map<std::string, int> walk(hash_object& h, std::size_t count,
                                F&& between) {
  std::map<std::string, int> seen;
  std::uint64_t cursor = 0;
  for (int step = 0; step < 100000; ++step) {
    cursor = h.scan(cursor, count, [&](const std::string& f,
                                       const std::string&) { ++seen[f]; });
    if (cursor == 0)
      return seen;
    between(step);
  }
  FAIL("the walk never came back to 0");
  return seen;
}

} // namespace

TEST_CASE("a listpack keeps insertion order through updates and deletes") {
  listpack_limits limits;
  hash_object h;
  CHECK(h.set("b", "1", limits));
  CHECK(h.set("a", "2", limits));
  CHECK(h.set("c", "3", limits));
  CHECK_FALSE(h.set("a", "20", limits)); // an update keeps its place
  CHECK(h.erase("b"));
  CHECK_FALSE(h.erase("b"));
  CHECK(h.set("b", "4", limits)); // back at the end
  CHECK(fields_of(h) == std::vector<std::string>{"a", "c", "b"});
  REQUIRE(h.find("a") != nullptr);
  CHECK(*h.find("a") == "20");
  CHECK(h.find("z") == nullptr);
  CHECK(h.listpack());
  // A listpack answers HSCAN whole, whatever the count.
  std::vector<std::string> scanned;
  CHECK(h.scan(0, 1, [&](const std::string& f, const std::string&) {
    scanned.push_back(f);
  }) == 0);
  CHECK(scanned == fields_of(h));
}

TEST_CASE("a listpack becomes a tree past its limits, for good") {
  listpack_limits limits;
  limits.entries = 4;
  limits.value = 8;
  hash_object by_count;
  for (int i = 0; i < 4; ++i)
    by_count.set("f" + std::to_string(i), "v", limits);
  CHECK(by_count.listpack());
  by_count.set("f4", "v", limits);
  CHECK_FALSE(by_count.listpack());
  by_count.erase("f4");
  by_count.erase("f3");
  CHECK_FALSE(by_count.listpack());
  CHECK(by_count.size() == 3);
  for (int i = 0; i < 3; ++i)
    CHECK(by_count.find("f" + std::to_string(i)) != nullptr);

  // Any write checks the count: a limit that came down converts a listpack
  // on the next update of a field it has, as in redis.
  hash_object lowered;
  limits.entries = 4;
  for (int i = 0; i < 3; ++i)
    lowered.set("f" + std::to_string(i), "v", limits);
  limits.entries = 2;
  CHECK(lowered.listpack());
  CHECK_FALSE(lowered.set("f0", "w", limits));
  CHECK_FALSE(lowered.listpack());
  CHECK(*lowered.find("f0") == "w");
  limits.entries = 4;

  hash_object by_value, by_field;
  by_value.set("f", "12345678", limits);
  CHECK(by_value.listpack());
  by_value.set("f", "123456789", limits);
  CHECK_FALSE(by_value.listpack());
  CHECK(*by_value.find("f") == "123456789");
  by_field.set("123456789", "v", limits);
  CHECK_FALSE(by_field.listpack());
}

TEST_CASE("HSCAN over a tree returns every field present all along once, "
          "whatever changes between steps") {
  listpack_limits limits;
  hash_object h;
  for (int i = 0; i < 5000; ++i)
    h.set("stable" + std::to_string(i), "v", limits);
  REQUIRE_FALSE(h.listpack());
  auto seen = walk(h, 10, [&](int step) {
    // Fields come and go while the walk goes on.
    h.set("churn" + std::to_string(step), "x", limits);
    if (step % 2 == 0)
      h.erase("churn" + std::to_string(step / 2));
  });
  int stable = 0;
  for (auto& [field, times] : seen) {
    CHECK(times == 1);
    stable += field.rfind("stable", 0) == 0 ? 1 : 0;
  }
  CHECK(stable == 5000);
  // COUNT bounds a step (no run of equal hashes among 5000 fields).
  std::size_t n = 0;
  h.scan(0, 10, [&](const std::string&, const std::string&) { ++n; });
  CHECK(n == 10);
}

TEST_CASE("at(i) walks a tree in its iteration order") {
  listpack_limits limits;
  limits.entries = 0; // a tree from the first field
  hash_object h;
  for (int i = 0; i < 300; ++i)
    h.set("k" + std::to_string(i), std::to_string(i), limits);
  REQUIRE_FALSE(h.listpack());
  std::vector<std::string> in_order = fields_of(h);
  REQUIRE(in_order.size() == 300);
  std::set<std::string> distinct;
  for (std::size_t i = 0; i < h.size(); ++i) {
    auto [field, value] = h.at(i);
    CHECK(field == in_order[i]);
    CHECK(value == *h.find(field));
    distinct.insert(field);
  }
  CHECK(distinct.size() == 300);
}

TEST_CASE("clone copies the fields, and memory follows what they hold") {
  listpack_limits limits;
  for (std::size_t entries : {std::size_t{512}, std::size_t{0}}) {
    limits.entries = entries;
    hash_object h;
    h.set("a", "1", limits);
    auto small = h.memory();
    h.set("b", std::string(1000, 'x'), limits);
    CHECK(h.memory() >= small + 1000);
    auto copy = h.clone();
    copy->set("a", "changed", limits);
    CHECK(*h.find("a") == "1");
    CHECK(*copy->find("a") == "changed");
    CHECK(copy->listpack() == h.listpack());
    CHECK(copy->memory() >= 1000);
    h.set("b", "short", limits);
    CHECK(h.memory() < small + 1000);
  }
}
