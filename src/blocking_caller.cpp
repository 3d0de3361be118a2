// The blocking call: a request sent on behalf of a plain thread, answered into
// a slot the thread waits on.
//
// caf::scoped_actor pays for a blocking actor (spawned per scope) whose
// mailbox the response passes through, and wakes its thread through that
// actor's condition variable. Here the sender is one actor_companion per
// caller, whose enqueue hook writes the response straight into shared state:
// the waiting thread spins for a short while (the usual round trip to an idle
// owner is a few microseconds) and only then sleeps on a condition variable.
// Responses carry the request's ID; one that arrives after its call timed out
// no longer matches and is dropped.
#include "cachet/blocking_caller.hpp"

#include <condition_variable>
#include <mutex>

#include <caf/actor_companion.hpp>
#include <caf/actor_system.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>

namespace cachet {

namespace {

// How long a caller spins before sleeping: long enough to cover an owner's
// turnaround when a core is free, short enough not to burn a core on a slow
// one.
constexpr auto spin_time = std::chrono::microseconds{50};

} // namespace

struct blocking_caller::state {
  std::mutex mtx;
  std::condition_variable cv;
  std::atomic<bool> ready{false};
  // Guarded by mtx.
  caf::message_id awaited;
  caf::message response;
  bool sleeping = false;
};

blocking_caller::blocking_caller(caf::actor_system& sys)
  : state_(std::make_shared<state>()),
    companion_(sys.spawn<caf::actor_companion, caf::hidden>()) {
  auto* self = caf::actor_cast<caf::actor_companion*>(companion_);
  self->on_enqueue([st = state_](caf::mailbox_element_ptr x) {
    if (!x || !x->mid.is_response())
      return; // exit and down messages, stray casts
    std::lock_guard<std::mutex> guard{st->mtx};
    if (x->mid.request_id() != st->awaited.request_id())
      return; // the call timed out
    st->response = x->move_content_to_message();
    st->awaited = caf::message_id{};
    st->ready.store(true, std::memory_order_release);
    if (st->sleeping)
      st->cv.notify_one();
  });
}

blocking_caller::~blocking_caller() {
  // What actor_companion::disconnect does; Debian's libcaf_core 0.17.6
  // declares but does not export it.
  auto* self = caf::actor_cast<caf::actor_companion*>(companion_);
  self->on_enqueue(nullptr);
  self->cleanup(caf::exit_reason::normal, nullptr);
}

caf::expected<caf::message>
blocking_caller::roundtrip(caf::strong_actor_ptr dest, caf::message msg,
                           caf::timespan timeout) {
  if (!dest)
    return caf::make_error(caf::sec::invalid_argument);
  auto mid = caf::make_message_id(++last_id_);
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    state_->awaited = mid;
    state_->ready.store(false, std::memory_order_relaxed);
  }
  auto sender = caf::actor_cast<caf::strong_actor_ptr>(companion_);
  dest->enqueue(caf::make_mailbox_element(std::move(sender), mid, {},
                                          std::move(msg)),
                nullptr);
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  auto spin_until = start + std::min<caf::timespan>(spin_time, timeout);
  for (unsigned i = 1; !state_->ready.load(std::memory_order_acquire); ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 64 == 0 && std::chrono::steady_clock::now() >= spin_until)
      break;
  }
  std::unique_lock<std::mutex> guard{state_->mtx};
  state_->sleeping = true;
  while (!state_->ready.load(std::memory_order_relaxed)) {
    if (state_->cv.wait_until(guard, deadline) == std::cv_status::timeout
        && !state_->ready.load(std::memory_order_relaxed)) {
      state_->sleeping = false;
      state_->awaited = caf::message_id{};
      return caf::make_error(errc::call_timeout);
    }
  }
  state_->sleeping = false;
  return std::move(state_->response);
}

} // namespace cachet
