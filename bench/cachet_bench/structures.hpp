// The tables a block of cells runs on: cachet's (protected and public, each
// with its owner actor) and the C++ peers, all filled with the same keys and
// values, and the code that runs one path on them for one timed run.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <cachet/cachet.hpp>

#include <caf/all.hpp>

#include "measure.hpp"
#include "paths.hpp"
#include "peers.hpp"
#include "workload.hpp"

namespace cachet_bench {

using namespace std::chrono_literals;

/// Timeout of every message-path call, as an application would pass one.
constexpr auto call_timeout = 5s;

/// cachet's direct path through a non-owner handle.
template <class K, class V>
struct cachet_direct {
  cachet::table<K, V> tab;
  std::uint64_t read(const K& k) const {
    std::uint64_t r = 0;
    auto found = tab.visit(k, [&](cachet::view_t<V> v) { r = consume(v); });
    return found && *found ? r : 0;
  }
  bool write(const K& k, const V& v) {
    return static_cast<bool>(tab.insert(k, v));
  }
};

// -- message-path client actor ------------------------------------------------

struct client_state {
  static inline const char* name = "cachet_bench.client";
  const op_code* ops = nullptr;
  std::size_t mask = 0;
  std::size_t pos = 0;
  std::uint64_t done = 0;
  std::uint64_t sink = 0;
  std::uint64_t errors = 0;
  std::uint64_t version = 0;
  std::unique_ptr<window> win;
  cachet::request_timer timer;
  worker_result* out = nullptr;
  std::atomic<std::size_t>* finished = nullptr;
};

using client_actor = caf::stateful_actor<client_state>;

// -- a block: all structures for one (value type, key count) ---------------------

/// Holds every structure of one value type and key count, filled alike, and
/// runs paths on them. Paths not selected are not built.
template <class Types>
class block {
public:
  using key_type = typename Types::key_type;
  using value_type = typename Types::value_type;
  using owner_type = cachet::owner_actor<key_type, value_type>;

  /// `want(p)` says which paths to build.
  template <class Want, class Progress>
  block(caf::actor_system& sys, const std::vector<std::uint64_t>& raw_keys,
        Want want, Progress progress)
    : sys_(sys), raw_keys_(raw_keys) {
    keys_.reserve(raw_keys.size());
    for (auto k : raw_keys)
      keys_.push_back(Types::make_key(k));
    write_values_[0] = Types::make_value(1, 1);
    write_values_[1] = Types::make_value(2, 2);
    auto tag = std::string{Types::name} + "." + std::to_string(keys_.size());
    // cachet's tables fill on one thread, the peers on another: the
    // structures are independent and a million string entries take a while.
    std::exception_ptr failure;
    std::thread cachet_side{[&] {
      try {
        fill_cachet(want, tag, progress);
      } catch (...) {
        failure = std::current_exception();
      }
    }};
    std::exception_ptr peer_failure;
    try {
      fill_peer(want(path_id::peer_shared_mutex), sm_,
                "std::shared_mutex map", progress);
#ifdef CACHET_BENCH_HAVE_TBB
      fill_peer(want(path_id::peer_tbb), tbb_, "tbb::concurrent_hash_map",
                progress);
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
      fill_peer(want(path_id::peer_libcuckoo), cuckoo_, "libcuckoo",
                progress);
#endif
#ifdef CACHET_BENCH_HAVE_TBB
      fill_peer(want(path_id::peer_tbb_unordered), tbb_unordered_,
                "tbb::concurrent_unordered_map", progress);
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
      fill_peer(want(path_id::peer_cds_feldman), cds_feldman_,
                "libcds FeldmanHashMap", progress);
      fill_peer(want(path_id::peer_cds_splitlist), cds_splitlist_,
                "libcds SplitListMap", progress);
#endif
#ifdef CACHET_BENCH_HAVE_XENIUM
      fill_peer(want(path_id::peer_xenium_vyukov), xenium_vyukov_,
                "xenium::vyukov_hash_map", progress);
      fill_peer(want(path_id::peer_xenium_harris_michael), xenium_hm_,
                "xenium::harris_michael_hash_map", progress);
#endif
      fill_peer(want(path_id::ceiling_unsync), unsync_, "unsynchronized map",
                progress);
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
      fill_peer(want(path_id::ceiling_boost_flat), boost_flat_,
                "boost::unordered_flat_map", progress);
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
      fill_peer(want(path_id::ceiling_absl_flat), absl_flat_,
                "absl::flat_hash_map", progress);
#endif
    } catch (...) {
      peer_failure = std::current_exception();
    }
    cachet_side.join();
    if (!failure)
      failure = peer_failure;
    if (failure) {
      stop_owners(); // else the actor system would wait for them forever
      std::rethrow_exception(failure);
    }
  }

