// A read-through link cache (URL shortener) over a real SQLite database.
//
// After "Make Phoenix Even Faster with a GenServer-backed Key Value Store":
// an owner actor holds a protected table of slug -> URL and adds one handler
// of its own, fetch(slug, loader). Request handlers read the table directly
// (no mailbox); only a miss goes to the owner, which runs the loader (a
// database query) and stores the result. Because the owner serves one fetch
// at a time and checks the table first, concurrent misses on one slug query
// the database once.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <fmt/core.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;

CAF_ADD_ATOM(link_cache, link_cache, fetch_atom, "fetch")

namespace link_cache {

/// Produces the value for a missing key, or nullopt if there is none.
struct loader {
  std::function<std::optional<std::string>()> fn;
};

} // namespace link_cache

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(link_cache::loader)

namespace link_cache {

using table = cachet::table<std::string, std::string>;
using owned = cachet::owned_table<std::string, std::string>;

using cache_actor = cachet::owner_actor<std::string, std::string>::extend<
  caf::replies_to<fetch_atom, std::string, loader>::with<
    std::optional<std::string>>>;

struct cache_state {
  std::optional<owned> tab;
  static inline const char* name = "link_cache";
};

cache_actor::behavior_type
cache(cache_actor::stateful_pointer<cache_state> self, std::string name) {
  auto tab = cachet::make_table<std::string, std::string>(self, {name});
  if (!tab) {
    self->quit(tab.error());
    return cache_actor::behavior_type::make_empty_behavior();
  }
  self->state.tab.emplace(std::move(*tab));
  return cachet::serve<cache_actor>(
    *self->state.tab,
    [=](fetch_atom, const std::string& slug,
        const loader& load) -> std::optional<std::string> {
      auto& t = *self->state.tab;
      // Another caller's fetch may have loaded it while this one queued.
      if (auto hit = t.lookup(slug); hit && *hit)
        return *hit;
      auto value = load.fn();
      if (value)
        t.insert(slug, *value);
      return value;
    });
}

/// The read-through fetch callers use: a direct read, and on a miss a call to
/// the owner. Mirrors LinkCache.Cache.fetch/2.
std::optional<std::string> fetch(const table& tab, cachet::blocking_caller& caller,
                                 const cache_actor& owner, const std::string& slug,
                                 std::function<std::optional<std::string>()> load) {
  if (auto hit = tab.lookup(slug); hit && *hit)
    return *hit;
  auto res = caller.call(owner, 5s, fetch_atom_v, slug, loader{std::move(load)});
  return res ? *res : std::nullopt;
}

} // namespace link_cache

namespace {

// A links database: slug-N -> https://example.com/article/N.
class links_db {
public:
  explicit links_db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    exec("CREATE TABLE links (slug TEXT PRIMARY KEY, url TEXT NOT NULL)");
    exec("BEGIN");
    for (int i = 0; i < 1000; ++i)
      exec(fmt::format("INSERT INTO links VALUES ('slug-{0}', "
                       "'https://example.com/article/{0}')",
                       i));
    exec("COMMIT");
    sqlite3_prepare_v2(db_, "SELECT url FROM links WHERE slug = ?", -1, &query_,
                       nullptr);
  }

  ~links_db() {
    sqlite3_finalize(query_);
    sqlite3_close(db_);
  }

  /// One real query; counted.
  std::optional<std::string> by_slug(const std::string& slug) {
    ++queries;
    sqlite3_reset(query_);
    sqlite3_bind_text(query_, 1, slug.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(query_) != SQLITE_ROW)
      return std::nullopt;
    return std::string{
      reinterpret_cast<const char*>(sqlite3_column_text(query_, 0))};
  }

  std::atomic<int> queries{0};

private:
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err;
      sqlite3_free(err);
      throw std::runtime_error(msg);
    }
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* query_ = nullptr;
};

} // namespace

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
  auto owner = sys.spawn(link_cache::cache, std::string{"links"});
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
