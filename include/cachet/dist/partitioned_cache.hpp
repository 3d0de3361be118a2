// A cache partitioned over the nodes of a cluster (Nebulex's partitioned
// adapter): every node holds a shard, and each key has one home among the
// live members, chosen by rendezvous hashing.
//
// `partition::start(node, opts)` starts this node's shard: a cachet cache
// (its owner spawned here under a supervisor of its own with the heir
// policy, its name `opts.shard.name` on every node) and the actor peers
// call. `partitioned_cache` is a client of the whole cache, for
// one thread at a time (it holds a blocking_caller); make one per thread.
//
// Placement: a key falls into one of 16384 slots by its hash (Redis
// Cluster's count), and a slot's home is the live member (this node
// included) with the highest XXH3 of the slot seeded with the member's
// name, rendezvous hashing: the same on every node that sees the same
// members, and when a node joins or leaves only the slots it gains or held
// move (about 1/N of the keys), never a rehash mod N. A client computes
// every slot's home once per membership change, so a key's home is a
// multiply and a load. The key's hash must be the same in every process:
// default_hash is (XXH3 of strings, the integer itself for integers).
//
// Operations: a key homed here is read and written directly on the local
// shard; another key goes to its home over the network, with
// `opts.timeout` on every call. `fetch` runs at the home, through the home
// shard's single-flight, with the loader the home registered: one load per
// key however many nodes miss it at once (as long as they agree on the
// members; during a membership change two views may briefly pick two
// homes). When a node dies its keys re-home to the survivors, which load
// them on demand; until this node sees it down, a call to it fails with
// caf::sec::request_receiver_down or call_timeout, never hangs.
// `get_many` and `put_many` split a batch by home, one call per home:
// each key's read or write is atomic, a batch is not isolated as a whole.
//
// Types: add_partition_types<K, V>(cfg, ...) on every node's config.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/replies_to.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cachet/blocking_caller.hpp"
#include "cachet/cache.hpp"
#include "cachet/cache_owner.hpp"
#include "cachet/detail/hash.hpp"
#include "cachet/detail/owner_start.hpp"
#include "cachet/detail/respond.hpp"
#include "cachet/dist/node.hpp"
#include "cachet/dist/remote.hpp"
#include "cachet/errc.hpp"
#include "cachet/supervisor.hpp"
#include "cachet/table_policy.hpp"

