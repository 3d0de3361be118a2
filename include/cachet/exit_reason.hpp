// OTP's exit reasons in CAF's terms, for owners and supervisors.
//
//   OTP            CAF (and cachet)
//   normal         no error: the actor called quit(), or exit_reason::normal
//   shutdown       caf::exit_reason::user_shutdown (cachet::shutdown_reason)
//   kill           caf::exit_reason::kill
//   anything else  any other error: an abnormal exit, which a supervisor
//                  restarts even transient children for
//
// Example:
//   caf::anon_send_exit(owner, cachet::shutdown_reason);  // OTP's shutdown
#pragma once

#include <caf/error.hpp>
#include <caf/exit_reason.hpp>

namespace cachet {

/// OTP's `shutdown`: how a supervisor (or anyone) asks an actor to stop.
inline constexpr caf::exit_reason shutdown_reason
  = caf::exit_reason::user_shutdown;

/// True for the exit reasons OTP calls normal for transient children: none
/// (normal) and user_shutdown (shutdown).
inline bool is_normal_exit(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::normal
         || reason == caf::exit_reason::user_shutdown;
}

} // namespace cachet
