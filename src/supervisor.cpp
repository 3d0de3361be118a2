// The supervisor: OTP's supervisor module, point by point, as a detached CAF
// blocking actor.
//
// A blocking actor gives the supervisor OTP's control flow: children start
// synchronously, and while it stops a child it waits (with the child's
// shutdown timeout) for that child's DOWN message and leaves every other
// message in the mailbox, as OTP's selective receive does. Exits of other
// children that arrive meanwhile are kept in `pending_` and handled, in
// order, afterwards.
//
// Restart bookkeeping follows OTP's add_restart/3: a restart prepends `now`
// to the list of restart times, drops those with now > then + period, and the
// supervisor gives up when more than `intensity` remain.
#include "cachet/supervisor.hpp"

#include "cachet/detail/respond.hpp"

#include <deque>
#include <exception>
#include <future>
#include <memory>

#include <caf/after.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/others.hpp>
#include <caf/sec.hpp>

namespace cachet {

using detail::respond;

namespace {

using clock_type = std::chrono::steady_clock;

struct child {
  child_spec spec;
  caf::actor running; ///< invalid when not running
  caf::message args;  ///< simple_one_for_one: start_child's arguments
};

struct start_state {
  supervisor_flags flags;
  std::vector<child_spec> specs;
  std::promise<caf::error> started;
};

class supervisor_impl {
public:
  supervisor_impl(caf::blocking_actor* self, start_state& init)
    : self_(self), flags_(std::move(init.flags)) {
    if (flags_.strategy == strategy::simple_one_for_one) {
      if (!init.specs.empty())
        template_ = std::move(init.specs.front());
    } else {
      for (auto& spec : init.specs)
        children_.push_back(child{std::move(spec), {}, {}});
    }
  }

  /// Starts every child in order; on a failure stops those started, in
  /// reverse order.
  caf::error start_all() {
    if (flags_.strategy == strategy::simple_one_for_one && !template_)
      return caf::make_error(errc::start_failed,
                             "simple_one_for_one needs exactly one template");
    for (std::size_t i = 0; i < children_.size(); ++i) {
      if (auto err = start(children_[i])) {
        for (auto j = i; j-- > 0;)
          stop(children_[j]);
        return err;
      }
    }
    return caf::none;
  }

  /// Serves requests and child exits until the supervisor stops.
  void run() {
    while (!stopped_) {
      if (!pending_.empty()) {
        auto x = std::move(pending_.front());
        pending_.pop_front();
        on_exit(x);
        continue;
      }
      self_->receive(
        [&](caf::exit_msg& x) { on_exit(x); },
        [](caf::down_msg&) {}, // a stopped child's, seen already
        [&](which_children_atom) { return which_children(); },
        [&](count_children_atom) { return count_children(); },
        [&](start_child_atom, child_spec& spec) -> caf::result<caf::actor> {
          return respond(start_child(std::move(spec)));
        },
        [&](start_child_atom, caf::message& args) -> caf::result<caf::actor> {
          return respond(start_dynamic(std::move(args)));
        },
        [&](terminate_child_atom, const std::string& id) -> caf::result<void> {
          return respond(terminate_child(id));
        },
        [&](terminate_child_atom, const caf::actor& who) -> caf::result<void> {
          return respond(terminate_dynamic(who));
        },
        [&](restart_child_atom, const std::string& id)
          -> caf::result<caf::actor> { return respond(restart_child(id)); },
        [&](delete_child_atom, const std::string& id) -> caf::result<void> {
          return respond(delete_child(id));
        },
        caf::others >> [](caf::message_view&) -> caf::result<caf::message> {
          // Unknown messages are dropped (OTP logs them), requests answered.
          return caf::make_error(caf::sec::unexpected_message);
        });
    }
    self_->fail_state(std::move(exit_reason_));
  }

private:
  child_context context(const child& c) {
    return {self_->system(), caf::actor_cast<caf::actor>(self_), c.args};
  }

  // -- starting and stopping one child ---------------------------------------