namespace cachet::dist {

namespace detail {

/// A member's seed for rendezvous hashing: XXH3 of its name.
inline std::uint64_t member_seed(const std::string& name) {
  return cachet::detail::hash_bytes(name.data(), name.size());
}

/// Keys fall into 2^14 slots by their hash (Redis Cluster's 16384), and a
/// slot's home is chosen by rendezvous hashing; a client computes every
/// slot's home once per membership change, so that a key's home costs a
/// multiply and a load instead of a hash per member.
inline constexpr unsigned slot_bits = 14;
inline constexpr std::size_t slot_count = std::size_t{1} << slot_bits;

/// The slot of a key hashed to `key_hash`. default_hash leaves integers as
/// they are, so the hash is mixed first: nearby keys spread over the slots.
inline std::size_t slot_of(std::uint64_t key_hash) noexcept {
  auto h = (key_hash ^ (key_hash >> 32)) * 0x9e3779b97f4a7c15ull;
  return static_cast<std::size_t>(h >> (64 - slot_bits));
}

/// The index of the home of `slot` among `names` (with their seeds): the
/// highest XXH3 of the slot seeded with the member's seed; equal scores
/// (never seen in practice) go to the smaller seed, then the smaller name.
/// names.size() if empty.
inline std::size_t home_index(std::size_t slot,
                              const std::vector<std::string>& names,
                              const std::vector<std::uint64_t>& seeds) {
  // The scores of a chunk of members come from one call, and the maximum
  // is taken without branching on the scores: each comparison is a coin
  // flip no branch predictor gets right, which cost more than the hashes.
  constexpr std::size_t chunk = 16;
  std::uint64_t scores[chunk];
  const auto n = names.size();
  auto best = n;
  std::uint64_t best_score = 0;
  for (std::size_t base = 0; base < n; base += chunk) {
    auto m = std::min(chunk, n - base);
    cachet::detail::hash_u64_seeded(slot, seeds.data() + base, scores, m);
    for (std::size_t j = 0; j < m; ++j) {
      auto i = base + j;
      auto score = scores[j];
      bool better = best == n || score > best_score;
      if (__builtin_expect(best != n && score == best_score, 0))
        better = seeds[i] < seeds[best]
                 || (seeds[i] == seeds[best] && names[i] < names[best]);
      best = better ? i : best;
      best_score = better ? score : best_score;
    }
  }
  return best;
}

/// Where every slot lives for one view of the members.
struct placement {
  std::uint64_t version = 0; ///< the node's membership_version it reflects
  std::vector<std::string> names; ///< this node first
  std::vector<std::uint16_t> homes; ///< slot -> index into names
};

/// The placement over `names` (this node first; at most 65535 members).
inline placement place(std::uint64_t version, std::vector<std::string> names) {
  std::vector<std::uint64_t> seeds;
  for (auto& name : names)
    seeds.push_back(member_seed(name));
  placement p{version, std::move(names), {}};
  p.homes.resize(slot_count);
  for (std::size_t slot = 0; slot < slot_count; ++slot)
    p.homes[slot]
      = static_cast<std::uint16_t>(home_index(slot, p.names, seeds));
  return p;
}

} // namespace detail

/// The member among `members` that is home of a key hashed to `key_hash`;
/// empty if there are none.
inline std::string home_of(std::uint64_t key_hash,
                           const std::vector<std::string>& members) {
  std::vector<std::uint64_t> seeds;
  for (auto& m : members)
    seeds.push_back(detail::member_seed(m));
  auto i = detail::home_index(detail::slot_of(key_hash), members, seeds);
  return i < members.size() ? members[i] : std::string{};
}

/// What a shard answers its peers.
template <class K, class V>
using shard_actor = caf::typed_actor<
  typename caf::replies_to<lookup_atom, K>::template with<std::optional<V>>,
  typename caf::replies_to<fetch_atom, K>::template with<V>,
  typename caf::replies_to<insert_atom, K, V>::template with<void>,
  typename caf::replies_to<erase_atom, K>::template with<bool>,
  typename caf::replies_to<lookup_atom, std::vector<K>>::template with<
    std::vector<std::optional<V>>>,
  typename caf::replies_to<insert_atom, std::vector<std::pair<K, V>>>::
    template with<void>>;

/// Registers what a partitioned cache of K -> V sends (see add_table_types).
template <class K, class V>
void add_partition_types(caf::actor_system_config& cfg,
                         const std::string& key_name = {},
                         const std::string& value_name = {}) {
  add_table_types<K, V>(cfg, key_name, value_name);
  auto k = detail::config_type_name(cfg, detail::type_ref_of<K>());
  auto v = detail::config_type_name(cfg, detail::type_ref_of<V>());
  detail::add_type<std::vector<K>>(cfg, "std::vector<" + k + ">");
  detail::add_type<std::vector<std::optional<V>>>(
    cfg, "std::vector<std::optional<" + v + ">>");
}

template <class K, class V>
struct partition_options {
  /// This node's shard; `shard.name` names the cache on every node. The
  /// shard is public: peers' calls write it through this node's actor.
  cache_options<K, V> shard;
  /// Loads a key this node is home of (fetch).
  std::function<V(const K&)> loader;
  /// The bound of every call to another node.
  caf::timespan timeout = std::chrono::seconds{1};
};

namespace detail {

template <class K, class V>
expected_type partition_type() {
  auto t = table_type<K, V, set<>>();
  t.kind = "partition";
  t.wire.push_back(type_ref_of<std::vector<K>>());
  t.wire.push_back(type_ref_of<std::vector<std::optional<V>>>());
  return t;
}

struct shard_front_state {
  static inline const char* name = "cachet.shard_front";
};

/// A shard's front runs a peer's single-key call on the thread that
/// delivers it, as owners do (detail/owner_start.hpp).
template <class K, class V>
using shard_front_impl
  = cachet::detail::owner_impl<shard_front_state,
                               typename shard_actor<K, V>::base, K>;

template <class K, class V>
typename shard_actor<K, V>::behavior_type
shard_front(shard_front_impl<K, V>* self, cache<K, V> local,
            caf::actor_addr supervisor, cache_loader<K, V> loader) {
  using cachet::detail::respond;
  return {
    [=](lookup_atom, const K& k) { return respond(local.get(k)); },
    [=](fetch_atom, const K& k) -> caf::result<V> {
      // Whoever owns the shard now: while the supervisor holds it as heir
      // (its owner crashed and is restarting), there is none to load.
      auto owner = local.owner();
      if (!owner || owner == supervisor)
        return caf::make_error(errc::table_gone, "shard restarting");
      // The owner loads off its thread, once per key, and answers.
      return self->delegate(caf::actor_cast<cache_actor<K, V>>(owner),
                            fetch_atom_v, k, loader);
    },
    [=](insert_atom, K& k, V& v) mutable {
      return respond(local.put(std::move(k), std::move(v)));
    },
    [=](erase_atom, const K& k) mutable { return respond(local.invalidate(k)); },
    [=](lookup_atom, const std::vector<K>& ks)
      -> caf::result<std::vector<std::optional<V>>> {
      std::vector<std::optional<V>> out;
      out.reserve(ks.size());
      for (auto& k : ks) {
        auto v = local.get(k);
        if (!v)
          return std::move(v.error());
        out.push_back(std::move(*v));
      }
      return out;
    },
    [=](insert_atom, std::vector<std::pair<K, V>>& xs) mutable
      -> caf::result<void> {
      for (auto& [k, v] : xs)
        if (auto r = local.put(std::move(k), std::move(v)); !r)
          return std::move(r.error());
      return caf::unit;
    },
  };
}

} // namespace detail

/// This node's shard of a partitioned cache, under a supervisor of its own
/// (one_for_one, `supervision`) with the heir policy: when the shard's
/// owner crashes, the supervisor holds the cache and hands it, entries and
/// all, to the restarted owner, so no acknowledged write to the shard is
/// lost and local reads see no gap (a fetch meanwhile answers table_gone).
/// Stops the shard when destroyed.
template <class K, class V>
class partition {
public:
  /// Starts the shard on `n` (which must outlive it). Errors: those of
  /// start_supervisor and spawn_cache (start_failed, name_taken...),
  /// type_not_registered.
  static caf::expected<partition>
  start(const node& n, partition_options<K, V> opts,
        supervisor_flags supervision = default_supervision()) {
    auto& sys = n.actor().home_system();
    auto sig = detail::signature_of(sys, detail::partition_type<K, V>());
    if (!sig)
      return std::move(sig.error());
    opts.shard.mode = access_mode::public_;
    auto sup = start_supervisor(sys, supervision,
                                {cache_child<K, V>(opts.shard.name, opts.shard,
                                                   table_policy::heir)});
    if (!sup)
      return std::move(sup.error());
    auto local = whereis_cache<K, V>(sys, opts.shard.name);
    if (!local) {
      caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
      return std::move(local.error());
    }
    auto front = sys.spawn(detail::shard_front<K, V>, *local, sup->address(),
                           cache_loader<K, V>{opts.loader});
    detail::add_service(n, opts.shard.name, *sig,
                        caf::actor_cast<caf::actor>(front));
    return partition{n, std::move(opts), *sup, front};
  }

