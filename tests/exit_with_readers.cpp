// A program whose main returns while a detached thread still reads and
// writes a table, as a cache's loader thread may: static destructors then
// run under that thread's feet. The reclamation domain used to be a
// function-local static, destroyed at exit while the thread still used its
// slot (AddressSanitizer: heap-use-after-free). Passes if it exits cleanly.
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "cachet/detail/epoch.hpp"
#include "cachet/detail/hash_engine.hpp"
#include "cachet/kind.hpp"

int main() {
  // Leaked on purpose: the thread outlives main and every local of it.
  using engine = cachet::detail::hash_engine<std::uint64_t, std::uint64_t,
                                             cachet::default_hash,
                                             std::equal_to<>>;
  auto* table = new engine;
  auto* started = new std::atomic<bool>{false};
  std::thread{[table, started] {
    for (std::uint64_t i = 0;; ++i) {
      table->put(i % 1024, i); // retires the node it replaces
      table->find(i % 512, [](const std::uint64_t*) {});
      if (i == 1000)
        started->store(true);
    }
  }}.detach();
  while (!started->load())
    std::this_thread::yield();
  return 0; // exit runs static destructors while the thread goes on
}
