// A read-mostly routing table shared as a constant snapshot, after "Using
// constant pools to speed up your Elixir code" (persistent_term, fastglobal).
//
// The owner publishes whole new versions of the table with `publish`; reader
// threads look routes up with `visit`, which takes no lock and copies
// nothing, while publishes go on. A reader that needs a version for longer
// holds `acquire()`'s shared_ptr: later publishes do not touch it.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <fmt/core.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

struct route {
  std::string prefix;
  std::string backend;
  std::uint64_t version; // which table it belongs to, for the checks below
};

struct routing_table {
  std::uint64_t version = 0;
  std::vector<route> routes;

  static routing_table make(std::uint64_t v) {
    routing_table t{v, {}};
    for (int i = 0; i < 32; ++i)
      t.routes.push_back({fmt::format("/api/svc{}/", i),
                          fmt::format("10.0.{}.{}:8080", v % 250, i), v});
    return t;
  }

  /// The backend serving `path`, or nullptr.
  const route* lookup(const std::string& path) const {
    for (auto& r : routes)
      if (path.compare(0, r.prefix.size(), r.prefix) == 0)
        return &r;
    return nullptr;
  }

  /// A whole version: every route from this version, none missing.
  bool whole() const {
    if (routes.size() != 32)
      return false;
    for (auto& r : routes)
      if (r.version != version
          || r.backend.rfind(fmt::format("10.0.{}.", version % 250), 0) != 0)
        return false;
    return true;
  }
};

struct reader_report {
  std::uint64_t reads = 0;
  std::uint64_t torn = 0;      // a read that saw a mixture of versions
  std::uint64_t backwards = 0; // a version older than one seen before
  std::set<std::uint64_t> seen;
  std::uint64_t last = 0;
  bool held_intact = true;
};

} // namespace

int main() {
  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};

  // The owner: a scoped actor on the main thread, standing for a config
  // loader; the snapshot lives as long as it does.
  caf::scoped_actor loader{sys};
  auto owned = cachet::make_snapshot(loader.ptr(), {"routes"},
                                     routing_table::make(1));
  if (!owned)
    return 1;

  constexpr int readers = 3;
  constexpr std::uint64_t versions = 2000;
  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::vector<reader_report> reports(readers);
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i)
    threads.emplace_back([&, i] {
      auto& rep = reports[static_cast<std::size_t>(i)];
      auto routes = *cachet::whereis_snapshot<routing_table>(sys, "routes");
      // Reader 0 keeps version 1 for the whole run, e.g. for a request that
      // started before the publishes.
      std::shared_ptr<const routing_table> held;
      if (i == 0)
        held = *routes.acquire();
      ++started;
      auto read_once = [&] {
        auto path = fmt::format("/api/svc{}/orders", rep.reads % 32);
        auto v = routes.visit([&](const routing_table& t) {
          auto* r = t.lookup(path);
          if (r == nullptr || !t.whole())
            ++rep.torn;
          return t.version;
        });
        if (!v || *v < rep.last)
          ++rep.backwards;
        rep.last = v ? *v : rep.last;
        rep.seen.insert(rep.last);
        ++rep.reads;
      };
      while (!done.load(std::memory_order_acquire))
        read_once();
      read_once(); // after the last publish
      if (held)
        rep.held_intact = held->version == 1 && held->whole()
                          && held->routes[7].backend == "10.0.1.7:8080";
    });

  while (started < readers)
    std::this_thread::yield();
  for (std::uint64_t v = 2; v <= versions; ++v)
    owned->publish(routing_table::make(v));
  done.store(true, std::memory_order_release);
  for (auto& t : threads)
    t.join();

  fmt::print("constant pool: {} readers visit a routing table while its owner "
             "publishes {} versions\n",
             readers, versions - 1);
  bool whole = true, monotonic = true, final_seen = true;
  for (int i = 0; i < readers; ++i) {
    auto& rep = reports[static_cast<std::size_t>(i)];
    fmt::print("  reader {}: {} lookups, {} distinct versions seen, last {}\n",
               i, rep.reads, rep.seen.size(), rep.last);
    whole &= rep.torn == 0;
    monotonic &= rep.backwards == 0;
    final_seen &= rep.last == versions;
  }
  bool ok = true;
  auto check = [&ok](bool holds, const char* claim) {
    fmt::print("  [{}] {}\n", holds ? "ok" : "FAILED", claim);
    ok &= holds;
  };
  check(whole, "every lookup saw one whole version, never a mixture");
  check(monotonic, "each reader's versions never went backwards");
  check(final_seen, "after the last publish, every reader sees it");
  check(reports[0].held_intact,
        "the version 1 held by acquire() was intact after all publishes");
  check(owned->publishes() == versions - 1, "publish count");
  return ok ? 0 : 1;
}