  /// Runs the child's start function and links to what it started. An
  /// invalid actor means `ignore`.
  caf::error start(child& c) {
    caf::expected<caf::actor> res = caf::actor{};
    try {
      res = c.spec.start(context(c));
    } catch (std::exception& e) {
      res = caf::make_error(caf::sec::runtime_error, e.what());
    } catch (...) {
      res = caf::make_error(caf::sec::runtime_error, "unknown exception");
    }
    if (!res)
      return caf::make_error(errc::start_failed,
                             "child " + c.spec.id + ": "
                               + self_->system().render(res.error()));
    c.running = std::move(*res);
    if (c.running)
      self_->link_to(c.running);
    return caf::none;
  }

  /// Stops a running child by its shutdown spec and waits for it to go down
  /// (OTP's shutdown/2). CAF drops a link when the child handles an exit
  /// from its linked peer, so, as OTP does, the supervisor unlinks, monitors
  /// and waits for the DOWN message.
  void stop(child& c) {
    if (!c.running)
      return;
    auto who = std::move(c.running);
    c.running = caf::actor{};
    self_->unlink_from(who);
    self_->monitor(who);
    using mode = shutdown_spec::mode;
    switch (c.spec.shutdown.how) {
      case mode::brutal_kill:
        self_->send_exit(who, caf::exit_reason::kill);
        await_down(who, std::nullopt);
        break;
      case mode::timeout:
        self_->send_exit(who, caf::exit_reason::user_shutdown);
        if (!await_down(who, c.spec.shutdown.timeout)) {
          self_->send_exit(who, caf::exit_reason::kill);
          await_down(who, std::nullopt);
        }
        break;
      case mode::infinity:
        self_->send_exit(who, caf::exit_reason::user_shutdown);
        await_down(who, std::nullopt);
        break;
    }
    // An exit the child sent before the unlink is about a child we stopped.
    auto addr = who.address();
    for (auto i = pending_.begin(); i != pending_.end();)
      i = i->source == addr ? pending_.erase(i) : std::next(i);
  }

  /// Waits for `who`'s DOWN message, leaving requests queued; exits of other
  /// children go to pending_. False on timeout.
  bool await_down(const caf::actor& who,
                  std::optional<std::chrono::milliseconds> timeout) {
    auto addr = who.address();
    auto deadline = clock_type::now() + timeout.value_or(std::chrono::hours{0});
    bool found = false;
    auto on_down = [&](caf::down_msg& x) {
      if (x.source == addr)
        found = true;
    };
    auto on_exit = [&](caf::exit_msg& x) {
      if (x.source != addr)
        pending_.push_back(std::move(x));
    };
    while (!found) {
      if (!timeout) {
        self_->receive(on_down, on_exit);
        continue;
      }
      auto left = deadline - clock_type::now();
      if (left <= clock_type::duration::zero())
        return false;
      self_->receive(on_down, on_exit, caf::after(left) >> [] {});
    }
    return true;
  }

  /// Stops all running children, in reverse start order.
  void stop_all() {
    for (auto i = children_.size(); i-- > 0;)
      stop(children_[i]);
  }

  // -- exits and restarts ----------------------------------------------------

  void on_exit(caf::exit_msg& x) {
    auto i = find(x.source);
    if (i == children_.size()) {
      // Not a child: our parent (or someone) tells us to stop.
      if (x.reason) {
        stop_all();
        quit(std::move(x.reason));
      }
      return;
    }
    children_[i].running = caf::actor{};
    auto& spec = children_[i].spec;
    bool restart = spec.restart == restart_type::permanent
                   || (spec.restart == restart_type::transient
                       && !is_normal_exit(x.reason));
    if (!restart) {
      forget(i);
      return;
    }
    restart_from(i);
  }

