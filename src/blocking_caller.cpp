// The blocking call: a request sent on behalf of a plain thread, answered into
// a slot the thread waits on.
//
// caf::scoped_actor pays for a blocking actor (spawned per scope) whose
// mailbox the response passes through, and wakes its thread through that
// actor's condition variable. Here the sender is one actor_companion per
// caller, whose enqueue hook writes the response straight into shared state.
// Responses carry the request's ID; one that arrives after its call timed out
// no longer matches and is dropped.
//
// The wake-up: a request to an idle actor has to get the actor onto a
// thread. CAF hands it to its scheduler, whose idle workers sleep between
// polls (up to milliseconds), and a plain thread's enqueue wakes none of
// them: that sleep, not the messaging, was 95% of a call. A caller that opts
// into thread lending lends its own thread instead (detail/lending.hpp):
// the woken actor runs right here, for a bounded number of messages, and
// goes to the scheduler if more remain. If the actor is already running on
// a worker, the request just queues, and the caller spins briefly (that
// worker is awake) before sleeping on a condition variable; a call to
// another node sleeps at once.
#include "cachet/blocking_caller.hpp"

#include "cachet/detail/lending.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>

#include <caf/actor_companion.hpp>
#include <caf/attachable.hpp>
#include <caf/actor_system.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>

namespace cachet {

namespace {

// How long a caller spins before sleeping: long enough to cover an owner's
// turnaround when a core is free, short enough not to burn a core on a slow
// one.
constexpr auto spin_time = std::chrono::microseconds{50};

// Messages an actor woken by a blocking call handles on the caller's thread
// before the rest goes to the scheduler: the caller's own request is first,
// the others are requests that queued up meanwhile.
constexpr std::size_t lent_throughput = 64;

/// Fails a call to another node's actor as soon as that actor is known
/// dead: CAF drops a message to a proxy whose node is gone without a word,
/// so without it the call would wait out its whole timeout.
template <class State>
class remote_watch final : public caf::attachable {
public:
  remote_watch(std::shared_ptr<State> st, caf::message_id mid)
    : st_(std::move(st)), mid_(mid) {
    // nop
  }

  void actor_exited(const caf::error&, caf::execution_unit*) override {
    st_->settle(mid_, caf::make_message(
                        caf::make_error(caf::sec::request_receiver_down)));
  }

  bool matches(const token& what) override {
    return what.subtype == token::anonymous && what.ptr == this;
  }

private:
  std::shared_ptr<State> st_;
  caf::message_id mid_;
};

} // namespace

struct blocking_caller::state {
  /// Answers the call awaiting `mid` with `response`, unless it is over.
  void settle(caf::message_id mid, caf::message response) {
    std::lock_guard<std::mutex> guard{mtx};
    if (mid.request_id() != awaited.request_id())
      return; // the call timed out
    this->response = std::move(response);
    awaited = caf::message_id{};
    ready.store(true, std::memory_order_release);
    if (sleeping)
      cv.notify_one();
  }

  std::mutex mtx;
  std::condition_variable cv;
  std::atomic<bool> ready{false};
  // Guarded by mtx.
  caf::message_id awaited;
  caf::message response;
  bool sleeping = false;
};

blocking_caller::blocking_caller(caf::actor_system& sys,
                                 thread_lending lending)
  : unit_(lending == thread_lending::on ? detail::lent_unit(sys) : nullptr),
    state_(std::make_shared<state>()),
    companion_(sys.spawn<caf::actor_companion, caf::hidden>()) {
  auto* self = caf::actor_cast<caf::actor_companion*>(companion_);
  self->on_enqueue([st = state_](caf::mailbox_element_ptr x) {
    if (!x || !x->mid.is_response())
      return; // exit and down messages, stray casts
    st->settle(x->mid, x->move_content_to_message());
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
  // A remote receiver is watched for the call's length (a local one that
  // is dead bounces the request).
  caf::attachable* watch = nullptr;
  if (dest->node() != companion_.node()) {
    auto w = std::make_unique<remote_watch<state>>(state_, mid);
    watch = w.get();
    dest->get()->attach(std::move(w)); // fires at once if already dead
  }
  auto unwatch = [&] {
    if (watch != nullptr)
      dest->get()->detach(
        caf::attachable::token{caf::attachable::token::anonymous, watch});
  };
  auto sender = caf::actor_cast<caf::strong_actor_ptr>(companion_);
  {
    detail::lend_scope lend{unit_ != nullptr ? lent_throughput : 0};
    dest->enqueue(caf::make_mailbox_element(std::move(sender), mid, {},
                                            std::move(msg)),
                  unit_);
  }
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  // A call to another node takes longer than any spin: spinning would
  // only take a core from the threads that carry the call (2 callers on 2
  // cores: 12.5-13.7 K calls/s spinning, 18 K not, cachet-bench
  // --remote-only).
  auto spin = watch != nullptr ? caf::timespan{0} : spin_time;
  auto spin_until = start + std::min<caf::timespan>(spin, timeout);
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
      guard.unlock();
      unwatch();
      return caf::make_error(errc::call_timeout);
    }
  }
  state_->sleeping = false;
  auto response = std::move(state_->response);
  guard.unlock();
  unwatch();
  return response;
}

} // namespace cachet
