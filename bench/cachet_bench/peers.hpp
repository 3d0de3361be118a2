// The C++ peers and ceilings beside cachet's direct path. Each adapts one
// library's map to the same calls: put (filling, one thread), read (returns
// consume(value)) and write (insert or assign), used the way the library's
// documentation says to use it from many threads. A peer that needs
// per-thread setup names it as `thread_scope`, constructed on each thread
// that touches it. Peers behind a CACHET_BENCH_HAVE_* define are left out
// when CMake did not find their package.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#ifdef CACHET_BENCH_HAVE_TBB
#  include <tbb/concurrent_hash_map.h>
#  include <tbb/concurrent_unordered_map.h>
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
#  include <libcuckoo/cuckoohash_map.hh>
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
// The RCU flavour before the set that specializes on it.
#  include <cds/urcu/general_buffered.h>
#  include <cds/intrusive/feldman_hashset_rcu.h>
#  include <cds/container/iterable_kvlist_dhp.h>
#  include <cds/container/iterable_kvlist_hp.h>
#  include <cds/container/split_list_map.h>
#  include <cds/gc/dhp.h>
#  include <cds/gc/hp.h>
#  include <cds/init.h>
#  include <cds/intrusive/feldman_hashset_dhp.h>
#  include <cds/intrusive/feldman_hashset_hp.h>
#endif
#ifdef CACHET_BENCH_HAVE_XENIUM
#  include <xenium/harris_michael_hash_map.hpp>
#  include <xenium/reclamation/generic_epoch_based.hpp>
#  include <xenium/vyukov_hash_map.hpp>
#endif
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
#  include <boost/unordered/unordered_flat_map.hpp>
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
#  include <absl/container/flat_hash_map.h>
#endif

