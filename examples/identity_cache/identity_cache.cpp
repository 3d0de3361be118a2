// A read-through record cache with a secondary index over SQLite, after
// Shopify's "IdentityCache: Improving Performance one Cached Model at a
// Time": `fetch(id)` and `fetch_by("email", …)` go to the database only on a
// miss, and a write to a row is followed by an explicit expiry of its cache
// entry (IdentityCache's after_commit hook), so the next read sees the row.
//
// The cache is public: as with memcached behind IdentityCache, every request
// thread reads through it and expires what its own commits changed. The
// owner actor only holds the cache's lifetime.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <fmt/core.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct user {
  std::int64_t id = 0;
  std::string email;
  std::string name;
};

// The owner (spawn_cache) passes records in messages: CAF needs inspect().
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user& x) {
  return f(caf::meta::type_name("user"), x.id, x.email, x.name);
}

/// A `users` table in SQLite. One connection, one statement at a time;
/// every SELECT that reaches SQLite is counted.
class users_db {
public:
  explicit users_db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE "
         "NOT NULL, name TEXT NOT NULL)");
    exec("BEGIN");
    for (int i = 1; i <= 100; ++i)
      exec(fmt::format("INSERT INTO users VALUES ({0}, 'user{0}@example.com', "
                       "'User {0}')", i));
    exec("COMMIT");
  }

  ~users_db() { sqlite3_close(db_); }

  std::optional<user> find(std::int64_t id) {
    return select("SELECT id, email, name FROM users WHERE id = ?",
                  [&](sqlite3_stmt* q) { sqlite3_bind_int64(q, 1, id); });
  }

  std::optional<user> find_by_email(const std::string& email) {
    return select("SELECT id, email, name FROM users WHERE email = ?",
                  [&](sqlite3_stmt* q) {
                    sqlite3_bind_text(q, 1, email.c_str(), -1, SQLITE_TRANSIENT);
                  });
  }

  void exec(const std::string& sql) {
    std::lock_guard<std::mutex> guard{mtx_};
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err;
      sqlite3_free(err);
      throw std::runtime_error(msg);
    }
  }

  std::atomic<int> queries{0};

private:
  template <class Bind>
  std::optional<user> select(const char* sql, Bind bind) {
    std::lock_guard<std::mutex> guard{mtx_};
    ++queries;
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(db_, sql, -1, &q, nullptr);
    bind(q);
    std::optional<user> out;
    if (sqlite3_step(q) == SQLITE_ROW)
      out = user{sqlite3_column_int64(q, 0),
                 reinterpret_cast<const char*>(sqlite3_column_text(q, 1)),
                 reinterpret_cast<const char*>(sqlite3_column_text(q, 2))};
    sqlite3_finalize(q);
    return out;
  }

  std::mutex mtx_;
  sqlite3* db_ = nullptr;
};

bool check(bool ok, const char* claim) {
  fmt::print("  [{}] {}\n", ok ? "ok" : "FAILED", claim);
  return ok;
}

} // namespace

