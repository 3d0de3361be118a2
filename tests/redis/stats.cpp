// Unit tests of cachet-redis's INFO counters (redis/src/stats.hpp): a
// thread's cached counters belong to one instance, whatever address the
// next instance gets; errorstats prefixes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "stats.hpp"

using namespace cachet::redis;

namespace {

/// What the worker thread saw, checked on the test's thread (Catch's
/// assertions are not thread-safe).
struct reuse_outcome {
  bool same_address = false;
  std::int64_t first_sum = 0;
  std::int64_t fresh_commands = -1;
  std::int64_t fresh_hits = -1;
  std::int64_t second_sum = 0;
};

} // namespace

TEST_CASE("a server_stats built where a destroyed one was gives a thread "
          "fresh counters") {
  reuse_outcome seen;
  // One thread does everything: its thread-local cache is what is at stake,
  // and it outlives the first instance.
  std::thread worker{[&seen] {
    std::aligned_storage_t<sizeof(server_stats), alignof(server_stats)> storage;
    auto* first = new (&storage) server_stats;
    auto& old_counters = first->local();
    thread_counters::add(old_counters.commands, 5);
    thread_counters::add(old_counters.keyspace_hits, 7);
    seen.first_sum = first->sum(&thread_counters::commands);
    first->~server_stats();
    auto* second = new (&storage) server_stats;
    seen.same_address = static_cast<void*>(first) == static_cast<void*>(second);
    auto& counters = second->local();
    seen.fresh_commands = counters.commands.load();
    seen.fresh_hits = counters.keyspace_hits.load();
    thread_counters::add(counters.commands);
    seen.second_sum = second->sum(&thread_counters::commands);
    second->~server_stats();
  }};
  worker.join();
  REQUIRE(seen.same_address);
  CHECK(seen.first_sum == 5);
  CHECK(seen.fresh_commands == 0);
  CHECK(seen.fresh_hits == 0);
  // The counters written are the second instance's own.
  CHECK(seen.second_sum == 1);
}

TEST_CASE("every thread has counters of its own and sum adds them") {
  server_stats stats;
  thread_counters::add(stats.local().commands, 2);
  std::thread other{[&] { thread_counters::add(stats.local().commands, 3); }};
  other.join();
  CHECK(&stats.local() == &stats.local());
  CHECK(stats.sum(&thread_counters::commands) == 5);
}

TEST_CASE("error replies count under their first word, as redis's "
          "errorstats") {
  server_stats stats;
  auto& t = stats.local();
  t.count_error("ERR syntax error");
  t.count_error("ERR value is not an integer or out of range");
  t.count_error("WRONGTYPE Operation against a key holding the wrong kind");
  t.count_error("NOSPACEINTHEFIRST32BYTESOFTHISERRORTEXT at all");
  std::vector<std::pair<std::string, std::int64_t>> got;
  t.each_error([&](std::string_view prefix, std::int64_t n) {
    got.emplace_back(prefix, n);
  });
  using entry = std::pair<std::string, std::int64_t>;
  CHECK(got == std::vector<entry>{{"ERR", 3}, {"WRONGTYPE", 1}});
  CHECK(stats.sum(&thread_counters::error_replies) == 4);
}

TEST_CASE("a reset counts every thread's figures from zero again, but not "
          "the write count") {
  server_stats stats;
  auto& t = stats.local();
  thread_counters::add(t.commands, 4);
  thread_counters::add(t.dirty, 2);
  thread_counters::add(t.per_command[3].calls, 5);
  t.count_error("ERR one");
  t.count_error("WRONGTYPE two");
  std::thread other{[&] {
    auto& o = stats.local();
    thread_counters::add(o.commands, 6);
    thread_counters::add(o.per_command[3].failed);
    o.count_error("ERR three");
  }};
  other.join();
  stats.expired_keys = 7;
  stats.connected_clients = 2;
  stats.reset();
  CHECK(stats.sum(&thread_counters::commands) == 0);
  CHECK(stats.sum(&thread_counters::error_replies) == 0);
  CHECK(stats.sum(&thread_counters::dirty) == 2);
  CHECK(stats.command_sums()[3].calls == 0);
  CHECK(stats.command_sums()[3].failed == 0);
  CHECK(stats.error_sums().empty());
  CHECK(stats.expired_keys == 0);
  CHECK(stats.connected_clients == 2); // a gauge, not a count
  // Counting goes on from the thread's own value.
  thread_counters::add(t.commands);
  thread_counters::add(t.per_command[3].calls, 2);
  t.count_error("WRONGTYPE again");
  CHECK(stats.sum(&thread_counters::commands) == 1);
  CHECK(stats.command_sums()[3].calls == 2);
  using counts = std::map<std::string, std::int64_t, std::less<>>;
  CHECK(stats.error_sums() == counts{{"WRONGTYPE", 1}});
  CHECK(stats.sum(&thread_counters::error_replies) == 1);
}

TEST_CASE("the instantaneous rates are the mean of the last 16 samples, one "
          "at most every 100 ms") {
  server_stats stats;
  auto& t = stats.local();
  thread_counters::add(t.commands, 1000);
  stats.sample(10'000); // the first has no interval before it: 0
  thread_counters::add(t.commands, 500);
  thread_counters::add(t.net_input_bytes, 1024);
  stats.sample(10'050); // too soon: no sample
  stats.sample(10'100); // 500 commands and 1 KB in 100 ms
  CHECK(stats.instantaneous().ops_per_sec == Approx(5000.0 / 16));
  CHECK(stats.instantaneous().input_kbps == Approx(10.0 / 16));
  for (int i = 2; i <= 16; ++i) {
    thread_counters::add(t.commands, 500);
    stats.sample(10'000 + i * 100);
  }
  // The 0 of the first sample has left the ring.
  CHECK(stats.instantaneous().ops_per_sec == Approx(5000.0));
  stats.reset();
  CHECK(stats.instantaneous().ops_per_sec == 0);
}