  /// The exited child at `i` needs a restart: apply the strategy, counting
  /// the restart (and each failed attempt) against the intensity.
  void restart_from(std::size_t i) {
    auto id = children_[i].spec.id;
    for (;;) {
      if (!add_restart()) {
        stop_all();
        quit(caf::exit_reason::user_shutdown);
        return;
      }
      if (restart_once(i))
        return;
      // The restart failed to start something: OTP tries again, counting it
      // as another restart. `i` may have moved if temporary children went.
      i = index_of(id);
      if (i == children_.size())
        return;
    }
  }

  /// One attempt at the strategy's restart; false if a start failed.
  bool restart_once(std::size_t i) {
    switch (flags_.strategy) {
      case strategy::one_for_one:
      case strategy::simple_one_for_one:
        return !start(children_[i]);
      case strategy::one_for_all:
        return restart_range(i, 0);
      case strategy::rest_for_one:
        return restart_range(i, i);
    }
    return false;
  }

  /// Stops children from `first` on (reverse order, all but `failed`), drops
  /// the temporary ones, then starts the rest in order.
  bool restart_range(std::size_t failed, std::size_t first) {
    auto failed_id = children_[failed].spec.id;
    for (auto j = children_.size(); j-- > first;)
      stop(children_[j]);
    for (auto j = children_.size(); j-- > first;)
      if (children_[j].spec.restart == restart_type::temporary
          && children_[j].spec.id != failed_id)
        children_.erase(children_.begin() + j);
    for (auto j = first; j < children_.size(); ++j)
      if (start(children_[j]))
        return false;
    return true;
  }

  /// OTP's add_restart/3: false once the supervisor must give up.
  bool add_restart() {
    auto now = flags_.now();
    restarts_.push_front(now);
    while (!restarts_.empty() && now > restarts_.back() + flags_.period)
      restarts_.pop_back();
    return restarts_.size() <= static_cast<std::size_t>(flags_.intensity);
  }

  /// A child that will not be restarted: temporary and dynamic children are
  /// forgotten; the others keep their spec, not running.
  void forget(std::size_t i) {
    if (flags_.strategy == strategy::simple_one_for_one
        || children_[i].spec.restart == restart_type::temporary)
      children_.erase(children_.begin() + i);
  }

  void quit(caf::error reason) {
    exit_reason_ = std::move(reason);
    stopped_ = true;
  }

  // -- lookups ---------------------------------------------------------------

  std::size_t find(const caf::actor_addr& who) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (children_[i].running && children_[i].running.address() == who)
        return i;
    return children_.size();
  }

  std::size_t index_of(const std::string& id) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (children_[i].spec.id == id)
        return i;
    return children_.size();
  }

  bool dynamic() const {
    return flags_.strategy == strategy::simple_one_for_one;
  }

  // -- the API ---------------------------------------------------------------

  std::vector<child_info> which_children() const {
    std::vector<child_info> result;
    for (auto& c : children_)
      result.push_back(child_info{c.spec.id, c.running, c.spec.type});
    return result;
  }

  child_counts count_children() const {
    child_counts n;
    n.specs = dynamic() ? (template_ ? 1 : 0) : children_.size();
    for (auto& c : children_) {
      if (c.running)
        ++n.active;
      if (c.spec.type == child_type::supervisor)
        ++n.supervisors;
      else
        ++n.workers;
    }
    return n;
  }

  caf::expected<caf::actor> start_child(child_spec spec) {
    if (dynamic())
      return caf::make_error(errc::wrong_strategy);
    if (auto i = index_of(spec.id); i != children_.size()) {
      // OTP's {error, {already_started, Child}} or {error, already_present}.
      if (auto& running = children_[i].running)
        return caf::make_error(errc::already_started, spec.id, running);
      return caf::make_error(errc::already_present, spec.id);
    }
    children_.push_back(child{std::move(spec), {}, {}});
    if (auto err = start(children_.back())) {
      children_.pop_back();
      return err;
    }
    return children_.back().running;
  }