  ~block() {
    stop_owners();
  }

  block(const block&) = delete;
  block& operator=(const block&) = delete;

  /// One timed run of path `p` on `streams.size()` threads (or clients).
  std::vector<worker_result>
  run(path_id p, const std::vector<const std::vector<op_code>*>& streams,
      const timing& t) {
    switch (p) {
      case path_id::direct_protected: return run_direct(*prot_, streams, t);
      case path_id::direct_public: return run_direct(*pub_, streams, t);
      case path_id::peer_shared_mutex: return run_direct(*sm_, streams, t);
#ifdef CACHET_BENCH_HAVE_TBB
      case path_id::peer_tbb: return run_direct(*tbb_, streams, t);
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
      case path_id::peer_libcuckoo: return run_direct(*cuckoo_, streams, t);
#endif
#ifdef CACHET_BENCH_HAVE_TBB
      case path_id::peer_tbb_unordered:
        return run_direct(*tbb_unordered_, streams, t);
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
      case path_id::peer_cds_feldman:
        return run_direct(*cds_feldman_, streams, t);
      case path_id::peer_cds_splitlist:
        return run_direct(*cds_splitlist_, streams, t);
#endif
#ifdef CACHET_BENCH_HAVE_XENIUM
      case path_id::peer_xenium_vyukov:
        return run_direct(*xenium_vyukov_, streams, t);
      case path_id::peer_xenium_harris_michael:
        return run_direct(*xenium_hm_, streams, t);
#endif
      case path_id::ceiling_unsync: return run_direct(*unsync_, streams, t);
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
      case path_id::ceiling_boost_flat:
        return run_direct(*boost_flat_, streams, t);
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
      case path_id::ceiling_absl_flat:
        return run_direct(*absl_flat_, streams, t);
#endif
      case path_id::message_thread: return run_callers(streams, t);
      case path_id::message_actor: return run_clients(streams, t);
      default: return {};
    }
  }

  const key_type& key(op_code code) const {
    return keys_[code & ~write_bit];
  }

  /// The value a write stores; strings alternate between two prepared ones.
  decltype(auto) write_value(std::uint64_t version) const {
    if constexpr (std::is_same_v<value_type, std::uint64_t>)
      return version;
    else
      return static_cast<const value_type&>(write_values_[version & 1]);
  }

  const owner_type& owner() const {
    return owner_prot_;
  }

  /// How client actors time their requests.
  enum class actor_timeout {
    /// cachet::request_timer, 5 s: what cachet recommends for calls in a loop.
    timer,
    /// CAF's own per-request timeout, 5 s: one clock event per request.
    caf,
    /// No timeout at all.
    none,
  };

  void set_actor_timeout(actor_timeout x) {
    actor_timeout_ = x;
  }

private:
  void stop_owners() {
    for (auto* h : {&owner_prot_, &owner_pub_})
      if (*h)
        caf::anon_send_exit(*h, caf::exit_reason::user_shutdown);
  }

  template <class Want, class Progress>
  void fill_cachet(Want& want, const std::string& tag, Progress& progress) {
    const auto& raw_keys = raw_keys_;
    if (want(path_id::direct_protected) || want(path_id::message_actor)
        || want(path_id::message_thread)) {
      progress("protected table (filled through its owner)");
      owner_prot_ = spawn(tag + ".protected", cachet::access_mode::protected_);
      prot_.emplace(cachet_direct<key_type, value_type>{
        *cachet::whereis<key_type, value_type>(sys_, tag + ".protected")});
      // One insert message per entry, as an application fills a protected
      // table; a mailbox is FIFO, so the size call answers after all of them.
      for (std::size_t i = 0; i < keys_.size(); ++i)
        caf::anon_send(owner_prot_, cachet::insert_atom_v, keys_[i],
                       Types::make_value(raw_keys[i], 0));
      cachet::blocking_caller caller{sys_};
      auto size = caller.call(owner_prot_, 600s, cachet::size_atom_v);
      if (!size || *size != keys_.size())
        throw std::runtime_error("filling the protected table failed");
    }
    if (want(path_id::direct_public)) {
      progress("public table");
      owner_pub_ = spawn(tag + ".public", cachet::access_mode::public_);
      pub_.emplace(cachet_direct<key_type, value_type>{
        *cachet::whereis<key_type, value_type>(sys_, tag + ".public")});
      for (std::size_t i = 0; i < keys_.size(); ++i)
        if (!pub_->tab.insert(keys_[i], Types::make_value(raw_keys[i], 0)))
          throw std::runtime_error("filling the public table failed");
    }
  }

