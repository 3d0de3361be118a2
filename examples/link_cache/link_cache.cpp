// A read-through link cache (URL shortener) over a real SQLite database.
//
// After "Make Phoenix Even Faster with a GenServer-backed Key Value Store":
// an owner actor holds a protected table of slug -> URL and adds one handler
// of its own, fetch(slug, loader). Request handlers read the table directly
// (no mailbox); only a miss goes to the owner, which runs the loader (a
// database query) and stores the result. Because the owner serves one fetch
// at a time and checks the table first, concurrent misses on one slug query
// the database once.
#include "link_cache.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <cstdio>
#include <random>
#include <thread>
#include <unistd.h>
#include <vector>

using link_cache::links_db;

int main() {
  char path[] = "/tmp/cachet-links-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return 1;
  close(fd);
  std::remove(path);
  links_db db{path};

  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};
  auto owner = sys.spawn(link_cache::cache, cachet::table_options{"links"});
  // The table appears once the owner's init ran.
  auto tab = cachet::whereis<std::string, std::string>(sys, "links");
  while (!tab) {
    std::this_thread::yield();
    tab = cachet::whereis<std::string, std::string>(sys, "links");
  }

  // Four "request handlers" resolve 200 popular slugs, 5000 times each.
  constexpr int threads = 4;
  constexpr int requests = 5000;
  std::atomic<int> resolved{0};
  std::vector<std::thread> handlers;
  for (int t = 0; t < threads; ++t)
    handlers.emplace_back([&, t] {
      cachet::blocking_caller caller{sys};
      std::minstd_rand rng(t);
      for (int i = 0; i < requests; ++i) {
        auto slug = fmt::format("slug-{}", rng() % 200);
        auto url = link_cache::fetch(*tab, caller, owner, slug,
                                     [&db, slug] { return db.by_slug(slug); });
        if (url)
          ++resolved;
      }
    });
  for (auto& h : handlers)
    h.join();

  cachet::blocking_caller caller{sys};
  auto unknown = link_cache::fetch(*tab, caller, owner, "no-such-slug",
                                   [&db] { return db.by_slug("no-such-slug"); });
  fmt::print("link cache over SQLite ({} request threads)\n", threads);
  fmt::print("  requests          {}\n", threads * requests);
  fmt::print("  resolved          {}\n", resolved.load());
  fmt::print("  database queries  {} (one per distinct slug)\n",
             db.queries.load() - 1);
  fmt::print("  cached entries    {}\n", tab->size().value());
  fmt::print("  unknown slug      {}\n", unknown ? *unknown : "not found (not cached)");
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
  std::remove(path);
  bool ok = resolved == threads * requests && db.queries - 1 == 200
            && !unknown;
  return ok ? 0 : 1;
}