namespace cachet_bench {

/// Folds a read value into the sink; for strings, touches the heap buffer.
inline std::uint64_t consume(std::uint64_t v) noexcept {
  return v;
}

inline std::uint64_t consume(std::string_view v) noexcept {
  return v.size() + static_cast<unsigned char>(v.back());
}

/// What most structures need per thread: nothing.
struct no_thread_scope {};

template <class Map, class = void>
struct thread_scope_of {
  using type = no_thread_scope;
};

template <class Map>
struct thread_scope_of<Map, std::void_t<typename Map::thread_scope>> {
  using type = typename Map::thread_scope;
};

/// Builds a peer; those that size themselves up front get the key count.
template <class Map>
std::unique_ptr<Map> make_peer(std::size_t expected) {
  if constexpr (std::is_constructible_v<Map, std::size_t>)
    return std::make_unique<Map>(expected);
  else
    return std::make_unique<Map>();
}

// -- ceilings: no synchronization ---------------------------------------------

/// A map with no synchronization at all: reads from many threads, or writes
/// from one. `Map` is std::unordered_map, boost's or abseil's flat map.
template <class Map>
struct unsync_ceiling {
  using key_type = typename Map::key_type;
  using mapped_type = typename Map::mapped_type;
  Map map;
  void put(key_type k, mapped_type v) {
    map.insert_or_assign(std::move(k), std::move(v));
  }
  std::uint64_t read(const key_type& k) const {
    auto i = map.find(k);
    return i != map.end() ? consume(i->second) : 0;
  }
  bool write(const key_type& k, const mapped_type& v) {
    map[k] = v;
    return true;
  }
};

/// The original ceiling.
template <class K, class V>
using unsync_map = unsync_ceiling<std::unordered_map<K, V>>;

#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
template <class K, class V>
using boost_flat_map = unsync_ceiling<boost::unordered_flat_map<K, V>>;
#endif

#ifdef CACHET_BENCH_HAVE_ABSL
template <class K, class V>
using absl_flat_map = unsync_ceiling<absl::flat_hash_map<K, V>>;
#endif

// -- locking peers ------------------------------------------------------------

template <class K, class V>
struct shared_mutex_map {
  std::unordered_map<K, V> map;
  mutable std::shared_mutex mtx;
  void put(K k, V v) {
    std::unique_lock<std::shared_mutex> guard{mtx};
    map.insert_or_assign(std::move(k), std::move(v));
  }
  std::uint64_t read(const K& k) const {
    std::shared_lock<std::shared_mutex> guard{mtx};
    auto i = map.find(k);
    return i != map.end() ? consume(i->second) : 0;
  }
  bool write(const K& k, const V& v) {
    std::unique_lock<std::shared_mutex> guard{mtx};
    map[k] = v;
    return true;
  }
};

#ifdef CACHET_BENCH_HAVE_TBB
template <class K, class V>
struct tbb_map {
  using map_type = tbb::concurrent_hash_map<K, V>;
  map_type map;
  void put(K k, V v) {
    map.insert(typename map_type::value_type{std::move(k), std::move(v)});
  }
  std::uint64_t read(const K& k) const {
    typename map_type::const_accessor a;
    return map.find(a, k) ? consume(a->second) : 0;
  }
  bool write(const K& k, const V& v) {
    typename map_type::accessor a;
    map.insert(a, k);
    a->second = v;
    return true;
  }
};

/// tbb::concurrent_unordered_map: lock-free find and insert, no safe erase.
/// It has no concurrent way to replace a value either (TBB leaves the
/// mapped value's synchronization to the user), so a write assigns in place:
/// that races with a reader of the same key (for strings both values are
/// 100 B, so the buffer is reused; a reader may see a torn value). Reads,
/// what the targets compare, are exactly the library's.
template <class K, class V>
struct tbb_unordered_map {
  tbb::concurrent_unordered_map<K, V> map;
  void put(K k, V v) {
    map.emplace(std::move(k), std::move(v));
  }
  std::uint64_t read(const K& k) const {
    auto i = map.find(k);
    return i != map.end() ? consume(i->second) : 0;
  }
  bool write(const K& k, const V& v) {
    auto [i, fresh] = map.emplace(k, v);
    if (!fresh)
      i->second = v;
    return true;
  }
};
#endif

#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
template <class K, class V>
struct cuckoo_map {
  libcuckoo::cuckoohash_map<K, V> map;
  void put(K k, V v) {
    map.insert_or_assign(std::move(k), std::move(v));
  }
  std::uint64_t read(const K& k) const {
    std::uint64_t r = 0;
    map.find_fn(k, [&](const V& v) { r = consume(v); });
    return r;
  }
  bool write(const K& k, const V& v) {
    map.insert_or_assign(k, v);
    return true;
  }
};
#endif

// -- libcds: lock-free, RCU and dynamic hazard pointers -----------------------

#ifdef CACHET_BENCH_HAVE_LIBCDS

/// General-purpose RCU with a buffer of retired nodes, freed after a grace
/// period once the buffer fills.
using cds_rcu = cds::urcu::gc<cds::urcu::general_buffered<>>;

/// libcds's process-wide state: cds::Initialize, the collectors the peers
/// use (one object each, alive while any map uses them) and the
/// constructing thread attached to them. One per process, before the first
/// map, after the last.
class cds_runtime {
public:
  cds_runtime() {
    cds::Initialize();
    // A thread attaches to the collectors that exist when it does.
    dhp_.emplace(16);
    rcu_.emplace();
    cds::threading::Manager::attachThread();
  }

  ~cds_runtime() {
    cds::threading::Manager::detachThread();
    rcu_.reset();
    dhp_.reset();
    cds::Terminate();
  }

  cds_runtime(const cds_runtime&) = delete;
  cds_runtime& operator=(const cds_runtime&) = delete;

private:
  std::optional<cds::gc::DHP> dhp_;
  std::optional<cds_rcu> rcu_;
};

/// Attaches the calling thread to libcds while it lives.
struct cds_thread {
  cds_thread() {
    cds::threading::Manager::attachThread();
  }
  ~cds_thread() {
    cds::threading::Manager::detachThread();
  }
  cds_thread(const cds_thread&) = delete;
  cds_thread& operator=(const cds_thread&) = delete;
};

/// cds::intrusive::FeldmanHashSet (the multi-level array under
/// cds::container::FeldmanHashMap) over nodes holding the key's hash and
/// the pair. The container's find and update build a key_type from the key
/// they are given, which for a 16 B std::string is a heap allocation per
/// call; the intrusive set takes the hash, so a read allocates nothing.
/// Feldman's map needs a perfect hash: it keeps hashes, not keys, so a
/// collision would fail the fill (put throws) rather than go unnoticed.
/// A write builds a node and `update` swaps it in; `GC` retires the old one.
/// With an RCU `GC`, find and update take the read-side lock themselves.
template <class GC, class K, class V>
class cds_feldman_map {
public:
  using thread_scope = cds_thread;

