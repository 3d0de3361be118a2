// Supervisors, against OTP's behaviour: strategies x restart types x exit
// kinds, restart intensity at and over the limit, shutdown timeouts, rollback
// of a failed start, dynamic children, nested trees, and the child API.
#include "cachet/supervisor.hpp"

#include "cachet/cachet.hpp"

#include "test_support.hpp"

#include <caf/all.hpp>

#include <mutex>
#include <set>

using namespace std::chrono_literals;
using cachet::errc;
using cachet::restart_type;
using cachet::strategy;

CAF_ADD_ATOM(cachet_test, sup_test, die_atom, "die")

using sup_test::die_atom;
using sup_test::die_atom_v;

using cachet_test::await_down;

namespace {

using fixture = cachet_test::system_fixture;

/// How a test child ends when told to.
enum class ending { normal, shutdown, abnormal };

/// Records the order in which children exit.
struct exit_log {
  std::mutex mtx;
  std::vector<std::string> ids;

  void add(const std::string& id) {
    std::lock_guard<std::mutex> guard{mtx};
    ids.push_back(id);
  }

  std::vector<std::string> get() {
    std::lock_guard<std::mutex> guard{mtx};
    return ids;
  }
};

/// A worker: on (die, ending) it ends that way. With `stubborn`, it ignores
/// shutdown requests (only kill ends it). It logs its exit before it quits,
/// so the entry is there before anyone learns that it is down.
caf::behavior worker(caf::event_based_actor* self, std::string id,
                     std::shared_ptr<exit_log> log, bool stubborn) {
  auto note_exit = [=] {
    if (log)
      log->add(id);
  };
  if (stubborn)
    self->set_exit_handler([](caf::exit_msg&) {});
  else
    self->set_exit_handler([=](caf::exit_msg& x) {
      note_exit();
      self->quit(std::move(x.reason));
    });
  return {
    [=](die_atom, int how) {
      note_exit();
      switch (static_cast<ending>(how)) {
        case ending::normal:
          self->quit();
          break;
        case ending::shutdown:
          self->quit(caf::exit_reason::user_shutdown);
          break;
        case ending::abnormal:
          self->quit(caf::sec::runtime_error);
          break;
      }
    },
  };
}

cachet::child_spec
worker_spec(std::string id, restart_type restart = restart_type::permanent,
            std::shared_ptr<exit_log> log = nullptr, bool stubborn = false) {
  cachet::child_spec spec;
  spec.id = id;
  spec.restart = restart;
  spec.start = [=](const cachet::child_context& ctx)
    -> caf::expected<caf::actor> {
    return ctx.system.spawn(worker, id, log, stubborn);
  };
  return spec;
}

cachet::child_spec failing_spec(std::string id) {
  cachet::child_spec spec;
  spec.id = id;
  spec.start = [](const cachet::child_context&) -> caf::expected<caf::actor> {
    return caf::make_error(caf::sec::runtime_error, "no resources");
  };
  return spec;
}

/// A clock the test moves.
struct test_clock {
  std::shared_ptr<std::atomic<std::int64_t>> ms
    = std::make_shared<std::atomic<std::int64_t>>(0);

  std::function<std::chrono::steady_clock::time_point()> fn() const {
    return [ms = ms] {
      return std::chrono::steady_clock::time_point{
        std::chrono::milliseconds{ms->load()}};
    };
  }

  void advance(std::chrono::milliseconds d) {
    *ms += d.count();
  }
};

/// Talks to a supervisor from this thread.
struct client {
  caf::actor_system& sys;
  cachet::supervisor_actor sup;
  cachet::blocking_caller caller{sys};

  std::vector<cachet::child_info> children() {
    return cachet_test::unwrap(caller.call(sup, 5s, cachet::which_children_atom_v));
  }

  caf::actor child(const std::string& id) {
    for (auto& c : children())
      if (c.id == id)
        return c.child;
    return {};
  }

  bool listed(const std::string& id) {
    for (auto& c : children())
      if (c.id == id)
        return true;
    return false;
  }

