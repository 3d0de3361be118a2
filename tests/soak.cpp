// Crash soak: a supervised owner crashes again and again (exceptions and
// kills) while threads read and write its table through named handles.
//
// With the heir policy every write acknowledged before a crash must be there
// after it; with fresh, nobody may crash or see a torn value. `make test` runs
// CACHET_SOAK_CRASHES crashes per policy (default 300); the full soak is
//   CACHET_SOAK_CRASHES=10000 ./build-unit/tests/test-soak (docs/internals.md)
#include "cachet/cachet.hpp"
#include "cachet/named_table.hpp"
#include "cachet/supervisor.hpp"

#include "test_support.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <thread>

using namespace std::chrono_literals;
using cachet::errc;

namespace {

using fixture = cachet_test::system_fixture;
using kv_owner = cachet::owner_actor<std::string, std::string>;

int crashes_to_inject() {
  if (auto env = std::getenv("CACHET_SOAK_CRASHES"))
    return std::max(1, std::atoi(env));
  return 300;
}

// A value names its key and a sequence number: "key#seq".
std::string value_for(const std::string& key, std::uint64_t seq) {
  return key + "#" + std::to_string(seq);
}

// The sequence number in `value` if it belongs to `key`, else nullopt (torn).
std::optional<std::uint64_t> seq_of(const std::string& key,
                                    const std::string& value) {
  if (value.size() <= key.size() + 1 || value.compare(0, key.size(), key) != 0
      || value[key.size()] != '#')
    return std::nullopt;
  return std::stoull(value.substr(key.size() + 1));
}

struct soak_result {
  int crashes = 0;
  std::uint64_t writes = 0;
  std::uint64_t reads = 0;
  int torn = 0;
  int lost = 0;
  int unexpected = 0;
};

soak_result soak(caf::actor_system& sys, cachet::table_policy policy,
                 const std::string& name) {
  cachet::supervisor_flags flags;
  flags.intensity = std::numeric_limits<int>::max();
  auto sup = cachet::start_supervisor(
    sys, flags,
    {cachet::owner_child<std::string, std::string>(
      "owner", {name, cachet::access_mode::public_}, policy)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto current = [&](const caf::actor& old) {
    for (;;) {
      auto kids = caller.call(*sup, 5s, cachet::which_children_atom_v);
      if (kids && kids->front().child && kids->front().child != old)
        return kids->front().child;
      std::this_thread::yield();
    }
  };
  soak_result res;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<int> torn{0};
  std::atomic<int> lost{0};
  std::atomic<int> unexpected{0};
  // Each thread owns 32 keys (it is their only writer, so it knows the last
  // acknowledged value), writes them, and reads everybody's keys.
  auto worker = [&](int id) {
    cachet::named_table<std::string, std::string> tab{sys, name, 5s};
    std::minstd_rand rng(id);
    std::map<std::string, std::uint64_t> acked;
    for (std::uint64_t seq = 1; !stop; ++seq) {
      auto key = "t" + std::to_string(id) + "-" + std::to_string(rng() % 32);
      if (tab.insert(key, value_for(key, seq))) {
        acked[key] = seq;
        ++writes;
      } else {
        ++unexpected; // the 5 s wait covers every restart's gap
      }
      auto other = "t" + std::to_string(rng() % 2) + "-"
                   + std::to_string(rng() % 32);
      auto v = tab.lookup(other);
      ++reads;
      if (!v)
        ++unexpected;
      else if (*v && !seq_of(other, **v))
        ++torn;
      // Our own key: what we last wrote, unless a fresh table forgot it.
      auto mine = tab.lookup(key);
      if (mine && *mine) {
        auto s = seq_of(key, **mine);
        if (!s)
          ++torn;
        else if (*s != acked[key])
          ++lost;
      } else if (mine && policy == cachet::table_policy::heir) {
        ++lost;
      }
    }
    if (policy == cachet::table_policy::heir) {
      // After the last crash, every acknowledged write is still there.
      for (auto& [key, seq] : acked) {
        auto v = tab.lookup(key);
        if (!v || !*v || seq_of(key, **v) != seq)
          ++lost;
      }
    }
  };
  std::thread t0(worker, 0);
  std::thread t1(worker, 1);
  auto owner = current(caf::actor{});
  auto crashes = crashes_to_inject();
  for (int i = 0; i < crashes; ++i) {
    // Let the workers get some operations in between crashes.
    auto seen = writes.load();
    while (writes < seen + 2)
      std::this_thread::yield();
    if (i % 2 == 0) {
      caf::anon_send_exit(owner, caf::exit_reason::kill);
    } else {
      // A poison message: an update function that throws inside the owner
      // (it runs only on a present key, hence the insert first).
      caf::anon_send(caf::actor_cast<kv_owner>(owner), cachet::insert_atom_v,
                     std::string{"poison"}, std::string{"x"});
      caf::anon_send(caf::actor_cast<kv_owner>(owner), cachet::update_atom_v,
                     std::string{"poison"},
                     cachet::updater<std::string>{[](std::string&) {
                       throw std::runtime_error("poison");
                     }});
    }
    owner = current(owner);
    ++res.crashes;
  }
  stop = true;
  t0.join();
  t1.join();
  caf::scoped_actor self{sys};
  self->monitor(*sup);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  res.writes = writes;
  res.reads = reads;
  res.torn = torn;
  res.lost = lost;
  res.unexpected = unexpected;
  return res;
}

} // namespace

TEST_CASE_METHOD(fixture, "soak: heir loses no acknowledged write", "[soak]") {
  auto res = soak(sys, cachet::table_policy::heir, "soak-heir");
  INFO(res.crashes << " crashes, " << res.writes << " writes, " << res.reads
                   << " reads");
  CHECK(res.crashes == crashes_to_inject());
  CHECK(res.writes > static_cast<std::uint64_t>(res.crashes));
  CHECK(res.torn == 0);
  CHECK(res.lost == 0);
  CHECK(res.unexpected == 0);
}

TEST_CASE_METHOD(fixture, "soak: fresh never crashes a reader or tears a value",
                 "[soak]") {
  auto res = soak(sys, cachet::table_policy::fresh, "soak-fresh");
  INFO(res.crashes << " crashes, " << res.writes << " writes, " << res.reads
                   << " reads");
  CHECK(res.crashes == crashes_to_inject());
  CHECK(res.writes > static_cast<std::uint64_t>(res.crashes));
  CHECK(res.torn == 0);
  CHECK(res.unexpected == 0);
}
