// Tables across owner restarts: ETS's heir and give_away, the supervisor's
// fresh and heir policies, and named handles riding through restarts.
#include "cachet/cachet.hpp"
#include "cachet/named_table.hpp"
#include "cachet/supervisor.hpp"

#include "test_support.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using cachet::errc;
using cachet_test::outcome;
using cachet_test::unwrap;

using cachet_test::await_down;

namespace {

using fixture = cachet_test::system_fixture;
using kv_owner = cachet::owner_actor<std::string, std::int64_t>;
using kv_transfer = cachet::table_transfer<std::string, std::int64_t,
                                           cachet::set<>>;


/// The running owner under `sup`, polled until it differs from `old`.
caf::actor next_owner(cachet::blocking_caller& caller,
                      const cachet::supervisor_actor& sup,
                      const caf::actor& old = {}) {
  for (int i = 0; i < 5000; ++i) {
    auto kids = caller.call(sup, 5s, cachet::which_children_atom_v);
    if (kids && !kids->empty() && kids->front().child
        && kids->front().child != old)
      return kids->front().child;
    std::this_thread::sleep_for(1ms);
  }
  return {};
}

cachet::supervisor_flags lenient() {
  cachet::supervisor_flags flags;
  flags.intensity = 100;
  return flags;
}

} // namespace

TEST_CASE_METHOD(fixture, "heir: a dead owner's table passes to its heir") {
  caf::scoped_actor heir{sys};
  cachet::table_options opts{"inherited"};
  opts.heir = heir->address();
  opts.heir_data = caf::make_message(std::string{"for you"});
  auto owner = cachet::spawn_owner<std::string, std::int64_t>(sys, opts);
  REQUIRE(owner);
  auto tab = unwrap(cachet::whereis<std::string, std::int64_t>(sys, "inherited"));
  cachet::blocking_caller caller{sys};
  REQUIRE(caller.call(*owner, 5s, cachet::insert_atom_v, std::string{"k"},
                      std::int64_t{7}));
  await_down(sys, caf::actor_cast<caf::actor>(*owner),
             [&] { caf::anon_send_exit(*owner, caf::exit_reason::kill); });
  // The table lives on, data and all; the heir is told and may claim it.
  CHECK(tab.alive());
  CHECK(tab.lookup("k").value() == std::optional<std::int64_t>{7});
  heir->receive([&](kv_transfer& t) {
    CHECK(t.name() == "inherited");
    CHECK(t.from() == caf::actor_cast<caf::actor_addr>(*owner));
    CHECK(t.data().match_elements<std::string>());
    auto owned = t.claim();
    REQUIRE(owned);
    CHECK(owned->insert("mine", 1)); // full rights now
    auto twice = t.claim();
    REQUIRE(!twice);
    CHECK(twice.error() == errc::access_denied);
  });
  // The claimed capability was dropped at the end of the handler: that ends
  // the heir's ownership too, and it has no heir of its own.
  CHECK_FALSE(tab.alive());
}

TEST_CASE_METHOD(fixture, "heir: no live heir, no inheritance") {
  caf::actor heir_addr;
  {
    auto dead = sys.spawn([](caf::event_based_actor* self, int) -> caf::behavior {
      self->quit();
      return {};
    }, 0);
    await_down(sys, dead, [] {});
    heir_addr = dead;
  }
  cachet::table_options opts{"orphan"};
  opts.heir = heir_addr.address();
  auto owner = cachet::spawn_owner<std::string, std::int64_t>(sys, opts);
  REQUIRE(owner);
  auto tab = unwrap(cachet::whereis<std::string, std::int64_t>(sys, "orphan"));
  await_down(sys, caf::actor_cast<caf::actor>(*owner),
             [&] { caf::anon_send_exit(*owner, caf::exit_reason::kill); });
  CHECK_FALSE(tab.alive());
  CHECK(tab.lookup("k").error() == errc::table_gone);
}

