// The slow log's slow paths: a push, a read, a reset (slowlog.hpp).
#include "slowlog.hpp"

#include <algorithm>
#include <ctime>
#include <utility>

namespace cachet::redis {

void slowlog::set_slower_than(std::int64_t us) noexcept {
  slower_than_.store(us, std::memory_order_relaxed);
  constexpr std::int64_t max_ns_per_tick = 2;
  std::int64_t ticks = LLONG_MAX;
  if (us >= 0 && us <= LLONG_MAX / 1000)
    ticks = us * 1000 / max_ns_per_tick;
  min_ticks_.store(ticks, std::memory_order_relaxed);
}

void slowlog::push(std::int64_t duration_us, std::vector<std::string> args,
                   std::string peer, std::string name) {
  auto bound = slower_than();
  if (bound < 0 || duration_us < bound)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  entry e;
  e.id = next_id_++;
  e.unix_s = static_cast<std::int64_t>(std::time(nullptr));
  e.duration_us = duration_us;
  e.args = std::move(args);
  e.peer = std::move(peer);
  e.name = std::move(name);
  entries_.push_front(std::move(e));
  trim();
}

void slowlog::set_max_len(std::int64_t n) {
  max_len_.store(n, std::memory_order_relaxed);
  std::lock_guard<std::mutex> guard{mtx_};
  if (slower_than() >= 0)
    trim();
}

void slowlog::trim() {
  auto max = static_cast<std::size_t>(std::max<std::int64_t>(max_len(), 0));
  while (entries_.size() > max)
    entries_.pop_back();
}

std::vector<slowlog::entry> slowlog::newest(std::size_t count) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto n = std::min(count, entries_.size());
  return {entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n)};
}

std::size_t slowlog::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return entries_.size();
}

void slowlog::reset() {
  std::lock_guard<std::mutex> guard{mtx_};
  entries_.clear();
}

} // namespace cachet::redis
