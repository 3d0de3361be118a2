// Memory per entry: each structure is filled in a fresh child process
// (cachet-bench --memory-probe=NAME), so that neither the heap left over by
// earlier measurements nor the other structures blur the growth. The figure
// is RSS growth (what the OS sees), with malloc's in-use bytes beside it to
// tell live data from allocator slack and not-yet-reclaimed nodes. Two
// fills: 16 B string keys with 100 B string values, and u64 -> u64, each
// into cachet and into every peer and ceiling built in.
#include "tasks.hpp"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <type_traits>

#include <fmt/core.h>

#include <cachet/detail/pages.hpp>

#include "structures.hpp"

namespace cachet_bench {

namespace {

std::size_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  std::size_t pages_total = 0;
  std::size_t pages_resident = 0;
  in >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

/// malloc's heap in use, and cachet's group arrays mapped beside it.
std::size_t heap_bytes() {
  auto mi = mallinfo2();
  return mi.uordblks + mi.hblkhd + cachet::detail::mapped_bytes();
}

std::string self_exe() {
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

/// Inserts the entries through `put(key, value)`, keys and values made on
/// the fly so that only the structure's copies stay resident.
template <class Types, class Put>
void fill(std::size_t entries, Put put) {
  rng r{0xfeed};
  for (std::size_t i = 0; i < entries; ++i) {
    auto k = r.next() >> 5;
    put(Types::make_key(k), Types::make_value(k, 0));
  }
}

/// What one probe measured, in bytes.
struct growth {
  std::size_t rss0 = 0;
  std::size_t heap0 = 0;
  std::size_t rss1 = 0;
  std::size_t heap1 = 0;
  std::size_t settled_heap = 0;

  void start() {
    rss0 = rss_bytes();
    heap0 = heap_bytes();
  }

  void stop() {
    rss1 = rss_bytes();
    heap1 = heap_bytes();
  }
};

/// cachet's public table; then, for the diagnostic column, later writes
/// let the epochs free the nodes retired by the last growth.
template <class Types>
bool probe_cachet(caf::actor_system& sys, std::size_t entries, growth& g) {
  using K = typename Types::key_type;
  using V = typename Types::value_type;
  cachet::table_options opts;
  opts.name = "memory";
  opts.mode = cachet::access_mode::public_;
  auto owner = cachet::spawn_owner<K, V>(sys, opts);
  if (!owner)
    return false;
  auto tab = *cachet::whereis<K, V>(sys, "memory");
  g.start();
  fill<Types>(entries,
              [&](K k, V v) { tab.insert(std::move(k), std::move(v)); });
  g.stop();
  for (int i = 0; i < 100000; ++i)
    tab.insert(Types::make_key(0),
               Types::make_value(0, static_cast<std::uint64_t>(i)));
  g.settled_heap = heap_bytes();
  caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  return true;
}

/// A peer, through the adapter the throughput rows use (peers.hpp).
template <class Map, class Types>
void probe_peer(std::size_t entries, growth& g) {
  g.start();
  auto m = make_peer<Map>(entries);
  fill<Types>(entries,
              [&](auto k, auto v) { m->put(std::move(k), std::move(v)); });
  g.stop();
}

/// Runs `f.template operator()<Map>()` for the structure named `name`, with
/// the peer types of `Types`; false if the name is unknown (or not built).
template <class Types, class F>
bool with_peer(const std::string& name, F&& f) {
  using K = typename Types::key_type;
  using V = typename Types::value_type;
  if (name == "std::unordered_map")
    return f(static_cast<unsync_map<K, V>*>(nullptr)), true;
#ifdef CACHET_BENCH_HAVE_TBB
  if (name == "tbb::concurrent_hash_map")
    return f(static_cast<tbb_map<K, V>*>(nullptr)), true;
  if (name == "tbb::concurrent_unordered_map")
    return f(static_cast<tbb_unordered_map<K, V>*>(nullptr)), true;
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
  if (name == "libcuckoo")
    return f(static_cast<cuckoo_map<K, V>*>(nullptr)), true;
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
  if (name == "libcds FeldmanHashMap")
    return f(static_cast<cds_feldman_peer<K, V>*>(nullptr)), true;
  if (name == "libcds SplitListMap")
    return f(static_cast<cds_splitlist_peer<K, V>*>(nullptr)), true;
#endif
#ifdef CACHET_BENCH_HAVE_XENIUM
  if (name == "xenium vyukov_hash_map")
    return f(static_cast<xenium_vyukov_peer<K, V>*>(nullptr)), true;
  if (name == "xenium harris_michael_hash_map")
    return f(static_cast<xenium_harris_michael_peer<K, V>*>(nullptr)), true;
#endif
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
  if (name == "boost::unordered_flat_map")
    return f(static_cast<boost_flat_map<K, V>*>(nullptr)), true;
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
  if (name == "absl::flat_hash_map")
    return f(static_cast<absl_flat_map<K, V>*>(nullptr)), true;
#endif
  return false;
}

template <class Types>
bool probe(caf::actor_system& sys, const std::string& name,
           std::size_t entries, growth& g) {
  if (name == "cachet")
    return probe_cachet<Types>(sys, entries, g);
  return with_peer<Types>(name, [&](auto* tag) {
    probe_peer<std::remove_pointer_t<decltype(tag)>, Types>(entries, g);
  });
}

} // namespace

std::vector<std::string> memory_structures() {
  std::vector<std::string> xs{"cachet", "std::unordered_map"};
#ifdef CACHET_BENCH_HAVE_TBB
  xs.emplace_back("tbb::concurrent_hash_map");
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
  xs.emplace_back("libcuckoo");
#endif
#ifdef CACHET_BENCH_HAVE_TBB
  xs.emplace_back("tbb::concurrent_unordered_map");
#endif
#ifdef CACHET_BENCH_HAVE_LIBCDS
  xs.emplace_back("libcds FeldmanHashMap");
  xs.emplace_back("libcds SplitListMap");
#endif
#ifdef CACHET_BENCH_HAVE_XENIUM
  xs.emplace_back("xenium vyukov_hash_map");
  xs.emplace_back("xenium harris_michael_hash_map");
#endif
#ifdef CACHET_BENCH_HAVE_BOOST_FLAT
  xs.emplace_back("boost::unordered_flat_map");
#endif
#ifdef CACHET_BENCH_HAVE_ABSL
  xs.emplace_back("absl::flat_hash_map");
#endif
  return xs;
}

int memory_probe(caf::actor_system& sys, const std::string& what,
                 std::size_t entries) {
  // "u64:NAME" is the u64 -> u64 measurement, a bare NAME (16 B, 100 B).
  auto u64 = what.rfind("u64:", 0) == 0;
  auto structure = u64 ? what.substr(4) : what;
  growth g;
  auto ok = u64 ? probe<u64_types>(sys, structure, entries, g)
                : probe<str_types>(sys, structure, entries, g);
  if (!ok) {
    fmt::print(stderr, "unknown memory probe: {}\n", what);
    return 1;
  }
  auto per = [&](std::size_t a, std::size_t b) {
    return (static_cast<double>(b) - static_cast<double>(a))
           / static_cast<double>(entries);
  };
  fmt::print("{{\"structure\": \"{}\", \"value_type\": \"{}\", "
             "\"entries\": {}, \"rss_bytes_per_entry\": {}, "
             "\"heap_bytes_per_entry\": {}, "
             "\"settled_heap_bytes_per_entry\": {}}}\n",
             structure, u64 ? "u64" : "str", entries, per(g.rss0, g.rss1),
             per(g.heap0, g.heap1),
             g.settled_heap != 0 ? per(g.heap0, g.settled_heap) : -1.0);
  return 0;
}

std::vector<memory_row> measure_memory(std::size_t entries,
                                       std::vector<std::string>& missing) {
  auto exe = self_exe();
  // Every structure with 16 B string keys and 100 B values, then with u64
  // keys and values ("u64:" before the name).
  std::vector<std::string> names;
  for (auto* prefix : {"", "u64:"})
    for (auto& s : memory_structures())
      names.push_back(prefix + s);
  // Probes are separate processes measuring their own RSS: they may run side
  // by side, one per core.
  std::vector<std::string> texts(names.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (auto i = next++; i < names.size(); i = next++) {
      fmt::print(stderr, "memory: {} x {} into {}\n", entries,
                 names[i].rfind("u64:", 0) == 0 ? "(u64, u64)"
                                                : "(16 B, 100 B)",
                 names[i]);
      auto cmd = fmt::format("'{}' --memory-probe='{}' --memory-entries={}",
                             exe, names[i], entries);
      auto* pipe = popen(cmd.c_str(), "r");
      if (pipe == nullptr)
        continue;
      char buf[512];
      while (fgets(buf, sizeof(buf), pipe) != nullptr)
        texts[i] += buf;
      if (pclose(pipe) != 0)
        texts[i].clear();
    }
  };
  auto n = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < n; ++i)
    workers.emplace_back(work);
  for (auto& w : workers)
    w.join();
  std::vector<memory_row> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    try {
      auto j = nlohmann::json::parse(texts[i]);
      memory_row m;
      m.structure = j.at("structure");
      m.value_type = j.at("value_type");
      m.entries = j.at("entries");
      m.rss_bytes_per_entry = j.at("rss_bytes_per_entry");
      m.heap_bytes_per_entry = j.at("heap_bytes_per_entry").get<double>();
      if (auto settled = j.value("settled_heap_bytes_per_entry", -1.0);
          settled >= 0) {
        m.settled_heap_bytes_per_entry = settled;
        m.note = fmt::format("public table; heap {:.1f} B/entry once the "
                             "nodes retired by growth are freed",
                             settled);
      } else if (m.structure.rfind("tbb::", 0) == 0) {
        m.note = "heap column misses tbbmalloc's own pools";
      }
      out.push_back(std::move(m));
    } catch (const std::exception&) {
      missing.push_back(
        fmt::format("memory of {}: the probe failed", names[i]));
    }
  }
  return out;
}

} // namespace cachet_bench