TEST_CASE_METHOD(fixture, "give_away passes ownership and the old capability loses it") {
  caf::scoped_actor b{sys};
  std::optional<cachet::table<std::string, std::int64_t>> shared;
  {
    caf::scoped_actor a{sys};
    auto owned = unwrap(cachet::make_table<std::string, std::int64_t>(
      a.ptr(), {"gift"}));
    REQUIRE(owned.insert("x", 1));
    shared.emplace(owned.share());
    REQUIRE_FALSE(owned.give_away(caf::actor_cast<caf::actor>(b),
                                  caf::make_message(42)));
    // The giver's handle is no capability any more: denied, not obeyed.
    CHECK(outcome(owned.insert("x", 99)) == "access_denied");
    CHECK(owned.give_away(caf::actor_cast<caf::actor>(b))
          == errc::access_denied);
  } // the giver dies here, and drops its stale handle: the table lives on
  CHECK(shared->alive());
  CHECK(shared->lookup("x").value() == std::optional<std::int64_t>{1});
  std::optional<cachet::owned_table<std::string, std::int64_t>> mine;
  b->receive([&](kv_transfer& t) {
    CHECK(t.data().match_elements<int>());
    mine.emplace(unwrap(t.claim()));
  });
  REQUIRE(mine);
  CHECK(mine->insert("y", 2));
  CHECK(shared->lookup("y").value() == std::optional<std::int64_t>{2});
  // Giving to the owner itself is refused; it stays the owner.
  CHECK(mine->give_away(caf::actor_cast<caf::actor>(b)));
  CHECK(mine->insert("z", 3));
}

TEST_CASE_METHOD(fixture, "policy fresh: the restarted owner starts empty") {
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::owner_child<std::string, std::int64_t>(
      "owner", {"fresh-kv", cachet::access_mode::public_},
      cachet::table_policy::fresh)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto first = next_owner(caller, *sup);
  auto before = unwrap(cachet::whereis<std::string, std::int64_t>(sys, "fresh-kv"));
  REQUIRE(before.insert("k", 1));
  cachet::named_table<std::string, std::int64_t> named{sys, "fresh-kv", 5s};
  REQUIRE(named.lookup("k").value() == std::optional<std::int64_t>{1});
  caf::anon_send_exit(first, caf::exit_reason::kill);
  auto second = next_owner(caller, *sup, first);
  REQUIRE(second);
  CHECK(before.lookup("k").error() == errc::table_gone);
  // The named handle finds the new table by itself.
  CHECK(named.lookup("k").value() == std::nullopt);
  CHECK(named.insert("k", 2));
  CHECK(named.lookup("k").value() == std::optional<std::int64_t>{2});
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "policy heir: the restarted owner takes its table back") {
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::owner_child<std::string, std::int64_t>(
      "owner", {"heir-kv", cachet::access_mode::protected_},
      cachet::table_policy::heir)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto owner = next_owner(caller, *sup);
  auto tab = unwrap(cachet::whereis<std::string, std::int64_t>(sys, "heir-kv"));
  for (std::int64_t i = 0; i < 100; ++i)
    REQUIRE(caller.call(caf::actor_cast<kv_owner>(owner), 5s,
                        cachet::insert_atom_v, std::to_string(i), i));
  for (int crash = 0; crash < 20; ++crash) {
    if (crash % 2 == 0) {
      caf::anon_send_exit(owner, caf::exit_reason::kill);
    } else {
      // A poison message: the update function throws inside the owner.
      caf::anon_send(caf::actor_cast<kv_owner>(owner), cachet::update_atom_v,
                     std::string{"0"},
                     cachet::updater<std::int64_t>{[](std::int64_t&) {
                       throw std::runtime_error("poison");
                     }});
    }
    auto next = next_owner(caller, *sup, owner);
    REQUIRE(next);
    owner = next;
    // The very same table, never gone, every entry still there, and the new
    // owner serves it with full rights.
    CHECK(tab.alive());
    CHECK(tab.size().value() == 100u + crash);
    auto put = caller.call(caf::actor_cast<kv_owner>(owner), 5s,
                           cachet::insert_atom_v,
                           "after-" + std::to_string(crash), std::int64_t{1});
    CHECK(put);
  }
  CHECK(tab.lookup("0").value() == std::optional<std::int64_t>{0});
  // Stopping the supervisor ends the table: its heir is gone too.
  await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  });
  CHECK_FALSE(tab.alive());
}

