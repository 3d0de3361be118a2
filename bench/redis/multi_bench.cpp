// cachet-redis-multi-bench: transactions per second against a RESP server,
// as redis-benchmark measures single commands. Each of CONNECTIONS clients
// sends MULTI, SETS x SET of a random key (of 100 000) to a 3-byte value,
// and EXEC in one write (as redis-py's pipeline(transaction=True) does),
// reads the SETS + 2 replies, checks them, and sends the next. One thread,
// epoll; it counts the transactions completed in SECONDS after a warm-up
// of half a second.
//
// usage: cachet-redis-multi-bench PORT [CONNECTIONS] [SECONDS] [SETS]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct client {
  int fd = -1;
  std::string in;
  /// Replies still due for the transaction in flight.
  int due = 0;
  /// Elements of the EXEC array still due.
  int array_left = 0;
};

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

/// Consumes complete replies from `c.in`; false on a reply it did not
/// expect (an error, or EXEC's null array).
bool consume(client& c) {
  std::size_t pos = 0;
  for (;;) {
    auto eol = c.in.find("\r\n", pos);
    if (eol == std::string::npos)
      break;
    auto type = c.in[pos];
    if (type == '-') {
      std::fprintf(stderr, "error reply: %s\n",
                   c.in.substr(pos, eol - pos).c_str());
      return false;
    }
    if (type == '*') {
      auto n = std::atoi(c.in.c_str() + pos + 1);
      if (n < 0)
        return false; // EXEC aborted
      // EXEC's array: its reply is complete once its elements came.
      c.array_left = n;
      pos = eol + 2;
      if (n == 0)
        --c.due;
      continue;
    }
    if (type == '+' || type == ':') {
      pos = eol + 2;
      if (c.array_left > 0) {
        if (--c.array_left == 0)
          --c.due;
      } else {
        --c.due;
      }
      continue;
    }
    std::fprintf(stderr, "unexpected reply type %c\n", type);
    return false;
  }
  c.in.erase(0, pos);
  return true;
}

std::string command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (auto& a : args)
    out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [CONNECTIONS] [SECONDS] [SETS]\n",
                 argv[0]);
    return 2;
  }
  int port = std::atoi(argv[1]);
  int conns = argc > 2 ? std::atoi(argv[2]) : 50;
  double seconds = argc > 3 ? std::atof(argv[3]) : 5;
  int sets = argc > 4 ? std::atoi(argv[4]) : 10;
  std::mt19937_64 rng{42};
  int ep = ::epoll_create1(0);
  std::vector<client> clients(static_cast<std::size_t>(conns));
  auto send_transaction = [&](client& c) {
    std::string batch = command({"MULTI"});
    for (int i = 0; i < sets; ++i)
      batch += command({"SET", "key:" + std::to_string(rng() % 100000),
                        "xxx"});
    batch += command({"EXEC"});
    std::size_t off = 0;
    while (off < batch.size()) {
      auto n = ::send(c.fd, batch.data() + off, batch.size() - off,
                      MSG_NOSIGNAL);
      if (n <= 0)
        die("send");
      off += static_cast<std::size_t>(n);
    }
    c.due = sets + 2; // +OK, +QUEUED x sets, EXEC's array
  };
  for (auto& c : clients) {
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      die("connect");
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    send_transaction(c);
  }
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto measure_from = start + std::chrono::milliseconds{500};
  auto end = measure_from + std::chrono::duration_cast<clock::duration>(
                              std::chrono::duration<double>(seconds));
  long done = 0;
  epoll_event events[256];
  char buf[65536];
  for (;;) {
    auto now = clock::now();
    if (now >= end)
      break;
    int n = ::epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      auto& c = *static_cast<client*>(events[i].data.ptr);
      auto got = ::recv(c.fd, buf, sizeof(buf), 0);
      if (got <= 0)
        die("recv");
      c.in.append(buf, static_cast<std::size_t>(got));
      if (!consume(c))
        return 1;
      if (c.due == 0) {
        if (clock::now() >= measure_from)
          ++done;
        send_transaction(c);
      }
    }
  }
  for (auto& c : clients)
    ::close(c.fd);
  std::printf("%.0f\n", static_cast<double>(done) / seconds);
  return 0;
}