  partition(partition&& other) noexcept
    : node_(other.node_), opts_(std::move(other.opts_)),
      sup_(std::move(other.sup_)), front_(std::move(other.front_)) {
    other.node_ = nullptr;
  }

  partition& operator=(partition&&) = delete;

  ~partition() {
    if (node_ == nullptr)
      return;
    detail::remove_service(*node_, opts_.shard.name);
    caf::anon_send_exit(front_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sup_, caf::exit_reason::user_shutdown);
  }

  const node& home_node() const noexcept {
    return *node_;
  }

  /// one_for_one, at most 3 restarts in 5 s (Elixir's Supervisor default).
  static supervisor_flags default_supervision() {
    supervisor_flags f;
    f.intensity = 3;
    return f;
  }

  /// The shard's supervisor (which_children names its owner).
  const supervisor_actor& supervisor() const noexcept {
    return sup_;
  }

  const partition_options<K, V>& options() const noexcept {
    return opts_;
  }

private:
  partition(const node& n, partition_options<K, V> opts, supervisor_actor sup,
            shard_actor<K, V> front)
    : node_(&n), opts_(std::move(opts)), sup_(std::move(sup)),
      front_(std::move(front)) {
    // nop
  }

  const node* node_;
  partition_options<K, V> opts_;
  supervisor_actor sup_;
  shard_actor<K, V> front_;
};

/// A client of a partitioned cache, for one thread at a time.
template <class K, class V>
class partitioned_cache {
public:
  /// A client of the cache whose local shard is `p` (which must outlive it).
  explicit partitioned_cache(const partition<K, V>& p)
    : node_(&p.home_node()), opts_(&p.options()),
      local_(*whereis_cache<K, V>(node_->actor().home_system(),
                                  opts_->shard.name)),
      caller_(node_->actor().home_system()) {
    refresh();
  }