  /// Polls until `pred` holds: the supervisor handles exits asynchronously.
  /// Bounded, so a wrong state fails the test instead of hanging it.
  template <class Pred>
  bool eventually(Pred pred) {
    for (int i = 0; i < 2000; ++i) {
      if (pred())
        return true;
      std::this_thread::sleep_for(1ms);
    }
    return pred();
  }
};


} // namespace

TEST_CASE_METHOD(fixture, "strategies x restart types x exit kinds follow OTP") {
  struct row {
    strategy strat;
    restart_type restart;
    ending how;
  };
  std::vector<row> rows;
  for (auto s : {strategy::one_for_one, strategy::one_for_all,
                 strategy::rest_for_one})
    for (auto r : {restart_type::permanent, restart_type::transient,
                   restart_type::temporary})
      for (auto e : {ending::normal, ending::shutdown, ending::abnormal})
        rows.push_back({s, r, e});
  for (auto& r : rows) {
    auto what = "strategy " + std::to_string(static_cast<int>(r.strat))
                + ", restart " + std::to_string(static_cast<int>(r.restart))
                + ", ending " + std::to_string(static_cast<int>(r.how));
    INFO(what);
    cachet::supervisor_flags flags;
    flags.strategy = r.strat;
    flags.intensity = 5;
    auto sup = cachet::start_supervisor(
      sys, flags,
      {worker_spec("a"), worker_spec("b", r.restart), worker_spec("c")});
    REQUIRE(sup);
    client cl{sys, *sup};
    auto a = cl.child("a");
    auto b = cl.child("b");
    auto c = cl.child("c");
    REQUIRE((a && b && c));
    caf::anon_send(b, die_atom_v, static_cast<int>(r.how));
    bool abnormal = r.how == ending::abnormal;
    bool restarted = r.restart == restart_type::permanent
                     || (r.restart == restart_type::transient && abnormal);
    if (!restarted) {
      // Not restarted: a temporary child is forgotten, others stay listed.
      if (r.restart == restart_type::temporary)
        CHECK(cl.eventually([&] { return !cl.listed("b"); }));
      else
        CHECK(cl.eventually([&] { return cl.listed("b") && !cl.child("b"); }));
      CHECK(cl.child("a") == a);
      CHECK(cl.child("c") == c);
    } else {
      CHECK(cl.eventually([&] {
        auto nb = cl.child("b");
        return nb && nb != b;
      }));
      // Who else was restarted depends on the strategy.
      CHECK(cl.eventually([&] {
        auto na = cl.child("a");
        auto nc = cl.child("c");
        switch (r.strat) {
          case strategy::one_for_one:
            return na == a && nc == c;
          case strategy::one_for_all:
            return na && na != a && nc && nc != c;
          case strategy::rest_for_one:
            return na == a && nc && nc != c;
          default:
            return false;
        }
      }));
    }
    await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
      caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
    });
  }
}

TEST_CASE_METHOD(fixture, "restart intensity: MaxR within MaxT, and one over") {
  test_clock clock;
  auto log = std::make_shared<exit_log>();
  cachet::supervisor_flags flags;
  flags.intensity = 3;
  flags.period = 5000ms;
  flags.now = clock.fn();
  auto sup = cachet::start_supervisor(
    sys, flags,
    {worker_spec("first", restart_type::permanent, log),
     worker_spec("crashy", restart_type::permanent, log),
     worker_spec("last", restart_type::permanent, log)});
  REQUIRE(sup);
  client cl{sys, *sup};
  // Three restarts within the period: allowed.
  for (int i = 0; i < 3; ++i) {
    auto old = cl.child("crashy");
    REQUIRE(old);
    caf::anon_send(old, die_atom_v, static_cast<int>(ending::abnormal));
    REQUIRE(cl.eventually([&] {
      auto now = cl.child("crashy");
      return now && now != old;
    }));
    clock.advance(1000ms);
  }
  // The fourth, still within 5 s of the first: the supervisor gives up,
  // stops its children in reverse start order and exits with shutdown.
  auto crashy = cl.child("crashy");
  auto reason = await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
    caf::anon_send(crashy, die_atom_v, static_cast<int>(ending::abnormal));
  });
  CHECK(reason == caf::exit_reason::user_shutdown);
  auto ids = log->get();
  REQUIRE(ids.size() >= 3);
  // The last three exits: crashy (the 4th crash), then last, then first.
  CHECK(std::vector<std::string>(ids.end() - 3, ids.end())
        == std::vector<std::string>{"crashy", "last", "first"});
}

