// INFO (redis-server 7.0's genRedisInfoString as seen by clients): the
// sections, their titles, field names and formats, and which sections each
// argument selects.
//
// INFO with no argument (or "default") prints redis's default sections;
// "all" and "everything" print every section; otherwise each argument names
// a section (case-insensitive; unknown names print nothing). Sections always
// come in redis's order, each once. Fields that describe redis machinery
// cachet-redis does not have (persistence, replication, cluster, modules)
// show what redis 7.0 shows for a server without it. Latencystats is not
// kept (no per-command latency histograms), so no argument prints it.
//
// Counters are summed over every thread's own copy (stats.hpp); only the
// keyspace section reads the table.
#include "call.hpp"
#include "memory.hpp"

#include <cstdio>
#include <map>
#include <random>

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace cachet::redis {

namespace {

enum section : unsigned {
  s_server = 1 << 0,
  s_clients = 1 << 1,
  s_memory = 1 << 2,
  s_persistence = 1 << 3,
  s_stats = 1 << 4,
  s_replication = 1 << 5,
  s_cpu = 1 << 6,
  s_modules = 1 << 7,
  s_commandstats = 1 << 8,
  s_errorstats = 1 << 9,
  s_cluster = 1 << 10,
  s_keyspace = 1 << 11,
};

constexpr unsigned all_sections = (1u << 12) - 1;

constexpr unsigned default_sections = all_sections & ~s_commandstats;

/// The sections `name` selects (redis's genInfoSectionDict).
unsigned sections_of(std::string_view name) {
  static const std::pair<std::string_view, unsigned> names[] = {
    {"server", s_server},
    {"clients", s_clients},
    {"memory", s_memory},
    {"persistence", s_persistence},
    {"stats", s_stats},
    {"replication", s_replication},
    {"cpu", s_cpu},
    {"modules", s_modules},
    {"module_list", s_modules},
    {"commandstats", s_commandstats},
    {"errorstats", s_errorstats},
    {"cluster", s_cluster},
    {"keyspace", s_keyspace},
    {"default", default_sections},
    {"all", all_sections},
    {"everything", all_sections},
  };
  for (auto& [n, bits] : names)
    if (iequals(name, n))
      return bits;
  return 0;
}

/// 40 random hex digits.
std::string random_hex_id() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 40; ++i)
    s += "0123456789abcdef"[rd() % 16];
  return s;
}

/// This process's replication id, made at start as redis makes one.
const std::string& replication_id() {
  static const std::string id = random_hex_id();
  return id;
}

/// redis's run_id: this run of the server's.
const std::string& run_id() {
  static const std::string id = random_hex_id();
  return id;
}

/// uname's system, release and machine, as redis's `os` field.
std::string os_text() {
  utsname u{};
  if (::uname(&u) != 0)
    return "unknown";
  return std::string{u.sysname} + " " + u.release + " " + u.machine;
}

/// This executable's path (redis's `executable`).
std::string executable_path() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
}

/// Builds INFO's text section by section.
class info_writer {
public:
  explicit info_writer(std::string& out) : out_(out) {
    // nop
  }

  /// Starts a section: a blank line after the previous one, then "# title".
  void begin(std::string_view title) {
    if (!out_.empty())
      out_.append("\r\n", 2);
    out_ += "# ";
    out_.append(title);
    out_.append("\r\n", 2);
  }

  void line(std::string_view key, std::string_view val) {
    out_.append(key);
    out_ += ':';
    out_.append(val);
    out_.append("\r\n", 2);
  }

  void line(std::string_view key, std::int64_t val) {
    line(key, ll_text(val));
  }

private:
  std::string& out_;
};

/// A `timeval` as redis prints CPU time: seconds, '.', six digits.
std::string cpu_seconds(const timeval& tv) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec));
  return buf;
}

std::int64_t load(const std::atomic<std::int64_t>& x) {
  return x.load(std::memory_order_relaxed);
}

