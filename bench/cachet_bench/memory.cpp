// Memory per entry: each structure is filled in a fresh child process
// (cachet-bench --memory-probe=NAME), so that neither the heap left over by
// earlier measurements nor the other structures blur the growth. The figure
// is RSS growth (what the OS sees), with malloc's in-use bytes beside it to
// tell live data from allocator slack and not-yet-reclaimed nodes.
#include "tasks.hpp"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <unordered_map>

#include <fmt/core.h>

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

std::size_t heap_bytes() {
  auto mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
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
template <class Put>
void fill(std::size_t entries, Put put) {
  rng r{0xfeed};
  for (std::size_t i = 0; i < entries; ++i) {
    auto k = r.next() >> 5;
    put(key_string(k), value_string(k));
  }
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
  return xs;
}

int memory_probe(caf::actor_system& sys, const std::string& structure,
                 std::size_t entries) {
  using str_map = std::unordered_map<std::string, std::string>;
  std::size_t rss0 = 0;
  std::size_t heap0 = 0;
  std::size_t rss1 = 0;
  std::size_t heap1 = 0;
  std::size_t settled_heap = 0;
  auto start = [&] {
    rss0 = rss_bytes();
    heap0 = heap_bytes();
  };
  auto stop = [&] {
    rss1 = rss_bytes();
    heap1 = heap_bytes();
  };
  if (structure == "cachet") {
    cachet::table_options opts;
    opts.name = "memory";
    opts.mode = cachet::access_mode::public_;
    auto owner = cachet::spawn_owner<std::string, std::string>(sys, opts);
    if (!owner)
      return 1;
    auto tab = *cachet::whereis<std::string, std::string>(sys, "memory");
    start();
    fill(entries, [&](std::string k, std::string v) {
      tab.insert(std::move(k), std::move(v));
    });
    stop();
    // Diagnostics: writes retire nodes, which lets the epochs free what the
    // last growth retired; how much of the growth was that garbage?
    for (int i = 0; i < 100000; ++i)
      tab.insert(key_string(0), value_string(0, static_cast<std::uint64_t>(i)));
    settled_heap = heap_bytes();
    caf::anon_send_exit(*owner, caf::exit_reason::user_shutdown);
  } else if (structure == "std::unordered_map") {
    start();
    str_map m;
    fill(entries, [&](std::string k, std::string v) {
      m.insert_or_assign(std::move(k), std::move(v));
    });
    stop();
#ifdef CACHET_BENCH_HAVE_TBB
  } else if (structure == "tbb::concurrent_hash_map") {
    start();
    tbb::concurrent_hash_map<std::string, std::string> m;
    fill(entries, [&](std::string k, std::string v) {
      m.insert({std::move(k), std::move(v)});
    });
    stop();
#endif
#ifdef CACHET_BENCH_HAVE_LIBCUCKOO
  } else if (structure == "libcuckoo") {
    start();
    libcuckoo::cuckoohash_map<std::string, std::string> m;
    fill(entries, [&](std::string k, std::string v) {
      m.insert_or_assign(std::move(k), std::move(v));
    });
    stop();
#endif
  } else {
    fmt::print(stderr, "unknown memory probe: {}\n", structure);
    return 1;
  }
  auto per = [&](std::size_t a, std::size_t b) {
    return (static_cast<double>(b) - static_cast<double>(a))
           / static_cast<double>(entries);
  };
  fmt::print("{{\"structure\": \"{}\", \"entries\": {}, "
             "\"rss_bytes_per_entry\": {}, \"heap_bytes_per_entry\": {}, "
             "\"settled_heap_bytes_per_entry\": {}}}\n",
             structure, entries, per(rss0, rss1), per(heap0, heap1),
             settled_heap != 0 ? per(heap0, settled_heap) : -1.0);
  return 0;
}

std::vector<memory_row> measure_memory(std::size_t entries,
                                       std::vector<std::string>& missing) {
  auto exe = self_exe();
  auto names = memory_structures();
  // Probes are separate processes measuring their own RSS: they may run side
  // by side, one per core.
  std::vector<std::string> texts(names.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (auto i = next++; i < names.size(); i = next++) {
      fmt::print(stderr, "memory: {} x (16 B, 100 B) into {}\n", entries,
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
    auto& s = names[i];
    try {
      auto j = nlohmann::json::parse(texts[i]);
      memory_row m;
      m.structure = s;
      m.entries = j.at("entries");
      m.rss_bytes_per_entry = j.at("rss_bytes_per_entry");
      m.heap_bytes_per_entry = j.at("heap_bytes_per_entry").get<double>();
      if (auto settled = j.value("settled_heap_bytes_per_entry", -1.0);
          settled >= 0) {
        m.settled_heap_bytes_per_entry = settled;
        m.note = fmt::format("public table; heap {:.1f} B/entry once the "
                             "nodes retired by growth are freed",
                             settled);
      } else if (s == "tbb::concurrent_hash_map") {
        m.note = "heap column misses tbbmalloc's own pools";
      }
      out.push_back(std::move(m));
    } catch (const std::exception&) {
      missing.push_back(fmt::format("memory of {}: the probe failed", s));
    }
  }
  return out;
}

} // namespace cachet_bench
