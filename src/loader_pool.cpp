// cachet's loader threads (detail/single_flight.hpp).
//
// A cache never runs a loader on the thread of the caller that waits for it,
// nor on an owner's mailbox thread, so that a caller can give up after the
// load timeout and so that the owner keeps serving other requests meanwhile.
// Jobs go to a process-wide pool that starts a thread whenever no idle one
// is waiting: a job never queues behind another, which is what keeps a hung
// loader from blocking loads of other keys. Idle threads end after
// `idle_limit`; the pool's state is never freed (threads may outlive main's
// locals), so it cannot be torn down under a worker.
#include "cachet/detail/single_flight.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace cachet::detail {

namespace {

struct loader_pool {
  static constexpr auto idle_limit = std::chrono::seconds{5};

  std::mutex mtx;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  std::size_t idle = 0;
  std::size_t threads = 0;

  void submit(std::function<void()> job) {
    std::unique_lock<std::mutex> guard{mtx};
    jobs.push_back(std::move(job));
    // An idle thread takes it; jobs queued before it took theirs already,
    // so "idle > jobs.size() - 1" means one is free for this job.
    if (idle >= jobs.size()) {
      cv.notify_one();
      return;
    }
    ++threads;
    guard.unlock();
    std::thread{[this] { work(); }}.detach();
  }

  void work() {
    std::unique_lock<std::mutex> guard{mtx};
    for (;;) {
      while (jobs.empty()) {
        ++idle;
        auto woke = cv.wait_for(guard, idle_limit,
                                [this] { return !jobs.empty(); });
        --idle;
        if (!woke) {
          --threads;
          return;
        }
      }
      auto job = std::move(jobs.front());
      jobs.pop_front();
      guard.unlock();
      job(); // jobs catch their own exceptions
      job = nullptr;
      guard.lock();
    }
  }
};

loader_pool& pool() {
  static auto* p = new loader_pool; // never freed: see the file comment
  return *p;
}

} // namespace

void run_loader(std::function<void()> job) {
  pool().submit(std::move(job));
}

std::size_t loader_threads() {
  auto& p = pool();
  std::lock_guard<std::mutex> guard{p.mtx};
  return p.threads;
}

} // namespace cachet::detail
