// A child process with its stdin and stdout on pipes, for the tests and the
// benchmark that need real processes (cachet nodes, BEAM nodes, epmd): every
// read from it is bounded in time, and it is always stopped by its PID
// (SIGKILL and reaped) when destroyed. Internal, not installed.
#pragma once

#include <chrono>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace cachet_support {

class child_process {
public:
  child_process() = default;

  /// Runs `argv[0]` (a path) with `argv` and this process's environment
  /// plus `env` ("NAME=value" entries, which win).
  explicit child_process(std::vector<std::string> argv,
                         std::vector<std::string> env = {}) {
    // A write to a child that died must fail, not kill this process.
    std::signal(SIGPIPE, SIG_IGN);
    // Everything the child needs is made before fork: a multithreaded
    // process may only exec after it.
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string var{*e};
      auto name = var.substr(0, var.find('=') + 1);
      bool replaced = false;
      for (auto& x : env)
        replaced = replaced || x.rfind(name, 0) == 0;
      if (!replaced)
        vars.push_back(std::move(var));
    }
    vars.insert(vars.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& v : vars)
      envp.push_back(v.data());
    envp.push_back(nullptr);
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      throw std::runtime_error("pipe failed");
    }
    pid_ = fork();
    if (pid_ < 0) {
      for (int fd : {in[0], in[1], out[0], out[1]})
        close(fd);
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }

  child_process(child_process&& other) noexcept
    : pid_(other.pid_), to_(other.to_), from_(other.from_),
      buf_(std::move(other.buf_)) {
    other.pid_ = other.to_ = other.from_ = -1;
  }

  child_process& operator=(child_process&& other) noexcept {
    if (this != &other) {
      stop();
      pid_ = other.pid_;
      to_ = other.to_;
      from_ = other.from_;
      buf_ = std::move(other.buf_);
      other.pid_ = other.to_ = other.from_ = -1;
    }
    return *this;
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  ~child_process() {
    stop();
  }

  pid_t pid() const noexcept {
    return pid_;
  }

  /// Writes `line` and a newline to the child's stdin; false if it is gone.
  bool send(const std::string& line) {
    auto msg = line + "\n";
    return pid_ > 0
           && ::write(to_, msg.data(), msg.size())
                == static_cast<ssize_t>(msg.size());
  }

  /// The child's next line on stdout, or nothing after `timeout` (or at
  /// its end).
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
      if (left.count() <= 0 || from_ < 0)
        return std::nullopt;
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char chunk[4096];
      auto n = ::read(from_, chunk, sizeof chunk);
      if (n <= 0)
        return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void signal(int sig) {
    if (pid_ > 0)
      ::kill(pid_, sig);
  }

  /// Closes the child's stdin (its cue to exit) and waits up to `grace`
  /// for it; then SIGKILL. Returns its exit status (waitpid's), or -1 if
  /// it had to be killed or was not running.
  int finish(std::chrono::milliseconds grace) {
    if (to_ >= 0) {
      close(to_);
      to_ = -1;
    }
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (pid_ > 0) {
      int status = 0;
      auto r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        stop();
        return status;
      }
      if (r < 0 || std::chrono::steady_clock::now() >= deadline)
        break;
      usleep(10000);
    }
    stop();
    return -1;
  }

  /// SIGKILL, then reaps it; closes the pipes.
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

private:
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string buf_;
};

} // namespace cachet_support
