// The slow paths of INFO's counters: registering a thread, summing over
// threads, and counting an error reply under its prefix (errorstats).
#include "stats.hpp"

#include <algorithm>
#include <iterator>

namespace cachet::redis {

void thread_counters::count_error(std::string_view text) {
  add(error_replies);
  // redis's afterErrorReply: the prefix is the first word, looked for in
  // the first 32 bytes of the reply ('-' included); without a space there,
  // "ERR".
  auto head = text.substr(0, 31);
  auto space = head.find(' ');
  auto prefix = space == std::string_view::npos ? std::string_view{"ERR"}
                                                : text.substr(0, space);
  std::lock_guard<std::mutex> guard{errors_mtx_};
  auto i = std::find_if(errors_.begin(), errors_.end(),
                        [&](const auto& e) { return e.first == prefix; });
  if (i != errors_.end())
    ++i->second;
  else if (errors_.size() < max_error_prefixes)
    errors_.emplace_back(std::string{prefix}, 1);
}

std::int64_t server_stats::raw_sum(field f) {
  std::int64_t total = 0;
  each_thread([&](thread_counters& c) {
    total += (c.*f).load(std::memory_order_relaxed);
  });
  return total;
}

std::vector<server_stats::command_totals> server_stats::raw_command_sums() {
  std::vector<command_totals> sums(command_slots);
  each_thread([&](thread_counters& t) {
    for (std::size_t i = 0; i < command_slots; ++i) {
      auto& c = t.per_command[i];
      sums[i].calls += c.calls.load(std::memory_order_relaxed);
      sums[i].ticks += c.ticks.load(std::memory_order_relaxed);
      sums[i].rejected += c.rejected.load(std::memory_order_relaxed);
      sums[i].failed += c.failed.load(std::memory_order_relaxed);
    }
  });
  return sums;
}

std::map<std::string, std::int64_t, std::less<>>
server_stats::raw_error_sums() {
  std::map<std::string, std::int64_t, std::less<>> counts;
  each_thread([&](thread_counters& t) {
    t.each_error([&](std::string_view prefix, std::int64_t n) {
      counts[std::string{prefix}] += n;
    });
  });
  return counts;
}

std::int64_t server_stats::sum(field f) {
  std::lock_guard<std::mutex> guard{base_mtx_};
  auto total = raw_sum(f);
  auto* at = std::find(std::begin(resettable_), std::end(resettable_), f);
  if (at != std::end(resettable_))
    total -= base_[static_cast<std::size_t>(at - std::begin(resettable_))];
  return total;
}

std::vector<server_stats::command_totals> server_stats::command_sums() {
  std::lock_guard<std::mutex> guard{base_mtx_};
  auto sums = raw_command_sums();
  for (std::size_t i = 0; i < command_slots; ++i) {
    sums[i].calls -= command_base_[i].calls;
    sums[i].ticks -= command_base_[i].ticks;
    sums[i].rejected -= command_base_[i].rejected;
    sums[i].failed -= command_base_[i].failed;
  }
  return sums;
}

std::map<std::string, std::int64_t, std::less<>> server_stats::error_sums() {
  std::lock_guard<std::mutex> guard{base_mtx_};
  auto counts = raw_error_sums();
  for (auto i = counts.begin(); i != counts.end();) {
    auto base = error_base_.find(i->first);
    if (base != error_base_.end())
      i->second -= base->second;
    i = i->second == 0 ? counts.erase(i) : std::next(i);
  }
  return counts;
}

void server_stats::sample(std::int64_t now_ms) {
  const field counted[] = {&thread_counters::commands,
                           &thread_counters::net_input_bytes,
                           &thread_counters::net_output_bytes};
  std::lock_guard<std::mutex> guard{rates_mtx_};
  auto elapsed = now_ms - sampled_ms_;
  if (elapsed < 100)
    return;
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    auto count = raw_sum(counted[i]);
    auto& ring = rings_[i];
    // The first sample has no interval before it: a rate of 0.
    ring.per_sec[ring_at_] = sampled_ms_ == 0
                               ? 0.0
                               : static_cast<double>(count - ring.last) * 1000
                                   / static_cast<double>(elapsed);
    ring.last = count;
  }
  ring_at_ = (ring_at_ + 1) % rate_samples;
  sampled_ms_ = now_ms;
}

server_stats::rates server_stats::instantaneous() {
  std::lock_guard<std::mutex> guard{rates_mtx_};
  auto mean = [&](const rate_ring& ring) {
    double sum = 0;
    for (auto x : ring.per_sec)
      sum += x;
    return sum / rate_samples;
  };
  return {mean(rings_[0]), mean(rings_[1]) / 1024, mean(rings_[2]) / 1024};
}

void server_stats::reset() {
  {
    std::lock_guard<std::mutex> guard{rates_mtx_};
    for (auto& ring : rings_)
      ring.per_sec.fill(0);
  }
  std::lock_guard<std::mutex> guard{base_mtx_};
  for (std::size_t i = 0; i < std::size(resettable_); ++i)
    base_[i] = raw_sum(resettable_[i]);
  command_base_ = raw_command_sums();
  error_base_ = raw_error_sums();
  total_connections.store(0, std::memory_order_relaxed);
  rejected_connections.store(0, std::memory_order_relaxed);
  expired_keys.store(0, std::memory_order_relaxed);
  store_restarts.store(0, std::memory_order_relaxed);
}

thread_counters& server_stats::add_thread() {
  std::lock_guard<std::mutex> guard{mtx_};
  per_thread_.push_back(std::make_unique<thread_counters>());
  return *per_thread_.back();
}

std::uint64_t server_stats::next_id() noexcept {
  // Starts at 1: 0 is a thread's "no instance cached yet".
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

} // namespace cachet::redis
