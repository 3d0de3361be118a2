// A cachet node in a child process (cachet-test-node), for tests that need
// real processes: started with a name and seeds on 127.0.0.1, port 0, it
// reports its port; the test sends it commands over its stdin, signals it
// (SIGKILL, SIGSTOP, SIGCONT) by PID, and always stops it by PID on
// destruction. Every read from it is bounded in time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace cachet_test {

class node_process {
public:
  /// Starts `cachet-test-node name seeds...` (the binary next to the test,
  /// CACHET_TEST_NODE) and waits up to 10 s for its port.
  node_process(std::string name, std::vector<std::string> seeds)
    : name_(std::move(name)) {
    std::vector<std::string> argv{CACHET_TEST_NODE, name_};
    argv.insert(argv.end(), seeds.begin(), seeds.end());
    proc_ = cachet_support::child_process{std::move(argv)};
    auto line = read();
    if (!line || line->rfind("port ", 0) != 0) {
      proc_.stop();
      throw std::runtime_error("node " + name_ + " did not start");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(5)));
  }

  const std::string& name() const noexcept {
    return name_;
  }

  std::uint16_t port() const noexcept {
    return port_;
  }

  pid_t pid() const noexcept {
    return proc_.pid();
  }

  /// "127.0.0.1:port", to pass as a seed.
  std::string address() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  /// Sends one command line; its one-line answer, or nothing after
  /// `timeout` (or if the process is gone).
  std::optional<std::string>
  ask(const std::string& cmd,
      std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    if (!send(cmd))
      return std::nullopt;
    return read(timeout);
  }

  /// Sends a command without waiting; `read` takes its answer later.
  bool send(const std::string& cmd) {
    return proc_.send(cmd);
  }

  std::optional<std::string>
  read(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return proc_.read_line(timeout);
  }

  void signal(int sig) {
    proc_.signal(sig);
  }

  /// SIGKILL, then reaps it.
  void kill() {
    proc_.stop();
  }

private:
  std::string name_;
  cachet_support::child_process proc_;
  std::uint16_t port_ = 0;
};

} // namespace cachet_test
