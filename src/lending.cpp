// Thread lending (detail/lending.hpp): an execution unit whose exec_later
// resumes the actor an enqueue woke on the enqueuing thread.
//
// CAF's scheduled_actor::enqueue calls exec_later on the unit it is given
// exactly when the message unblocked the receiver's mailbox, i.e. when it
// must be scheduled; the unit decides where it runs. The budget is
// thread-local and set only around one enqueue, so the one exec_later that
// enqueue can make is for the receiver it woke; whatever that receiver
// wakes in turn (its replies, its own requests) finds the budget spent and
// goes to the scheduler as usual.
#include "cachet/detail/lending.hpp"

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/execution_unit.hpp>
#include <caf/ref_counted.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "cachet/detail/registry.hpp"

namespace cachet::detail {

namespace {

// Messages the woken actor may handle here; 0: lending is off.
thread_local std::size_t lend_budget = 0;

class lent_thread final : public caf::execution_unit {
public:
  explicit lent_thread(caf::actor_system* sys) : caf::execution_unit(sys) {
    // nop
  }

  void exec_later(caf::resumable* job) override {
    // The scheduler owns a reference to `job` from here (taken by enqueue).
    if (lend_budget == 0
        || job->subtype() != caf::resumable::scheduled_actor) {
      system().scheduler().enqueue(job);
      return;
    }
    auto budget = lend_budget;
    lend_budget = 0;
    if (job->resume(this, budget) == caf::resumable::resume_later)
      system().scheduler().enqueue(job); // more messages: keep the reference
    else
      caf::intrusive_ptr_release(job);
  }
};

/// One actor's turn on the network unit's thread, queued behind the
/// delivery that woke it.
class deferred_turn final : public caf::ref_counted, public caf::resumable {
public:
  explicit deferred_turn(caf::resumable* job) : job_(job) {
    // nop
  }

  subtype_t subtype() const override {
    return function_object;
  }

  resume_result resume(caf::execution_unit* ctx, std::size_t) override {
    // The reference enqueue took for scheduling `job_` passes on with it.
    if (job_->resume(ctx, 1) == resumable::resume_later)
      ctx->system().scheduler().enqueue(job_);
    else
      caf::intrusive_ptr_release(job_);
    return awaiting_message; // done: the multiplexer drops this turn
  }

  void intrusive_ptr_add_ref_impl() override {
    ref();
  }

  void intrusive_ptr_release_impl() override {
    deref();
  }

private:
  caf::resumable* job_;
};

class network_lender_unit final : public caf::execution_unit {
public:
  explicit network_lender_unit(caf::actor_system* sys)
    : caf::execution_unit(sys), net_(&network_unit_of(*sys)) {
    // nop
  }

  void exec_later(caf::resumable* job) override {
    auto* net = net_->load(std::memory_order_relaxed);
    if (net == nullptr || job->subtype() != caf::resumable::scheduled_actor) {
      system().scheduler().enqueue(job);
      return;
    }
    // A function object posted on the multiplexer's own thread runs there
    // after the events at hand (default_multiplexer::exec_later), holding
    // the one reference it starts with.
    net->exec_later(new deferred_turn(job));
  }

private:
  const std::atomic<caf::execution_unit*>* net_;
};

} // namespace

caf::execution_unit* lent_unit(caf::actor_system& sys) {
  return &lent_unit_of(sys, unit_slot::caller, [&sys] {
    return std::make_unique<lent_thread>(&sys);
  });
}

caf::execution_unit* network_lender(caf::actor_system& sys) {
  return &lent_unit_of(sys, unit_slot::network, [&sys] {
    return std::make_unique<network_lender_unit>(&sys);
  });
}

lend_scope::lend_scope(std::size_t budget) noexcept : saved_(lend_budget) {
  lend_budget = budget;
}

lend_scope::~lend_scope() {
  lend_budget = saved_;
}

} // namespace cachet::detail
