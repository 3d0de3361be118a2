// A cache's write lock: a binary semaphore whose pthread mutex is held only
// while taking or releasing it, never across the section.
//
// A section holds no mutex, so ThreadSanitizer's deadlock detector, which
// tracks at most 64 mutexes held by one thread, never counts it beside the
// locks the table writes inside the section take (and a spin lock livelocks
// TSan's runtime under contention).
#pragma once

#include <condition_variable>
#include <mutex>

namespace cachet::detail {

class write_lock {
public:
  void lock() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return !held_; });
    held_ = true;
  }

  void unlock() noexcept {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      held_ = false;
    }
    cv_.notify_one();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool held_ = false;
};

} // namespace cachet::detail