TEST_CASE_METHOD(fixture,
                 "policy heir: the heir keeps the table with no handle held") {
  // Only the owner holds the table: no handle outside, writes by message.
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::owner_child<std::string, std::int64_t>(
      "owner", {"heir-only", cachet::access_mode::protected_},
      cachet::table_policy::heir)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto owner = next_owner(caller, *sup);
  for (std::int64_t i = 0; i < 50; ++i)
    REQUIRE(caller.call(caf::actor_cast<kv_owner>(owner), 5s,
                        cachet::insert_atom_v, std::to_string(i), i));
  for (int crash = 0; crash < 5; ++crash) {
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    owner = next_owner(caller, *sup, owner);
    REQUIRE(owner);
    auto n = caller.call(caf::actor_cast<kv_owner>(owner), 5s,
                         cachet::size_atom_v);
    REQUIRE(n);
    CHECK(*n == 50u);
  }
  await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  });
}

TEST_CASE_METHOD(fixture, "named handles wait through a restart's gap") {
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::owner_child<std::string, std::int64_t>(
      "owner", {"gap-kv", cachet::access_mode::public_},
      cachet::table_policy::fresh)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto owner = next_owner(caller, *sup);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> ops{0};
  std::thread worker([&] {
    cachet::named_table<std::string, std::int64_t> named{sys, "gap-kv", 5s};
    while (!stop) {
      if (!named.update_counter("n", {1}, 0))
        ++failures;
      ++ops;
    }
  });
  for (int crash = 0; crash < 20; ++crash) {
    auto seen = ops.load();
    while (ops < seen + 10)
      std::this_thread::yield();
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    owner = next_owner(caller, *sup, owner);
    REQUIRE(owner);
  }
  stop = true;
  worker.join();
  CHECK(failures == 0);
  // Without a wait, the gap shows as a clear error, never as anything else.
  cachet::named_table<std::string, std::int64_t> quick{sys, "gap-kv"};
  REQUIRE(quick.lookup("n"));
  auto reason = await_down(sys, owner,
                           [&] { caf::anon_send_exit(owner, caf::exit_reason::kill); });
  CHECK(reason == caf::exit_reason::kill);
  auto during = quick.lookup("n");
  if (!during)
    CHECK((during.error() == errc::table_gone
           || during.error() == errc::no_such_table));
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

namespace {

/// A scratch directory, removed afterwards.
struct scratch_dir {
  scratch_dir() {
    char tmpl[] = "/tmp/cachet-policy-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

} // namespace

TEST_CASE_METHOD(fixture, "policy reload: the restarted owner loads the last dump") {
  scratch_dir dir;
  cachet::table_options opts{"reload-kv", cachet::access_mode::public_};
  opts.dump_file = dir.path + "/kv.dump";
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::owner_child<std::string, std::int64_t>(
      "owner", opts, cachet::table_policy::reload)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto owner = next_owner(caller, *sup);
  cachet::named_table<std::string, std::int64_t> tab{sys, "reload-kv", 5s};
  REQUIRE(tab.insert("a", 1));
  REQUIRE(tab.insert("b", 2));
  auto dumped = caller.call(caf::actor_cast<kv_owner>(owner), 5s,
                            cachet::dump_atom_v, opts.dump_file);
  REQUIRE(dumped);
  CHECK(*dumped == 2u);
  REQUIRE(tab.insert("c", 3));
  // A crash: what was written after the dump is lost.
  caf::anon_send_exit(owner, caf::exit_reason::kill);
  owner = next_owner(caller, *sup, owner);
  REQUIRE(owner);
  CHECK(tab.lookup("a").value() == std::optional<std::int64_t>{1});
  CHECK(tab.lookup("b").value() == std::optional<std::int64_t>{2});
  CHECK(tab.lookup("c").value() == std::nullopt);
  // A normal shutdown writes the dump: nothing is lost across it.
  REQUIRE(tab.insert("d", 4));
  REQUIRE(caller.call(*sup, 5s, cachet::terminate_child_atom_v,
                      std::string{"owner"}));
  REQUIRE(caller.call(*sup, 5s, cachet::restart_child_atom_v,
                      std::string{"owner"}));
  CHECK(tab.lookup("d").value() == std::optional<std::int64_t>{4});
  CHECK(tab.size().value() == 3u);
  // Stopping writes the dump once more; wait for it before the directory
  // goes away.
  await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  });
  CHECK(std::filesystem::exists(opts.dump_file));
}

TEST_CASE_METHOD(fixture, "policy reload: a corrupt dump fails the start") {
  scratch_dir dir;
  cachet::table_options opts{"corrupt-kv"};
  opts.dump_file = dir.path + "/kv.dump";
  {
    std::ofstream out{opts.dump_file};
    out << "this is not a dump";
  }
  auto sup = cachet::start_supervisor(
    sys, {},
    {cachet::owner_child<std::string, std::int64_t>(
      "owner", opts, cachet::table_policy::reload)});
  REQUIRE(!sup);
  CHECK(sup.error() == errc::start_failed);
  CHECK(sys.render(sup.error()).find("bad_file") != std::string::npos);
  // Nothing was left behind under the name.
  CHECK(cachet::whereis<std::string, std::int64_t>(sys, "corrupt-kv").error()
        == errc::no_such_table);
  // And reload without a dump file is a configuration error.
  auto none = cachet::start_supervisor(
    sys, {},
    {cachet::owner_child<std::string, std::int64_t>(
      "owner", {"no-file"}, cachet::table_policy::reload)});
  REQUIRE(!none);
  CHECK(sys.render(none.error()).find("dump_file") != std::string::npos);
}

TEST_CASE_METHOD(fixture, "policy reload: a dump that fails at shutdown is "
                          "the owner's exit reason") {
  scratch_dir dir;
  cachet::table_options opts{"unsaved-kv"};
  opts.dump_file = dir.path + "/gone/kv.dump";
  std::filesystem::create_directory(dir.path + "/gone");
  auto owner = cachet::spawn_owner<std::string, std::int64_t>(sys, opts);
  REQUIRE(owner);
  cachet::blocking_caller caller{sys};
  REQUIRE(caller.call(*owner, 5s, cachet::insert_atom_v, std::string{"a"},
                      std::int64_t{1}));
  // The directory goes away: the shutdown dump cannot be written. The owner
  // used to exit as asked, and the next start silently loaded an older dump
  // (or none); now its monitors and supervisor see why.
  std::filesystem::remove_all(dir.path + "/gone");
  auto reason = await_down(sys, *owner, [&] {
    caf::anon_send_exit(*owner, cachet::shutdown_reason);
  });
  CHECK(reason == errc::io_error);
  CHECK(sys.render(reason).find("kv.dump") != std::string::npos);
}

TEST_CASE_METHOD(fixture, "policy reload: a dump file that cannot even be "
                          "looked up fails the start") {
  scratch_dir dir;
  // A symlink loop: stat() fails with ELOOP, which used to count as "no
  // dump yet" and started the owner with an empty table.
  std::filesystem::create_symlink(dir.path + "/b", dir.path + "/a");
  std::filesystem::create_symlink(dir.path + "/a", dir.path + "/b");
  cachet::table_options opts{"looped-kv"};
  opts.dump_file = dir.path + "/a";
  auto owner = cachet::spawn_owner<std::string, std::int64_t>(sys, opts);
  REQUIRE_FALSE(owner);
  CHECK(owner.error() == errc::io_error);
  CHECK(sys.render(owner.error()).find(dir.path + "/a") != std::string::npos);
  CHECK(cachet::whereis<std::string, std::int64_t>(sys, "looped-kv").error()
        == errc::no_such_table);
}

// -- caches --------------------------------------------------------------------

namespace {

using str_cache_actor = cachet::cache_actor<std::string, std::string>;

cachet::cache_options<std::string, std::string>
user_cache_options(std::string name) {
  cachet::cache_options<std::string, std::string> opts;
  opts.name = std::move(name);
  opts.mode = cachet::access_mode::public_;
  opts.sweep_interval = 0ms; // swept on request below, not on a timer
  opts.indexes.push_back(
    {"email", [](const std::string&, const std::string& v)
                -> std::optional<std::string> { return v + "@example.com"; }});
  return opts;
}

} // namespace

TEST_CASE_METHOD(fixture, "cache policy heir: a restarted owner takes back "
                          "entries, indexes, TTLs and statistics") {
  auto clock_ns = std::make_shared<std::atomic<std::int64_t>>(1'000'000'000);
  auto opts = user_cache_options("users");
  opts.clock = [clock_ns] {
    return cachet::cache_clock::time_point{std::chrono::nanoseconds{*clock_ns}};
  };
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::cache_child("users", opts, cachet::table_policy::heir)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto owner = next_owner(caller, *sup);
  auto users = unwrap(cachet::whereis_cache<std::string, std::string>(
    sys, "users"));
  for (int i = 0; i < 50; ++i)
    REQUIRE(caller.call(caf::actor_cast<str_cache_actor>(owner), 5s,
                        cachet::insert_atom_v, std::to_string(i),
                        "user" + std::to_string(i)));
  REQUIRE(users.put("short-lived", "temp", 1s));
  REQUIRE(unwrap(users.get("7")) == std::optional<std::string>{"user7"});
  for (int crash = 0; crash < 20; ++crash) {
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    // The supervisor holds the cache meanwhile: direct readers and public
    // writers carry on.
    CHECK(unwrap(users.get("3")) == std::optional<std::string>{"user3"});
    REQUIRE(users.put("during-" + std::to_string(crash),
                      "writer" + std::to_string(crash)));
    auto next = next_owner(caller, *sup, owner);
    REQUIRE(next);
    owner = next;
    auto via_owner = caf::actor_cast<str_cache_actor>(owner);
    CHECK(unwrap(caller.call(via_owner, 5s, cachet::lookup_by_atom_v,
                             std::string{"email"},
                             std::string{"user9@example.com"}))
          == std::optional<std::string>{"user9"});
    CHECK(unwrap(caller.call(via_owner, 5s, cachet::size_atom_v))
          == 51u + static_cast<std::uint64_t>(crash) + 1);
  }
  // Statistics survived: one hit before the crashes, then one per restart.
  auto st = unwrap(caller.call(caf::actor_cast<str_cache_actor>(owner), 5s,
                               cachet::stats_atom_v));
  CHECK(st.hits == 1 + 20 + 20);
  // So did the TTL bookkeeping: the new owner sweeps what expired.
  *clock_ns += 2'000'000'000;
  CHECK(unwrap(caller.call(caf::actor_cast<str_cache_actor>(owner), 5s,
                           cachet::sweep_atom_v))
        == 1u);
  // Stopping the supervisor ends the cache with its heir.
  await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  });
  CHECK(outcome(users.get("3")) == "table_gone");
  CHECK(outcome(cachet::whereis_cache<std::string, std::string>(sys, "users"))
        == "no_such_table");
}