  struct node {
    std::size_t hash;
    std::pair<const K, V> kv;
  };

  ~cds_feldman_map() {
    set_.clear(); // retires every node while the GC is alive
  }

  void put(K k, V v) {
    auto* n = make(std::move(k), std::move(v));
    if (!set_.insert(*n)) {
      delete n;
      throw std::runtime_error("cds FeldmanHashMap: hash collision");
    }
  }

  std::uint64_t read(const K& k) const {
    std::uint64_t r = 0;
    set_.find(std::hash<K>{}(k), [&](node& n) { r = consume(n.kv.second); });
    return r;
  }

  bool write(const K& k, const V& v) {
    return set_.update(*make(k, v)).first;
  }

private:
  static node* make(K k, V v) {
    auto h = std::hash<K>{}(k);
    return new node{h, {std::move(k), std::move(v)}};
  }

  struct hash_of {
    const std::size_t& operator()(const node& n) const {
      return n.hash;
    }
  };

  struct dispose {
    void operator()(node* n) const {
      delete n;
    }
  };

  struct traits : cds::intrusive::feldman_hashset::traits {
    using hash_accessor = hash_of;
    using disposer = dispose;
  };

  // find is not const in libcds; reads change nothing the map owns.
  mutable cds::intrusive::FeldmanHashSet<GC, node, traits> set_;
};

/// cds::container::SplitListMap (Shalev and Shavit's split-ordered list) on
/// an IterableKVList: the one ordered list of libcds whose `upsert`
/// replaces a key's value atomically (it swaps the node's data pointer;
/// `GC` retires the old pair), where Michael's and the lazy list would
/// assign in place under readers. Sized for the expected count, as its
/// constructor asks.
template <class GC, class K, class V>
class cds_split_list_map {
public:
  using thread_scope = cds_thread;

  explicit cds_split_list_map(std::size_t expected) : map_(expected, 1) {
    // nop
  }

  void put(K k, V v) {
    map_.insert(std::move(k), std::move(v));
  }

  std::uint64_t read(const K& k) const {
    std::uint64_t r = 0;
    map_.find(k, [&](auto& kv) { r = consume(kv.second); });
    return r;
  }

  bool write(const K& k, const V& v) {
    return map_.upsert(k, v).first;
  }

private:
  struct traits : cds::container::split_list::traits {
    using ordered_list = cds::container::iterable_list_tag;
    using hash = std::hash<K>;
    struct ordered_list_traits : cds::container::iterable_list::traits {
      using less = std::less<K>;
    };
  };

  mutable cds::container::SplitListMap<GC, K, V, traits> map_;
};

/// The schemes the bench runs them with: each map's best over the matrix
/// in cachet-peer-schemes (docs/benchmarks.md, "Peers").
template <class K, class V>
using cds_feldman_peer = cds_feldman_map<cds_rcu, K, V>;

template <class K, class V>
using cds_splitlist_peer = cds_split_list_map<cds::gc::DHP, K, V>;

#endif // CACHET_BENCH_HAVE_LIBCDS

// -- xenium: lock-free reads, epoch-based reclamation -------------------------

#ifdef CACHET_BENCH_HAVE_XENIUM

/// Neither xenium map can replace a value. Where it can, a write erases the
/// key and emplaces it again: both steps are safe under readers (the
/// reclaimer frees the old node once no reader holds it), and a reader
/// between them misses the key.
///
/// xenium::vyukov_hash_map: bucket locks for writers, lock-free reads
/// through an accessor (a guard on the bucket block, and on the node for
/// non-trivial types). Grows by itself. Its erase (libxenium-dev 0.0.2)
/// reclaims the accessor's node even when the key is absent, a null
/// dereference for non-trivial types, which two writers of one key hit; so
/// string writes assign in place instead, under the bucket lock the
/// iterator of `find` holds: writers exclude each other, a reader of that
/// key races with the copy (as with TBB's unordered map). u64 -> u64
/// entries live in the bucket itself, and erase + emplace is safe.
template <class Reclaimer, class K, class V>
class xenium_vyukov_map {
public:
  void put(K k, V v) {
    map_.emplace(std::move(k), std::move(v));
  }

