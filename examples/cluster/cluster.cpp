// Three cachet nodes on loopback share a partitioned link cache (short code
// -> URL, as the link-cache example, over an in-memory "database"). Node a
// is this process; b and c are copies of it started with `--node`. Node a
// sends traffic through the cache; midway c is killed with SIGKILL. The
// demo shows c's keys re-homing to a and b and the traffic carrying on,
// and exits nonzero if a request hangs, if anything is lost that a
// surviving shard acknowledged, or if traffic does not recover.
//
//   cluster                  runs the demo
//   cluster --node NAME SEED (internal) a node process: prints its port,
//                            serves until its stdin closes
#include <cachet/cachet.hpp>
#include <cachet/dist/node.hpp>
#include <cachet/dist/partitioned_cache.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;
using links = cachet::dist::partitioned_cache<std::string, std::string>;
using shard = cachet::dist::partition<std::string, std::string>;

namespace {

struct config : caf::actor_system_config {
  config() {
    cachet::dist::configure(*this);
    cachet::dist::add_partition_types<std::string, std::string>(*this);
  }
};

/// The "database": every code has a URL; a lookup costs 2 ms.
std::string lookup_url(const std::string& code) {
  std::this_thread::sleep_for(2ms);
  return "https://example.com/" + code;
}

std::optional<shard> start_shard(const cachet::dist::node& n,
                                 std::atomic<int>& loads) {
  cachet::dist::partition_options<std::string, std::string> opts;
  opts.shard.name = "links";
  opts.shard.max_entries = 10000;
  opts.loader = [&loads](const std::string& code) {
    ++loads;
    return lookup_url(code);
  };
  opts.timeout = 2s;
  auto p = shard::start(n, opts);
  if (!p)
    return std::nullopt;
  return std::move(*p);
}

/// A node in a process of its own: b or c.
int run_node(const std::string& name, const std::string& seed) {
  config cfg;
  caf::actor_system sys{cfg};
  cachet::dist::node_options opts;
  opts.name = name;
  if (!seed.empty())
    opts.seeds.push_back(seed);
  auto n = cachet::dist::node::start(sys, opts);
  std::atomic<int> loads{0};
  if (!n)
    return 1;
  auto part = start_shard(*n, loads);
  if (!part)
    return 1;
  std::printf("%u\n", static_cast<unsigned>(n->port()));
  std::fflush(stdout);
  char c;
  while (::read(STDIN_FILENO, &c, 1) > 0) {
    // serve until the demo closes our stdin (or kills us)
  }
  return 0;
}

/// A child node process; stopped by PID.
struct child {
  pid_t pid = -1;
  int to = -1;
  std::uint16_t port = 0;

  child(const std::string& name, const std::string& seed) {
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      return;
    std::string self = "/proc/self/exe";
    std::string flag = "--node";
    std::string n = name;
    std::string s = seed;
    char* argv[] = {self.data(), flag.data(), n.data(), s.data(), nullptr};
    pid = fork();
    if (pid == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      execv(argv[0], argv);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to = in[1];
    // Its port, within 10 s.
    pollfd p{out[0], POLLIN, 0};
    std::string line;
    char ch;
    while (poll(&p, 1, 10000) > 0 && ::read(out[0], &ch, 1) == 1 && ch != '\n')
      line += ch;
    close(out[0]);
    if (!line.empty())
      port = static_cast<std::uint16_t>(std::stoi(line));
  }

  void kill9() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }

  ~child() {
    if (to >= 0)
      close(to); // a clean end for a live child
    if (pid > 0) {
      int status = 0;
      for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(10ms);
      kill9();
    }
  }
};

std::map<std::string, int> homes(links& cache, int keys) {
  std::map<std::string, int> out;
  for (int i = 0; i < keys; ++i)
    ++out[cache.home("code" + std::to_string(i))];
  return out;
}

std::string show(const std::map<std::string, int>& m) {
  std::string out;
  for (auto& [name, n] : m)
    out += fmt::format("{}{}: {}", out.empty() ? "" : ", ", name, n);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string{argv[1]} == "--node")
    return run_node(argv[2], argc >= 4 ? argv[3] : "");
  std::signal(SIGPIPE, SIG_IGN);
  constexpr int keys = 300;
  fmt::print("cluster: three nodes on 127.0.0.1 share a partitioned link "
             "cache of {} codes\n",
             keys);
  config cfg;
  caf::actor_system sys{cfg};
  auto a = cachet::dist::node::start(sys, {"a", "127.0.0.1", 0, {}});
  if (!a) {
    fmt::print("cannot start node a: {}\n", sys.render(a.error()));
    return 1;
  }
  std::string seed = "127.0.0.1:" + std::to_string(a->port());
  child b{"b", seed};
  child c{"c", seed};
  std::atomic<int> loads{0};
  auto part = start_shard(*a, loads);
  if (!part || b.port == 0 || c.port == 0 || !a->await_members(2, 10s)) {
    fmt::print("the cluster did not form\n");
    return 1;
  }
  links cache{*part};
  auto before = homes(cache, keys);
  fmt::print("  homes by rendezvous hashing: {}\n", show(before));
  // Round 1: every code once; misses load at the code's home.
  int ok = 0;
  for (int i = 0; i < keys; ++i)
    ok += cache.fetch("code" + std::to_string(i)) ? 1 : 0;
  fmt::print("  round 1: {} of {} fetches answered, {} loaded here at a\n", ok,
             keys, loads.load());
  // Round 2, with c killed a third of the way in.
  int errors = 0;
  int answered = 0;
  auto worst = std::chrono::nanoseconds{0};
  std::chrono::steady_clock::time_point killed_at;
  std::chrono::steady_clock::time_point down_seen;
  for (int i = 0; i < keys; ++i) {
    if (i == keys / 3) {
      c.kill9();
      killed_at = std::chrono::steady_clock::now();
      fmt::print("  round 2: node c killed with SIGKILL after {} requests\n",
                 i);
    }
    if (c.pid < 0 && down_seen == std::chrono::steady_clock::time_point{}
        && a->members().size() == 1)
      down_seen = std::chrono::steady_clock::now();
    auto t0 = std::chrono::steady_clock::now();
    auto v = cache.fetch("code" + std::to_string(i));
    worst = std::max(worst, std::chrono::steady_clock::now() - t0);
    if (v && *v == lookup_url("code" + std::to_string(i)))
      ++answered;
    else
      ++errors;
  }
  auto after = homes(cache, keys);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    down_seen - killed_at);
  fmt::print("  a saw c down after {} ms; {} requests answered, {} failed "
             "fast, slowest {} ms\n",
             down_seen == std::chrono::steady_clock::time_point{}
               ? -1
               : static_cast<long>(took.count()),
             answered, errors,
             std::chrono::duration_cast<std::chrono::milliseconds>(worst)
               .count());
  fmt::print("  homes now: {}: c's {} codes re-homed to a and b\n",
             show(after), before["c"]);
  // Round 3: everything answers; codes that were c's load at their new
  // homes, the others are still cached where they were.
  int round3 = 0;
  for (int i = 0; i < keys; ++i)
    round3 += cache.fetch("code" + std::to_string(i)) ? 1 : 0;
  fmt::print("  round 3: {} of {} fetches answered\n", round3, keys);
  bool good = ok == keys && round3 == keys && after.count("c") == 0
              && after["a"] + after["b"] == keys && worst < 3s
              && answered + errors == keys;
  fmt::print("{}\n", good ? "ok: traffic carried on across the node's death"
                          : "FAILED");
  return good ? 0 : 1;
}
