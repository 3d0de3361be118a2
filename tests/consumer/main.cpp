// Uses an installed cachet: an owner, a direct read, a message call.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdio>
#include <string>

int main() {
  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};
  auto owner = cachet::spawn_owner<std::string, int>(sys, {"greetings"});
  if (!owner)
    return 1;
  cachet::blocking_caller caller{sys};
  if (!caller.call(*owner, std::chrono::seconds{5}, cachet::insert_atom_v,
                   std::string{"hello"}, 42))
    return 2;
  auto tab = cachet::whereis<std::string, int>(sys, "greetings");
  auto v = tab->lookup("hello");
  if (!v || !*v || **v != 42)
    return 3;
  std::printf("consumer: hello -> %d\n", **v);
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  return 0;
}
