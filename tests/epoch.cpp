// Epoch-based reclamation: retired objects are freed only once no pinned
// reader can hold them, and then they are freed.
#include "cachet/detail/epoch.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace cachet::detail;

namespace {

std::atomic<int> freed{0};

struct tracked {
  ~tracked() {
    ++freed;
  }
};

// Drives reclaim() until nothing waits; bounded, so a bug fails instead of
// hanging.
bool drain() {
  for (int i = 0; i < 100; ++i)
    if (reclaim() == 0)
      return true;
  return false;
}

// A thread that pins, signals, and stays pinned until released.
class pinned_thread {
public:
  pinned_thread() : thread_([this] { run(); }) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return pinned_; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      released_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

private:
  void run() {
    epoch_guard pin;
    std::unique_lock<std::mutex> guard{mtx_};
    pinned_ = true;
    cv_.notify_all();
    cv_.wait(guard, [this] { return released_; });
  }
  std::mutex mtx_;
  std::condition_variable cv_;
  bool pinned_ = false;
  bool released_ = false;
  std::thread thread_;
};

} // namespace

TEST_CASE("retired objects are freed once no reader is pinned") {
  REQUIRE(drain());
  freed = 0;
  for (int i = 0; i < 10; ++i)
    retire(new tracked);
  REQUIRE(drain());
  CHECK(freed == 10);
}

TEST_CASE("a writer that retires while pinned still frees what it retired "
          "before") {
  // Table writes retire what they replace while pinned: their own retires
  // must drain their bag, without anyone calling reclaim().
  REQUIRE(drain());
  freed = 0;
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) {
    epoch_guard pin;
    retire(new tracked);
  }
  // At most the last batches wait.
  CHECK(freed >= n - 4096);
  REQUIRE(drain());
  CHECK(freed == n);
}

TEST_CASE("a pinned reader holds back reclamation until it unpins") {
  REQUIRE(drain());
  freed = 0;
  pinned_thread reader;
  retire(new tracked);
  // The epoch cannot advance twice past the reader: nothing is freed.
  for (int i = 0; i < 10; ++i)
    reclaim();
  CHECK(freed == 0);
  reader.release();
  REQUIRE(drain());
  CHECK(freed == 1);
}

TEST_CASE("free_retired frees all that the epoch allows, and only that") {
  // A thread's first retire advances the epoch (then once a batch): let
  // it happen before counting.
  retire(new tracked);
  REQUIRE(drain());
  freed = 0;
  // Retired now: not safe until the epoch has moved twice, which
  // free_retired does not do.
  for (int i = 0; i < 100; ++i)
    retire(new tracked);
  auto now = global_epoch.load();
  free_retired();
  CHECK(freed == 0);
  CHECK(global_epoch.load() == now);
  // A retire frees at most two; free_retired the whole safe part at once.
  advance_epoch();
  REQUIRE(global_epoch.load() >= now + 2);
  free_retired();
  CHECK(freed == 100);
  REQUIRE(drain());
}

TEST_CASE("a bag that grew behind a long pin gives its room back once "
          "drained") {
  count_retired_bytes();
  REQUIRE(drain());
  freed = 0;
  auto before = retired_bytes();
  constexpr int n = 100000;
  pinned_thread reader; // as a save that holds the epoch for long
  for (int i = 0; i < n; ++i)
    retire(new tracked);
  auto grown = this_thread_slot->bag.capacity();
  // Its records count as retired, and so does the room it grew by.
  CHECK(retired_bytes() - before
        >= static_cast<std::int64_t>(grown * sizeof(retired)
                                     - 4 * 1024 * sizeof(retired)));
  reader.release();
  REQUIRE(grown >= static_cast<std::size_t>(n));
  REQUIRE(drain());
  CHECK(freed == n);
  // Kept at its peak, the bag would hold 32 bytes a retirement for good.
  CHECK(this_thread_slot->bag.capacity() <= 4 * 1024);
  CHECK(retired_bytes() == before);
}

TEST_CASE("nothing counts as retired until a program asks for it") {
  REQUIRE(drain());
  counting_retired = false; // as in a program that never asked
  auto before = retired_bytes();
  pinned_thread reader;
  retire(new tracked, [](void* p) { delete static_cast<tracked*>(p); }, 1000);
  retire_bytes(500);
  CHECK(retired_bytes() == before);
  count_retired_bytes();
  retire(new tracked, [](void* p) { delete static_cast<tracked*>(p); }, 1000);
  CHECK(retired_bytes()
        == before + 1000 + static_cast<std::int64_t>(sizeof(retired)));
  reader.release();
  REQUIRE(drain()); // the uncounted one goes without a trace
  CHECK(retired_bytes() == before);
}

TEST_CASE("retired bytes count what waits for readers, until it is freed") {
  count_retired_bytes();
  REQUIRE(drain());
  auto before = retired_bytes();
  pinned_thread reader;
  for (int i = 0; i < 100; ++i)
    retire(new tracked, [](void* p) { delete static_cast<tracked*>(p); }, 1000);
  retire_bytes(500); // what the last one frees besides itself
  // Each with its record, in a bag that has not outgrown its resting room.
  auto record = static_cast<std::int64_t>(sizeof(retired));
  auto held = 100 * (1000 + record) + 500 + record;
  CHECK(retired_bytes() == before + held);
  for (int i = 0; i < 10; ++i)
    reclaim();
  CHECK(retired_bytes() == before + held); // the reader holds it all
  reader.release();
  REQUIRE(drain());
  CHECK(retired_bytes() == before);
}

TEST_CASE("what an exited thread retired stops counting once others free "
          "it") {
  count_retired_bytes();
  REQUIRE(drain());
  auto before = retired_bytes();
  pinned_thread reader;
  std::thread{[] {
    for (int i = 0; i < 10; ++i)
      retire(new tracked, [](void* p) { delete static_cast<tracked*>(p); },
             100);
  }}.join();
  // Now on the shared list, records and all.
  CHECK(retired_bytes()
        == before + 10 * (100 + static_cast<std::int64_t>(sizeof(retired))));
  reader.release();
  REQUIRE(drain()); // frees the shared list
  CHECK(retired_bytes() == before);
}

TEST_CASE("pins nest: only the outermost unpin releases") {
  REQUIRE(drain());
  freed = 0;
  std::atomic<bool> inner_done{false};
  std::atomic<bool> go_on{false};
  std::thread reader([&] {
    epoch_guard outer;
    {
      epoch_guard inner;
    }
    inner_done = true;
    while (!go_on)
      std::this_thread::yield();
  });
  while (!inner_done)
    std::this_thread::yield();
  retire(new tracked);
  for (int i = 0; i < 10; ++i)
    reclaim();
  CHECK(freed == 0); // still pinned by `outer`
  go_on = true;
  reader.join();
  REQUIRE(drain());
  CHECK(freed == 1);
}

TEST_CASE("what an exited thread retired is freed by others") {
  REQUIRE(drain());
  freed = 0;
  std::thread writer([] {
    for (int i = 0; i < 5; ++i)
      retire(new tracked);
  });
  writer.join();
  REQUIRE(drain());
  CHECK(freed == 5);
}
