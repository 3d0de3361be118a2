// Non-template parts of cachet's caches (cache.hpp).
//
// Loader threads: a cache never runs a loader on the thread of the caller
// that waits for it, nor on an owner's mailbox thread, so that a caller can
// give up after the load timeout and so that the owner keeps serving other
// requests meanwhile. Jobs go to a process-wide pool that starts a thread
// whenever no idle one is waiting: a job never queues behind another, which
// is what keeps a hung loader from blocking loads of other keys. Idle
// threads end after `idle_limit`; the pool's state is never freed (threads
// may outlive main's locals), so it cannot be torn down under a worker.
//
// The cache registry maps (actor system, name) to a weak pointer to the
// cache's core, next to the table registry that reserves the name itself.
#include "cachet/detail/cache_support.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <xxhash.h>

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

struct cache_entry_ref {
  std::type_index type;
  std::weak_ptr<void> core;
};

struct cache_registry {
  std::mutex mtx;
  std::map<std::pair<const caf::actor_system*, std::string>, cache_entry_ref>
    entries;
};

cache_registry& registry() {
  static auto* r = new cache_registry;
  return *r;
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

std::uint64_t hash_bytes(const void* data, std::size_t size) noexcept {
  return XXH3_64bits(data, size);
}

bool register_cache(const caf::actor_system& sys, const std::string& name,
                    std::type_index type, std::weak_ptr<void> core) {
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto [i, added] = r.entries.try_emplace({&sys, name},
                                          cache_entry_ref{type, core});
  if (added)
    return true;
  if (!i->second.core.expired())
    return false;
  i->second = cache_entry_ref{type, std::move(core)};
  return true;
}

namespace {

/// Attachable subtype of cache keepers ('ckep'), apart from CAF's own.
constexpr std::size_t keeper_subtype = 0x636b6570;

class keeper : public caf::attachable {
public:
  keeper(const void* core, std::function<void()> on_exit)
    : core_(core), on_exit_(std::move(on_exit)) {
    // nop
  }

  void actor_exited(const caf::error&, caf::execution_unit*) override {
    on_exit_();
  }

  bool matches(const token& what) override {
    return what.subtype == keeper_subtype && what.ptr == core_;
  }

private:
  const void* core_;
  std::function<void()> on_exit_;
};

} // namespace

std::unique_ptr<caf::attachable> make_keeper(const void* core,
                                             std::function<void()> on_exit) {
  return std::make_unique<keeper>(core, std::move(on_exit));
}

caf::attachable::token keeper_token(const void* core) {
  return caf::attachable::token{keeper_subtype, core};
}

void unregister_cache(const caf::actor_system& sys, const std::string& name,
                      const void* core) {
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto i = r.entries.find({&sys, name});
  if (i == r.entries.end())
    return;
  auto current = i->second.core.lock();
  if (!current || current.get() == core)
    r.entries.erase(i);
}

std::shared_ptr<void> find_cache(const caf::actor_system& sys,
                                 const std::string& name, std::type_index type,
                                 bool& wrong_type) {
  wrong_type = false;
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto i = r.entries.find({&sys, name});
  if (i == r.entries.end())
    return nullptr;
  auto core = i->second.core.lock();
  if (!core) {
    r.entries.erase(i);
    return nullptr;
  }
  if (i->second.type != type) {
    wrong_type = true;
    return nullptr;
  }
  return core;
}

} // namespace cachet::detail
