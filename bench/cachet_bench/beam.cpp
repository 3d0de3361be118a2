// Runs bench/beam/bench.exs on the very keys and op streams cachet's paths
// ran (written to a temporary directory), and reads its JSON lines back into
// rows beside cachet's; query.exs likewise for the query rows.
#include "tasks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/core.h>

namespace cachet_bench {

namespace {

/// Ops per BEAM stream: a prefix of cachet's streams; 1K keys need no more.
constexpr std::size_t beam_stream_len = 65536;

template <class T>
void write_le(std::ofstream& out, const std::vector<T>& xs, std::size_t n) {
  // x86-64 and every Debian target cachet runs on are little-endian.
  out.write(reinterpret_cast<const char*>(xs.data()),
            static_cast<std::streamsize>(std::min(n, xs.size()) * sizeof(T)));
}

std::string join(const std::vector<std::size_t>& xs) {
  std::string s;
  for (auto x : xs)
    s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

std::string join(const std::vector<std::string>& xs) {
  std::string s;
  for (auto& x : xs)
    s += (s.empty() ? "" : ",") + x;
  return s;
}

/// Runs `cmd`, an elixir script printing JSON lines: its "system" line goes
/// to `machine`, every other one to `each`, and what is not JSON to stderr.
/// False if the script failed.
bool run_script(const std::string& cmd, nlohmann::json& machine,
                const std::function<void(const nlohmann::json&)>& each) {
  fmt::print(stderr, "beam: {}\n", cmd);
  auto* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr)
    return false;
  char buf[4096];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(buf);
    } catch (const std::exception&) {
      fmt::print(stderr, "beam: {}", buf);
      continue;
    }
    if (j.value("kind", std::string{}) == "system")
      machine["beam"] = {{"otp_release", j.value("otp_release", "")},
                         {"erts_version", j.value("erts_version", "")},
                         {"elixir_version", j.value("elixir_version", "")},
                         {"schedulers", j.value("schedulers", 0)}};
    else
      each(j);
  }
  return pclose(pipe) == 0;
}

/// A fresh temporary directory; empty on failure.
std::string make_temp_dir() {
  char tmpl[] = "/tmp/cachet-bench-beam-XXXXXX";
  return mkdtemp(tmpl) != nullptr ? std::string{tmpl} : std::string{};
}

} // namespace