int main() {
  char path[] = "/tmp/cachet-users-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return 1;
  close(fd);
  users_db db{path};

  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};

  // IdentityCache's `cache_index :email, unique: true`.
  cachet::cache_options<std::int64_t, user> opts;
  opts.name = "users";
  opts.mode = cachet::access_mode::public_;
  opts.indexes.push_back({"email", [](const std::int64_t&, const user& u) {
                            return std::optional<std::string>{u.email};
                          }});
  auto owner = cachet::spawn_cache(sys, opts);
  if (!owner)
    return 1;
  auto users = *cachet::whereis_cache<std::int64_t, user>(sys, "users");

  // User.fetch(id): a missing row is an error, as ActiveRecord's find.
  auto find = [&db](const std::int64_t& id) {
    if (auto u = db.find(id))
      return *u;
    throw std::runtime_error(fmt::format("no user {}", id));
  };
  // User.fetch_by_email(email): nullopt (nothing cached) if there is none.
  auto find_by_email = [&db](const std::string& email)
    -> std::optional<std::pair<std::int64_t, user>> {
    if (auto u = db.find_by_email(email))
      return std::make_pair(u->id, *u);
    return std::nullopt;
  };

  // 1. Four request threads start together and fetch ids 1..50 in turn, 500
  //    times over: concurrent misses of one id share one query.
  constexpr int threads = 4, rounds = 500, ids = 50;
  std::atomic<int> ready{0}, wrong{0};
  std::vector<std::thread> handlers;
  for (int t = 0; t < threads; ++t)
    handlers.emplace_back([&, h = users] () mutable {
      ++ready;
      while (ready < threads)
        std::this_thread::yield();
      for (int i = 0; i < rounds * ids; ++i) {
        std::int64_t id = i % ids + 1;
        auto u = h.fetch(id, find);
        if (!u || u->id != id || u->email != fmt::format("user{}@example.com", id))
          ++wrong;
      }
    });
  for (auto& h : handlers)
    h.join();
  bool ok = true;
  fmt::print("IdentityCache over SQLite: {} threads x {} fetches of {} ids\n",
             threads, rounds * ids, ids);
  ok &= check(wrong == 0, "every fetch returned its own row");
  ok &= check(db.queries == ids, "one SELECT per id, however many readers");
  auto fetches = static_cast<std::uint64_t>(threads * rounds * ids);
  auto st = users.stats().value();
  ok &= check(st.loads == ids && st.hits + st.misses == fetches,
              "stats count every fetch and one load per id");

  // 2. By index key: a cached row answers without SQL; an uncached one is
  //    loaded once and cached under both keys; no row caches nothing.
  auto before = db.queries.load();
  auto u7 = users.fetch_by("email", "user7@example.com", find_by_email);
  ok &= check(u7 && *u7 && (*u7)->id == 7 && db.queries == before,
              "fetch_by(email) of a cached row: no query");
  auto u77 = users.fetch_by("email", "user77@example.com", find_by_email);
  auto again = users.fetch(77, find);
  ok &= check(u77 && *u77 && again && again->name == "User 77"
                && db.queries == before + 1,
              "fetch_by(email) loads once, then fetch(77) hits");
  auto none1 = users.fetch_by("email", "nobody@example.com", find_by_email);
  auto none2 = users.fetch_by("email", "nobody@example.com", find_by_email);
  ok &= check(none1 && !*none1 && none2 && !*none2 && db.queries == before + 3,
              "an unknown email resolves to nothing, asked each time "
              "(absence is not cached)");

  // 3. An update, then the after-commit expiry. Until the expiry the cache
  //    still serves the old row: expiry is what keeps it honest.
  db.exec("UPDATE users SET email = 'ada@example.org', name = 'Ada' "
          "WHERE id = 7");
  auto cached = users.fetch(7, find);
  ok &= check(cached && cached->email == "user7@example.com",
              "before the expiry: fetch(7) still gives the cached old row");
  auto expired = users.invalidate(7);
  ok &= check(expired && *expired, "after commit: invalidate(7)");
  before = db.queries.load();
  auto fresh = users.fetch(7, find);
  ok &= check(fresh && fresh->email == "ada@example.org" && fresh->name == "Ada"
                && db.queries == before + 1,
              "the next fetch(7) queries once and sees the new row");
  auto old_email = users.get_by("email", "user7@example.com");
  auto old_loaded = users.fetch_by("email", "user7@example.com", find_by_email);
  auto new_email = users.fetch_by("email", "ada@example.org", find_by_email);
  ok &= check(old_email && !*old_email && old_loaded && !*old_loaded,
              "the old email no longer resolves (cache nor database)");
  ok &= check(new_email && *new_email && (*new_email)->id == 7
                && db.queries == before + 2,
              "the new email is served from the cache");

  st = users.stats().value();
  fmt::print("  stats: {} hits, {} misses, hit ratio {:.4f}, {} loads, "
             "{} SQL queries in all\n",
             st.hits, st.misses, st.hit_ratio(), st.loads, db.queries.load());
  ok &= check(st.hit_ratio() > 0.99 && st.load_failures == 0,
              "over 99% of reads answered without SQL");
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  std::remove(path);
  return ok ? 0 : 1;
}
