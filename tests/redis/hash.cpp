// Unit tests of cachet-redis's hash type (redis/src/hash.hpp): the
// listpack's order, when it becomes a table, HSCAN's cursor on a table that
// changes, grows and shrinks between steps, the positions HRANDFIELD draws
// from, COPY's deep copy and the memory figure eviction reads; and, with
// allocations made to fail (failing_new.hpp), that no write loses a field.
#include <catch2/catch.hpp>

#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../failing_new.hpp"
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

TEST_CASE("a listpack becomes a table past its limits, for good") {
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

TEST_CASE("HSCAN over a table returns every field present all along once, "
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

TEST_CASE("a table keeps every field through growth and shrinking, and "
          "its positions go in iteration order") {
  listpack_limits limits;
  limits.entries = 0; // a table from the first field
  hash_object h;
  std::map<std::string, std::string> model;
  std::mt19937_64 rng{11};
  auto check_all = [&] {
    REQUIRE(h.size() == model.size());
    for (auto& [field, value] : model) {
      auto got = h.find(field);
      REQUIRE(got != nullptr);
      REQUIRE(*got == value);
    }
    // The positions hold the fields in iteration order, each once, and
    // no more empty slots than a draw can afford (an eighth full at least,
    // past the smallest table).
    std::vector<std::string> by_position;
    for (std::size_t i = 0; i < h.positions(); ++i)
      if (auto p = h.at(i))
        by_position.push_back(p->first);
    REQUIRE(by_position == fields_of(h));
    REQUIRE(h.positions() <= 8 * h.size() + 64);
  };
  // Grow to 20 000 fields with churn, then shrink back to a few.
  for (int round = 0; round < 40000; ++round) {
    auto field = "f" + std::to_string(rng() % 25000);
    if (round < 30000 || rng() % 4 == 0) {
      auto value = std::to_string(round);
      REQUIRE(h.set(field, value, limits) == (model.count(field) == 0));
      model[field] = value;
    }
    if (round >= 30000 || rng() % 3 == 0) {
      REQUIRE(h.erase(field) == (model.erase(field) == 1));
    }
    if (round % 5000 == 0)
      check_all();
  }
  check_all();
  for (auto it = model.begin(); it != model.end();) {
    REQUIRE(h.erase(it->first));
    it = model.erase(it);
    if (model.size() % 997 == 0)
      check_all();
  }
  CHECK(h.size() == 0);
  CHECK_FALSE(h.listpack()); // a table for good, even empty
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

TEST_CASE("with allocations failing, a write is done or refused whole and "
          "loses no field: a listpack's conversion, growths, shrinks") {
  listpack_limits limits;
  std::map<std::string, std::string> model;
  hash_object h;
  auto whole = [&] {
    REQUIRE(h.size() == model.size());
    for (auto& [field, value] : model) {
      auto got = h.find(field);
      REQUIRE(got != nullptr);
      REQUIRE(*got == value);
    }
  };
  // Each budget fails one allocation later, until the write goes through;
  // a refused one leaves the hash as it was.
  auto set = [&](const std::string& field, const std::string& value) {
    for (long budget = 0;; ++budget) {
      bool done = false;
      try {
        failing_after fail{budget};
        h.set(field, value, limits);
        done = true;
      } catch (const std::bad_alloc&) {
        // refused
      }
      if (done)
        break;
      whole();
    }
    model[field] = value;
    whole();
  };
  for (int i = 0; i < 512; ++i) // a full listpack
    set("f" + std::to_string(i), std::to_string(i));
  REQUIRE(h.listpack());
  // The 513th field: done with or without the conversion to a table (a
  // listpack without memory to convert stays one, past its limit, until a
  // later write converts it, as this one with memory does).
  set("f512", "512");
  h.set("f512", "512", limits);
  REQUIRE_FALSE(h.listpack());
  for (int i = 513; i < 1600; ++i) // growths
    set("f" + std::to_string(i), "v");
  // Erases down through shrinks, with no memory at all: each takes its
  // field and nothing else.
  for (int i = 1599; i >= 10; --i) {
    auto field = "f" + std::to_string(i);
    bool erased = false;
    {
      failing_after fail{0};
      erased = h.erase(field);
    }
    REQUIRE(erased);
    model.erase(field);
    if (i % 97 == 0)
      whole();
  }
  whole();
}
