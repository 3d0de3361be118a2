// request_timer: an actor's request deadlines in one ordered map, and the
// wake-ups it asks of the CAF clock.
//
// The clock sees one event per wake-up, not one per request. A wake-up is a
// request timeout of CAF's own, for a fresh response id whose only handler is
// the timer's: it arrives in the actor's mailbox like any response, so the
// actor's behavior never sees it, and an actor that has quit simply drops it.
// Wake-ups land on multiples of the resolution, so the deadlines of many
// requests share one; a request normally settles long before its deadline,
// leaving at most one wake-up per timeout period for an actor that calls in
// a loop.
#include "cachet/request_timer.hpp"

#include <caf/sec.hpp>

namespace cachet {

namespace {

/// Rounds `t` up to a multiple of `step` (since the clock's epoch).
request_timer::time_point round_up(request_timer::time_point t,
                                   caf::timespan step) {
  auto since = t.time_since_epoch();
  auto rem = since % step;
  if (rem == caf::timespan::zero())
    return t;
  return t + (step - rem);
}

} // namespace

request_timer::request_timer(caf::timespan resolution)
  : resolution_(resolution > caf::timespan::zero() ? resolution
                                                   : default_resolution) {
}

void request_timer::watch(caf::scheduled_actor* self, caf::message_id id,
                          caf::timespan timeout) {
  auto deadline = self->clock().now() + timeout;
  auto i = deadlines_.emplace(deadline, id);
  index_.emplace(id, i);
  arm_for_earliest(self);
}

void request_timer::settle(caf::message_id id) {
  auto i = index_.find(id);
  if (i == index_.end())
    return;
  deadlines_.erase(i->second);
  index_.erase(i);
}

void request_timer::arm_for_earliest(caf::scheduled_actor* self) {
  if (deadlines_.empty())
    return;
  // Invariant: the first armed wake-up comes no later than the earliest
  // deadline's; so a request due after it needs no wake-up of its own.
  auto at = round_up(deadlines_.begin()->first, resolution_);
  if (!armed_.empty() && *armed_.begin() <= at)
    return;
  armed_.insert(at);
  auto rid = self->new_request_id(caf::message_priority::normal)
               .response_id();
  self->add_multiplexed_response_handler(
    rid, caf::behavior{[this, self, at](caf::error&) { fire(self, at); }});
  self->clock().set_request_timeout(at, self, rid);
}

void request_timer::fire(caf::scheduled_actor* self, time_point at) {
  armed_.erase(at);
  auto now = self->clock().now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto id = deadlines_.begin()->second;
    index_.erase(id);
    deadlines_.erase(deadlines_.begin());
    // What CAF's clock sends for a request timeout: the response handler
    // runs with the error and is removed, so a late response is dropped.
    self->eq_impl(id, self->ctrl(), self->context(),
                  caf::make_error(caf::sec::request_timeout));
  }
  arm_for_earliest(self);
}

} // namespace cachet
