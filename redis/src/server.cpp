// The event loops of cachet-redis (see server.hpp for why epoll).
//
// A loop reads what a connection sent (one read per readiness event, so that
// a busy client cannot starve the others), runs every complete command in it
// and sends the replies with one write: pipelined commands cost one read and
// one write per batch, as in redis. Replies that cannot be sent yet stay in
// the connection's output buffer; a connection whose unsent replies exceed
// --output-buffer-limit is closed (redis's client-output-buffer-limit), so a
// client that never reads cannot make the server grow without bound.
//
// A protocol error is answered with "-ERR Protocol error: ..." and the
// connection is closed once that is sent, as redis does. Any failure of a
// connection (reset, error) closes that connection only.
#include "server.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cachet/blocking_caller.hpp>
#include <cachet/detail/epoch.hpp>

#include "commands.hpp"
#include "reply.hpp"
#include "resp_parser.hpp"

namespace cachet::redis {

namespace {

// Replies are sent early once this much is pending in a batch.
constexpr std::size_t early_flush = 64 * 1024;

// How often a loop looks for idle clients' buffers to give back, and how
// long a client must have been idle.
constexpr int sweep_period_ms = 1000;
constexpr std::int64_t idle_buffer_ms = 2000;

/// Whether a client is local as redis's protected mode sees it: its
/// address is 127.0.0.1 or ::1 exactly (127.0.0.2 is not).
bool is_local(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    auto& in = reinterpret_cast<const sockaddr_in&>(peer);
    return ntohl(in.sin_addr.s_addr) == INADDR_LOOPBACK;
  }
  if (peer.ss_family == AF_INET6) {
    auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
    return IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
  }
  return false;
}

/// "ip:port" as CLIENT LIST shows an address ("[ip]:port" for IPv6).
std::string address_text(const sockaddr_storage& a) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (a.ss_family == AF_INET) {
    auto& in = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &in.sin_addr, ip, sizeof(ip));
    port = ntohs(in.sin_port);
    return std::string{ip} + ":" + std::to_string(port);
  }
  if (a.ss_family == AF_INET6) {
    auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof(ip));
    port = ntohs(in6.sin6_port);
  }
  return "[" + std::string{ip} + "]:" + std::to_string(port);
}

/// What redis-server 7.0 sends a client that protected mode refuses, word
/// for word, before it closes the connection.
constexpr std::string_view denied_text
  = "-DENIED Redis is running in protected mode because protected mode is "
    "enabled and no password is set for the default user. In this mode "
    "connections are only accepted from the loopback interface. If you want "
    "to connect from external computers to Redis you may adopt one of the "
    "following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by "
    "connecting to Redis from the same host the server is running, however "
    "MAKE SURE Redis is not publicly accessible from internet if you do so. "
    "Use CONFIG REWRITE to make this change permanent. 2) Alternatively you "
    "can just disable the protected mode by editing the Redis configuration "
    "file, and setting the protected mode option to 'no', and then "
    "restarting the server. 3) If you started the server manually just for "
    "testing, restart it with the '--protected-mode no' option. 4) Setup a "
    "an authentication password for the default user. NOTE: You only need "
    "to do one of the above things in order for the server to start "
    "accepting connections from the outside.\r\n";

struct connection {
  int fd;
  resp_parser parser;
  std::string out;
  std::size_t out_off = 0;
  bool close_after = false; // QUIT or a protocol error: close once sent
  bool watching_out = false;
  /// Closed: freed once the loop is done with this batch of events, which
  /// may still name it.
  bool closed = false;
  session sess;

  connection(int fd, parser_limits limits) : fd(fd), parser(limits) {
    // nop
  }

  std::size_t unsent() const {
    return out.size() - out_off;
  }
};

/// One event loop's state.
class loop {
public:
  loop(server_env& env, owner_slot& slot, int listener, int wakeup)
    : env_(env), slot_(slot), listener_(listener), wakeup_(wakeup) {
    limits_.max_bulk_len = env.config.proto_max_bulk_len;
  }

  ~loop() {
    for (auto* c : conns_) {
      if (c->sess.monitor)
        env_.monitors.remove(c->sess.id);
      env_.clients.remove(c->sess.id);
      env_.watches.unwatch(c->sess.watch_id);
      ::close(c->fd);
      env_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
      delete c;
    }
    free_closed();
    if (epfd_ >= 0)
      ::close(epfd_);
  }

