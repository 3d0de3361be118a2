// request_timer: responses settle their requests, passed deadlines deliver
// sec::request_timeout once and in deadline order, late responses are
// dropped, and an actor that quits with requests pending is left alone.
#include "cachet/request_timer.hpp"

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

CAF_ADD_ATOM(cachet_test, rt, hold_atom, "hold")
CAF_ADD_ATOM(cachet_test, rt, release_atom, "release")
CAF_ADD_ATOM(cachet_test, rt, fail_atom, "fail")
CAF_ADD_ATOM(cachet_test, rt, done_atom, "done")

using namespace rt;

namespace {

using fixture = cachet_test::system_fixture;
using clock_type = std::chrono::steady_clock;

// Echoes ints; holds (hold_atom, n) requests until release_atom, then
// answers them all with `late` (late, if their callers timed out); fails
// fail_atom.
struct server_state {
  std::vector<caf::response_promise> held;
};

caf::behavior server(caf::stateful_actor<server_state>* self, int late) {
  return {
    [](int x) { return x; },
    [=](hold_atom, int) -> caf::result<int> {
      self->state.held.push_back(self->make_response_promise());
      return caf::delegated<int>{};
    },
    [=](release_atom) {
      for (auto& rp : self->state.held)
        rp.deliver(late);
      self->state.held.clear();
    },
    [](fail_atom) -> caf::result<int> {
      return caf::make_error(caf::sec::runtime_error);
    },
  };
}

// What a client saw, reported to the test's scoped actor.
struct outcome {
  int values = 0;
  std::vector<caf::error> errors;
  std::vector<std::int64_t> error_after_ms; // since the request
  std::size_t pending_before_wait = 0;
  std::size_t pending = 0;
  std::size_t armed = 0;
};

struct client_state {
  cachet::request_timer timer;
  outcome out;
};

using client = caf::stateful_actor<client_state>;

// Spawns a client running `body` (as an argument: CAF 0.17.6's spawn of an
// actor without arguments binds a reference to null, which UBSan reports).
caf::actor spawn_client(caf::actor_system& sys,
                        std::function<void(client*)> body) {
  auto run = [](client* self, std::function<void(client*)> f) { f(self); };
  return sys.spawn(run, std::move(body));
}

// Requests with `self`'s timer and records the outcome.
void call(client* self, const caf::actor& dest, caf::timespan timeout,
          caf::message msg) {
  auto t0 = clock_type::now();
  self->state.timer.request(self, dest, timeout, std::move(msg))
    .then([self](int) { ++self->state.out.values; },
          [self, t0](caf::error& err) {
            auto& out = self->state.out;
            out.errors.push_back(err);
            out.error_after_ms.push_back(
              std::chrono::duration_cast<std::chrono::milliseconds>(
                clock_type::now() - t0)
                .count());
          });
}

// Reports the outcome to `to` after `wait`.
void report_after(client* self, const caf::actor& to, caf::timespan wait) {
  self->state.out.pending_before_wait = self->state.timer.pending();
  self->delayed_send(self, wait, done_atom_v);
  self->become([=](done_atom) {
    auto& out = self->state.out;
    out.pending = self->state.timer.pending();
    out.armed = self->state.timer.armed();
    self->send(to, out.values, out.errors, out.error_after_ms,
               out.pending_before_wait, out.pending, out.armed);
    self->quit();
  });
}

outcome await_outcome(caf::scoped_actor& self) {
  outcome out;
  self->receive(
    [&](int values, std::vector<caf::error>& errors,
        std::vector<std::int64_t>& after, std::size_t pending_before_wait,
        std::size_t pending, std::size_t armed) {
      out = {values,  std::move(errors), std::move(after),
             pending_before_wait, pending, armed};
    },
    caf::after(30s) >> [] { FAIL("client did not report"); });
  return out;
}

// Requests i, i + 1, ... 999 one after the other, then reports.
void call_in_loop(client* self, const caf::actor& srv, const caf::actor& to,
                  int i) {
  if (i == 1000) {
    report_after(self, to, 150ms);
    return;
  }
  self->state.timer.request(self, srv, 50ms, i)
    .then(
      [=](int x) {
        self->state.out.values += x == i;
        call_in_loop(self, srv, to, i + 1);
      },
      [=](caf::error& err) {
        self->state.out.errors.push_back(err);
        call_in_loop(self, srv, to, i + 1);
      });
}

bool is_timeout(const caf::error& err) {
  return err == caf::sec::request_timeout;
}

} // namespace

