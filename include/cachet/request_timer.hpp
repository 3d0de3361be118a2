// Request timeouts for an actor from one coarse timer, instead of one CAF
// clock event per request.
//
// Use it for calls from an actor to an owner (or any actor) at a high rate:
// `timer.request(self, owner, 5s, lookup_atom_v, key).then(...)` behaves as
// `self->request(owner, 5s, lookup_atom_v, key).then(...)`. For a few calls,
// CAF's own request timeout is as good.
//
// Why: in CAF 0.17.6 every `request` with a timeout hands an event to the
// actor clock's thread (a mutex, a condition-variable broadcast that wakes
// that thread, two tree inserts there), and the timeout is never cancelled:
// the entry lives for the whole timeout and then sends the actor an error it
// drops. At 300 K calls/s with 5 s timeouts that is 1.5 M live entries
// (about 330 MB) and more than half of the round trip's time.
//
// A request_timer sends the request without a CAF timeout, keeps the
// deadline itself, forgets it when the response (or an error) arrives, and
// asks the CAF clock for one wake-up at the earliest deadline, rounded up to
// the timer's resolution: at most one clock event per resolution, usually one
// per timeout period. When a deadline passes, the actor receives
// `sec::request_timeout` for that request exactly as CAF delivers it, so the
// error handler runs once and a late response is dropped.
//
// NOTE: a timeout fires up to `resolution` late, never early. The timer
// belongs to one actor: keep it in that actor's state, call it only from that
// actor (it is not thread-safe), and do not share it between actors.
//
// Example:
//   struct client_state { cachet::request_timer timer; };
//   ...
//   self->state.timer.request(self, owner, 5s, cachet::lookup_atom_v, key)
//     .then([=](std::optional<V>& v) { ... },
//           [=](caf::error& err) { ... }); // sec::request_timeout after 5 s
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include <caf/actor_clock.hpp>
#include <caf/detail/type_list.hpp>
#include <caf/duration.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>
#include <caf/message_id.hpp>
#include <caf/message_priority.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/timespan.hpp>

namespace cachet {

class request_timer;

namespace detail {

/// A response handler that tells the timer its request is settled, then
/// calls the user's handler. Declares the user's exact parameter types, which
/// CAF checks against the response type.
template <class F, class Args>
class settling_handler;

template <class F, class... Args>
class settling_handler<F, caf::detail::type_list<Args...>> {
public:
  settling_handler(F f, request_timer* timer, caf::message_id id)
    : f_(std::move(f)), timer_(timer), id_(id) {
  }

  void operator()(Args... xs);

private:
  F f_;
  request_timer* timer_;
  caf::message_id id_;
};

template <class F>
auto settling(F f, request_timer* timer, caf::message_id id) {
  using args = typename caf::detail::get_callable_trait<F>::arg_types;
  return settling_handler<F, args>{std::move(f), timer, id};
}

} // namespace detail

/// The pending response of a request sent through a request_timer: set its
/// handlers with `then`, as on CAF's response_handle. There is no `await`:
/// an awaiting actor skips the timer's wake-ups, so its timeout could never
/// fire; use CAF's own request timeout with `await`.
template <class Self, class Handle>
class timed_response {
public:
  timed_response(Handle handle, Self* self, request_timer* timer)
    : handle_(handle), self_(self), timer_(timer) {
  }

  /// Handles the response with `f`, errors (sec::request_timeout among
  /// them) with the actor's error handler.
  template <class F>
  void then(F f) const {
    then(std::move(f), error_handler());
  }

  /// Handles the response with `f` and an error with `g`.
  template <class F, class OnError>
  void then(F f, OnError g) const {
    handle_.then(detail::settling(std::move(f), timer_, id()),
                 detail::settling(std::move(g), timer_, id()));
  }

  /// The response's message id.
  caf::message_id id() const noexcept {
    return handle_.id();
  }

private:
  auto error_handler() const {
    auto* self = self_;
    return [self](caf::error& err) { self->call_error_handler(err); };
  }

  Handle handle_;
  Self* self_;
  request_timer* timer_;
};

/// Times one actor's requests; see the top of this file. Owner only: every
/// member function must be called from the actor that owns the timer.
class request_timer {
public:
  using time_point = caf::actor_clock::time_point;

  /// `resolution`: how late a timeout may fire, and the shortest interval
  /// between two wake-ups of the actor by this timer.
  explicit request_timer(caf::timespan resolution = default_resolution);

  request_timer(const request_timer&) = delete;
  request_timer& operator=(const request_timer&) = delete;

  /// The resolution when none is given: 1 ms, as Erlang's timers.
  static constexpr caf::timespan default_resolution
    = std::chrono::milliseconds{1};

  /// Sends `xs...` to `dest` as `self->request(dest, timeout, xs...)` does,
  /// with the timeout kept by this timer. `self` must be the owning actor.
  template <caf::message_priority P = caf::message_priority::normal,
            class Self, class Handle, class... Ts>
  auto request(Self* self, const Handle& dest, caf::timespan timeout,
               Ts&&... xs) {
    static_assert(std::is_base_of<caf::scheduled_actor, Self>::value,
                  "request_timer serves event-based actors only");
    auto handle = self->template request<P>(dest, caf::duration{caf::infinite},
                                            std::forward<Ts>(xs)...);
    // CAF answers a request to an invalid handle at once, with an error.
    if (dest)
      watch(self, handle.id(), timeout);
    return timed_response<Self, decltype(handle)>{handle, self, this};
  }

  /// Requests awaiting their response or their timeout.
  std::size_t pending() const noexcept {
    return index_.size();
  }

  /// Wake-ups requested from the CAF clock and not yet received.
  std::size_t armed() const noexcept {
    return armed_.size();
  }

  /// Forgets request `id` (its response or an error arrived); no-op for an
  /// unknown id.
  void settle(caf::message_id id);

private:
  using deadline_map = std::multimap<time_point, caf::message_id>;

  void watch(caf::scheduled_actor* self, caf::message_id id,
             caf::timespan timeout);

  /// Asks for a wake-up at the earliest deadline, unless one comes earlier.
  void arm_for_earliest(caf::scheduled_actor* self);

  /// A wake-up: sends sec::request_timeout for every passed deadline.
  void fire(caf::scheduled_actor* self, time_point at);

  caf::timespan resolution_;
  deadline_map deadlines_;
  std::unordered_map<caf::message_id, deadline_map::iterator> index_;
  std::set<time_point> armed_;
};

template <class F, class... Args>
void detail::settling_handler<F, caf::detail::type_list<Args...>>::operator()(
  Args... xs) {
  timer_->settle(id_);
  f_(std::forward<Args>(xs)...);
}

} // namespace cachet