TEST_CASE_METHOD(fixture, "restarts older than the period no longer count") {
  test_clock clock;
  cachet::supervisor_flags flags; // OTP's default: 1 restart in 5 s
  flags.now = clock.fn();
  REQUIRE(flags.intensity == 1);
  REQUIRE(flags.period == 5000ms);
  auto sup = cachet::start_supervisor(sys, flags, {worker_spec("w")});
  REQUIRE(sup);
  client cl{sys, *sup};
  auto crash_and_restart = [&] {
    auto old = cl.child("w");
    caf::anon_send(old, die_atom_v, static_cast<int>(ending::abnormal));
    return cl.eventually([&] {
      auto now = cl.child("w");
      return now && now != old;
    });
  };
  REQUIRE(crash_and_restart());
  // OTP's rule keeps a restart while now <= then + period: 5 s later it
  // still counts, 5 s + 1 ms later it does not.
  clock.advance(5001ms);
  REQUIRE(crash_and_restart());
  clock.advance(5000ms);
  auto w = cl.child("w");
  auto reason = await_down(sys, caf::actor_cast<caf::actor>(*sup), [&] {
    caf::anon_send(w, die_atom_v, static_cast<int>(ending::abnormal));
  });
  CHECK(reason == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "shutdown: a child ignoring it is killed after the timeout") {
  auto stubborn = worker_spec("stubborn", restart_type::permanent, nullptr, true);
  stubborn.shutdown = cachet::shutdown_spec::after(50ms);
  auto polite = worker_spec("polite");
  polite.shutdown = cachet::shutdown_spec::infinity();
  auto brutal = worker_spec("brutal");
  brutal.shutdown = cachet::shutdown_spec::brutal_kill();
  auto sup = cachet::start_supervisor(sys, {}, {stubborn, polite, brutal});
  REQUIRE(sup);
  client cl{sys, *sup};
  auto terminate = [&](const std::string& id) {
    auto who = cl.child(id);
    caf::error reason;
    auto started = std::chrono::steady_clock::now();
    reason = await_down(sys, who, [&] {
      REQUIRE(cl.caller.call(*sup, 5s, cachet::terminate_child_atom_v, id));
    });
    auto took = std::chrono::steady_clock::now() - started;
    return std::make_pair(reason, took);
  };
  auto [stubborn_reason, stubborn_took] = terminate("stubborn");
  CHECK(stubborn_reason == caf::exit_reason::kill);
  CHECK(stubborn_took >= 50ms); // it was given its timeout first
  CHECK(terminate("polite").first == caf::exit_reason::user_shutdown);
  CHECK(terminate("brutal").first == caf::exit_reason::kill);
  // Terminated children keep their specs, not running.
  for (auto& c : cl.children())
    CHECK_FALSE(c.child);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "a failed start stops the started children, in reverse") {
  auto log = std::make_shared<exit_log>();
  auto sup = cachet::start_supervisor(
    sys, {},
    {worker_spec("a", restart_type::permanent, log),
     worker_spec("b", restart_type::permanent, log), failing_spec("c"),
     worker_spec("d", restart_type::permanent, log)});
  REQUIRE(!sup);
  CHECK(sup.error() == errc::start_failed);
  CHECK(sys.render(sup.error()).find("child c") != std::string::npos);
  CHECK(sys.render(sup.error()).find("no resources") != std::string::npos);
  CHECK(log->get() == std::vector<std::string>{"b", "a"});
}

TEST_CASE_METHOD(fixture, "the child API: which, count, start, terminate, restart, delete") {
  auto sup = cachet::start_supervisor(sys, {}, {worker_spec("a")});
  REQUIRE(sup);
  client cl{sys, *sup};
  auto& call = cl.caller;
  auto b = call.call(*sup, 5s, cachet::start_child_atom_v, worker_spec("b"));
  REQUIRE(b);
  CHECK(*b == cl.child("b"));
  auto dup = call.call(*sup, 5s, cachet::start_child_atom_v, worker_spec("b"));
  REQUIRE(!dup);
  CHECK(dup.error() == errc::already_started);
  auto counts = cachet_test::unwrap(call.call(*sup, 5s, cachet::count_children_atom_v));
  CHECK(counts.specs == 2);
  CHECK(counts.active == 2);
  CHECK(counts.workers == 2);
  CHECK(counts.supervisors == 0);
  // restart_child and delete_child refuse a running child.
  auto busy = call.call(*sup, 5s, cachet::restart_child_atom_v, std::string{"b"});
  REQUIRE(!busy);
  CHECK(busy.error() == errc::child_running);
  auto busy2 = call.call(*sup, 5s, cachet::delete_child_atom_v, std::string{"b"});
  REQUIRE(!busy2);
  CHECK(busy2.error() == errc::child_running);
  REQUIRE(call.call(*sup, 5s, cachet::terminate_child_atom_v, std::string{"b"}));
  CHECK(cl.listed("b"));
  CHECK_FALSE(cl.child("b"));
  // Its spec is still there, not running: OTP's already_present, which a
  // caller must tell apart from already_started.
  auto present = call.call(*sup, 5s, cachet::start_child_atom_v,
                           worker_spec("b"));
  REQUIRE(!present);
  CHECK(present.error() == errc::already_present);
  auto again = call.call(*sup, 5s, cachet::restart_child_atom_v, std::string{"b"});
  REQUIRE(again);
  CHECK(*again == cl.child("b"));
  REQUIRE(call.call(*sup, 5s, cachet::terminate_child_atom_v, std::string{"b"}));
  REQUIRE(call.call(*sup, 5s, cachet::delete_child_atom_v, std::string{"b"}));
  CHECK_FALSE(cl.listed("b"));
  auto missing = call.call(*sup, 5s, cachet::terminate_child_atom_v,
                           std::string{"nobody"});
  REQUIRE(!missing);
  CHECK(missing.error() == errc::no_such_child);
  // Dynamic-only calls are refused here.
  auto dyn = call.call(*sup, 5s, cachet::start_child_atom_v, caf::message{});
  REQUIRE(!dyn);
  CHECK(dyn.error() == errc::wrong_strategy);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "the child API works from inside actors too") {
  auto sup = cachet::start_supervisor(sys, {}, {worker_spec("a")});
  REQUIRE(sup);
  caf::scoped_actor self{sys};
  auto report_to = caf::actor_cast<caf::actor>(self);
  auto asker = [](caf::event_based_actor* asker, cachet::supervisor_actor sup,
                  caf::actor report_to) {
    asker->request(sup, 5s, cachet::count_children_atom_v)
      .then([=](const cachet::child_counts& n) {
        asker->send(report_to, n.active);
      });
  };
  self->spawn(asker, *sup, report_to);
  self->receive([](std::uint64_t active) { CHECK(active == 1u); });
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "simple_one_for_one: dynamic children from a template") {
  cachet::supervisor_flags flags;
  flags.strategy = strategy::simple_one_for_one;
  flags.max_children = 3;
  flags.intensity = 5;
  cachet::child_spec tmpl;
  tmpl.id = "conn";
  tmpl.restart = restart_type::transient;
  tmpl.start = [](const cachet::child_context& ctx) -> caf::expected<caf::actor> {
    // The start arguments name the child.
    auto id = ctx.args.get_as<std::string>(0);
    return ctx.system.spawn(worker, id, std::shared_ptr<exit_log>{}, false);
  };
  auto sup = cachet::start_supervisor(sys, flags, {tmpl});
  REQUIRE(sup);
  client cl{sys, *sup};
  auto& call = cl.caller;
  std::vector<caf::actor> kids;
  for (auto name : {"x", "y", "z"}) {
    auto kid = call.call(*sup, 5s, cachet::start_child_atom_v,
                         caf::make_message(std::string{name}));
    REQUIRE(kid);
    kids.push_back(*kid);
  }
  auto fourth = call.call(*sup, 5s, cachet::start_child_atom_v,
                          caf::make_message(std::string{"w"}));
  REQUIRE(!fourth);
  CHECK(fourth.error() == errc::max_children);
  CHECK(cl.children().size() == 3);
  // An abnormal exit restarts that child (with its arguments)...
  caf::anon_send(kids[0], die_atom_v, static_cast<int>(ending::abnormal));
  CHECK(cl.eventually([&] {
    auto now = cl.children();
    return now.size() == 3 && now[0].child && now[0].child != kids[0];
  }));
  // ...a normal exit of a transient child removes it.
  caf::anon_send(kids[1], die_atom_v, static_cast<int>(ending::normal));
  CHECK(cl.eventually([&] { return cl.children().size() == 2; }));
  REQUIRE(call.call(*sup, 5s, cachet::terminate_child_atom_v, kids[2]));
  CHECK(cl.children().size() == 1);
  auto by_id = call.call(*sup, 5s, cachet::restart_child_atom_v, std::string{"conn"});
  REQUIRE(!by_id);
  CHECK(by_id.error() == errc::wrong_strategy);
  auto counts = cachet_test::unwrap(call.call(*sup, 5s, cachet::count_children_atom_v));
  CHECK(counts.specs == 1);
  CHECK(counts.active == 1);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "supervision trees: restarts escalate, stops cascade") {
  auto log = std::make_shared<exit_log>();
  cachet::supervisor_flags inner_flags;
  inner_flags.strategy = strategy::one_for_all;
  inner_flags.intensity = 1;
  cachet::supervisor_flags root_flags;
  root_flags.intensity = 5;
  auto root = cachet::start_supervisor(
    sys, root_flags,
    {worker_spec("w0", restart_type::permanent, log),
     cachet::supervisor_child(
       "inner", inner_flags,
       {worker_spec("w1", restart_type::permanent, log),
        worker_spec("w2", restart_type::permanent, log)})});
  REQUIRE(root);
  client top{sys, *root};
  auto inner = caf::actor_cast<cachet::supervisor_actor>(top.child("inner"));
  REQUIRE(inner);
  client mid{sys, inner};
  auto count = cachet_test::unwrap(top.caller.call(*root, 5s, cachet::count_children_atom_v));
  CHECK(count.supervisors == 1);
  CHECK(count.workers == 1);
  // One crash: the inner supervisor restarts both its workers itself.
  auto w1 = mid.child("w1");
  auto w2 = mid.child("w2");
  caf::anon_send(w1, die_atom_v, static_cast<int>(ending::abnormal));
  REQUIRE(mid.eventually([&] {
    auto n1 = mid.child("w1");
    auto n2 = mid.child("w2");
    return n1 && n2 && n1 != w1 && n2 != w2;
  }));
  CHECK(top.child("inner") == caf::actor_cast<caf::actor>(inner));
  // A second crash exceeds its intensity: it exits with shutdown, and the
  // root restarts it (a new inner supervisor with new workers).
  auto reason = await_down(sys, caf::actor_cast<caf::actor>(inner), [&] {
    caf::anon_send(mid.child("w1"), die_atom_v,
                   static_cast<int>(ending::abnormal));
  });
  CHECK(reason == caf::exit_reason::user_shutdown);
  REQUIRE(top.eventually([&] {
    auto now = top.child("inner");
    return now && now != caf::actor_cast<caf::actor>(inner);
  }));
  auto w0 = top.child("w0");
  CHECK(w0); // one_for_one at the root: w0 untouched
  // Stopping the root stops the tree, children before parents, in reverse.
  auto before = log->get().size();
  await_down(sys, caf::actor_cast<caf::actor>(*root), [&] {
    caf::anon_send_exit(*root, caf::exit_reason::user_shutdown);
  });
  auto ids = log->get();
  CHECK(std::vector<std::string>(ids.begin() + before, ids.end())
        == std::vector<std::string>{"w2", "w1", "w0"});
}

TEST_CASE_METHOD(fixture, "ignore: a start function may decline to start") {
  cachet::child_spec lazy;
  lazy.id = "lazy";
  lazy.start = [](const cachet::child_context&) -> caf::expected<caf::actor> {
    return caf::actor{};
  };
  auto sup = cachet::start_supervisor(sys, {}, {lazy, worker_spec("w")});
  REQUIRE(sup);
  client cl{sys, *sup};
  CHECK(cl.listed("lazy"));
  CHECK_FALSE(cl.child("lazy"));
  CHECK(cl.child("w"));
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}
