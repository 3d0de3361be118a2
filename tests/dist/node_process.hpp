// A cachet node in a child process (cachet-test-node), for tests that need
// real processes: started with a name and seeds on 127.0.0.1, port 0, it
// reports its port; the test sends it commands over its stdin, signals it
// (SIGKILL, SIGSTOP, SIGCONT) by PID, and always stops it by PID on
// destruction. Every read from it is bounded in time.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cachet_test {

class node_process {
public:
  /// Starts `cachet-test-node name seeds...` (the binary next to the test,
  /// CACHET_TEST_NODE) and waits up to 10 s for its port.
  node_process(std::string name, std::vector<std::string> seeds)
    : name_(std::move(name)) {
    // A write to a node that died must fail, not kill the test.
    std::signal(SIGPIPE, SIG_IGN);
    // Everything the child needs is made before fork: a multithreaded
    // process may only exec after it.
    std::string bin = CACHET_TEST_NODE;
    std::vector<char*> argv{bin.data(), name_.data()};
    for (auto& s : seeds)
      argv.push_back(s.data());
    argv.push_back(nullptr);
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
    auto line = read_line(std::chrono::seconds{10});
    if (!line || line->rfind("port ", 0) != 0) {
      stop();
      throw std::runtime_error("node " + name_ + " did not start");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(5)));
  }

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  ~node_process() {
    stop();
  }

  const std::string& name() const noexcept {
    return name_;
  }

  std::uint16_t port() const noexcept {
    return port_;
  }

  pid_t pid() const noexcept {
    return pid_;
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
    return read_line(timeout);
  }

  /// Sends a command without waiting; `read` takes its answer later.
  bool send(const std::string& cmd) {
    auto msg = cmd + "\n";
    return pid_ > 0
           && ::write(to_, msg.data(), msg.size())
                == static_cast<ssize_t>(msg.size());
  }

  std::optional<std::string>
  read(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return read_line(timeout);
  }

  void signal(int sig) {
    if (pid_ > 0)
      ::kill(pid_, sig);
  }

  /// SIGKILL, then reaps it.
  void kill() {
    stop();
  }

private:
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char chunk[256];
      auto n = ::read(from_, chunk, sizeof chunk);
      if (n <= 0)
        return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (to_ >= 0)
      close(to_);
    if (from_ >= 0)
      close(from_);
    to_ = from_ = -1;
  }

  std::string name_;
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::uint16_t port_ = 0;
  std::string buf_;
};

} // namespace cachet_test
