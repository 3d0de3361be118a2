// OTP supervisors on CAF: start children, watch them, restart them.
//
// A supervisor starts its children in order, links to them and restarts them
// when they exit, by its strategy and each child's restart type, as long as
// restarts stay within its intensity (more than `intensity` restarts within
// `period` and it stops every child, in reverse start order, and exits with
// `shutdown`, which its own supervisor sees). Supervisors nest into trees.
//
// How OTP maps onto CAF here:
//
//   OTP                             cachet
//   ------------------------------  ---------------------------------------
//   exit reason normal              no error (the child called quit())
//   exit reason shutdown            cachet::shutdown_reason, which is
//                                   caf::exit_reason::user_shutdown
//                                   (exit_reason.hpp)
//   exit reason kill / any other    any other error: abnormal
//   link + trap_exit                the supervisor links to every child and
//                                   receives their exits as exit_msg
//   monitor + exit(Child, shutdown) unlink, monitor, send_exit(user_shutdown),
//   + timeout, then kill            wait for DOWN, then send_exit(kill)
//   EXIT from the parent            an exit_msg from any non-child (e.g.
//                                   anon_send_exit(sup, user_shutdown)) stops
//                                   the children and exits with its reason
//   start_link blocking on init     start_supervisor returns once every child
//                                   started, or with start_failed
//   restart timestamps in seconds   steady-clock timestamps; same rule:
//                                   give up when restarts with
//                                   now <= then + period exceed intensity
//
// The supervisor runs on its own thread (a detached CAF blocking actor): like
// OTP's, it answers requests between restarts and not during one.
//
// Example:
//   auto sup = cachet::start_supervisor(sys, {cachet::strategy::one_for_one},
//     {cachet::owner_child<std::string, int>("scores", {"scores"})});
//   cachet::blocking_caller caller{sys};
//   auto kids = caller.call(*sup, 1s, cachet::which_children_atom_v);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include "cachet/atoms.hpp"
#include "cachet/errc.hpp"
#include "cachet/exit_reason.hpp"

namespace cachet {

/// What a supervisor does when a child needs a restart.
enum class strategy : std::uint8_t {
  one_for_one,        ///< restart that child
  one_for_all,        ///< stop all others (reverse order), restart all
  rest_for_one,       ///< stop those started after it, restart them and it
  simple_one_for_one, ///< one_for_one over dynamic children of one template
};

/// When a child is restarted (OTP's restart types).
enum class restart_type : std::uint8_t {
  permanent, ///< always
  transient, ///< only after an abnormal exit (not normal, not shutdown)
  temporary, ///< never; its spec is dropped when it exits
};

enum class child_type : std::uint8_t { worker, supervisor };

/// How a child is stopped: killed at once, asked to shut down and killed
/// after a timeout, or asked and waited for (OTP's brutal_kill | Timeout |
/// infinity).
struct shutdown_spec {
  enum class mode : std::uint8_t { brutal_kill, timeout, infinity };
  mode how = mode::timeout;
  std::chrono::milliseconds timeout{5000};

  static shutdown_spec brutal_kill() {
    return {mode::brutal_kill, std::chrono::milliseconds{0}};
  }
  static shutdown_spec after(std::chrono::milliseconds t) {
    return {mode::timeout, t};
  }
  static shutdown_spec infinity() {
    return {mode::infinity, std::chrono::milliseconds{0}};
  }
};

/// What a start function gets: the system, the supervisor (to name it as a
/// table's heir, say) and, for simple_one_for_one, start_child's arguments.
struct child_context {
  caf::actor_system& system;
  caf::actor supervisor;
  caf::message args;
};

/// Starts a child and returns it; an invalid actor means `ignore` (the child
/// is not started, its spec is kept). The supervisor links to the child.
using start_function
  = std::function<caf::expected<caf::actor>(const child_context&)>;

/// One child (OTP's child spec).
struct child_spec {
  std::string id;
  start_function start;
  restart_type restart = restart_type::permanent;
  /// OTP's defaults: 5 s for workers, infinity for supervisors.
  shutdown_spec shutdown = shutdown_spec::after(std::chrono::seconds{5});
  child_type type = child_type::worker;
};

/// A supervisor's configuration (OTP's sup flags).
struct supervisor_flags {
  cachet::strategy strategy = strategy::one_for_one;
  /// At most this many restarts within `period` (OTP's default 1 in 5 s;
  /// Elixir's Supervisor uses 3 in 5 s).
  int intensity = 1;
  std::chrono::milliseconds period{5000};
  /// simple_one_for_one only: refuse start_child beyond this many children
  /// (errc::max_children).
  std::optional<std::size_t> max_children{};
  /// The clock for restart intensity; tests substitute their own.
  std::function<std::chrono::steady_clock::time_point()> now
    = [] { return std::chrono::steady_clock::now(); };
};

/// A row of which_children: `child` is invalid when the child is not
/// running.
struct child_info {
  std::string id;
  caf::actor child;
  child_type type = child_type::worker;
};

/// count_children's answer.
struct child_counts {
  std::uint64_t specs = 0;
  std::uint64_t active = 0;
  std::uint64_t supervisors = 0;
  std::uint64_t workers = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("cachet.child_info"), x.id, x.child, x.type);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("cachet.child_counts"), x.specs, x.active,
           x.supervisors, x.workers);
}

/// A supervisor's message interface; call it from actors with request() and
/// from threads with blocking_caller. For simple_one_for_one, start_child
/// takes the arguments for the template (a caf::message) and
/// terminate_child the child actor; restart_child and delete_child answer
/// errc::wrong_strategy. For the others, children are named by id.
using supervisor_actor = caf::typed_actor<
  caf::replies_to<which_children_atom>::with<std::vector<child_info>>,
  caf::replies_to<count_children_atom>::with<child_counts>,
  caf::replies_to<start_child_atom, child_spec>::with<caf::actor>,
  caf::replies_to<start_child_atom, caf::message>::with<caf::actor>,
  caf::replies_to<terminate_child_atom, std::string>::with<void>,
  caf::replies_to<terminate_child_atom, caf::actor>::with<void>,
  caf::replies_to<restart_child_atom, std::string>::with<caf::actor>,
  caf::replies_to<delete_child_atom, std::string>::with<void>>;

/// Starts a supervisor and its children, in order, and returns once all
/// started (OTP's start_link). If one fails, those started are stopped in
/// reverse order and the result is errc::start_failed naming the child.
/// For simple_one_for_one, `children` holds exactly the template.
/// Blocks the calling thread while children start.
caf::expected<supervisor_actor>
start_supervisor(caf::actor_system& sys, supervisor_flags flags,
                 std::vector<child_spec> children);

/// A child spec that starts a nested supervisor (shutdown: infinity).
child_spec supervisor_child(std::string id, supervisor_flags flags,
                            std::vector<child_spec> children,
                            restart_type restart = restart_type::permanent);

} // namespace cachet

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cachet::child_spec)