void server_section(info_writer& w, server_env& env) {
  auto uptime = (now_ms() - env.stats.start_ms) / 1000;
  w.begin("Server");
  w.line("redis_version", redis_version);
  w.line("cachet_redis_version", "0.1.0");
  w.line("redis_mode", "standalone");
  w.line("os", os_text());
  w.line("arch_bits", static_cast<std::int64_t>(sizeof(void*) * 8));
  w.line("multiplexing_api", "epoll");
  w.line("cachet_mode", env.config.message_mode ? "message" : "direct");
  w.line("event_loops", env.loops);
  w.line("process_id", ::getpid());
  w.line("run_id", run_id());
  w.line("tcp_port", env.config.port);
  w.line("server_time_usec", now_us());
  w.line("uptime_in_seconds", uptime);
  w.line("uptime_in_days", uptime / 86400);
  // The owner's active expiry runs every 100 ms: redis's default hz.
  w.line("hz", 10);
  w.line("configured_hz", 10);
  w.line("executable", executable_path());
  w.line("config_file", ""); // options come from the command line only
}

/// `x` as redis prints a ratio or a rate: "%.2f".
std::string two_decimals(double x) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.2f", x);
  return buf;
}

/// redis's bytesToHuman: 1023B, 1.50K, 2.00M, ...
std::string human_bytes(std::int64_t n) {
  if (n < 1024)
    return ll_text(n) + "B";
  const char units[] = "KMGTP";
  double x = static_cast<double>(n) / 1024;
  std::size_t u = 0;
  while (x >= 1024 && u + 1 < sizeof(units) - 1) {
    x /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%c", x, units[u]);
  return buf;
}

void memory_section(info_writer& w, server_env& env) {
  std::int64_t rss = 0;
  if (auto* f = std::fopen("/proc/self/statm", "r")) {
    long pages = 0, resident = 0;
    if (std::fscanf(f, "%ld %ld", &pages, &resident) == 2)
      rss = resident * ::sysconf(_SC_PAGESIZE);
    std::fclose(f);
  }
  auto used = used_memory();
  auto& evict = env.evict;
  evict.note(used);
  w.begin("Memory");
  w.line("used_memory", used);
  w.line("used_memory_human", human_bytes(used));
  w.line("used_memory_rss", rss);
  w.line("used_memory_rss_human", human_bytes(rss));
  w.line("used_memory_peak", evict.peak());
  w.line("used_memory_peak_human", human_bytes(evict.peak()));
  // As redis 7.0's: the RSS against what is counted as in use.
  w.line("mem_fragmentation_ratio",
         two_decimals(used > 0 ? static_cast<double>(rss)
                                   / static_cast<double>(used)
                               : 0.0));
  w.line("mem_fragmentation_bytes", rss - used);
  w.line("maxmemory", evict.maxmemory());
  w.line("maxmemory_human", human_bytes(evict.maxmemory()));
  w.line("maxmemory_policy", policy_name(evict.policy()));
  w.line("mem_not_counted_for_evict", not_counted_for_evict(env));
  w.line("mem_allocator", "libc");
  w.line("client_output_buffer_limit", env.config.output_buffer_limit);
  w.line("proto_max_bulk_len", env.config.proto_max_bulk_len);
}

void persistence_section(info_writer& w, server_env& env) {
  // redis 7.0's fields; saves are cachet dump files (persist.hpp), written
  // by a thread, not a forked child: no copy-on-write to report.
  auto& p = env.persist;
  bool bg = p.in_background();
  bool loading = p.loading();
  w.begin("Persistence");
  w.line("loading", loading ? 1 : 0);
  w.line("async_loading", 0);
  w.line("current_cow_peak", 0);
  w.line("current_cow_size", 0);
  w.line("current_cow_size_age", 0);
  w.line("current_fork_perc", "0.00");
  w.line("current_save_keys_processed", 0);
  w.line("current_save_keys_total", 0);
  w.line("rdb_changes_since_last_save",
         env.stats.sum(&thread_counters::dirty) - p.dirty_at_save);
  w.line("rdb_bgsave_in_progress", bg ? 1 : 0);
  w.line("rdb_last_save_time", p.last_save.load());
  w.line("rdb_last_bgsave_status", p.last_ok ? "ok" : "err");
  w.line("rdb_last_bgsave_time_sec", p.last_seconds.load());
  w.line("rdb_current_bgsave_time_sec",
         bg ? (now_ms() - p.started_ms) / 1000 : -1);
  w.line("rdb_saves", p.saves.load());
  w.line("rdb_last_cow_size", 0);
  w.line("rdb_last_load_keys_expired", p.loaded_expired.load());
  w.line("rdb_last_load_keys_loaded", p.loaded_keys.load());
  w.line("aof_enabled", 0);
  w.line("aof_rewrite_in_progress", 0);
  w.line("aof_rewrite_scheduled", 0);
  w.line("aof_last_rewrite_time_sec", -1);
  w.line("aof_current_rewrite_time_sec", -1);
  w.line("aof_last_bgrewrite_status", "ok");
  w.line("aof_rewrites", 0);
  w.line("aof_rewrites_consecutive_failures", 0);
  w.line("aof_last_write_status", "ok");
  w.line("aof_last_cow_size", 0);
  w.line("module_fork_in_progress", 0);
  w.line("module_fork_last_cow_size", 0);
  if (loading) {
    // redis's loading_* fields but loading_rdb_used_mem, which a cachet
    // dump does not record. The ETA is the time so far, scaled.
    auto started = p.loading_started.load();
    auto total = p.loading_total_bytes.load();
    auto loaded = p.loading_loaded_bytes.load();
    auto elapsed = now_ms() / 1000 - started;
    w.line("loading_start_time", started);
    w.line("loading_total_bytes", total);
    w.line("loading_loaded_bytes", loaded);
    char perc[32];
    std::snprintf(perc, sizeof(perc), "%.2f",
                  total > 0 ? 100.0 * static_cast<double>(loaded)
                                / static_cast<double>(total)
                            : 0.0);
    w.line("loading_loaded_perc", perc);
    w.line("loading_eta_seconds",
           loaded > 0 ? elapsed * (total - loaded) / loaded : 1);
  }
}

void stats_section(info_writer& w, server_env& env) {
  auto& st = env.stats;
  w.begin("Stats");
  w.line("total_connections_received", load(st.total_connections));
  auto rates = st.instantaneous();
  w.line("total_commands_processed", st.sum(&thread_counters::commands));
  w.line("instantaneous_ops_per_sec",
         static_cast<std::int64_t>(rates.ops_per_sec));
  w.line("total_net_input_bytes", st.sum(&thread_counters::net_input_bytes));
  w.line("total_net_output_bytes", st.sum(&thread_counters::net_output_bytes));
  w.line("instantaneous_input_kbps", two_decimals(rates.input_kbps));
  w.line("instantaneous_output_kbps", two_decimals(rates.output_kbps));
  w.line("rejected_connections", load(st.rejected_connections));
  w.line("expired_keys", load(st.expired_keys));
  w.line("evicted_keys", load(env.evict.evicted_keys));
  w.line("evicted_clients", 0); // clients are never evicted
  w.line("keyspace_hits", st.sum(&thread_counters::keyspace_hits));
  w.line("keyspace_misses", st.sum(&thread_counters::keyspace_misses));
  w.line("pubsub_channels", 0); // no pub/sub
  w.line("pubsub_patterns", 0);
  w.line("total_error_replies", st.sum(&thread_counters::error_replies));
  w.line("cachet_store_restarts", load(st.store_restarts));
}

void replication_section(info_writer& w) {
  w.begin("Replication");
  w.line("role", "master");
  w.line("connected_slaves", 0);
  w.line("master_failover_state", "no-failover");
  w.line("master_replid", replication_id());
  w.line("master_replid2", std::string(40, '0'));
  w.line("master_repl_offset", 0);
  w.line("second_repl_offset", -1);
  w.line("repl_backlog_active", 0);
  w.line("repl_backlog_size", 1048576);
  w.line("repl_backlog_first_byte_offset", 0);
  w.line("repl_backlog_histlen", 0);
}

void cpu_section(info_writer& w) {
  rusage self{};
  rusage children{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  w.begin("CPU");
  w.line("used_cpu_sys", cpu_seconds(self.ru_stime));
  w.line("used_cpu_user", cpu_seconds(self.ru_utime));
  w.line("used_cpu_sys_children", cpu_seconds(children.ru_stime));
  w.line("used_cpu_user_children", cpu_seconds(children.ru_utime));
}

void commandstats_section(info_writer& w, server_env& env) {
  auto& names = slot_names();
  auto sum = env.stats.command_sums();
  auto us_per_tick = env.stats.ns_per_tick() / 1000.0;
  w.begin("Commandstats");
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto& s = sum[i];
    if (s.calls == 0 && s.rejected == 0 && s.failed == 0)
      continue; // redis lists a command once it was called or refused
    auto usec = static_cast<double>(s.ticks) * us_per_tick;
    char buf[160];
    std::snprintf(buf, sizeof(buf),
                  "calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,"
                  "failed_calls=%lld",
                  static_cast<long long>(s.calls),
                  static_cast<long long>(usec),
                  s.calls == 0 ? 0.0 : usec / static_cast<double>(s.calls),
                  static_cast<long long>(s.rejected),
                  static_cast<long long>(s.failed));
    w.line("cmdstat_" + std::string{names[i]}, buf);
  }
}

void errorstats_section(info_writer& w, server_env& env) {
  w.begin("Errorstats");
  for (auto& [prefix, n] : env.stats.error_sums()) // sorted, as redis's
    w.line("errorstat_" + prefix, "count=" + ll_text(n));
}

void keyspace_section(info_writer& w, call& c) {
  // One walk of the table per INFO that asks for this section: O(N), but no
  // bookkeeping on any write (redis keeps these counts in its dicts).
  // keys counts entries as DBSIZE does, expired ones not yet removed
  // included; avg_ttl is the exact mean of what the live ones have left
  // (redis estimates it by sampling).
  std::int64_t keys = 0, expires = 0, live_ttls = 0, ttl_sum = 0;
  auto now = now_ms();
  auto walked = c.tab().for_each([&](std::string_view, const value& v) {
    ++keys;
    if (v.expire_at == 0)
      return;
    ++expires;
    if (v.expire_at > now) {
      ++live_ttls;
      ttl_sum += v.expire_at - now;
    }
  });
  if (!walked && walked.error() == cachet::errc::table_gone)
    c.res.store_gone = true;
  w.begin("Keyspace");
  if (keys > 0)
    w.line("db0", "keys=" + ll_text(keys) + ",expires=" + ll_text(expires)
                    + ",avg_ttl="
                    + ll_text(live_ttls > 0 ? ttl_sum / live_ttls : 0));
}

} // namespace