  caf::expected<caf::actor> start_dynamic(caf::message args) {
    if (!dynamic())
      return caf::make_error(errc::wrong_strategy);
    if (flags_.max_children && children_.size() >= *flags_.max_children)
      return caf::make_error(errc::max_children);
    children_.push_back(child{*template_, {}, std::move(args)});
    if (auto err = start(children_.back())) {
      children_.pop_back();
      return err;
    }
    if (!children_.back().running) { // ignored: nothing to keep
      children_.pop_back();
      return caf::actor{};
    }
    return children_.back().running;
  }

  /// The index of the child `id` of a static (not simple_one_for_one)
  /// supervisor.
  caf::expected<std::size_t> child_index(const std::string& id) const {
    if (dynamic())
      return caf::make_error(errc::wrong_strategy);
    auto i = index_of(id);
    if (i == children_.size())
      return caf::make_error(errc::no_such_child, id);
    return i;
  }

  /// As child_index, for a child that must not be running.
  caf::expected<std::size_t> stopped_index(const std::string& id) const {
    auto i = child_index(id);
    if (i && children_[*i].running)
      return caf::make_error(errc::child_running, id);
    return i;
  }

  caf::expected<void> terminate_child(const std::string& id) {
    auto i = child_index(id);
    if (!i)
      return i.error();
    stop(children_[*i]);
    if (children_[*i].spec.restart == restart_type::temporary)
      children_.erase(children_.begin() + *i);
    return caf::unit;
  }

  caf::expected<void> terminate_dynamic(const caf::actor& who) {
    if (!dynamic())
      return caf::make_error(errc::wrong_strategy);
    auto i = find(who.address());
    if (i == children_.size())
      return caf::make_error(errc::no_such_child);
    stop(children_[i]);
    children_.erase(children_.begin() + i);
    return caf::unit;
  }

  caf::expected<caf::actor> restart_child(const std::string& id) {
    auto i = stopped_index(id);
    if (!i)
      return i.error();
    if (auto err = start(children_[*i]))
      return err;
    return children_[*i].running;
  }

  caf::expected<void> delete_child(const std::string& id) {
    auto i = stopped_index(id);
    if (!i)
      return i.error();
    children_.erase(children_.begin() + *i);
    return caf::unit;
  }

  caf::blocking_actor* self_;
  supervisor_flags flags_;
  std::vector<child> children_; // in start order
  std::optional<child_spec> template_;
  std::deque<clock_type::time_point> restarts_; // newest first
  std::deque<caf::exit_msg> pending_;
  bool stopped_ = false;
  caf::error exit_reason_;
};

void supervisor_main(caf::blocking_actor* self,
                     std::shared_ptr<start_state> init) {
  supervisor_impl impl{self, *init};
  auto err = impl.start_all();
  auto failed = static_cast<bool>(err);
  init->started.set_value(err);
  if (failed) {
    self->fail_state(caf::make_error(caf::exit_reason::user_shutdown));
    return;
  }
  impl.run();
}

} // namespace

caf::expected<supervisor_actor>
start_supervisor(caf::actor_system& sys, supervisor_flags flags,
                 std::vector<child_spec> children) {
  auto init = std::make_shared<start_state>();
  init->flags = std::move(flags);
  init->specs = std::move(children);
  auto started = init->started.get_future();
  auto sup = sys.spawn<caf::detached>(supervisor_main, init);
  if (auto err = started.get())
    return err;
  return caf::actor_cast<supervisor_actor>(sup);
}

child_spec supervisor_child(std::string id, supervisor_flags flags,
                            std::vector<child_spec> children,
                            restart_type restart) {
  child_spec spec;
  spec.id = std::move(id);
  spec.restart = restart;
  spec.shutdown = shutdown_spec::infinity();
  spec.type = child_type::supervisor;
  spec.start = [flags = std::move(flags), children = std::move(children)](
                 const child_context& ctx) -> caf::expected<caf::actor> {
    auto sup = start_supervisor(ctx.system, flags, children);
    if (!sup)
      return std::move(sup.error());
    return caf::actor_cast<caf::actor>(*sup);
  };
  return spec;
}

} // namespace cachet