  owner_type spawn(const std::string& name, cachet::access_mode mode) {
    cachet::table_options opts;
    opts.name = name;
    opts.mode = mode;
    auto h = cachet::spawn_owner<key_type, value_type>(sys_, std::move(opts));
    if (!h)
      throw std::runtime_error("spawn_owner failed: " + sys_.render(h.error()));
    return *h;
  }

  template <class Map, class Progress>
  void fill_peer(bool wanted, std::unique_ptr<Map>& m, const char* what,
                 Progress& progress) {
    if (!wanted)
      return;
    progress(what);
    m = make_peer<Map>(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i)
      m->put(keys_[i], Types::make_value(raw_keys_[i], 0));
  }

  template <class Map>
  std::vector<worker_result>
  run_direct(Map& m, const std::vector<const std::vector<op_code>*>& streams,
             const timing& t) {
    return run_threads(streams.size(), t,
                       [&](std::size_t i, const std::atomic<int>& phase,
                           worker_result& out) {
                         // libcds: this thread attached while it runs.
                         [[maybe_unused]] typename thread_scope_of<Map>::type
                           scope;
                         std::uint64_t version = std::uint64_t{i} << 40;
                         std::uint64_t errors = 0;
                         direct_loop(phase, *streams[i], out,
                                     [&](op_code code) -> std::uint64_t {
                                       const auto& k = key(code);
                                       if ((code & write_bit) == 0)
                                         return m.read(k);
                                       if (!m.write(k, write_value(++version)))
                                         ++errors;
                                       return 0;
                                     });
                         out.errors = errors;
                       });
  }

  /// Plain threads, each with its own blocking_caller (lending its thread:
  /// the bench's threads hold no locks), one call at a time.
  std::vector<worker_result>
  run_callers(const std::vector<const std::vector<op_code>*>& streams,
              timing t) {
    t.pin = false; // CAF's workers share the cores and are not pinned
    return run_threads(
      streams.size(), t,
      [&](std::size_t i, const std::atomic<int>& phase, worker_result& out) {
        cachet::blocking_caller caller{sys_, cachet::thread_lending::on};
        const auto& ops = *streams[i];
        const std::size_t mask = ops.size() - 1;
        std::size_t pos = 0;
        std::uint64_t done = 0;
        std::uint64_t version = std::uint64_t{i} << 40;
        window w{phase};
        while (w.tick(done, out)) {
          auto code = ops[pos];
          pos = (pos + 1) & mask;
          auto timed = timed_call(done);
          auto t0 = timed ? clock_type::now() : clock_type::time_point{};
          if ((code & write_bit) == 0) {
            auto v = caller.call(owner_prot_, call_timeout,
                                 cachet::lookup_atom_v, key(code));
            if (v && *v)
              out.sink += consume(**v);
            else
              ++out.errors;
          } else {
            auto r = caller.call(owner_prot_, call_timeout,
                                 cachet::insert_atom_v, key(code),
                                 value_type{write_value(++version)});
            if (!r)
              ++out.errors;
          }
          if (timed && w.measuring())
            out.latency_us.push_back(std::chrono::duration<float, std::micro>(
                                       clock_type::now() - t0)
                                       .count());
          ++done;
        }
      });
  }

  /// Client actors, each chaining request(...).then: one call in flight per
  /// client, as a process doing GenServer.call in a loop.
  std::vector<worker_result>
  run_clients(const std::vector<const std::vector<op_code>*>& streams,
              const timing& t) {
    std::atomic<int> phase{run_phase::warming};
    std::atomic<std::size_t> finished{0};
    std::vector<worker_result> results(streams.size());
    for (std::size_t i = 0; i < streams.size(); ++i)
      sys_.spawn([&, i](client_actor* self) {
        auto& st = self->state;
        st.ops = streams[i]->data();
        st.mask = streams[i]->size() - 1;
        st.version = std::uint64_t{i} << 40;
        st.win = std::make_unique<window>(phase);
        st.out = &results[i];
        st.finished = &finished;
        client_next(self);
      });
    drive(phase, t);
    while (finished.load(std::memory_order_acquire) < streams.size())
      std::this_thread::sleep_for(1ms);
    return results;
  }

