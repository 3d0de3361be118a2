// Round-trip latency of one lookup on each access path, measured side by side
// in one run: direct read, actor -> owner request, blocking_caller from a
// plain thread (lending its thread, and not), and caf::scoped_actor (reused,
// and made per call). Then lookup throughput with 1 and 2 threads, direct vs
// through the mailbox (blocking_caller with thread lending).
//
// Usage: cachet-call-bench [samples]   (default 20000 per path)
#include <cachet/cachet.hpp>

#include <caf/all.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using table_owner = cachet::owner_actor<std::uint64_t, std::uint64_t>;

namespace {

struct summary {
  double p50;
  double p99;
};

summary summarize(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
  return {at(0.5), at(0.99)};
}

template <class F>
std::vector<double> time_each(int n, F f) {
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    f(i);
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0)
                   .count());
  }
  return us;
}

// An actor that times `n` sequential lookups on `owner` and reports them;
// the 5 s timeouts come from a cachet::request_timer, or from CAF per request.
void actor_client(caf::event_based_actor* self, table_owner owner, int n,
                  caf::actor report_to, bool caf_timeout) {
  auto samples = std::make_shared<std::vector<double>>();
  samples->reserve(n);
  auto timer = std::make_shared<cachet::request_timer>();
  auto step = std::make_shared<std::function<void(int)>>();
  *step = [=](int i) {
    if (i == n) {
      self->send(report_to, *samples);
      self->quit();
      return;
    }
    auto t0 = clock_type::now();
    auto done = [=](std::optional<std::uint64_t>) {
      samples->push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - t0)
          .count());
      (*step)(i + 1);
    };
    auto key = std::uint64_t(i % 1000);
    if (caf_timeout)
      self->request(owner, 5s, cachet::lookup_atom_v, key).then(done);
    else
      timer->request(self, owner, 5s, cachet::lookup_atom_v, key).then(done);
  };
  (*step)(0);
}

// Lookups per second summed over `threads` threads running `op` for `span`.
template <class Op>
double throughput(int threads, std::chrono::milliseconds span, Op op) {
  std::atomic<bool> stop{false};
  std::vector<std::uint64_t> counts(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto work = op(); // per-thread state, e.g. a blocking_caller
      std::uint64_t n = 0;
      std::uint64_t key = t * 7919;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 64; ++i)
          work(key++ % 1000);
        n += 64;
      }
      counts[t] = n;
    });
  std::this_thread::sleep_for(span);
  stop = true;
  for (auto& w : workers)
    w.join();
  double total = 0;
  for (auto c : counts)
    total += c;
  return total / std::chrono::duration<double>(span).count();
}

} // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<double>)

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  caf::actor_system_config cfg;
  cachet::configure(cfg);
  caf::actor_system sys{cfg};
  auto owner = *cachet::spawn_owner<std::uint64_t, std::uint64_t>(sys, {"bench"});
  auto tab = *cachet::whereis<std::uint64_t, std::uint64_t>(sys, "bench");
  cachet::blocking_caller caller{sys, cachet::thread_lending::on};
  cachet::blocking_caller unlent{sys};
  for (std::uint64_t k = 0; k < 1000; ++k)
    caller.call(owner, 5s, cachet::insert_atom_v, k, k * k);

  struct row {
    std::string path;
    summary s;
  };
  std::vector<row> rows;
  auto add = [&](std::string path, std::vector<double> us) {
    rows.push_back({std::move(path), summarize(us)});
  };

  std::uint64_t sink = 0;
  add("direct lookup (protected table)", time_each(n, [&](int i) {
        sink += tab.lookup(i % 1000)->value_or(0);
      }));
  for (bool caf_timeout : {false, true}) {
    caf::scoped_actor self{sys};
    self->spawn(actor_client, owner, n, caf::actor_cast<caf::actor>(self),
                caf_timeout);
    self->receive([&](std::vector<double>& us) {
      add(caf_timeout ? "actor -> owner, CAF request timeout"
                      : "actor -> owner, cachet::request_timer",
          std::move(us));
    });
  }
  add("blocking_caller.call (thread)", time_each(n, [&](int i) {
        sink += caller.call(owner, 5s, cachet::lookup_atom_v,
                            std::uint64_t(i % 1000))
                  ->value_or(0);
      }));
  add("blocking_caller.call, no lending", time_each(n / 10, [&](int i) {
        sink += unlent.call(owner, 5s, cachet::lookup_atom_v,
                            std::uint64_t(i % 1000))
                  ->value_or(0);
      }));
  {
    caf::scoped_actor self{sys};
    add("scoped_actor, reused (thread)", time_each(n, [&](int i) {
          self->request(owner, 5s, cachet::lookup_atom_v, std::uint64_t(i % 1000))
            .receive([&](std::optional<std::uint64_t> v) { sink += v.value_or(0); },
                     [](caf::error&) {});
        }));
  }
  add("scoped_actor per call (thread)", time_each(n / 10, [&](int i) {
        caf::scoped_actor self{sys};
        self->request(owner, 5s, cachet::lookup_atom_v, std::uint64_t(i % 1000))
          .receive([&](std::optional<std::uint64_t> v) { sink += v.value_or(0); },
                   [](caf::error&) {});
      }));

  fmt::print("one lookup, round trip on each path ({} samples; {} cores)\n",
             n, std::thread::hardware_concurrency());
  fmt::print("{:<38} {:>10} {:>10} {:>14}\n", "path", "p50 (us)", "p99 (us)",
             "p50 vs caller");
  double caller_p50 = 0;
  for (auto& r : rows)
    if (r.path == "blocking_caller.call (thread)")
      caller_p50 = r.s.p50;
  for (auto& r : rows)
    fmt::print("{:<38} {:>10.2f} {:>10.2f} {:>13.1f}x\n", r.path, r.s.p50,
               r.s.p99, r.s.p50 / caller_p50);

  // Throughput: the mailbox is one queue; direct reads run in parallel.
  // Each thread keeps its own tally: nothing shared is written per read.
  auto direct = [&] {
    return [&, hits = std::uint64_t{0}](std::uint64_t k) mutable {
      hits += tab.lookup(k)->value_or(0);
      asm volatile("" : "+r"(hits)); // keep the read
    };
  };
  auto message = [&] {
    return [&, hits = std::uint64_t{0},
            c = std::make_shared<cachet::blocking_caller>(
              sys, cachet::thread_lending::on)](std::uint64_t k) mutable {
      hits += c->call(owner, 5s, cachet::lookup_atom_v, k)->value_or(0);
    };
  };
  fmt::print("\nlookups per second, 1000 keys (median of 3 runs of 300 ms)\n");
  fmt::print("{:<38} {:>14} {:>14}\n", "path", "1 thread", "2 threads");
  auto median3 = [](auto f) {
    double xs[3] = {f(), f(), f()};
    std::sort(xs, xs + 3);
    return xs[1];
  };
  double d1 = median3([&] { return throughput(1, 300ms, direct); });
  double d2 = median3([&] { return throughput(2, 300ms, direct); });
  double m1 = median3([&] { return throughput(1, 300ms, message); });
  double m2 = median3([&] { return throughput(2, 300ms, message); });
  fmt::print("{:<38} {:>14.0f} {:>14.0f}\n", "direct (protected table)", d1, d2);
  fmt::print("{:<38} {:>14.0f} {:>14.0f}\n", "messages (blocking_caller)", m1, m2);
  fmt::print("{:<38} {:>13.0f}x {:>13.0f}x\n", "direct / messages", d1 / m1,
             d2 / m2);
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
  return sink == 42 ? 2 : 0; // keep `sink` alive
}