  void run(const std::atomic<bool>& stopping) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &listener_;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, listener_, &ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &wakeup_;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakeup_, &ev);
    if (env_.config.message_mode)
      // A connection thread holds no lock across a call: lending is safe.
      caller_ = std::make_unique<blocking_caller>(*env_.system,
                                                  thread_lending::on);
    if (!env_.config.message_mode)
      gate_slot = &env_.gate.join();
    epoll_event events[128];
    auto next_sweep = now_ms() + sweep_period_ms;
    while (!stopping.load()) {
      int n = ::epoll_wait(epfd_, events, 128, sweep_period_ms);
      if (n < 0 && errno != EINTR)
        break;
      if (auto now = now_ms(); now >= next_sweep) {
        release_idle_buffers(now);
        // What this thread's commands removed waits for the epoch to move,
        // which writes move: an idle loop frees it here, so used_memory
        // comes down when the writes stop.
        detail::reclaim();
        next_sweep = now + sweep_period_ms;
      }
      for (int i = 0; i < n; ++i) {
        auto* tag = events[i].data.ptr;
        if (tag == &listener_) {
          accept_all();
        } else if (tag == &wakeup_) {
          if (stopping.load())
            return;
          on_wakeup();
        } else if (auto* c = static_cast<connection*>(tag); !c->closed) {
          on_event(c, events[i].events);
        }
      }
      free_closed();
    }
  }