  void client_next(client_actor* self) {
    auto& st = self->state;
    if (!st.win->tick(st.done, *st.out)) {
      st.out->sink = st.sink;
      st.out->errors = st.errors;
      auto* finished = st.finished;
      self->quit();
      finished->fetch_add(1, std::memory_order_release);
      return;
    }
    auto code = st.ops[st.pos];
    st.pos = (st.pos + 1) & st.mask;
    auto timed = timed_call(st.done);
    auto t0 = timed ? clock_type::now() : clock_type::time_point{};
    auto next = [this, self, timed, t0] {
      auto& s = self->state;
      if (timed && s.win->measuring())
        s.out->latency_us.push_back(
          std::chrono::duration<float, std::micro>(clock_type::now() - t0)
            .count());
      ++s.done;
      client_next(self);
    };
    auto fail = [self, next](caf::error&) {
      ++self->state.errors;
      next();
    };
    // The same call and handlers, timed one of three ways.
    auto call = [&](auto&&... xs) {
      switch (actor_timeout_) {
        case actor_timeout::timer:
          return send_call(st.timer.request(self, owner_prot_, call_timeout,
                                            xs...),
                           self, next, fail, xs...);
        case actor_timeout::caf:
          return send_call(self->request(owner_prot_, call_timeout, xs...),
                           self, next, fail, xs...);
        case actor_timeout::none:
          return send_call(self->request(owner_prot_,
                                         caf::duration{caf::infinite}, xs...),
                           self, next, fail, xs...);
      }
    };
    if ((code & write_bit) == 0)
      call(cachet::lookup_atom_v, key(code));
    else
      call(cachet::insert_atom_v, key(code),
           value_type{write_value(++st.version)});
  }

  /// Sets the handlers of a lookup's or an insert's response.
  template <class Response, class Next, class Fail, class Atom, class... Ts>
  static void send_call(Response&& r, client_actor* self, Next next, Fail fail,
                        Atom, const Ts&...) {
    if constexpr (std::is_same_v<Atom, cachet::lookup_atom>)
      r.then(
        [self, next](std::optional<value_type>& v) {
          if (v)
            self->state.sink += consume(*v);
          else
            ++self->state.errors;
          next();
        },
        fail);
    else
      r.then([next] { next(); }, fail);
  }

  caf::actor_system& sys_;
  actor_timeout actor_timeout_ = actor_timeout::timer;
  const std::vector<std::uint64_t>& raw_keys_;
  std::vector<key_type> keys_;
  value_type write_values_[2];
  owner_type owner_prot_;
  owner_type owner_pub_;
  std::optional<cachet_direct<key_type, value_type>> prot_;
  std::optional<cachet_direct<key_type, value_type>> pub_;
  std::unique_ptr<shared_mutex_map<key_type, value_type>> sm_;
#ifdef CACHET_BENCH_HAVE_TBB
  std::unique_ptr<tbb_map<key_type, value_type>> tbb_;
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
  std::unique_ptr<cuckoo_map<key_type, value_type>> cuckoo_;
#endif
#ifdef CACHET_BENCH_HAVE_TBB
  std::unique_ptr<tbb_unordered_map<key_type, value_type>> tbb_unordered_;
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
  std::unique_ptr<cds_feldman_peer<key_type, value_type>> cds_feldman_;
  std::unique_ptr<cds_splitlist_peer<key_type, value_type>> cds_splitlist_;
#endif
#ifdef CACHET_BENCH_HAVE_XENIUM
  std::unique_ptr<xenium_vyukov_peer<key_type, value_type>> xenium_vyukov_;
  std::unique_ptr<xenium_harris_michael_peer<key_type, value_type>>
    xenium_hm_;
#endif
  std::unique_ptr<unsync_map<key_type, value_type>> unsync_;
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
  std::unique_ptr<boost_flat_map<key_type, value_type>> boost_flat_;
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
  std::unique_ptr<absl_flat_map<key_type, value_type>> absl_flat_;
#endif
};

} // namespace cachet_bench