TEST_CASE_METHOD(fixture, "responses settle their requests, no timeout "
                          "follows") {
  auto srv = sys.spawn(server, -1);
  caf::scoped_actor self{sys};
  auto to = caf::actor{self};
  // Calls in a loop as a client does: one in flight, each answered at once;
  // then waits past every deadline.
  spawn_client(sys, [=](client* c) { call_in_loop(c, srv, to, 0); });
  auto out = await_outcome(self);
  CHECK(out.values == 1000);
  CHECK(out.errors.empty());
  // Forgotten as answered, not as expired.
  CHECK(out.pending_before_wait == 0);
  CHECK(out.pending == 0);
  // Every wake-up came and went, and answered requests asked for no new one.
  CHECK(out.armed == 0);
  self->send_exit(srv, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "a passed deadline delivers sec::request_timeout "
                          "once, and the late response is dropped") {
  auto srv = sys.spawn(server, -1);
  caf::scoped_actor self{sys};
  auto to = caf::actor{self};
  spawn_client(sys, [=](client* c) {
    call(c, srv, 50ms, caf::make_message(hold_atom_v, 1));
    // The response arrives after the timeout, which must have fired by then.
    c->delayed_send(srv, 300ms, release_atom_v);
    report_after(c, to, 600ms);
  });
  auto out = await_outcome(self);
  CHECK(out.values == 0);
  REQUIRE(out.errors.size() == 1);
  CHECK(is_timeout(out.errors[0]));
  CHECK(out.error_after_ms[0] >= 50);
  CHECK(out.pending == 0);
  self->send_exit(srv, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "timeouts fire in deadline order, none early") {
  auto srv = sys.spawn(server, -1);
  caf::scoped_actor self{sys};
  auto to = caf::actor{self};
  // Shorter timeouts sent later: each needs an earlier wake-up than the one
  // armed; and a held request answered in time in between.
  spawn_client(sys, [=](client* c) {
    call(c, srv, 240ms, caf::make_message(hold_atom_v, 1));
    call(c, srv, 60ms, caf::make_message(hold_atom_v, 2));
    call(c, srv, 150ms, caf::make_message(hold_atom_v, 3));
    call(c, srv, 10s, caf::make_message(7));
    report_after(c, to, 800ms);
  });
  auto out = await_outcome(self);
  CHECK(out.values == 1);
  REQUIRE(out.errors.size() == 3);
  for (auto& err : out.errors)
    CHECK(is_timeout(err));
  CHECK(out.error_after_ms[0] >= 60);
  CHECK(out.error_after_ms[1] >= 150);
  CHECK(out.error_after_ms[2] >= 240);
  // The answered request's 10 s deadline is forgotten: no wake-up is left
  // for it.
  CHECK(out.pending == 0);
  CHECK(out.armed == 0);
  self->send_exit(srv, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "an error response settles the request") {
  auto srv = sys.spawn(server, -1);
  caf::scoped_actor self{sys};
  auto to = caf::actor{self};
  spawn_client(sys, [=](client* c) {
    call(c, srv, 100ms, caf::make_message(fail_atom_v));
    report_after(c, to, 300ms);
  });
  auto out = await_outcome(self);
  CHECK(out.values == 0);
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0] == caf::sec::runtime_error);
  CHECK(out.pending == 0);
  self->send_exit(srv, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "an invalid handle fails at once, nothing timed") {
  caf::scoped_actor self{sys};
  auto to = caf::actor{self};
  spawn_client(sys, [=](client* c) {
    call(c, caf::actor{}, 50ms, caf::make_message(1));
    report_after(c, to, 100ms);
  });
  auto out = await_outcome(self);
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0] == caf::sec::invalid_argument);
  CHECK(out.armed == 0);
}

TEST_CASE_METHOD(fixture, "a dead server's requests fail, not time out") {
  auto srv = sys.spawn(server, -1);
  cachet_test::await_down(sys, srv, [&] {
    caf::anon_send_exit(srv, caf::exit_reason::kill);
  });
  caf::scoped_actor self{sys};
  auto to = caf::actor{self};
  spawn_client(sys, [=](client* c) {
    call(c, srv, 5s, caf::make_message(1));
    report_after(c, to, 200ms);
  });
  auto out = await_outcome(self);
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0] == caf::sec::request_receiver_down);
  CHECK(out.pending == 0);
}

TEST_CASE_METHOD(fixture, "a client that quits with requests pending") {
  auto srv = sys.spawn(server, -1);
  caf::scoped_actor self{sys};
  // The wake-up reaches a dead actor and the held responses nobody: both
  // are dropped (ASan checks that nothing touches the destroyed timer).
  auto quitter = spawn_client(sys, [=](client* c) {
    for (int i = 0; i < 100; ++i)
      call(c, srv, 20ms, caf::make_message(hold_atom_v, i));
    c->quit();
  });
  cachet_test::await_down(sys, quitter);
  self->send(srv, release_atom_v);
  // Outlive the wake-up before the system shuts down.
  std::this_thread::sleep_for(100ms);
  self->send_exit(srv, caf::exit_reason::user_shutdown);
}