private:
  void accept_all() {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof(peer);
      int fd = ::accept4(listener_, reinterpret_cast<sockaddr*>(&peer),
                         &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return; // EAGAIN: another loop took it, or nothing left
      auto& st = env_.stats;
      if (st.connected_clients.fetch_add(1) >= env_.config.maxclients) {
        st.connected_clients.fetch_sub(1);
        st.rejected_connections.fetch_add(1, std::memory_order_relaxed);
        static const char msg[] = "-ERR max number of clients reached\r\n";
        [[maybe_unused]] auto w = ::send(fd, msg, sizeof(msg) - 1,
                                         MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      st.total_connections.fetch_add(1, std::memory_order_relaxed);
      if (env_.protected_mode.load(std::memory_order_relaxed)
          && !env_.pass.required() && !is_local(peer)) {
        st.connected_clients.fetch_sub(1);
        st.rejected_connections.fetch_add(1, std::memory_order_relaxed);
        [[maybe_unused]] auto w = ::send(fd, denied_text.data(),
                                         denied_text.size(), MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto* c = new connection(fd, limits_);
      // Authenticated from the start while no password is set (redis's
      // default user with nopass); a password set later does not undo it.
      c->sess.authenticated = !env_.pass.required();
      c->sess.id = env_.next_client_id.fetch_add(1, std::memory_order_relaxed);
      register_client(c, peer);
      conns_.insert(c);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c;
      ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  /// Makes `c` visible to CLIENT LIST and KILL.
  void register_client(connection* c, const sockaddr_storage& peer) {
    auto rec = std::make_shared<client_record>();
    rec->id = c->sess.id;
    rec->addr = address_text(peer);
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (::getsockname(c->fd, reinterpret_cast<sockaddr*>(&local), &len) == 0)
      rec->laddr = address_text(local);
    rec->fd = c->fd;
    rec->wakeup = wakeup_;
    rec->created_ms = now_ms();
    rec->active_ms.store(rec->created_ms, std::memory_order_relaxed);
    c->sess.record = rec;
    env_.clients.add(std::move(rec));
  }

  /// Gives back the input and output buffers of connections idle for
  /// idle_buffer_ms with nothing pending (redis's clientsCron does the
  /// same): thousands of idle clients then hold no buffers.
  void release_idle_buffers(std::int64_t now) {
    for (auto* c : conns_) {
      auto active = c->sess.record->active_ms.load(std::memory_order_relaxed);
      if (now - active < idle_buffer_ms)
        continue;
      c->parser.release_if_idle();
      if (c->unsent() == 0 && c->out.capacity() > 0)
        std::string{}.swap(c->out);
      note_buffers(c);
    }
  }

  /// Another thread woke this loop: closes the connections CLIENT KILL
  /// marked, and sends the monitors what MONITOR fed them.
  void on_wakeup() {
    std::uint64_t n = 0;
    [[maybe_unused]] auto r = ::read(wakeup_, &n, sizeof(n));
    std::vector<connection*> doomed;
    std::vector<connection*> monitors;
    for (auto* c : conns_) {
      if (c->sess.record->killed.load(std::memory_order_relaxed))
        doomed.push_back(c);
      else if (c->sess.monitor)
        monitors.push_back(c);
    }
    for (auto* c : doomed)
      close_conn(c);
    for (auto* c : monitors) {
      c->out += c->sess.record->take_feed();
      flush(c); // closes a monitor over the output-buffer limit
    }
  }

  /// Closes `c`. It is freed after the current batch of events: a later
  /// event of the batch may name it (a monitor whose flush failed in
  /// on_wakeup, say, and then its hang-up).
  void close_conn(connection* c) {
    if (c->sess.monitor)
      env_.monitors.remove(c->sess.id);
    env_.clients.remove(c->sess.id);
    env_.watches.unwatch(c->sess.watch_id);
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    conns_.erase(c);
    env_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
    c->closed = true;
    closed_.push_back(c);
  }

  void free_closed() {
    for (auto* c : closed_)
      delete c;
    closed_.clear();
  }

  void on_event(connection* c, std::uint32_t events) {
    if (events & EPOLLOUT) {
      if (!flush(c))
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      if (c->close_after) {
        // Waiting to send a last reply: ignore further input.
        if (events & (EPOLLHUP | EPOLLERR))
          close_conn(c);
        return;
      }
      on_readable(c);
    }
  }

  void on_readable(connection* c) {
    auto [buf, room] = c->parser.prepare();
    auto n = ::recv(c->fd, buf, room, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
      close_conn(c); // EOF or error: this connection only
      return;
    }
    c->parser.commit(static_cast<std::size_t>(n));
    c->sess.record->active_ms.store(now_ms(), std::memory_order_relaxed);
    note_buffers(c);
    auto& counters = env_.stats.local();
    thread_counters::add(counters.net_input_bytes, n);
    for (;;) {
      auto st = c->parser.next(args_);
      if (st == parse_status::need_more)
        break;
      if (st == parse_status::error) {
        error_reply(c, "ERR " + c->parser.error_text());
        c->close_after = true;
        break;
      }
      run_command(c);
      if (c->close_after)
        break;
      if (c->unsent() >= early_flush) {
        if (!flush(c))
          return;
      }
    }
    flush(c);
  }

  /// Shows `c`'s buffers to CLIENT LIST (relaxed stores on its record).
  static void note_buffers(connection* c) {
    auto& r = *c->sess.record;
    r.qbuf.store(c->parser.pending(), std::memory_order_relaxed);
    r.qbuf_alloc.store(c->parser.capacity(), std::memory_order_relaxed);
    r.unsent.store(c->unsent(), std::memory_order_relaxed);
    r.out_alloc.store(c->out.capacity(), std::memory_order_relaxed);
    r.writing.store(c->watching_out, std::memory_order_relaxed);
  }

  /// Replies with an error the loop itself gives, counted as redis counts
  /// every error reply (total_error_replies, errorstats).
  void error_reply(connection* c, std::string_view text) {
    reply::error(c->out, text);
    env_.stats.local().count_error(text);
  }

  /// Runs the command in args_ and sends its reply, unless CLIENT REPLY
  /// turned replies off or skips this one (redis's CLIENT_REPLY_OFF and
  /// _SKIP; a SKIP applies to the command after it).
  void run_command(connection* c) {
    auto mark = c->out.size();
    run_parsed(c);
    auto& s = c->sess;
    if (s.reply_off || s.reply_skip)
      c->out.resize(mark);
    s.reply_skip = std::exchange(s.reply_skip_next, false);
  }

  void run_parsed(connection* c) {
    if (!env_.config.message_mode) {
      if (!tab_) {
        if (auto t = whereis<std::string, value>(*env_.system, store_name))
          tab_ = std::move(*t);
      }
      if (!tab_) {
        error_reply(c, "ERR store unavailable");
        return;
      }
      env_.gate.enter(*gate_slot);
      auto res = execute(&*tab_, env_, c->sess, args_, c->out);
      env_.gate.leave(*gate_slot);
      if (res.store_gone)
        tab_.reset();
      c->close_after |= res.close;
      return;
    }
    // Message mode: this thread admits each command (lookup, arity, AUTH)
    // and runs the connection's own (AUTH, QUIT); the owner executes the
    // rest, one command per call through its mailbox.
    auto res = execute(nullptr, env_, c->sess, args_, c->out);
    c->close_after |= res.close;
    if (res.forward) {
      call_owner(c, exec_atom::value, c->sess.proto, c->sess.id,
                 std::vector<std::string>(args_.begin(), args_.end()));
    } else if (res.forward_exec) {
      // The queue as one message: argc, then the arguments, per command.
      std::vector<std::string> flat;
      for (auto& cmd : c->sess.queued) {
        flat.push_back(std::to_string(cmd.size()));
        flat.insert(flat.end(), cmd.begin(), cmd.end());
      }
      call_owner(c, transaction_atom::value, c->sess.watch_id, c->sess.id,
                 c->sess.proto, std::move(flat));
      end_transaction(env_, c->sess);
      // After the commands it ran, as redis shows it.
      if (env_.monitors.any())
        feed_monitors(env_, c->sess, args_, "exec");
    } else if (res.forward_watch) {
      call_owner(c, watch_atom::value, c->sess.watch_id,
                 std::vector<std::string>(args_.begin() + 1, args_.end()));
    }
  }

  /// Sends `xs` to the owner and appends its reply, looking the owner up
  /// again while it restarts (at most 5 s).
  template <class... Ts>
  void call_owner(connection* c, const Ts&... xs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    for (;;) {
      if (!owner_)
        owner_ = slot_.get();
      if (owner_) {
        auto res = caller_->call<std::string>(owner_, std::chrono::seconds{5},
                                              xs...);
        if (res) {
          c->out += *res;
          return;
        }
        owner_ = nullptr; // dead or restarting: look again
      }
      if (std::chrono::steady_clock::now() > deadline) {
        error_reply(c, "ERR store unavailable");
        return;
      }
      std::this_thread::yield(); // the restart takes microseconds
    }
  }

  /// Sends what it can; false if the connection was closed.
  bool flush(connection* c) {
    while (c->unsent() > 0) {
      auto n = ::send(c->fd, c->out.data() + c->out_off, c->unsent(),
                      MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += static_cast<std::size_t>(n);
        thread_counters::add(env_.stats.local().net_output_bytes, n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      close_conn(c);
      return false;
    }
    if (c->unsent() == 0) {
      c->out.clear();
      c->out_off = 0;
      if (c->close_after) {
        close_conn(c);
        return false;
      }
      if (c->watching_out)
        watch(c, false);
      note_buffers(c);
      return true;
    }
    auto limit = env_.config.output_buffer_limit;
    if (limit > 0 && c->unsent() > static_cast<std::size_t>(limit)) {
      close_conn(c); // a client that does not read its replies
      return false;
    }
    if (c->out_off > early_flush && c->out_off > c->out.size() / 2) {
      c->out.erase(0, c->out_off);
      c->out_off = 0;
    }
    if (!c->watching_out)
      watch(c, true);
    note_buffers(c);
    return true;
  }

  void watch(connection* c, bool out) {
    epoll_event ev{};
    ev.events = out ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = c;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
    c->watching_out = out;
  }

  server_env& env_;
  owner_slot& slot_;
  int listener_;
  int wakeup_;
  int epfd_ = -1;
  parser_limits limits_;
  std::unordered_set<connection*> conns_;
  std::vector<connection*> closed_; // close_conn's, freed by free_closed
  std::vector<std::string_view> args_;
  std::optional<store_table> tab_;
  std::unique_ptr<blocking_caller> caller_;
  caf::actor owner_;
};

} // namespace

server::~server() {
  stop();
}

caf::error server::start() {
  auto& cfg = env_.config;
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener_ < 0)
    return caf::make_error(caf::sec::cannot_open_port, std::strerror(errno));
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(cfg.port));
  if (::inet_pton(AF_INET, cfg.bind.c_str(), &addr.sin_addr) != 1)
    return caf::make_error(caf::sec::invalid_argument,
                           "bad --bind address: " + cfg.bind);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(listener_, 511) != 0)
    return caf::make_error(caf::sec::cannot_open_port,
                           cfg.bind + ":" + std::to_string(cfg.port) + ": "
                             + std::strerror(errno));
  socklen_t len = sizeof(addr);
  if (::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port_ = ntohs(addr.sin_port); // the real one when --port=0
  int n = cfg.threads > 0 ? cfg.threads
                          : static_cast<int>(std::thread::hardware_concurrency());
  n = std::max(n, 1);
  env_.loops = n;
  for (int i = 0; i < n; ++i)
    wakeups_.push_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  for (int i = 0; i < n; ++i)
    loops_.emplace_back([this, i] { run_loop(i); });
  return caf::none;
}

void server::run_loop(int index) {
  loop l{env_, slot_, listener_, wakeups_[static_cast<std::size_t>(index)]};
  l.run(stopping_);
}

void server::stop() {
  stopping_ = true;
  for (auto fd : wakeups_) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(fd, &one, sizeof(one));
  }
  for (auto& t : loops_)
    t.join();
  loops_.clear();
  for (auto fd : wakeups_)
    ::close(fd);
  wakeups_.clear();
  if (listener_ >= 0)
    ::close(listener_);
  listener_ = -1;
}

} // namespace cachet::redis