std::string find_elixir() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs{path != nullptr ? path : "/usr/bin:/bin"};
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = dir + "/elixir";
    if (access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

bool run_beam(const beam_plan& plan, stream_cache& streams,
              std::vector<result_row>& rows, std::vector<memory_row>& memory,
              nlohmann::json& machine, std::vector<std::string>& missing) {
  auto elixir = find_elixir();
  if (elixir.empty()) {
    missing.push_back("beam_genserver_call, beam_ets_lookup: elixir not "
                      "installed (make bench-deps)");
    return false;
  }
  if (access(plan.script.c_str(), R_OK) != 0) {
    missing.push_back("beam_*: script not found: " + plan.script);
    return false;
  }
  auto dir = make_temp_dir();
  if (dir.empty()) {
    missing.push_back("beam_*: cannot create a temporary directory");
    return false;
  }
  std::vector<std::string> files;
  auto open = [&](const std::string& name) {
    files.push_back(dir + "/" + name);
    return std::ofstream{files.back(), std::ios::binary};
  };
  {
    auto out = open("keys.bin");
    write_le(out, plan.raw_keys, plan.raw_keys.size());
  }
  std::size_t max_threads = 0;
  for (auto t : plan.threads)
    max_threads = std::max(max_threads, t);
  for (auto& d : plan.dist)
    for (auto m : plan.mix) {
      auto n = max_threads;
      if (m == 100 && d == plan.sweep_dist)
        for (auto c : plan.callers)
          n = std::max(n, c);
      for (std::size_t t = 0; t < n; ++t) {
        auto out = open(fmt::format("ops-{}-{}-{}.bin", d, m, t));
        write_le(out, streams.get(plan.keys, d, static_cast<int>(m), t),
                 beam_stream_len);
      }
    }
  auto cmd = fmt::format(
    "'{}' '{}' --dir '{}' --keys {} --threads {} --callers {} --mixes {} "
    "--dists {} --sweep-dist {} --seconds {} --warmup {} --repeats {} "
    "--memory {}",
    elixir, plan.script, dir, plan.keys, join(plan.threads),
    join(plan.callers), join(plan.mix), join(plan.dist), plan.sweep_dist,
    plan.seconds, plan.warmup, plan.repeats, plan.memory_entries);
  std::size_t got = 0;
  bool ok = run_script(cmd, machine, [&](const nlohmann::json& j) {
    auto kind = j.value("kind", std::string{});
    if (kind == "result") {
      result_row row;
      row.path = *path_from_string(j.at("path").get<std::string>());
      row.threads = j.at("threads");
      row.keys = j.at("keys");
      row.mix = j.at("mix");
      row.dist = j.at("dist");
      row.value_type = j.at("value_type");
      row.ops_per_sec = j.at("ops_per_sec");
      row.runs = j.at("runs").get<std::vector<double>>();
      row.series = j.at("series");
      row.table = j.value("table", "");
      rows.push_back(std::move(row));
      ++got;
    } else if (kind == "memory") {
      memory_row m;
      m.structure = j.at("structure");
      m.entries = j.at("entries");
      m.rss_bytes_per_entry = j.at("rss_bytes_per_entry");
      m.heap_bytes_per_entry = j.at("vm_total_bytes_per_entry").get<double>();
      m.note = "ETS set; heap column: erlang:memory(total) growth";
      memory.push_back(std::move(m));
    }
  });
  for (auto& f : files)
    std::remove(f.c_str());
  rmdir(dir.c_str());
  if (!ok || got == 0) {
    missing.push_back("beam_*: bench.exs failed (see stderr)");
    return false;
  }
  return true;
}

bool run_beam_query(const query_plan& plan, std::vector<nlohmann::json>& rows,
                    nlohmann::json& machine, std::vector<std::string>& missing) {
  if (access(plan.script.c_str(), R_OK) != 0) {
    missing.push_back("beam_ets_* query rows: script not found: "
                      + plan.script);
    return false;
  }
  auto dir = make_temp_dir();
  if (dir.empty()) {
    missing.push_back("beam_ets_* query rows: cannot create a temporary "
                      "directory");
    return false;
  }
  auto keys = dir + "/keys.bin";
  auto ops = dir + "/bag-ops.bin";
  {
    std::ofstream out{keys, std::ios::binary};
    write_le(out, plan.keys, plan.keys.size());
  }
  {
    std::ofstream out{ops, std::ios::binary};
    write_le(out, plan.bag_ops, plan.bag_ops.size());
  }
  auto cmd = fmt::format("'{}' '{}' --dir '{}' --now {} --bag-keys {} "
                         "--repeats {} --seconds {} --warmup {}",
                         find_elixir(), plan.script, dir, plan.now,
                         plan.bag_keys, plan.repeats, plan.seconds,
                         plan.warmup);
  std::size_t got = 0;
  bool ok = run_script(cmd, machine, [&](const nlohmann::json& j) {
    if (j.value("kind", std::string{}) != "query")
      return;
    auto row = j;
    row.erase("kind");
    auto runs = j.at("runs").get<std::vector<double>>();
    auto [lo, hi] = std::minmax_element(runs.begin(), runs.end());
    row["spread"] = runs.empty() || *lo <= 0 ? 0 : *hi / *lo;
    rows.push_back(std::move(row));
    ++got;
  });
  std::remove(keys.c_str());
  std::remove(ops.c_str());
  rmdir(dir.c_str());
  if (!ok || got == 0) {
    missing.push_back("beam_ets_* query rows: query.exs failed (see stderr)");
    return false;
  }
  return true;
}

} // namespace cachet_bench
