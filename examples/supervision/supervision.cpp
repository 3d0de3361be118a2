// A supervision tree holding the read-through link cache: crashes, restarts,
// a restart storm that escalates, and the three table policies side by side.
//
//   root (one_for_one, 10 in 5 s)
//   ├── cache_sup (one_for_one, 3 in 5 s)
//   │   └── links: the link cache owner (heir policy), loading from SQLite
//   └── three generic owners of tables "fresh", "heir" and "reload"
#include "../link_cache/link_cache.hpp"

#include <cachet/cachet.hpp>
#include <cachet/named_table.hpp>

#include <caf/all.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using link_cache::cache_actor;
using kv_owner = cachet::owner_actor<std::string, std::string>;

namespace {

/// The link cache owner as a supervised child: its table's heir is its
/// supervisor, so a restarted owner takes the cached links back.
cachet::child_spec links_child() {
  cachet::child_spec spec;
  spec.id = "links";
  spec.start = [](const cachet::child_context& ctx)
    -> caf::expected<caf::actor> {
    cachet::table_options opts{"links"};
    opts.heir = ctx.supervisor.address();
    return caf::actor_cast<caf::actor>(
      ctx.system.spawn(link_cache::cache, std::move(opts)));
  };
  return spec;
}

/// Polls `sup` until its child `id` runs as an actor other than `old`.
caf::actor child_of(cachet::blocking_caller& caller,
                    const cachet::supervisor_actor& sup, const std::string& id,
                    const caf::actor& old = {}) {
  for (int i = 0; i < 5000; ++i) {
    if (auto kids = caller.call(sup, 1s, cachet::which_children_atom_v))
      for (auto& k : *kids)
        if (k.id == id && k.child && k.child != old)
          return k.child;
    std::this_thread::sleep_for(1ms);
  }
  return {};
}

std::string size_of(caf::actor_system& sys, const std::string& name) {
  cachet::named_table<std::string, std::string> t{sys, name, 1s};
  auto n = t.size();
  return n ? std::to_string(*n) + " entries" : sys.render(n.error());
}

} // namespace

