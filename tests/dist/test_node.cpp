// A cachet node in a process of its own, for the multi-process tests:
//   cachet-test-node NAME [SEED...]
// starts node NAME on 127.0.0.1, port 0, joining the seeds (host:port), with
// a public table "kv" (std::string -> std::string) and "counts"
// (std::string -> std::uint64_t), a cache "sessions" (std::string ->
// std::string), prints "port N" and serves until its stdin
// closes. Each line on stdin is a command, answered by one line:
//   members        the number of live peers
//   await N MS     "ok" once N peers are live, "timeout" after MS ms
//   get KEY        the value of KEY in kv, or "none"
//   bump KEY N T   T threads of this node each add 1 to KEY in counts N
//                  times through its owner (messages, lending their
//                  thread): the failed calls
//   count KEY      the value of KEY in counts, or 0
// and a partitioned cache "links" (std::string -> std::string) whose loader
// answers "loaded:KEY" after 200 ms and counts its loads:
//   pget KEY       get through the partitioned cache: the value or "none"
//   pfetch KEY     fetch through it: the value, or "error: ..."
//   pput KEY VAL   put through it: "ok" or "error: ..."
//   home KEY       the key's home as this node sees it
//   loads          the loads this node's loader ran
//   local          the entries in this node's shard
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "cachet/cachet.hpp"
#include "cachet/dist/node.hpp"
#include "cachet/dist/partitioned_cache.hpp"
#include "cachet/dist/remote.hpp"

#include <atomic>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: cachet-test-node NAME [SEED...]\n");
    return 2;
  }
  caf::actor_system_config cfg;
  cachet::dist::configure(cfg);
  cachet::dist::add_table_types<std::string, std::string>(cfg);
  cachet::dist::add_table_types<std::string, std::uint64_t>(cfg);
  cachet::dist::add_partition_types<std::string, std::string>(cfg);
  caf::actor_system sys{cfg};
  cachet::table_options kv_opts{"kv"};
  kv_opts.mode = cachet::access_mode::public_;
  auto kv = cachet::spawn_owner<std::string, std::string>(sys, kv_opts);
  cachet::table_options counts_opts{"counts"};
  counts_opts.mode = cachet::access_mode::public_;
  auto counts
    = cachet::spawn_owner<std::string, std::uint64_t>(sys, counts_opts);
  cachet::cache_options<std::string, std::string> sessions_opts;
  sessions_opts.name = "sessions";
  auto sessions = cachet::spawn_cache<std::string, std::string>(sys,
                                                                sessions_opts);
  if (!kv || !counts || !sessions) {
    std::fprintf(stderr, "cannot start the owners\n");
    return 1;
  }
  cachet::dist::node_options opts;
  opts.name = argv[1];
  for (int i = 2; i < argc; ++i)
    opts.seeds.emplace_back(argv[i]);
  auto n = cachet::dist::node::start(sys, opts);
  if (!n) {
    std::fprintf(stderr, "node: %s\n", sys.render(n.error()).c_str());
    return 1;
  }
  std::atomic<int> loads{0};
  cachet::dist::partition_options<std::string, std::string> popts;
  popts.shard.name = "links";
  popts.loader = [&loads](const std::string& key) {
    ++loads;
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    return "loaded:" + key;
  };
  popts.timeout = std::chrono::seconds{5};
  auto part = cachet::dist::partition<std::string, std::string>::start(*n,
                                                                      popts);
  if (!part) {
    std::fprintf(stderr, "partition: %s\n", sys.render(part.error()).c_str());
    return 1;
  }
  cachet::dist::partitioned_cache<std::string, std::string> links{*part};
  auto shard = cachet::whereis_cache<std::string, std::string>(sys, "links");
  auto show = [&](const auto& r) {
    return r ? std::string{"ok"} : "error: " + sys.render(r.error());
  };
  std::printf("port %u\n", static_cast<unsigned>(n->port()));
  std::fflush(stdout);
  auto tab = cachet::whereis<std::string, std::string>(sys, "kv");
  auto count_tab = cachet::whereis<std::string, std::uint64_t>(sys, "counts");
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in{line};
    std::string cmd;
    in >> cmd;
    if (cmd == "members") {
      std::printf("%zu\n", n->members().size());
    } else if (cmd == "await") {
      std::size_t want = 0;
      long ms = 0;
      in >> want >> ms;
      bool ok = n->await_members(want, std::chrono::milliseconds{ms});
      std::printf("%s\n", ok ? "ok" : "timeout");
    } else if (cmd == "get") {
      std::string key;
      in >> key;
      auto v = tab->lookup(key);
      std::printf("%s\n", v && *v ? (*v)->c_str() : "none");
    } else if (cmd == "bump") {
      std::string key;
      int times = 0;
      int threads = 0;
      in >> key >> times >> threads;
      std::atomic<int> failed{0};
      std::vector<std::thread> ts;
      for (int i = 0; i < threads; ++i)
        ts.emplace_back([&] {
          cachet::blocking_caller caller{sys, cachet::thread_lending::on};
          for (int j = 0; j < times; ++j)
            if (!caller.call(*counts, std::chrono::seconds{5},
                             cachet::update_counter_atom_v, key,
                             cachet::counter_op{1}, std::uint64_t{0}))
              ++failed;
        });
      for (auto& t : ts)
        t.join();
      std::printf("%d\n", failed.load());
    } else if (cmd == "count") {
      std::string key;
      in >> key;
      auto v = count_tab->lookup(key);
      std::printf("%llu\n", v && *v ? static_cast<unsigned long long>(**v)
                                      : 0ull);
    } else if (cmd == "pget") {
      std::string key;
      in >> key;
      auto v = links.get(key);
      std::printf("%s\n", !v ? show(v).c_str() : *v ? (*v)->c_str() : "none");
    } else if (cmd == "pfetch") {
      std::string key;
      in >> key;
      auto v = links.fetch(key);
      std::printf("%s\n", v ? v->c_str() : show(v).c_str());
    } else if (cmd == "pput") {
      std::string key;
      std::string val;
      in >> key >> val;
      std::printf("%s\n", show(links.put(key, val)).c_str());
    } else if (cmd == "home") {
      std::string key;
      in >> key;
      std::printf("%s\n", links.home(key).c_str());
    } else if (cmd == "loads") {
      std::printf("%d\n", loads.load());
    } else if (cmd == "local") {
      auto size = shard->size();
      std::printf("%zu\n", size ? *size : std::size_t{0});
    } else {
      std::printf("unknown command\n");
    }
    std::fflush(stdout);
  }
  caf::anon_send_exit(*kv, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*counts, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*sessions, caf::exit_reason::user_shutdown);
  return 0;
}
