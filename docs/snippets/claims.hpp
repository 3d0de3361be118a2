// What every snippet program shares: a tally of the claims a guide makes,
// checked as the program runs, and a main that runs the guide's sections on
// one configured actor system. Each failed claim is printed; the program
// exits nonzero if any failed.
#pragma once

#include <chrono>
#include <cstdio>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cachet/configure.hpp>

namespace snippets {

class claims {
public:
  /// Records whether `what` holds.
  bool operator()(bool holds, const char* what) {
    std::printf("  [%s] %s\n", holds ? "ok" : "FAILED", what);
    failed_ += holds ? 0 : 1;
    return holds;
  }

  int result() const {
    if (failed_ > 0)
      std::printf("%d claim(s) failed\n", failed_);
    return failed_ == 0 ? 0 : 1;
  }

private:
  int failed_ = 0;
};

/// Waits (bounded: 5 s) until `done()` holds; whether it did.
template <class F>
bool eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::microseconds{100});
  }
  return true;
}

/// Runs each section, in order, on one actor system configured for cachet;
/// the program's exit code once the system is gone.
template <class... Sections>
int run(const claims& check, Sections... sections) {
  {
    caf::actor_system_config cfg;
    cachet::configure(cfg);
    caf::actor_system sys{cfg};
    (sections(sys), ...);
  }
  return check.result();
}

} // namespace snippets
