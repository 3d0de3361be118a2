// The read-through link cache of the URL-shortener write-up, as a cachet
// owner: the generic table operations plus fetch(slug, loader). Shared by
// examples/link_cache and examples/supervision.
#pragma once

#include <cachet/cachet.hpp>

#include <fmt/core.h>
#include <sqlite3.h>

#include <atomic>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

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

/// The owner: the generic operations plus fetch. Its table is created (or,
/// with an heir, taken back) in init.
inline cache_actor::behavior_type
cache(cache_actor::stateful_pointer<cache_state> self,
      cachet::table_options opts) {
  auto tab = cachet::make_table<std::string, std::string>(self, std::move(opts));
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
inline std::optional<std::string> fetch(const table& tab, cachet::blocking_caller& caller,
                                 const cache_actor& owner, const std::string& slug,
                                 std::function<std::optional<std::string>()> load) {
  if (auto hit = tab.lookup(slug); hit && *hit)
    return *hit;
  auto res = caller.call(owner, std::chrono::seconds{5}, fetch_atom_v, slug,
                         loader{std::move(load)});
  return res ? *res : std::nullopt;
}

} // namespace link_cache

namespace link_cache {

/// A links database in SQLite: slug-N -> https://example.com/article/N.
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

} // namespace link_cache
