// cachet-redis: a Redis-compatible (RESP2) server whose store is a cachet
// table. Parses the command line, starts CAF, the supervised store owner
// and the event loops, loads the dump file if there is one while the loops
// answer LOADING (a bad file stops it), then waits for SIGINT or SIGTERM
// (saving first if save points are set; if that fails it goes on serving,
// as redis does) or SHUTDOWN to shut down cleanly: loops stop and close
// their connections, then the supervisor stops the owner, then the actor
// system ends.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <caf/all.hpp>

#include <cachet/detail/epoch.hpp>
#include <cachet/dump.hpp>
#include <cachet/errc.hpp>

#include "call.hpp"
#include "owner.hpp"
#include "resp_parser.hpp"
#include "server.hpp"

namespace {

const char* usage = R"(usage: cachet-redis [options]
  --port=N                 TCP port (default 6379; 0: any free port)
  --bind=ADDR              IPv4 address to listen on (default 127.0.0.1)
  --mode=direct|message    direct: connections use the table themselves
                           message: every command goes through the owner
  --maxclients=N           connections beyond N are refused (default 10000)
  --proto-max-bulk-len=N   longest bulk string accepted (default 536870912)
  --output-buffer-limit=N  close a client with more unsent reply bytes
                           (default 268435456; 0: no limit)
  --threads=N              event loops (default: one per core)
  --enable-debug-command   allow DEBUG CRASH-STORE (crashes the owner)
  --requirepass=PASSWORD   clients must AUTH with it (CONFIG SET requirepass
                           changes it; empty: none)
  --protected-mode=yes|no  yes (default): while no password is set, refuse
                           clients from anywhere but 127.0.0.1 and ::1
  --rename-command NAME NEW  the command NAME answers to NEW only; NEW ""
                           disables it (repeatable)
  --maxmemory=BYTES        evict keys to keep used_memory under it (units as
                           redis.conf's: 100mb, 1gb; default 0: no bound)
  --maxmemory-policy=NAME  allkeys-s3fifo (default), allkeys-lru,
                           allkeys-lfu, allkeys-random, volatile-lru,
                           volatile-lfu, volatile-random, volatile-ttl,
                           noeviction
  --maxmemory-samples=N    keys the sampling policies compare (default 5)
  --dir=DIR                where the dump file is (default: the working
                           directory); it must exist
  --dbfilename=NAME        the dump file (default dump.cachet), loaded at
                           start if it is there
  --save="S C [S C ...]"   save points: a BGSAVE once S seconds have passed
                           with C writes made (default "": none; as
                           redis's "3600 1 300 100 60 10000")
  --slowlog-log-slower-than=US  SLOWLOG keeps commands that ran US
                           microseconds or more (default 10000; -1: none)
  --slowlog-max-len=N      SLOWLOG keeps the newest N (default 128)
  --key-load-delay=US      wait US microseconds after each key the load at
                           start puts in (for tests, as redis's; default 0)
  --help                   this text
)";

/// Parses a size with an optional unit (kb, mb, gb...), as redis.conf does.
bool parse_size(std::string_view s, std::int64_t& out) {
  auto bytes = cachet::redis::parse_memory(s);
  if (bytes)
    out = *bytes;
  return bytes.has_value();
}

int signal_pipe[2] = {-1, -1};

/// What the loader writes to the pipe when the load at start ends (no
/// signal has this number; 0 is SHUTDOWN).
constexpr unsigned char loaded_byte = 255;

extern "C" void on_signal(int sig) {
  auto byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] auto n = ::write(signal_pipe[1], &byte, 1);
}

int fail(const std::string& text) {
  std::cerr << "cachet-redis: " << text << "\n" << usage;
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  // maxmemory leaves out what readers hold back from being freed: count it.
  cachet::detail::count_retired_bytes();
  cachet::redis::server_env env;
  auto& cfg = env.config;
  env.persist.set_dir(std::filesystem::current_path().string());
  std::vector<cachet::redis::save_point> points;
  std::int64_t slower_than = 10000; // slowlog-log-slower-than, as redis
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view val;
    if (arg == "--rename-command") {
      // Two values, as redis.conf's rename-command.
      if (i + 2 >= argc)
        return fail("--rename-command takes a command and its new name");
      std::string from{argv[i + 1]};
      std::string to{argv[i + 2]};
      i += 2;
      for (auto* s : {&from, &to})
        for (auto& ch : *s)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      auto& known = cachet::redis::command_list();
      auto is_command = [&](const std::string& name) {
        return std::any_of(known.begin(), known.end(),
                           [&](auto& cmd) { return cmd.name == name; });
      };
      if (!is_command(from))
        return fail("--rename-command: no such command: " + from);
      if (is_command(to) && to != from)
        return fail("--rename-command: " + to + " is a command already");
      cfg.renames.emplace_back(std::move(from), std::move(to));
      continue;
    }
    auto eq = arg.find('=');
    if (eq != std::string_view::npos) {
      val = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg != "--help" && arg != "--enable-debug-command"
               && i + 1 < argc) {
      val = argv[++i]; // "--port 6380" as well as "--port=6380"
    }
    std::int64_t n = 0;
    if (arg == "--help") {
      std::cout << usage;
      return 0;
    } else if (arg == "--enable-debug-command") {
      cfg.enable_debug_command = true;
    } else if (arg == "--port" && parse_size(val, n) && n <= 65535) {
      cfg.port = static_cast<int>(n);
    } else if (arg == "--bind" && !val.empty()) {
      cfg.bind = std::string{val};
    } else if (arg == "--mode" && (val == "direct" || val == "message")) {
      cfg.message_mode = val == "message";
    } else if (arg == "--maxclients" && parse_size(val, n) && n >= 1) {
      cfg.maxclients = n;
    } else if (arg == "--proto-max-bulk-len" && parse_size(val, n)
               && n >= 1024 * 1024) {
      cfg.proto_max_bulk_len = n; // redis: at least 1mb
    } else if (arg == "--output-buffer-limit" && parse_size(val, n)) {
      cfg.output_buffer_limit = n;
    } else if (arg == "--threads" && parse_size(val, n) && n >= 1
               && n <= 1024) {
      cfg.threads = static_cast<int>(n);
    } else if (arg == "--requirepass") {
      cfg.requirepass = std::string{val};
    } else if (arg == "--protected-mode" && (val == "yes" || val == "no")) {
      cfg.protected_mode = val == "yes";
    } else if (arg == "--maxmemory" && parse_size(val, n)) {
      cfg.maxmemory = n;
    } else if (arg == "--maxmemory-policy"
               && cachet::redis::parse_policy(val)) {
      cfg.policy = *cachet::redis::parse_policy(val);
    } else if (arg == "--maxmemory-samples" && parse_size(val, n) && n >= 1
               && n <= INT_MAX) {
      cfg.maxmemory_samples = static_cast<int>(n);
    } else if (arg == "--dir" && !val.empty()) {
      std::error_code ec;
      auto dir = std::filesystem::canonical(std::string{val}, ec);
      if (ec || !std::filesystem::is_directory(dir))
        return fail("--dir " + std::string{val} + ": "
                    + (ec ? ec.message() : "not a directory"));
      env.persist.set_dir(dir.string());
    } else if (arg == "--dbfilename" && !val.empty()
               && val.find('/') == std::string_view::npos) {
      env.persist.set_dbfilename(std::string{val});
    } else if (arg == "--save"
               && cachet::redis::parse_save_points(val, points)) {
      env.persist.set_save_points(points);
    } else if (arg == "--slowlog-log-slower-than"
               && cachet::redis::parse_ll(val, n) && n >= -1) {
      slower_than = n;
    } else if (arg == "--slowlog-max-len" && cachet::redis::parse_ll(val, n)
               && n >= 0) {
      env.slow.set_max_len(n);
    } else if (arg == "--key-load-delay" && cachet::redis::parse_ll(val, n)
               && n >= 0 && n <= 1000000) {
      env.persist.key_load_delay_us = n;
    } else {
      return fail("bad option: " + std::string{argv[i]});
    }
  }
  env.pass.set(cfg.requirepass);
  env.protected_mode.store(cfg.protected_mode);
  env.evict.set_samples(cfg.maxmemory_samples);
  env.evict.configure(cfg.maxmemory, cfg.policy);
  env.slow.set_slower_than(slower_than);
  // SIGINT/SIGTERM write to a pipe that main waits on. A handler (not
  // sigwait) because threads we did not start (a sanitizer's, say) do not
  // block the signals and may be the ones to receive them.
  if (::pipe2(signal_pipe, O_CLOEXEC) != 0) {
    std::perror("cachet-redis: pipe");
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Declared before the actor system: the owner uses it until the system
  // has stopped every actor.
  cachet::redis::owner_slot slot;
  caf::actor_system_config sys_cfg;
  cachet::configure(sys_cfg);
  // CAF's idle scheduler workers nap 50 us at a time for 25 ms before they
  // sleep where an enqueue wakes them; the owner's expiry sweep, every
  // 100 ms, set that off again and again: an idle server took 12% of a
  // core. Without the napping phase (as cachet::dist::configure does) it
  // takes well under 1%.
  sys_cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
  caf::actor_system sys{sys_cfg};
  env.system = &sys;
  env.persist.render = [&sys](const caf::error& err) {
    return sys.render(err);
  };
  env.persist.last_save = cachet::redis::now_ms() / 1000;
  // SHUTDOWN ends main's wait as a signal does (byte 0: no signal's number).
  env.shutdown = [] { on_signal(0); };
  auto sup = cachet::redis::start_store(sys, env, slot);
  if (!sup) {
    std::cerr << "cachet-redis: cannot start the store: "
              << sys.render(sup.error()) << "\n";
    return 1;
  }
  // The dump file is loaded while the server answers, as redis's is: all
  // commands but a few get LOADING until it is in. A file that is not
  // whole and verified stops the server before any key goes in: one that
  // came up empty over it would lose it at its next save.
  auto path = env.persist.path();
  std::error_code absent;
  bool load = std::filesystem::exists(path, absent) || absent;
  if (load) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    env.persist.begin_loading(ec ? 0 : static_cast<std::int64_t>(size));
  }
  int status = 0;
  {
    cachet::redis::server srv{env, slot};
    std::atomic<bool> stop_loading{false};
    caf::error load_error;
    std::thread loader;
    if (auto err = srv.start()) {
      std::cerr << "cachet-redis: " << sys.render(err) << "\n";
      status = 1;
    } else {
      std::cout << "cachet-redis: listening on " << cfg.bind << ":"
                << srv.port() << " ("
                << (cfg.message_mode ? "message" : "direct") << " mode, "
                << env.loops << " event loops)" << std::endl;
      auto load_start = std::chrono::steady_clock::now();
      if (load) {
        std::cout << "cachet-redis: loading " << path
                  << " (commands get LOADING until it is in)" << std::endl;
        loader = std::thread{[&] {
          load_error = cachet::redis::load_at_start(env, stop_loading);
          on_signal(loaded_byte);
        }};
      }
      for (;;) {
        unsigned char sig = 0;
        while (::read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR)
          ; // interrupted by the signal itself: read again
        if (sig == loaded_byte) {
          if (!loader.joinable())
            continue; // a signal came first and joined it
          loader.join();
          if (load_error) {
            std::cerr << "cachet-redis: cannot load " << path << ": "
                      << sys.render(load_error) << "\n";
            status = 1;
            break;
          }
          env.persist.end_loading();
          std::chrono::duration<double> took
            = std::chrono::steady_clock::now() - load_start;
          char secs[32];
          std::snprintf(secs, sizeof(secs), "%.2f", took.count());
          std::cout << "cachet-redis: loaded " << env.persist.loaded_keys
                    << " keys from " << path << " in " << secs << " s"
                    << std::endl;
          continue;
        }
        if (sig == 0)
          std::cout << "cachet-redis: SHUTDOWN, shutting down" << std::endl;
        else
          std::cout << "cachet-redis: signal " << int{sig}
                    << ", shutting down" << std::endl;
        if (loader.joinable()) {
          stop_loading = true;
          loader.join();
          if (load_error) {
            // As redis: no save before the load is done (the table holds
            // a part of the file, which stays as it is).
            std::cout << "cachet-redis: the load was not done: not saving"
                      << std::endl;
            break;
          }
          env.persist.end_loading(); // it was done, just before the signal
        }
        if (sig == 0 || env.persist.save_points().empty())
          break;
        auto err = cachet::redis::save_on_owner(sys, slot);
        if (err.empty())
          break;
        std::cout << "cachet-redis: cannot save (" << err
                  << "): still serving; SHUTDOWN NOSAVE stops it"
                  << std::endl;
      }
    }
    srv.stop();
  }
  // A BGSAVE's thread reads the table until it has written: it finishes
  // before the owner, and the table with it, goes.
  env.persist.claim();
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  return status;
}