TEST_CASE_METHOD(fixture, "cache policy fresh: a restarted owner starts "
                          "empty") {
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::cache_child("fresh-users", user_cache_options("fresh-users"))});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto owner = next_owner(caller, *sup);
  auto before = unwrap(cachet::whereis_cache<std::string, std::string>(
    sys, "fresh-users"));
  REQUIRE(before.put("k", "v"));
  caf::anon_send_exit(owner, caf::exit_reason::kill);
  auto next = next_owner(caller, *sup, owner);
  REQUIRE(next);
  CHECK(outcome(before.get("k")) == "table_gone");
  auto after = unwrap(cachet::whereis_cache<std::string, std::string>(
    sys, "fresh-users"));
  CHECK(unwrap(after.get("k")) == std::nullopt);
  CHECK(unwrap(after.stats()).hits == 0);
  auto reload = cachet::cache_child("r", user_cache_options("r"),
                                    cachet::table_policy::reload);
  auto started = reload.start({sys, caf::actor_cast<caf::actor>(*sup), {}});
  REQUIRE_FALSE(started);
  CHECK(started.error() == caf::sec::invalid_argument);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "cache heir: an heir that exits while holding the "
                          "cache ends it, and a make_cache owner adopts it") {
  auto opts = user_cache_options("held");
  std::optional<cachet::cache<std::string, std::string>> users;
  {
    caf::scoped_actor heir{sys};
    opts.heir = heir->address();
    {
      caf::scoped_actor first{sys};
      auto owned = unwrap(cachet::make_cache(first.ptr(), opts));
      REQUIRE(owned.put("k", "alice"));
      users.emplace(owned.share());
    } // the owner dies, its capability with it: the heir holds the cache
    CHECK(unwrap(users->get("k")) == std::optional<std::string>{"alice"});
    // Not the heir: the name is taken, nothing adopted.
    auto other = opts;
    other.heir = caf::actor_addr{};
    caf::scoped_actor intruder{sys};
    CHECK(outcome(cachet::make_cache(intruder.ptr(), other)) == "name_taken");
    {
      caf::scoped_actor second{sys};
      auto owned = unwrap(cachet::make_cache(second.ptr(), opts));
      CHECK(unwrap(owned.get_by("email", "alice@example.com"))
            == std::optional<std::string>{"alice"});
      REQUIRE(owned.put("k2", "bob"));
    } // dies again: held again
    CHECK(unwrap(users->get("k2")) == std::optional<std::string>{"bob"});
  } // the heir exits while holding it
  CHECK(outcome(users->get("k")) == "table_gone");
  // The name is free again.
  caf::scoped_actor third{sys};
  opts.heir = caf::actor_addr{};
  auto owned = unwrap(cachet::make_cache(third.ptr(), opts));
  CHECK(unwrap(owned.get("k")) == std::nullopt);
}

