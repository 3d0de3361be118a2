// See guard.hpp.
#include "guard.hpp"

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/scribe_impl.hpp>
#include <caf/send.hpp>

#include "cachet/errc.hpp"

namespace cachet::dist::detail {

namespace {

constexpr std::size_t header_size = caf::io::basp::header_size;
static_assert(header_size == 32, "the guard reads BASP 0.17's header");
// BASP's operation byte of a client handshake, the first header a
// connecting node sends.
constexpr unsigned char client_handshake = 1;
constexpr std::size_t max_handshake_payload = 64 * 1024;

std::uint32_t load_be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16)
         | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

void set_lowat(int fd, int n) {
  ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &n, sizeof n);
}

/// A scribe that never reads more than `max` bytes at once: BASP asks for
/// each payload by its announced length, and a longer one closes the
/// connection instead (CAF then cleans up as for any closed connection).
class capped_scribe final : public caf::io::network::scribe_impl {
public:
  capped_scribe(caf::io::network::default_multiplexer& mpx, int fd,
                std::size_t max)
    : scribe_impl(mpx, fd), max_(max) {
    // nop
  }

  void configure_read(caf::io::receive_policy::config cfg) override {
    if (cfg.second > max_) {
      // shutdown, not close: the socket is CAF's, and its number must not
      // be reused while CAF still polls it.
      ::shutdown(stream_.fd(), SHUT_RDWR);
      cfg = caf::io::receive_policy::exactly(header_size);
    }
    scribe_impl::configure_read(cfg);
  }

private:
  std::size_t max_;
};

class capped_connector final : public caf::io::middleman_actor_impl {
public:
  capped_connector(caf::actor_config& cfg, caf::actor broker, std::size_t max)
    : middleman_actor_impl(cfg, std::move(broker)), max_(max) {
    // nop
  }

  const char* name() const override {
    return "cachet.connector";
  }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host,
                                             std::uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::io::network::tcp_nodelay(*fd, true);
    caf::io::network::nonblocking(*fd, true);
    auto& mpx = static_cast<caf::io::network::default_multiplexer&>(
      system().middleman().backend());
    return caf::io::scribe_ptr{new capped_scribe(mpx, *fd, max_), false};
  }

private:
  std::size_t max_;
};

caf::error listen_error(const std::string& what) {
  return caf::make_error(errc::io_error, what + ": " + std::strerror(errno));
}

} // namespace

caf::io::middleman_actor spawn_connector(caf::actor_system& sys,
                                         std::size_t max_message_bytes) {
  auto basp = sys.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  return sys.spawn<capped_connector, caf::detached + caf::hidden>(
    std::move(basp), max_message_bytes);
}

caf::expected<std::unique_ptr<guard>>
guard::start(caf::actor_system& sys, const std::string& host,
             std::uint16_t port, caf::strong_actor_ptr whom, limits lim) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found)
    return caf::make_error(errc::invalid_argument,
                           "cannot resolve " + host + " to an IPv4 address");
  sockaddr_in addr = *reinterpret_cast<sockaddr_in*>(found->ai_addr);
  ::freeaddrinfo(found);
  addr.sin_port = htons(port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return listen_error("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      || ::listen(fd, 128) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    auto err = listen_error("cannot listen on " + host + ":"
                            + std::to_string(port));
    ::close(fd);
    return err;
  }
  return std::make_unique<guard>(sys, fd, ntohs(addr.sin_port),
                                 std::move(whom), lim);
}

guard::guard(caf::actor_system& sys, int fd, std::uint16_t port,
             caf::strong_actor_ptr whom, limits lim)
  : sys_(sys), fd_(fd), port_(port), whom_(std::move(whom)), lim_(lim) {
  thread_ = std::thread{[this] { run(); }};
}

guard::~guard() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void guard::run() {
  auto& mpx = static_cast<caf::io::network::default_multiplexer&>(
    sys_.middleman().backend());
  auto basp = sys_.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  struct pending {
    int fd;
    std::chrono::steady_clock::time_point since;
    std::size_t need; // bytes to peek before deciding
  };
  std::vector<pending> waiting;
  std::vector<unsigned char> peek(header_size + max_handshake_payload);
  std::vector<pollfd> fds;
  while (!stop_) {
    fds.assign(1, pollfd{fd_, POLLIN, 0});
    for (auto& p : waiting)
      fds.push_back(pollfd{p.fd, POLLIN | POLLRDHUP, 0});
    ::poll(fds.data(), fds.size(), 100);
    auto now = std::chrono::steady_clock::now();
    if (fds[0].revents & POLLIN) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0 && waiting.size() < lim_.max_handshakes) {
        // poll wakes once a whole header is there, not byte by byte.
        set_lowat(c, static_cast<int>(header_size));
        waiting.push_back(pending{c, now, header_size});
      } else if (c >= 0) {
        ::close(c);
      }
    }
    std::vector<pending> still;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      auto p = waiting[i];
      // One accepted just now was not polled yet.
      auto ev = i + 1 < fds.size() ? fds[i + 1].revents : 0;
      bool ok = false;
      bool drop = false;
      if (ev != 0) {
        auto r = ::recv(p.fd, peek.data(), p.need, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          drop = true;
        } else if (r >= static_cast<ssize_t>(header_size)) {
          auto payload = load_be32(peek.data() + 4);
          if (peek[0] != client_handshake || payload > max_handshake_payload)
            drop = true;
          else if (static_cast<std::size_t>(r) >= header_size + payload)
            ok = true;
          else if (p.need != header_size + payload) {
            p.need = header_size + payload;
            set_lowat(p.fd, static_cast<int>(p.need));
          } else if (ev & (POLLRDHUP | POLLHUP | POLLERR)) {
            drop = true;
          }
        } else if (ev & (POLLRDHUP | POLLHUP | POLLERR)) {
          drop = true;
        }
      }
      if (!ok && !drop && now - p.since > lim_.handshake_timeout)
        drop = true;
      if (ok) {
        set_lowat(p.fd, 1); // CAF's reads expect the default
        int one = 1;
        ::setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(p.fd, F_SETFL, ::fcntl(p.fd, F_GETFL) | O_NONBLOCK);
        caf::io::scribe_ptr scribe{
          new capped_scribe(mpx, p.fd, lim_.max_message_bytes), false};
        caf::anon_send(basp, caf::publish_atom::value, std::move(scribe),
                       port_, whom_, std::set<std::string>{});
      } else if (drop) {
        ::close(p.fd);
      } else {
        still.push_back(p);
      }
    }
    waiting.swap(still);
  }
  for (auto& p : waiting)
    ::close(p.fd);
}

} // namespace cachet::dist::detail
