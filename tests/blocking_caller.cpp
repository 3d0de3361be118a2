// blocking_caller: calls from plain threads, typed and untyped, errors,
// timeouts, late responses and dead receivers.
#include "cachet/cachet.hpp"

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

using namespace std::chrono_literals;
using cachet::errc;

namespace {

using fixture = cachet_test::system_fixture;

// Answers an int x with factor * x, except 0, whose answer it holds back until
// it receives the string "release". (Spawned with an argument: CAF 0.17.6
// trips UBSan when a function-based actor is spawned without one.)
struct holder_state {
  std::vector<caf::response_promise> held;
};

caf::behavior holder(caf::stateful_actor<holder_state>* self, int factor) {
  return {
    [=](int x) -> caf::result<int> {
      if (x != 0)
        return factor * x;
      self->state.held.push_back(self->make_response_promise());
      return caf::delegated<int>{};
    },
    [=](const std::string&) {
      for (auto& rp : self->state.held)
        rp.deliver(-1);
      self->state.held.clear();
    },
    [](int x, int y) { return std::make_tuple(x + y, x * y); },
  };
}

} // namespace

TEST_CASE_METHOD(fixture, "untyped calls name their response types") {
  auto h = sys.spawn(holder, 2);
  cachet::blocking_caller caller{sys};
  auto doubled = caller.call<int>(h, 5s, 21);
  REQUIRE(doubled);
  CHECK(*doubled == 42);
  auto both = caller.call<int, int>(h, 5s, 3, 4);
  REQUIRE(both);
  CHECK(*both == std::make_tuple(7, 12));
  // Asking for the wrong type is an error, not a crash.
  auto wrong = caller.call<std::string>(h, 5s, 21);
  REQUIRE(!wrong);
  CHECK(wrong.error() == caf::sec::unexpected_response);
  caf::anon_send_exit(h, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "a call times out, and its late response is dropped") {
  auto h = sys.spawn(holder, 2);
  cachet::blocking_caller caller{sys};
  auto slow = caller.call<int>(h, 20ms, 0);
  REQUIRE(!slow);
  CHECK(slow.error() == errc::call_timeout);
  // Release the held response: it arrives late and must not be taken for
  // the answer to the next call.
  caf::anon_send(h, std::string{"release"});
  for (int i = 1; i <= 100; ++i) {
    auto next = caller.call<int>(h, 5s, i);
    REQUIRE(next);
    CHECK(*next == 2 * i);
  }
  caf::anon_send_exit(h, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "a call to a dead actor fails at once") {
  auto h = sys.spawn(holder, 2);
  {
    caf::scoped_actor self{sys};
    self->monitor(h);
    caf::anon_send_exit(h, caf::exit_reason::kill);
    self->receive([](caf::down_msg&) {});
  }
  cachet::blocking_caller caller{sys};
  auto res = caller.call<int>(h, 5s, 1);
  REQUIRE(!res);
  CHECK(res.error() == caf::sec::request_receiver_down);
  auto invalid = caller.call<int>(caf::actor{}, 5s, 1);
  REQUIRE(!invalid);
  CHECK(invalid.error() == caf::sec::invalid_argument);
}

TEST_CASE_METHOD(fixture, "typed calls deduce their result from the interface") {
  auto owner = cachet::spawn_owner<std::string, std::int64_t>(sys);
  REQUIRE(owner);
  cachet::blocking_caller caller{sys};
  caf::expected<void> put = caller.call(*owner, 5s, cachet::insert_atom_v,
                                        std::string{"n"}, std::int64_t{1});
  REQUIRE(put);
  caf::expected<std::int64_t> n = caller.call(
    *owner, 5s, cachet::update_counter_atom_v, std::string{"n"},
    cachet::counter_op{9});
  REQUIRE(n);
  CHECK(*n == 10);
  caf::expected<std::optional<std::int64_t>> v
    = caller.call(*owner, 5s, cachet::take_atom_v, std::string{"n"});
  REQUIRE(v);
  CHECK(*v == std::optional<std::int64_t>{10});
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "callers on several threads get their own answers") {
  auto h = sys.spawn(holder, 2);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      cachet::blocking_caller caller{sys};
      for (int i = 1; i <= 500; ++i) {
        auto x = t * 1000 + i;
        auto res = caller.call<int>(h, 5s, x);
        if (!res || *res != 2 * x)
          ++wrong;
      }
    });
  for (auto& th : threads)
    th.join();
  CHECK(wrong == 0);
  caf::anon_send_exit(h, caf::exit_reason::kill);
}

namespace {

// Counts its messages and notes whether two threads ever ran it at once. An
// int request answers the thread it ran on; for x > 0 the handler first
// waits until `*go` is set.
struct recorder_state {
  std::atomic<bool>* go = nullptr;
  std::atomic<int> running{0};
  bool overlapped = false;
  int casts = 0;
};

caf::behavior recorder(caf::stateful_actor<recorder_state>* self,
                       std::atomic<bool>* go) {
  self->state.go = go;
  auto enter = [self] {
    if (self->state.running.fetch_add(1) != 0)
      self->state.overlapped = true;
  };
  auto leave = [self] { self->state.running.fetch_sub(1); };
  return {
    [=](int x) {
      enter();
      while (x > 0 && !self->state.go->load())
        std::this_thread::yield();
      leave();
      std::ostringstream id;
      id << std::this_thread::get_id();
      return id.str();
    },
    [=](const std::string&) {
      enter();
      ++self->state.casts;
      leave();
    },
    [=](cachet::size_atom) {
      return std::make_tuple(self->state.casts, self->state.overlapped);
    },
  };
}

std::string this_thread_id() {
  std::ostringstream id;
  id << std::this_thread::get_id();
  return id.str();
}

} // namespace

