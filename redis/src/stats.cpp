// The slow paths of INFO's counters: registering a thread, summing over
// threads, and counting an error reply under its prefix (errorstats).
#include "stats.hpp"

#include <algorithm>

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

std::int64_t server_stats::sum(std::atomic<std::int64_t> thread_counters::*field) {
  std::int64_t total = 0;
  each_thread([&](thread_counters& c) {
    total += (c.*field).load(std::memory_order_relaxed);
  });
  return total;
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
