// Uses cachet as a new user would, from its umbrella header only: an owner,
// a direct read, a message call, a handle by name. Beside POSIX headers and
// with using-declarations of cachet's names, which must not collide with
// POSIX's (access(2), shutdown(2), ...).
#include <sys/socket.h>
#include <unistd.h>

#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdio>
#include <string>

using cachet::access_mode;
using cachet::blocking_caller;
using cachet::named_table;
using cachet::shutdown_reason;
using cachet::table_options;
using cachet::table_policy;

int main() {
  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};
  table_options opts{"greetings", access_mode::protected_};
  auto owner = cachet::spawn_owner<std::string, int>(sys, opts);
  if (!owner)
    return 1;
  blocking_caller caller{sys};
  if (!caller.call(*owner, std::chrono::seconds{5}, cachet::insert_atom_v,
                   std::string{"hello"}, 42))
    return 2;
  auto tab = cachet::whereis<std::string, int>(sys, "greetings");
  auto v = tab->lookup("hello");
  if (!v || !*v || **v != 42)
    return 3;
  named_table<std::string, int> by_name{sys, "greetings"};
  auto w = by_name.lookup("hello");
  if (!w || *w != std::optional<int>{42})
    return 4;
  std::printf("consumer: hello -> %d (policy %d)\n", **v,
              static_cast<int>(table_policy::fresh));
  caf::anon_send_exit(*owner, shutdown_reason);
  return ::access("/", F_OK) == 0 ? 0 : 5; // POSIX's access, untouched
}
