// Names for cachet's error codes; configure (src/registry.cpp) registers them
// with CAF, so that `actor_system::render` and CAF's logging print
// "cachet: access_denied" instead of a bare number.
#include "cachet/errc.hpp"

namespace cachet {

std::string to_string(errc x) {
  switch (x) {
    case errc::access_denied: return "access_denied";
    case errc::table_gone: return "table_gone";
    case errc::no_such_table: return "no_such_table";
    case errc::name_taken: return "name_taken";
    case errc::wrong_type: return "wrong_type";
    case errc::key_exists: return "key_exists";
    case errc::no_such_key: return "no_such_key";
    case errc::not_a_counter: return "not_a_counter";
    case errc::counter_overflow: return "counter_overflow";
    case errc::call_timeout: return "call_timeout";
    case errc::bad_file: return "bad_file";
    case errc::io_error: return "io_error";
    case errc::start_failed: return "start_failed";
    case errc::no_such_child: return "no_such_child";
    case errc::child_running: return "child_running";
    case errc::already_started: return "already_started";
    case errc::already_present: return "already_present";
    case errc::max_children: return "max_children";
    case errc::wrong_strategy: return "wrong_strategy";
    case errc::load_failed: return "load_failed";
    case errc::load_timeout: return "load_timeout";
    case errc::invalid_owner: return "invalid_owner";
    case errc::invalid_argument: return "invalid_argument";
    case errc::type_not_registered: return "type_not_registered";
    case errc::no_such_node: return "no_such_node";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace cachet
