// The README's quickstart, a whole program: it returns 0 only if what its
// comments say holds.
// [quickstart]
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include <iostream>
#include <string>

using namespace std::chrono_literals;

int main() {
  caf::actor_system_config cfg;
  cachet::configure(cfg); // before the system exists: cachet's names, errors
  caf::actor_system sys{cfg};

  // An owner actor (a GenServer) holding a protected table named "scores".
  auto owner = cachet::spawn_owner<std::string, int>(sys, {"scores"});

  // Message path: a call through the owner's mailbox, from a plain thread.
  cachet::blocking_caller caller{sys};
  auto put = caller.call(*owner, 1s, cachet::insert_atom_v,
                         std::string{"alice"}, 3);

  // Direct path: this thread reads the table itself, no mailbox involved.
  auto scores = cachet::whereis<std::string, int>(sys, "scores");
  auto v = scores->lookup("alice"); // expected<optional<int>>: 3
  auto w = scores->insert("bob", 5); // protected: only the owner writes
  std::cout << "alice: " << v->value_or(0) << '\n'           // alice: 3
            << "bob: " << sys.render(w.error()) << '\n';     // bob: cachet: access_denied

  caf::anon_send_exit(*owner, cachet::shutdown_reason); // the table dies with it
  return put && *v == 3 && w.error() == cachet::errc::access_denied ? 0 : 1;
}
// [quickstart]
