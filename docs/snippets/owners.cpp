// docs/owners.md: the generic owner and its messages, calls from threads
// (blocking_caller, thread lending) and from actors (request, request_timer),
// and an owner of one's own. main runs each and checks what the guide says.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "claims.hpp"

using namespace std::chrono_literals;

namespace {

snippets::claims check;

using price_owner = cachet::owner_actor<std::string, double>;

void from_threads(caf::actor_system& sys) {
  // [thread_calls]
  auto owner = *cachet::spawn_owner<std::string, double>(sys, {"menu"});
  cachet::blocking_caller caller{sys};                 // one per thread
  auto put = caller.call(owner, 1s, cachet::insert_atom_v,
                         std::string{"tea"}, 2.5);     // expected<void>
  auto price = caller.call(owner, 1s, cachet::lookup_atom_v,
                           std::string{"tea"});        // expected<optional<double>>: 2.5
  auto raised = caller.call(owner, 1s, cachet::update_atom_v, std::string{"tea"},
                            cachet::updater<double>{[](double& p) { p *= 2; }});
                                                       // expected<bool>: true, tea is 5
  auto n = caller.call(owner, 1s, cachet::size_atom_v); // expected<uint64_t>: 1
  caf::anon_send(owner, cachet::insert_atom_v,
                 std::string{"cake"}, 4.0);            // a cast: no reply
  // [thread_calls]
  check(static_cast<bool>(put), "insert: void reply");
  check(price && *price == 2.5, "lookup: a copy");
  check(raised && *raised, "update by an updater");
  check(n && *n == 1, "size");
  auto cake = caller.call(owner, 1s, cachet::lookup_atom_v, std::string{"cake"});
  check(cake && *cake == 4.0, "a cast is served in mailbox order");
  auto list = caller.call(owner, 1s, cachet::to_list_atom_v);
  check(list && list->size() == 2, "to_list over messages");
  // [errors]
  caf::anon_send_exit(owner, caf::exit_reason::kill);
  // once it is down: caller.call(owner, ...) is caf::sec::request_receiver_down
  // [errors]
  snippets::eventually([&] {
    return !cachet::whereis<std::string, double>(sys, "menu");
  });
  auto dead = caller.call(owner, 1s, cachet::lookup_atom_v, std::string{"tea"});
  check(!dead && dead.error() == caf::sec::request_receiver_down,
        "a call to a dead owner: request_receiver_down");
}

// An actor that promises an answer and never gives it. (It takes an
// argument: CAF 0.17.6 spawning a function actor with none trips UBSan.)
caf::behavior silent(caf::event_based_actor* self, int never) {
  return {
    [=](cachet::lookup_atom, const std::string&) -> caf::result<int> {
      auto promise = self->make_response_promise<int>();
      if (never < 0)
        promise.deliver(never);
      return promise;
    },
  };
}

void timeouts(caf::actor_system& sys) {
  auto slow = sys.spawn(silent, 42);
  // [timeout]
  cachet::blocking_caller caller{sys};
  // slow: a caf::actor, so the response types are named: call<int>.
  auto v = caller.call<int>(slow, 20ms, cachet::lookup_atom_v, std::string{"x"});
  if (!v && v.error() == cachet::errc::call_timeout) {
    // gave up after 20 ms; a late answer is dropped
  }
  // [timeout]
  check(!v && v.error() == cachet::errc::call_timeout, "call_timeout");
  caf::anon_send_exit(slow, cachet::shutdown_reason);
}

void lending(caf::actor_system& sys) {
  auto owner = *cachet::spawn_owner<std::string, double>(sys, {"lent"});
  // [lending]
  // This thread holds no lock across its calls: it may lend itself.
  cachet::blocking_caller fast{sys, cachet::thread_lending::on};
  auto v = fast.call(owner, 1s, cachet::lookup_atom_v, std::string{"tea"});
  // an idle owner ran this call on this thread; the timeout did not bound it
  // [lending]
  check(v && !*v, "a lent call answers as any call");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

// [actor_client]
struct client_state {
  cachet::request_timer timer; // this actor's own, used only by it
  int answers = 0;
  static inline const char* name = "client";
};

caf::behavior client(caf::stateful_actor<client_state>* self,
                     price_owner owner, caf::actor report) {
  auto done = [=] {
    if (++self->state.answers == 2)
      self->quit(); // see the NOTE below: do not wait for the timer
  };
  // A call with CAF's own timeout: fine for a few calls.
  self->request(owner, 1s, cachet::lookup_atom_v, std::string{"tea"})
    .then([=](std::optional<double> price) {
      self->send(report, price.value_or(-1));
      done();
    });
  // The same call with the timeout kept by the request_timer: for calls at
  // a high rate (CAF 0.17.6 never cancels its own request timeouts).
  self->state.timer
    .request(self, owner, 5s, cachet::lookup_atom_v, std::string{"tea"})
    .then(
      [=](std::optional<double> price) {
        self->send(report, price.value_or(-1));
        done();
      },
      [=](caf::error& err) { // sec::request_timeout after 5 s
        self->send(report, std::move(err));
        done();
      });
  return {};
}
// [actor_client]

void from_actors(caf::actor_system& sys) {
  auto owner = *cachet::spawn_owner<std::string, double>(sys, {"cafe"});
  cachet::blocking_caller caller{sys};
  caller.call(owner, 1s, cachet::insert_atom_v, std::string{"tea"}, 2.5);
  caf::scoped_actor report{sys};
  report->spawn(client, owner, caf::actor{report});
  int answers = 0;
  for (int i = 0; i < 2; ++i)
    report->receive([&](double price) { answers += price == 2.5 ? 1 : 0; },
                    [&](caf::error&) {},
                    caf::after(2s) >> [] {});
  check(answers == 2, "request and request_timer both answer");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

// A client that does not quit: its timer's armed wake-up keeps it alive.
caf::behavior lingering(caf::stateful_actor<client_state>* self,
                        price_owner owner) {
  self->state.timer
    .request(self, owner, 100ms, cachet::lookup_atom_v, std::string{"tea"})
    .then([](std::optional<double>) {});
  return {};
}

void linger(caf::actor_system& sys) {
  auto owner = *cachet::spawn_owner<std::string, double>(sys, {"linger"});
  caf::scoped_actor self{sys};
  auto start = std::chrono::steady_clock::now();
  auto c = self->spawn(lingering, owner);
  self->monitor(c);
  self->receive([](caf::down_msg&) {}, caf::after(2s) >> [] {});
  auto took = std::chrono::steady_clock::now() - start;
  check(took >= 90ms, "an actor whose request_timer armed a wake-up lives "
                      "until it fires, even with nothing left to do");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

} // namespace

// [own_owner]
CAF_ADD_ATOM(docs, docs, set_price_atom, "set_price")

// The generic interface, plus one call of this owner's own.
using prices_actor = cachet::owner_actor<std::string, double>::extend<
  caf::replies_to<docs::set_price_atom, std::string, double>::with<bool>>;

struct prices_state {
  std::optional<cachet::owned_table<std::string, double>> tab;
  static inline const char* name = "prices";
};

prices_actor::behavior_type
prices(prices_actor::stateful_pointer<prices_state> self, std::string name) {
  // Make the table in init; keep the capability in the state.
  auto tab = cachet::make_table<std::string, double>(self, {std::move(name)});
  if (!tab) { // name_taken, say: fail as a start should
    self->quit(tab.error());
    return prices_actor::behavior_type::make_empty_behavior();
  }
  self->state.tab.emplace(std::move(*tab));
  return cachet::serve<prices_actor>(
    *self->state.tab, // every generic handler, and this one:
    [=](docs::set_price_atom, const std::string& item, double price) {
      if (price < 0)
        return false; // the owner decides what goes in
      self->state.tab->insert(item, price);
      return true;
    });
}
// [own_owner]

namespace {

void own_owner(caf::actor_system& sys) {
  // [own_owner_use]
  auto owner = sys.spawn(prices, std::string{"prices"});
  cachet::blocking_caller caller{sys};
  auto ok = caller.call(owner, 1s, docs::set_price_atom_v,
                        std::string{"tea"}, 2.5);           // true
  auto no = caller.call(owner, 1s, docs::set_price_atom_v,
                        std::string{"cake"}, -1.0);         // false: refused
  auto tea = caller.call(owner, 1s, cachet::lookup_atom_v,
                         std::string{"tea"});               // a generic handler
  // The table exists once init has run (the calls above waited for it):
  auto direct = cachet::whereis<std::string, double>(sys, "prices");
  auto hit = direct->lookup("tea");                         // 2.5, no mailbox
  // [own_owner_use]
  check(ok && *ok && no && !*no, "the owner validates");
  check(tea && *tea == 2.5 && hit && *hit == 2.5, "generic handlers and direct reads");
  check(!*direct->member("cake"), "a refused write is not in the table");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

} // namespace

int main() {
  return snippets::run(check, from_threads, timeouts, lending, from_actors,
                       linger, own_owner);
}