TEST_CASE_METHOD(fixture, "with thread lending, an idle receiver runs on "
                          "the calling thread") {
  std::atomic<bool> go{true};
  // lazy_init: the actor is idle (not scheduled) until its first message.
  auto r = sys.spawn<caf::lazy_init>(recorder, &go);
  cachet::blocking_caller caller{sys, cachet::thread_lending::on};
  for (int i = 0; i < 3; ++i) {
    auto ran_on = caller.call<std::string>(r, 5s, 0);
    REQUIRE(ran_on);
    CHECK(*ran_on == this_thread_id());
  }
  caf::anon_send_exit(r, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture, "without thread lending, receivers run on the "
                          "scheduler's threads") {
  std::atomic<bool> go{true};
  auto r = sys.spawn<caf::lazy_init>(recorder, &go);
  cachet::blocking_caller caller{sys};
  for (int i = 0; i < 3; ++i) {
    auto ran_on = caller.call<std::string>(r, 5s, 0);
    REQUIRE(ran_on);
    CHECK(*ran_on != this_thread_id());
  }
  caf::anon_send_exit(r, caf::exit_reason::kill);
}

namespace {

// Answers "ok" once it got `*lock` (a flag its caller may hold), or
// "deadlocked" if it waited 2 s for it in vain.
caf::behavior lock_taker(caf::event_based_actor*, std::atomic<bool>* lock) {
  return {
    [=](int) -> std::string {
      auto deadline = std::chrono::steady_clock::now() + 2s;
      for (bool free = false; !lock->compare_exchange_weak(free, true);
           free = false) {
        if (std::chrono::steady_clock::now() > deadline)
          return "deadlocked";
        std::this_thread::yield();
      }
      lock->store(false);
      return "ok";
    },
  };
}

} // namespace

TEST_CASE_METHOD(fixture, "a caller holding a lock its receiver needs gets "
                          "its timeout, not a deadlock") {
  std::atomic<bool> lock{false};
  auto r = sys.spawn<caf::lazy_init>(lock_taker, &lock);
  cachet::blocking_caller caller{sys};
  lock = true; // the calling thread holds it across the call
  auto held = caller.call<std::string>(r, 200ms, 0);
  lock = false;
  // The handler ran elsewhere and waited; the call timed out on time. (A
  // handler on this thread would have spun on our own lock until it gave
  // up, and the call would have returned its "deadlocked".)
  CHECK(cachet_test::outcome(held) == "call_timeout");
  auto free = caller.call<std::string>(r, 5s, 0);
  REQUIRE(free);
  CHECK(*free == "ok");
  caf::anon_send_exit(r, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture,
                 "a receiver on a lent thread hands its backlog to the "
                 "scheduler and stays serialized") {
  std::atomic<bool> go{false};
  auto r = sys.spawn<caf::lazy_init>(recorder, &go);
  constexpr int casts = 1000; // far beyond what one lent run handles
  std::thread sender{[&] {
    // The actor is busy in the call below (or about to be): these casts
    // queue behind it, then the handler may finish.
    for (int i = 0; i < casts; ++i)
      caf::anon_send(r, std::string{"x"});
    go = true;
  }};
  cachet::blocking_caller caller{sys, cachet::thread_lending::on};
  auto ran_on = caller.call<std::string>(r, 5s, 1);
  sender.join();
  REQUIRE(ran_on);
  // The backlog is handled by the scheduler's workers; the count query
  // queues behind it.
  auto seen = caller.call<int, bool>(r, 5s, cachet::size_atom_v);
  REQUIRE(seen);
  CHECK(std::get<0>(*seen) == casts);
  CHECK_FALSE(std::get<1>(*seen)); // never two threads in the actor at once
  caf::anon_send_exit(r, caf::exit_reason::kill);
}

TEST_CASE_METHOD(fixture,
                 "a receiver that dies on a lent thread fails only that call") {
  auto h = sys.spawn<caf::lazy_init>(
    [](caf::event_based_actor*, int) -> caf::behavior {
      return {
        [](int x) -> int {
          if (x < 0)
            throw std::runtime_error("negative");
          return x;
        },
      };
    },
    0);
  cachet::blocking_caller caller{sys, cachet::thread_lending::on};
  auto ok = caller.call<int>(h, 5s, 7);
  REQUIRE(ok);
  CHECK(*ok == 7);
  auto failed = caller.call<int>(h, 5s, -1);
  CHECK_FALSE(failed);
  auto after = caller.call<int>(h, 5s, 7); // the actor is gone now
  REQUIRE_FALSE(after);
  CHECK(after.error() == caf::sec::request_receiver_down);
  // The caller itself is fine.
  auto other = sys.spawn(holder, 3);
  auto tripled = caller.call<int>(other, 5s, 5);
  REQUIRE(tripled);
  CHECK(*tripled == 15);
  caf::anon_send_exit(other, caf::exit_reason::kill);
}