int main() {
  char db_path[] = "/tmp/cachet-supervision-XXXXXX";
  int fd = mkstemp(db_path);
  if (fd < 0)
    return 1;
  close(fd);
  std::remove(db_path);
  link_cache::links_db db{db_path};
  auto dump_path = std::string{db_path} + ".dump";

  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};
  cachet::blocking_caller caller{sys};

  cachet::supervisor_flags root_flags;
  root_flags.intensity = 10;
  cachet::supervisor_flags cache_flags;
  cache_flags.intensity = 3; // Elixir's default: 3 restarts in 5 s
  cachet::table_options reload_opts{"reload", cachet::access_mode::public_};
  reload_opts.dump_file = dump_path;
  auto root = cachet::start_supervisor(
    sys, root_flags,
    {cachet::supervisor_child("cache_sup", cache_flags, {links_child()}),
     cachet::owner_child<std::string, std::string>(
       "fresh", {"fresh", cachet::access_mode::public_},
       cachet::table_policy::fresh),
     cachet::owner_child<std::string, std::string>(
       "heir", {"heir", cachet::access_mode::public_}, cachet::table_policy::heir),
     cachet::owner_child<std::string, std::string>(
       "reload", reload_opts, cachet::table_policy::reload)});
  if (!root) {
    fmt::print("the tree did not start: {}\n", sys.render(root.error()));
    return 1;
  }
  auto cache_sup = caf::actor_cast<cachet::supervisor_actor>(
    child_of(caller, *root, "cache_sup"));
  fmt::print("supervision tree started: root -> cache_sup -> links; "
             "root -> fresh, heir, reload\n\n");

  // 1. The link cache in use: misses load from SQLite, hits come directly.
  auto links = caf::actor_cast<cache_actor>(child_of(caller, cache_sup, "links"));
  cachet::named_table<std::string, std::string> links_tab{sys, "links", 1s};
  auto resolve = [&](const std::string& slug) {
    auto tab = links_tab.resolve();
    if (!tab)
      return std::string{"(no table)"};
    auto url = link_cache::fetch(*tab, caller, links, slug,
                                 [&db, slug] { return db.by_slug(slug); });
    return url.value_or("(not found)");
  };
  for (auto slug : {"slug-1", "slug-2", "slug-3", "slug-1"})
    fmt::print("fetch {:<7} -> {}\n", slug, resolve(slug));
  fmt::print("database queries so far: {}\n\n", db.queries.load());

  // 2. Crashes of the cache owner, each restarted by cache_sup.
  auto crash = [&](const char* how, auto inject) {
    auto old = caf::actor_cast<caf::actor>(links);
    inject(old);
    links = caf::actor_cast<cache_actor>(child_of(caller, cache_sup, "links", old));
    fmt::print("{:<34} restarted as actor #{}; cache holds {}\n", how,
               links ? links->id() : 0, size_of(sys, "links"));
  };
  crash("exception (a loader that throws):", [&](const caf::actor&) {
    caf::anon_send(links, link_cache::fetch_atom_v, std::string{"slug-999"},
                   link_cache::loader{[]() -> std::optional<std::string> {
                     throw std::runtime_error("database on fire");
                   }});
  });
  crash("kill:", [&](const caf::actor& old) {
    caf::anon_send_exit(old, caf::exit_reason::kill);
  });
  crash("poison message (throwing update):", [&](const caf::actor&) {
    caf::anon_send(caf::actor_cast<kv_owner>(links), cachet::update_atom_v,
                   std::string{"slug-1"},
                   cachet::updater<std::string>{[](std::string&) {
                     throw std::runtime_error("poison");
                   }});
  });
  auto url = resolve("slug-2"); // before reading the query count
  fmt::print("fetch slug-2 after three crashes -> {} (queries: {}: still "
             "cached)\n\n",
             url, db.queries.load());

  // 3. A restart storm: cache_sup allows 3 restarts in 5 s, and has used 3.
  //    One more and it gives up, stopping its child and exiting with
  //    shutdown; root sees that and restarts cache_sup, which starts a fresh
  //    cache owner (the table's heir, cache_sup, died, so the table did too).
  auto old_cache_sup = caf::actor_cast<caf::actor>(cache_sup);
  {
    caf::scoped_actor self{sys};
    self->monitor(old_cache_sup);
    caf::anon_send_exit(links, caf::exit_reason::kill);
    self->receive([&](caf::down_msg& down) {
      fmt::print("restart storm: cache_sup exceeded 3 restarts in 5 s and "
                 "exited with {}\n",
                 sys.render(down.reason));
    });
  }
  cache_sup = caf::actor_cast<cachet::supervisor_actor>(
    child_of(caller, *root, "cache_sup", old_cache_sup));
  links = caf::actor_cast<cache_actor>(child_of(caller, cache_sup, "links"));
  fmt::print("escalated: root restarted cache_sup; the new cache holds {}\n",
             size_of(sys, "links"));
  url = resolve("slug-2");
  fmt::print("fetch slug-2 -> {} (queries: {}: loaded again)\n\n", url,
             db.queries.load());

  // 4. The three table policies side by side: write a, b, c to each table,
  //    dump after b, then crash every owner.
  fmt::print("table policies: a, b, c written; the reload table dumped after "
             "b; then each owner is killed\n");
  fmt::print("{:<8} {:<14} {:<14} {}\n", "policy", "before crash",
             "after restart", "what survives");
  for (auto name : {"fresh", "heir", "reload"}) {
    auto owner = caf::actor_cast<kv_owner>(child_of(caller, *root, name));
    cachet::named_table<std::string, std::string> tab{sys, name, 1s};
    tab.insert("a", "1");
    tab.insert("b", "2");
    if (std::string{name} == "reload")
      caller.call(owner, 1s, cachet::dump_atom_v, dump_path);
    tab.insert("c", "3");
    auto before = size_of(sys, name);
    caf::anon_send_exit(owner, caf::exit_reason::kill);
    child_of(caller, *root, name, caf::actor_cast<caf::actor>(owner));
    auto after = size_of(sys, name);
    const char* survives = std::string{name} == "fresh" ? "nothing (ETS default)"
                           : std::string{name} == "heir"
                             ? "everything: the supervisor held the table"
                             : "the last dump: a and b, not c";
    fmt::print("{:<8} {:<14} {:<14} {}\n", name, before, after, survives);
  }

  caf::scoped_actor self{sys};
  self->monitor(*root);
  caf::anon_send_exit(*root, caf::exit_reason::user_shutdown);
  self->receive([&](caf::down_msg& down) {
    fmt::print("\nroot stopped ({}): children stopped in reverse start order\n",
               sys.render(down.reason));
  });
  std::remove(db_path);
  std::remove(dump_path.c_str());
  return 0;
}
