// docs/caches.md: cache options, get and fetch on both paths, loaders that
// fail, TTLs and sweeps, bounds, indexes, the removal listener, content
// keys, statistics and constant snapshots. main runs each and checks what
// the guide says.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "claims.hpp"

using namespace std::chrono_literals;

namespace {

snippets::claims check;

std::optional<std::string> query_db(const std::string& slug) {
  if (slug == "missing")
    return std::nullopt;
  return "https://example.org/" + slug;
}

void links(caf::actor_system& sys) {
  std::atomic<int> queries{0};
  // [options]
  cachet::cache_options<std::string, std::string> opts;
  opts.name = "links";                          // whereis_cache finds it
  opts.mode = cachet::access_mode::protected_;  // the default: direct reads
  opts.max_entries = 10'000;                    // never exceeded
  opts.ttl = 10min;                             // a default TTL; put may differ
  opts.load_timeout = 2s;                       // fetch callers wait this long
  // [options]
  // [two_paths]
  auto owner = *cachet::spawn_cache(sys, opts); // serves messages, sweeps TTLs
  auto cache = *cachet::whereis_cache<std::string, std::string>(sys, "links");
  cachet::blocking_caller caller{sys};
  auto url = [&](const std::string& slug) -> std::optional<std::string> {
    if (auto hit = cache.get(slug); hit && *hit)
      return **hit;                             // direct: no lock, no mailbox
    // A miss: read-through by the owner. Concurrent misses of one key share
    // one loader run, on a loader thread; the owner keeps serving meanwhile.
    auto loaded = caller.call(owner, 5s, cachet::fetch_atom_v, slug,
      cachet::cache_loader<std::string, std::string>{
        [&](const std::string& key) {
          ++queries;
          if (auto found = query_db(key))
            return *found;
          throw std::runtime_error("no link " + key); // -> load_failed
        }});
    if (!loaded)
      return std::nullopt;                      // load_failed, load_timeout
    return *loaded;
  };
  auto first = url("abc");                      // loads: one query
  auto second = url("abc");                     // a direct hit
  auto none = url("missing");                   // load_failed: nothing cached
  // [two_paths]
  check(first && second && *first == *second && queries == 2,
        "a miss loads once, the next read is a hit");
  check(!none, "a throwing loader fails the fetch");
  check(!*cache.get("missing"), "a failed load caches nothing");
  auto put = cache.put("x", "y");
  check(!put && put.error() == cachet::errc::access_denied,
        "protected: others read directly, the owner writes");
  auto st = cache.stats();
  check(st && st->loads == 1 && st->load_failures == 1, "stats count loads");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

void stampede(caf::actor_system& sys) {
  cachet::cache_options<std::string, int> opts;
  opts.name = "scores";
  opts.mode = cachet::access_mode::public_;
  auto owner = *cachet::spawn_cache(sys, opts);
  // [fetch]
  // A public cache: any thread may fetch directly (fetch needs write rights).
  auto scores = *cachet::whereis_cache<std::string, int>(sys, "scores");
  std::atomic<int> runs{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto v = scores.fetch("ada", [&](const std::string&) {
        ++runs;                                  // one run for all four
        std::this_thread::sleep_for(10ms);       // the slow query
        return 42;
      });                                        // blocks this thread: 42
    });
  for (auto& t : threads)
    t.join();
  // [fetch]
  check(runs == 1, "concurrent misses of one key share one loader run");
  check(*scores.get("ada") == 42, "the loaded value is cached");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

std::atomic<bool> late_done{false};

void late(caf::actor_system& sys) {
  cachet::cache_options<std::string, int> opts;
  opts.name = "slow";
  opts.mode = cachet::access_mode::public_;
  opts.load_timeout = 10ms;
  auto owner = *cachet::spawn_cache(sys, opts);
  auto slow = *cachet::whereis_cache<std::string, int>(sys, "slow");
  // [load_timeout]
  auto v = slow.fetch("k", [](const std::string&) {
    std::this_thread::sleep_for(50ms);           // outlives load_timeout
    late_done = true;
    return 1;
  });
  // v: load_timeout; the late value is dropped, the next fetch loads again
  // [load_timeout]
  check(!v && v.error() == cachet::errc::load_timeout, "load_timeout");
  snippets::eventually([] { return late_done.load(); });
  std::this_thread::sleep_for(5ms);
  check(!*slow.get("k"), "a late value is dropped");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

void ttl(caf::actor_system& sys) {
  // [ttl]
  std::int64_t now_s = 0;                       // a clock moved by hand
  std::map<std::string, cachet::removal_cause> removed;
  cachet::cache_options<std::string, std::string> opts;
  opts.name = "fragments";
  opts.ttl = 30s;                               // every put's default
  opts.touch_on_read = true;                    // a read renews the TTL
  opts.sweep_interval = 0ms;                    // sweep on request only (below)
  opts.clock = [&] {
    return cachet::cache_clock::time_point{std::chrono::seconds{now_s}};
  };
  opts.on_removal = [&](const std::string& k, const std::string&,
                        cachet::removal_cause why) { removed[k] = why; };
  auto owner = *cachet::spawn_cache(sys, opts);
  auto frags = *cachet::whereis_cache<std::string, std::string>(sys, "fragments");
  cachet::blocking_caller caller{sys};
  caller.call(owner, 1s, cachet::insert_atom_v, std::string{"hot"},
              std::string{"<li>hot</li>"});                  // TTL 30 s
  caller.call(owner, 1s, cachet::insert_atom_v, std::string{"cold"},
              std::string{"<li>cold</li>"}, caf::timespan{10s}); // TTL 10 s
  caller.call(owner, 1s, cachet::insert_atom_v, std::string{"logo"},
              std::string{"<img>"}, caf::timespan{0});       // never expires
  now_s = 20;
  auto hot = frags.get("hot");                  // a hit, renewed until t = 50
  auto cold = frags.get("cold");                // nullopt: expired at t = 10
  auto n = frags.size();                        // 3: cold is not swept yet
  auto swept = caller.call(owner, 1s, cachet::sweep_atom_v); // 1: cold
  // removed["cold"] == removal_cause::expired
  // [ttl]
  check(hot && *hot && cold && !*cold, "an expired entry is never returned");
  check(n && *n == 3, "size counts expired entries not yet swept");
  check(swept && *swept == 1, "a sweep removes what expired");
  check(removed.count("cold") == 1
          && removed["cold"] == cachet::removal_cause::expired,
        "the listener is told: expired");
  now_s = 45;
  check(*frags.get("hot") && *frags.get("logo"),
        "touch_on_read renewed hot; a zero TTL never expires");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

void bounds(caf::actor_system& sys) {
  // [bounds]
  std::vector<std::string> evicted;
  cachet::cache_options<int, std::string> opts;
  opts.name = "pages";
  opts.mode = cachet::access_mode::public_;
  opts.max_weight = 1000;                       // bytes of HTML
  opts.weigher = [](const int&, const std::string& html) {
    return static_cast<std::uint64_t>(html.size());
  };
  opts.on_removal = [&](const int&, const std::string&, cachet::removal_cause why) {
    evicted.push_back(cachet::to_string(why));  // "evicted"
  };
  auto owner = *cachet::spawn_cache(sys, opts);
  auto pages = *cachet::whereis_cache<int, std::string>(sys, "pages");
  for (int id = 0; id < 10; ++id)
    pages.put(id, std::string(300, 'x'));       // at most 3 fit at once
  pages.put(99, std::string(2000, 'x'));        // heavier than the bound: evicted at once
  auto st = *pages.stats();                     // st.peak_weight <= 1000
  // [bounds]
  check(st.peak_weight <= 1000 && st.weight <= 1000, "the bound is never exceeded");
  check(st.evictions == 8 && evicted.size() == 8, "each eviction is told");
  check(!*pages.get(99), "an entry heavier than the bound is not kept");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

// [index_types]
struct user {
  std::int64_t id = 0;
  std::string email;
};

// spawn_cache's owner sends values in messages: CAF needs an inspect().
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user& x) {
  return f(caf::meta::type_name("user"), x.id, x.email);
}
// [index_types]

void indexes(caf::actor_system& sys) {
  // [indexes]
  cachet::cache_options<std::int64_t, user> opts;
  opts.name = "users";
  opts.mode = cachet::access_mode::public_;
  opts.indexes.push_back({"email", [](const std::int64_t&, const user& u) {
                            return std::optional<std::string>{u.email};
                          }});                  // unique: one entry per email
  auto owner = *cachet::spawn_cache(sys, opts);
  auto users = *cachet::whereis_cache<std::int64_t, user>(sys, "users");
  users.put(1, user{1, "ada@example.org"});
  auto ada = users.get_by("email", "ada@example.org");  // user 1
  auto bob = users.fetch_by("email", "bob@example.org",
    [](const std::string& email) -> std::optional<std::pair<std::int64_t, user>> {
      return std::make_pair(std::int64_t{2}, user{2, email}); // the row found
    });                                                  // cached as key 2
  auto nobody = users.fetch_by("email", "eve@example.org",
    [](const std::string&) -> std::optional<std::pair<std::int64_t, user>> {
      return std::nullopt;                               // no such row
    });                                                  // nullopt, nothing cached
  users.put(3, user{3, "ada@example.org"});     // takes ada's email: 1 is removed
  auto unknown = users.get_by("phone", "555");  // no_such_key: no such index
  // [indexes]
  check(ada && *ada && (*ada)->id == 1, "get_by reads through the index");
  check(bob && *bob && *users.get(2), "fetch_by caches the entry it loads");
  check(nobody && !*nobody && *users.size() == 2, "nothing cached for none");
  check(!*users.get(1) && (*users.get_by("email", "ada@example.org"))->id == 3,
        "a put taking another entry's index key replaces it");
  check(!unknown && unknown.error() == cachet::errc::no_such_key,
        "an unknown index name: no_such_key");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

// [content_key_types]
struct card_inputs {
  std::string template_name;
  std::int64_t product_id = 0;
  std::int64_t price_cents = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, card_inputs& x) {
  return f(x.template_name, x.product_id, x.price_cents);
}
// [content_key_types]

void content_keys(caf::actor_system&) {
  // [content_key]
  auto a = cachet::content_key(card_inputs{"card@v1", 7, 999});
  auto b = cachet::content_key(card_inputs{"card@v1", 7, 999});
  auto c = cachet::content_key(card_inputs{"card@v1", 7, 1099}); // new price
  // *a == *b: equal inputs, equal keys; *c != *a: an edit gives a new key,
  // and the old fragment is simply never read again
  // [content_key]
  check(a && b && c && *a == *b && *a != *c, "content_key");
}

struct settings {
  int limit = 0;
  std::string banner;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, settings& x) {
  return f(caf::meta::type_name("settings"), x.limit, x.banner);
}

void snapshots(caf::actor_system& sys) {
  caf::scoped_actor self{sys}; // stands in for the owner actor
  // [snapshot]
  // In the owner (its init, say): `self` owns the snapshot.
  auto config = cachet::make_snapshot(self.ptr(), {"config"}, settings{10, "hi"});
  // Anywhere else: no lock, no copy.
  auto cfg = *cachet::whereis_snapshot<settings>(sys, "config");
  auto limit = cfg.visit([](const settings& s) { return s.limit; }); // 10
  auto held = *cfg.acquire();                   // shared_ptr<const settings>
  config->publish(settings{20, "hello"});       // the owner swaps in a version
  auto now = cfg.read();                        // a guard: now->limit == 20
  // held->limit is still 10: a version lives while someone holds it
  auto denied = cfg.publish(settings{});        // access_denied: protected
  // [snapshot]
  check(limit && *limit == 10, "visit returns what f returns");
  check(now && (*now)->limit == 20 && held->limit == 10,
        "readers see whole versions; held ones stay intact");
  check(!denied && denied.error() == cachet::errc::access_denied,
        "protected: only the owner publishes");
  check(config->publishes() == 1, "publishes() counts");
}

void snapshot_owner(caf::actor_system& sys) {
  // [snapshot_owner]
  auto owner = *cachet::spawn_snapshot(sys, {"banner"}, std::string{"hello"});
  cachet::blocking_caller caller{sys};
  caller.call(owner, 1s, cachet::publish_atom_v, std::string{"welcome"});
  auto v = caller.call(owner, 1s, cachet::lookup_atom_v); // a copy: "welcome"
  // [snapshot_owner]
  check(v && *v == "welcome", "spawn_snapshot serves lookup and publish");
  caf::anon_send_exit(owner, cachet::shutdown_reason);
}

} // namespace

int main() {
  return snippets::run(check, links, stampede, late, ttl, bounds, indexes,
                       content_keys, snapshots, snapshot_owner);
}