  /// The member that is home of `key` now: this node's name or a peer's.
  std::string home(const K& key) const {
    auto& v = view();
    return v.names[home_index(key, v)];
  }

  caf::expected<std::optional<V>> get(const K& key) {
    auto& v = view();
    auto i = home_index(key, v);
    if (i == 0)
      return local_.get(key);
    return remote<std::optional<V>>(v.names[i], lookup_atom_v, key);
  }

  /// The value of `key`, loaded at its home if missing there.
  caf::expected<V> fetch(const K& key) {
    auto& v = view();
    auto i = home_index(key, v);
    if (i == 0)
      return local_.fetch(key, opts_->loader);
    return remote<V>(v.names[i], fetch_atom_v, key);
  }

  caf::expected<void> put(K key, V value) {
    auto& v = view();
    auto i = home_index(key, v);
    if (i == 0)
      return local_.put(std::move(key), std::move(value));
    return remote<void>(v.names[i], insert_atom_v, std::move(key),
                        std::move(value));
  }

  caf::expected<bool> invalidate(const K& key) {
    auto& v = view();
    auto i = home_index(key, v);
    if (i == 0)
      return local_.invalidate(key);
    return remote<bool>(v.names[i], erase_atom_v, key);
  }

  /// The values of `keys`, in order: one call per home node.
  caf::expected<std::vector<std::optional<V>>>
  get_many(const std::vector<K>& keys) {
    std::vector<std::optional<V>> out(keys.size());
    for (auto& [where, idx] : split(keys, [](const K& k) { return &k; })) {
      std::vector<K> ks;
      for (auto i : idx)
        ks.push_back(keys[i]);
      std::vector<std::optional<V>> vs;
      if (where == node_->name()) {
        for (auto& k : ks) {
          auto v = local_.get(k);
          if (!v)
            return std::move(v.error());
          vs.push_back(std::move(*v));
        }
      } else {
        auto r = remote<std::vector<std::optional<V>>>(where, lookup_atom_v,
                                                       std::move(ks));
        if (!r)
          return std::move(r.error());
        vs = std::move(*r);
      }
      if (vs.size() != idx.size())
        return caf::make_error(caf::sec::unexpected_response);
      for (std::size_t j = 0; j < idx.size(); ++j)
        out[idx[j]] = std::move(vs[j]);
    }
    return out;
  }