  std::uint64_t read(const K& k) const {
    typename map_type::accessor a;
    return map_.try_get_value(k, a) ? consume(*a) : 0;
  }

  bool write(const K& k, const V& v) {
    if constexpr (in_bucket<K> && in_bucket<V>) {
      map_.erase(k);
      map_.emplace(k, v);
    } else {
      auto i = map_.find(k);
      if (i != map_.end()) {
        (*i).second = v;
      } else {
        i.reset(); // emplace takes the bucket lock the iterator may hold
        map_.emplace(k, v);
      }
    }
    return true;
  }

private:
  /// What vyukov_hash_map stores in the bucket itself, in an atomic.
  template <class T>
  static constexpr bool in_bucket
    = std::is_trivial_v<T> && (sizeof(T) == 4 || sizeof(T) == 8);

  using map_type =
    xenium::vyukov_hash_map<K, V, xenium::policy::reclaimer<Reclaimer>>;
  mutable map_type map_;
};

/// xenium::harris_michael_hash_map: Michael's lock-free lists in a fixed
/// array of buckets (a template parameter; 512 by default, which at 1 M keys
/// would mean chains of 2000). Built with the power of two nearest the key
/// count from three sizes, so chains stay about one entry long.
template <class Reclaimer, class K, class V>
class xenium_harris_michael_map {
public:
  explicit xenium_harris_michael_map(std::size_t expected) {
    if (expected <= (std::size_t{1} << 11))
      small_ = std::make_unique<map_type<std::size_t{1} << 10>>();
    else if (expected <= (std::size_t{1} << 16))
      medium_ = std::make_unique<map_type<std::size_t{1} << 15>>();
    else
      large_ = std::make_unique<map_type<std::size_t{1} << 20>>();
  }

  void put(K k, V v) {
    with([&](auto& m) { m.emplace(std::move(k), std::move(v)); });
  }

  std::uint64_t read(const K& k) const {
    return with([&](auto& m) -> std::uint64_t {
      auto i = m.find(k);
      return i != m.end() ? consume(i->second) : 0;
    });
  }

  bool write(const K& k, const V& v) {
    with([&](auto& m) {
      m.erase(k);
      m.emplace(k, v);
    });
    return true;
  }

private:
  template <std::size_t Buckets>
  using map_type = xenium::harris_michael_hash_map<
    K, V, xenium::policy::reclaimer<Reclaimer>,
    xenium::policy::buckets<Buckets>>;

  // One branch, always taken the same way: cheaper than a variant's visit.
  template <class F>
  decltype(auto) with(F&& f) const {
    if (small_)
      return f(*small_);
    if (medium_)
      return f(*medium_);
    return f(*large_);
  }

  std::unique_ptr<map_type<std::size_t{1} << 10>> small_;
  std::unique_ptr<map_type<std::size_t{1} << 15>> medium_;
  std::unique_ptr<map_type<std::size_t{1} << 20>> large_;
};

/// The reclaimers the bench runs them with, both generic_epoch_based
/// presets: each map's best over the matrix in cachet-peer-schemes
/// (docs/benchmarks.md, "Peers").
template <class K, class V>
using xenium_vyukov_peer
  = xenium_vyukov_map<xenium::reclamation::epoch_based<>, K, V>;

template <class K, class V>
using xenium_harris_michael_peer
  = xenium_harris_michael_map<xenium::reclamation::epoch_based<>, K, V>;

#endif // CACHET_BENCH_HAVE_XENIUM

} // namespace cachet_bench