TEST_CASE_METHOD(fixture, "policy heir: a bag survives its owner's crashes, "
                          "objects in order") {
  using bag_kind = cachet::duplicate_bag<>;
  using bag_owner = cachet::owner_actor<std::string, std::int64_t, bag_kind>;
  auto sup = cachet::start_supervisor(
    sys, lenient(),
    {cachet::owner_child<std::string, std::int64_t, bag_kind>(
      "owner", {"heir-bag", cachet::access_mode::protected_},
      cachet::table_policy::heir)});
  REQUIRE(sup);
  cachet::blocking_caller caller{sys};
  auto owner = next_owner(caller, *sup);
  auto tab = unwrap(
    cachet::whereis<std::string, std::int64_t, bag_kind>(sys, "heir-bag"));
  cachet::named_table<std::string, std::int64_t, bag_kind> named{
    sys, "heir-bag", 1s};
  std::vector<std::int64_t> want;
  for (int crash = 0; crash < 5; ++crash) {
    REQUIRE(caller.call(caf::actor_cast<bag_owner>(owner), 5s,
                        cachet::insert_atom_v, std::string{"k"},
                        std::int64_t{crash % 2}));
    want.push_back(crash % 2);
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    auto next = next_owner(caller, *sup, owner);
    REQUIRE(next);
    owner = next;
    CHECK(tab.alive());
    CHECK(unwrap(named.lookup("k")) == want);
  }
  await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  });
  CHECK_FALSE(tab.alive());
}