void cmd_info(call& c) {
  unsigned want = 0;
  if (c.argv.size() == 1)
    want = default_sections;
  for (std::size_t i = 1; i < c.argv.size(); ++i)
    want |= sections_of(c.argv[i]);
  std::string text;
  info_writer w{text};
  auto& env = c.env;
  if (want & s_server)
    server_section(w, env);
  if (want & s_clients) {
    w.begin("Clients");
    w.line("connected_clients", load(env.stats.connected_clients));
    w.line("maxclients", env.config.maxclients);
    w.line("blocked_clients", 0); // no blocking commands
    w.line("tracking_clients", 0); // no CLIENT TRACKING
  }
  if (want & s_memory)
    memory_section(w, env);
  if (want & s_persistence)
    persistence_section(w, env);
  if (want & s_stats)
    stats_section(w, env);
  if (want & s_replication)
    replication_section(w);
  if (want & s_cpu)
    cpu_section(w);
  if (want & s_modules)
    w.begin("Modules");
  if (want & s_commandstats)
    commandstats_section(w, env);
  if (want & s_errorstats)
    errorstats_section(w, env);
  if (want & s_cluster) {
    w.begin("Cluster");
    w.line("cluster_enabled", 0);
  }
  if (want & s_keyspace)
    keyspace_section(w, c);
  reply::verbatim(c.out, text, c.resp3());
}

} // namespace cachet::redis