  /// Writes every pair, one call per home node. On an error, the homes
  /// already written keep their writes.
  caf::expected<void> put_many(std::vector<std::pair<K, V>> xs) {
    for (auto& [where, idx] :
         split(xs, [](const std::pair<K, V>& x) { return &x.first; })) {
      std::vector<std::pair<K, V>> batch;
      for (auto i : idx)
        batch.push_back(std::move(xs[i]));
      if (where == node_->name()) {
        for (auto& [k, v] : batch)
          if (auto r = local_.put(std::move(k), std::move(v)); !r)
            return r;
      } else if (auto r = remote<void>(where, insert_atom_v, std::move(batch));
                 !r) {
        return r;
      }
    }
    return caf::unit;
  }

private:
  /// Where the slots live as this client last saw the members, refreshed
  /// when the node's membership has changed since (one atomic load
  /// otherwise: a local key costs no lock).
  const detail::placement& view() const {
    if (__builtin_expect(node_->membership_version() != view_.version, 0))
      refresh();
    return view_;
  }

  /// The version is read first: a change racing the refresh is seen again
  /// on the next call.
  void refresh() const {
    auto version = node_->membership_version();
    std::vector<std::string> names{node_->name()};
    for (auto& m : node_->members())
      names.push_back(m.name);
    view_ = detail::place(version, std::move(names));
  }

  static std::size_t home_index(const K& key, const detail::placement& v) {
    auto h = static_cast<std::uint64_t>(default_hash{}(key));
    return v.homes[detail::slot_of(h)];
  }

  /// Indexes of `xs` by home, with the members seen once for the batch.
  template <class Xs, class KeyOf>
  std::map<std::string, std::vector<std::size_t>> split(const Xs& xs,
                                                        KeyOf key_of) const {
    auto& v = view();
    std::map<std::string, std::vector<std::size_t>> by_home;
    for (std::size_t i = 0; i < xs.size(); ++i)
      by_home[v.names[home_index(*key_of(xs[i]), v)]].push_back(i);
    return by_home;
  }

  /// The shard actor of member `where`, looked up once and remembered.
  caf::expected<shard_actor<K, V>> front(const std::string& where) {
    if (auto i = fronts_.find(where); i != fronts_.end())
      return i->second;
    auto ptr = detail::whereis_owner(*node_, where, opts_->shard.name,
                                     detail::partition_type<K, V>(),
                                     opts_->timeout);
    if (!ptr)
      return std::move(ptr.error());
    auto handle = caf::actor_cast<shard_actor<K, V>>(std::move(*ptr));
    fronts_.emplace(where, handle);
    return handle;
  }

  /// Out of line, so that the callers' local paths stay small enough to
  /// inline where they are called.
  template <class R, class... Ts>
  [[gnu::noinline]] caf::expected<R> remote(const std::string& where,
                                           Ts&&... xs) {
    auto dest = front(where);
    if (!dest)
      return std::move(dest.error());
    auto r = caller_.call(*dest, opts_->timeout, std::forward<Ts>(xs)...);
    if (!r) {
      // A node that restarts gets a new shard actor: look it up again.
      fronts_.erase(where);
      return std::move(r.error());
    }
    if constexpr (std::is_void_v<R>)
      return caf::unit;
    else
      return std::move(*r);
  }

  const node* node_;
  const partition_options<K, V>* opts_;
  cache<K, V> local_;
  blocking_caller caller_;
  std::map<std::string, shard_actor<K, V>> fronts_;
  mutable detail::placement view_;
};

} // namespace cachet::dist
