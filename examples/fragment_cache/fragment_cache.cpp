// A fragment cache: rendered HTML keyed by the content of its inputs, after
// "Brutal fragment cache" (julik live) and Rails/Phoenix fragment caching.
//
// A fragment's key is `content_key` of everything that determines it (the
// template and the product record), so editing a product yields a new key:
// nobody invalidates the old fragment, it is simply never read again. Reads
// renew a fragment's TTL (touch_on_read), so the fragments pages keep
// showing stay while cold ones expire and the owner's sweep drops them; a
// byte budget (max_weight, weighed by the HTML's size) bounds the whole.
// The program moves the cache's clock itself: no sleeps, same run each time.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct product {
  std::int32_t id = 0;
  std::string name;
  std::int64_t price_cents = 0;
};

/// Everything a product card depends on: its key is content_key of this.
struct card_inputs {
  std::string template_name;
  product item;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, product& x) {
  return f(x.id, x.name, x.price_cents);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, card_inputs& x) {
  return f(x.template_name, x.item);
}

std::atomic<int> renders{0};

/// The slow part the cache saves: ~200 bytes of HTML per card.
std::string render_card(const product& p) {
  ++renders;
  return fmt::format("<article class=\"product-card\" id=\"product-{0}\">\n"
                     "  <img src=\"/images/{0}/thumb.jpg\" alt=\"{1}\">\n"
                     "  <h2>{1}</h2>\n  <p class=\"price\">${2}.{3:02}</p>\n"
                     "</article>\n",
                     p.id, p.name, p.price_cents / 100, p.price_cents % 100);
}

/// The cache's clock, moved by the program.
std::atomic<std::int64_t> now_ns{0};

} // namespace

int main() {
  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};

  constexpr std::uint64_t budget = 4096; // bytes of HTML
  std::atomic<std::uint64_t> expired{0}, evicted{0};
  cachet::cache_options<std::uint64_t, std::string> opts;
  opts.name = "fragments";
  opts.mode = cachet::access_mode::public_; // request handlers fetch directly
  opts.ttl = 30s;
  opts.touch_on_read = true;
  opts.max_weight = budget;
  opts.weigher = [](const std::uint64_t&, const std::string& html) {
    return static_cast<std::uint64_t>(html.size());
  };
  opts.clock = [] {
    return cachet::cache_clock::time_point{std::chrono::nanoseconds{now_ns}};
  };
  opts.sweep_interval = 0ms; // this demo asks the owner to sweep, below
  opts.on_removal = [&](const std::uint64_t&, const std::string&,
                        cachet::removal_cause why) {
    if (why == cachet::removal_cause::expired)
      ++expired;
    else if (why == cachet::removal_cause::evicted)
      ++evicted;
  };
  auto owner = cachet::spawn_cache(sys, opts);
  if (!owner)
    return 1;
  auto fragments = *cachet::whereis_cache<std::uint64_t, std::string>(
    sys, "fragments");
  cachet::blocking_caller caller{sys};

  std::vector<product> catalog;
  for (int i = 0; i < 60; ++i)
    catalog.push_back({i, fmt::format("Product number {:02}", i), 999 + i * 100});
  // Rails' `cache [template, product] do render end`.
  auto key_of = [](const product& p) {
    return cachet::content_key(card_inputs{"products/card@v1", p});
  };
  auto card = [&](const product& p) -> caf::expected<std::string> {
    auto key = key_of(p);
    if (!key)
      return std::move(key.error());
    return fragments.fetch(*key, [p](const std::uint64_t&) {
      return render_card(p);
    });
  };
  // One minute of traffic in 10 s steps: the front page shows products 0-3
  // on every request; then the owner sweeps.
  auto traffic = [&](int steps) {
    for (int s = 0; s < steps; ++s) {
      now_ns += std::chrono::nanoseconds{10s}.count();
      for (int i = 0; i < 4; ++i)
        card(catalog[i]);
      auto n = caller.call(*owner, 1s, cachet::sweep_atom_v);
      fmt::print("  t={:>3}s  sweep removed {}\n", now_ns / 1'000'000'000,
                 n ? *n : 0);
    }
  };
  bool ok = true;
  auto check = [&ok](bool holds, const std::string& claim) {
    fmt::print("  [{}] {}\n", holds ? "ok" : "FAILED", claim);
    ok &= holds;
  };

  fmt::print("fragment cache: TTL 30 s renewed on read, {} byte budget\n",
             budget);
  for (int i = 0; i < 16; ++i) // the first page views render 16 cards
    card(catalog[i]);
  traffic(6);
  check(renders == 16, "16 cards rendered once; 4 hot ones served 24 times");
  check(expired == 12, "the 12 cold cards expired (TTL, owner's sweep)");
  bool hot_cached = true;
  for (int i = 0; i < 4; ++i) {
    auto key = key_of(catalog[i]);
    auto html = key ? fragments.get(*key) : key.error();
    hot_cached &= html && *html;
  }
  check(hot_cached, "the 4 hot cards are still cached");

  fmt::print("product 2 gets a new price\n");
  catalog[2].price_cents = 4999;
  traffic(4);
  check(renders == 17, "its card has a new key: rendered once more");
  check(expired == 13, "the old card was never read again and expired");

  fmt::print("a crawler walks the whole catalog once\n");
  for (auto& p : catalog)
    card(p);
  auto st = fragments.stats().value();
  auto high = st.peak_weight;
  fmt::print("  {} renders, {} evicted, {} entries, most bytes ever held {}\n",
             renders.load(), evicted.load(), fragments.size().value(), high);
  check(renders == 17 + 56, "56 uncached cards rendered, 4 hot ones hit");
  check(evicted > 0 && evicted == st.evictions,
        "the budget forced evictions, each told to the listener");
  check(high <= budget, "the byte budget was never exceeded");
  fmt::print("  stats: {} hits, {} misses, hit ratio {:.2f}\n", st.hits,
             st.misses, st.hit_ratio());
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  return ok ? 0 : 1;
}
