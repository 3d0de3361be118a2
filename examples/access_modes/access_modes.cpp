// Both access paths (direct, messages) against all three access modes.
//
// For each mode, an owner holds a table of scores. Another thread then tries
// every kind of access: a direct read, a direct write, and the same through
// the owner's mailbox. The output is ETS's access table, filled in by what
// cachet actually answered.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <fmt/core.h>

#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

std::string outcome(caf::actor_system& sys, const caf::error& err) {
  return err ? sys.render(err) : "ok";
}

template <class T>
std::string outcome(caf::actor_system& sys, const caf::expected<T>& x) {
  return x ? std::string{"ok"} : sys.render(x.error());
}

} // namespace

int main() {
  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};

  fmt::print("cachet: one owner per table; another thread tries each path\n\n");
  fmt::print("{:<10} | {:<24} | {:<24} | {:<14} | {:<14}\n", "mode",
             "direct read", "direct write", "message read", "message write");
  fmt::print("{:-<10}-+-{:-<24}-+-{:-<24}-+-{:-<14}-+-{:-<14}\n", "", "", "",
             "", "");
  for (auto mode : {cachet::access_mode::private_, cachet::access_mode::protected_,
                    cachet::access_mode::public_}) {
    auto name = "scores-" + cachet::to_string(mode);
    auto owner = cachet::spawn_owner<std::string, int>(sys, {name, mode});
    if (!owner) {
      fmt::print("cannot start owner: {}\n", sys.render(owner.error()));
      return 1;
    }
    // The owner writes: here through its mailbox, from this thread.
    cachet::blocking_caller caller{sys};
    if (!caller.call(*owner, 1s, cachet::insert_atom_v, std::string{"alice"},
                     3)) {
      fmt::print("the owner did not answer\n");
      return 1;
    }
    // Another thread looks the table up by name and tries everything.
    std::string read, write, msg_read, msg_write;
    std::thread other([&] {
      auto tab = cachet::whereis<std::string, int>(sys, name);
      auto v = tab->lookup("alice");
      read = v ? fmt::format("ok: alice = {}", v->value_or(-1))
               : outcome(sys, v);
      write = outcome(sys, tab->insert("bob", 5));
      cachet::blocking_caller other_caller{sys};
      auto mv = other_caller.call(*owner, 1s, cachet::lookup_atom_v,
                                  std::string{"alice"});
      msg_read = mv ? fmt::format("ok: alice = {}", mv->value_or(-1))
                    : outcome(sys, mv);
      msg_write = outcome(sys, other_caller.call(*owner, 1s,
                                                 cachet::insert_atom_v,
                                                 std::string{"carol"}, 7));
    });
    other.join();
    fmt::print("{:<10} | {:<24} | {:<24} | {:<14} | {:<14}\n",
               cachet::to_string(mode), read, write, msg_read, msg_write);
    caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  }

  // The owner's death ends the table: handles answer table_gone.
  auto owner = cachet::spawn_owner<std::string, int>(sys, {"short-lived"});
  auto tab = cachet::whereis<std::string, int>(sys, "short-lived");
  fmt::print("\nbefore the owner exits: lookup -> {}\n",
             outcome(sys, tab->lookup("x")));
  caf::anon_send_exit(*owner, caf::exit_reason::kill);
  while (tab->alive())
    std::this_thread::yield();
  fmt::print("after it was killed:    lookup -> {}\n",
             outcome(sys, tab->lookup("x")));
  fmt::print("whereis(\"short-lived\")  -> {}\n",
             outcome(sys, cachet::whereis<std::string, int>(sys, "short-lived")));
  return 0;
}
