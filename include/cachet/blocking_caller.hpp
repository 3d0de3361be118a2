// Blocking calls to actors from plain threads (not from inside actors).
//
// A `blocking_caller` sends a request on behalf of a thread that is not an
// actor and waits for the response, with a timeout. It is the cheap
// alternative to `caf::scoped_actor`: it reuses one actor companion for all
// calls, and the response is handed to the waiting thread directly (it spins
// briefly before sleeping), instead of through a blocking actor's mailbox.
//
// Thread lending (opt-in, `thread_lending::on`): a receiver that is idle when
// the request arrives runs on the calling thread (the caller lends its
// thread, as a CAF worker does for an actor one of its actors wakes)
// instead of waiting for a scheduler worker to wake up: a call to an idle
// owner is then about as fast as a call between actors, and its messages
// stay serialized as always. The price: the receiver's handlers run on the
// caller's thread, so a caller that holds a lock a handler needs deadlocks
// (with itself), and a handler running there cannot be interrupted, so the
// timeout no longer bounds the call. Lend only from threads that hold no
// lock across a call. Without lending (the default), the receiver runs on a
// scheduler worker and the timeout always holds; a worker that sleeps takes
// a while to notice the request (CAF 0.17's work-stealing workers poll,
// every 10 ms once idle; the work-sharing scheduler wakes one at once).
//
// Thread safety: one caller per thread; a caller is not shared. Inside
// actors, use `self->request(...)`: blocking a scheduler thread stalls other
// actors.
//
// Example:
//   cachet::blocking_caller caller{sys};
//   auto v = caller.call(owner, std::chrono::seconds{1},
//                        cachet::lookup_atom_v, key);  // expected<optional<V>>
//   if (!v && v.error() == cachet::errc::call_timeout) ...
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/detail/implicit_conversions.hpp>
#include <caf/response_type.hpp>
#include <caf/sec.hpp>

#include "cachet/errc.hpp"

namespace cachet {

namespace detail {

template <class... Rs>
struct call_result {
  using type = std::tuple<Rs...>;
};

template <>
struct call_result<> {
  using type = void;
};

template <class R>
struct call_result<R> {
  using type = R;
};

template <class Handle, class... Ts>
struct typed_response {
  using list = caf::response_type_t<
    typename Handle::signatures,
    typename caf::detail::strip_and_convert<Ts>::type...>;
};

} // namespace detail

/// Whether a blocking call may run an idle receiver on the calling thread;
/// see the header comment.
enum class thread_lending : std::uint8_t { off, on };

/// Sends requests from a plain thread and waits for their responses.
class blocking_caller {
public:
  /// A caller for `sys`. Lending a thread needs cachet::configure on the
  /// system's config (std::logic_error otherwise).
  explicit blocking_caller(caf::actor_system& sys,
                           thread_lending lending = thread_lending::off);
  ~blocking_caller();

  blocking_caller(const blocking_caller&) = delete;
  blocking_caller& operator=(const blocking_caller&) = delete;

  /// Sends `xs...` to `dest` and waits at most `timeout` for the response.
  /// The response types `Rs...` are deduced for typed actors; for
  /// `caf::actor` name them. Returns `expected<R>` for one response type,
  /// `expected<std::tuple<Rs...>>` for several, `expected<void>` for none.
  /// Errors: the receiver's error response, caf::sec::request_receiver_down
  /// if `dest` is dead (on another node: as soon as this node knows it,
  /// its node's death included), errc::call_timeout after `timeout` (a
  /// late response is then dropped; with thread lending, once a handler
  /// running on this thread has returned).
  template <class... Rs, class Handle, class Rep, class Period, class... Ts>
  auto call(const Handle& dest, std::chrono::duration<Rep, Period> timeout,
            Ts&&... xs) {
    if constexpr (sizeof...(Rs) == 0
                  && !std::is_same_v<typename Handle::signatures,
                                     caf::none_t>) {
      using list = typename detail::typed_response<Handle, Ts...>::list;
      return call_list(list{}, dest, timeout, std::forward<Ts>(xs)...);
    } else {
      return call_list(caf::detail::type_list<Rs...>{}, dest, timeout,
                       std::forward<Ts>(xs)...);
    }
  }

private:
  // A typed `with<void>` response is an empty message.
  template <class Handle, class Rep, class Period, class... Ts>
  caf::expected<void> call_list(caf::detail::type_list<void>, const Handle& dest,
                                std::chrono::duration<Rep, Period> timeout,
                                Ts&&... xs) {
    return call_list(caf::detail::type_list<>{}, dest, timeout,
                     std::forward<Ts>(xs)...);
  }

  template <class... Rs, class Handle, class Rep, class Period, class... Ts>
  caf::expected<typename detail::call_result<Rs...>::type>
  call_list(caf::detail::type_list<Rs...>, const Handle& dest,
            std::chrono::duration<Rep, Period> timeout, Ts&&... xs) {
    using result_type = typename detail::call_result<Rs...>::type;
    auto res = roundtrip(caf::actor_cast<caf::strong_actor_ptr>(dest),
                         caf::make_message(std::forward<Ts>(xs)...),
                         std::chrono::duration_cast<caf::timespan>(timeout));
    if (!res)
      return std::move(res.error());
    auto& msg = *res;
    if (msg.template match_elements<caf::error>())
      return msg.template get_as<caf::error>(0);
    if (!msg.template match_elements<Rs...>())
      return caf::make_error(caf::sec::unexpected_response, std::move(msg));
    if constexpr (sizeof...(Rs) == 0) {
      return caf::unit;
    } else if constexpr (sizeof...(Rs) == 1) {
      return result_type{std::move(msg.template get_mutable_as<Rs...>(0))};
    } else {
      return unpack<Rs...>(msg, std::index_sequence_for<Rs...>{});
    }
  }

  template <class... Rs, std::size_t... Is>
  static std::tuple<Rs...> unpack(caf::message& msg,
                                  std::index_sequence<Is...>) {
    return std::tuple<Rs...>{std::move(msg.template get_mutable_as<Rs>(Is))...};
  }

  caf::expected<caf::message> roundtrip(caf::strong_actor_ptr dest,
                                        caf::message msg,
                                        caf::timespan timeout);

  struct state;
  // The unit first: finding it may throw, before the companion exists.
  caf::execution_unit* unit_; // lending: runs an idle receiver here
  std::shared_ptr<state> state_;
  caf::actor companion_;
  std::uint64_t last_id_ = 0;
};

} // namespace cachet
