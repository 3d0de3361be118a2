#include "hash.hpp"

#include <algorithm>
#include <new>
#include <random>

#include <xxhash.h>

namespace cachet::redis {

namespace {

/// What a string holds beyond itself: nothing while it fits the small
/// buffer, else its capacity and the terminator.
std::size_t heap_of(const std::string& s) noexcept {
  constexpr std::size_t inline_capacity = 15; // libstdc++'s small buffer
  return s.capacity() > inline_capacity ? s.capacity() + 1 : 0;
}

/// Fields a table of 2^bits homes takes before it doubles, and below which
/// it halves: between an eighth and three quarters full, so a search and
/// an insert's shift touch few slots, and a random slot is a field often
/// enough for HRANDFIELD.
std::size_t grow_at(unsigned bits) noexcept {
  auto n = std::size_t{1} << bits;
  return n - n / 4;
}
std::size_t shrink_at(unsigned bits) noexcept {
  return (std::size_t{1} << bits) / 8;
}

/// The smallest table: 4 homes (a hash made a table by a long value may
/// have two fields).
constexpr unsigned min_bits = 2;

/// A table's pair on the heap, as malloc rounds it.
constexpr std::size_t pair_block
  = (2 * sizeof(std::string) + sizeof(void*) + 15) / 16 * 16;

/// The fewest bits whose table holds `n` fields.
unsigned bits_for(std::size_t n) noexcept {
  unsigned bits = min_bits;
  while (grow_at(bits) < n)
    ++bits;
  return bits;
}

/// Puts `value` in `slot`, giving back a buffer far larger than it needs.
void store(std::string& slot, std::string_view value) {
  slot.assign(value.data(), value.size());
  if (slot.capacity() > 2 * value.size() + 32)
    slot.shrink_to_fit();
}

} // namespace

std::uint64_t hash_object::hash_of(std::string_view field) noexcept {
  // Seeded per process, so no one can choose fields that crowd one hash.
  static const std::uint64_t seed
    = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  auto h = XXH3_64bits_withSeed(field.data(), field.size(), seed);
  return h != 0 ? h : 1;
}

std::vector<std::pair<std::string, std::string>>::const_iterator
hash_object::find_pair(std::string_view field) const {
  return std::find_if(pairs_.begin(), pairs_.end(),
                      [&](auto& p) { return p.first == field; });
}

std::size_t hash_object::find_slot(std::uint64_t h,
                                   std::string_view field) const {
  // From the home on, the fields of a run are in hash order: an empty slot
  // or a greater hash ends the search.
  auto n = slots_.size();
  auto i = home(h);
  while (i < n && slots_[i].hash != 0 && slots_[i].hash < h)
    ++i;
  for (; i < n && slots_[i].hash == h; ++i)
    if (slots_[i].pair->first == field)
      return i;
  return n;
}

const std::string* hash_object::find(std::string_view field) const {
  if (table_) {
    auto i = find_slot(hash_of(field), field);
    return i < slots_.size() ? &slots_[i].pair->second : nullptr;
  }
  auto it = find_pair(field);
  return it == pairs_.end() ? nullptr : &it->second;
}

bool hash_object::set(std::string_view field, std::string_view value,
                      const listpack_limits& limits) {
  auto longest = limits.value.load(std::memory_order_relaxed);
  if (!table_ && (field.size() > longest || value.size() > longest))
    convert();
  if (table_) {
    auto h = hash_of(field);
    auto i = find_slot(h, field);
    bool added = i == slots_.size();
    if (added) {
      // A new field goes before the first greater hash of its run; the
      // run's rest moves up by one into the next empty slot (or a new one
      // past the end).
      auto fresh = std::make_unique<std::pair<std::string, std::string>>(
        std::string{field}, std::string{});
      if (count_ + 1 > grow_at(64 - shift_))
        rehash(64 - shift_ + 1);
      i = home(h);
      while (i < slots_.size() && slots_[i].hash != 0 && slots_[i].hash <= h)
        ++i;
      auto empty = i;
      while (empty < slots_.size() && slots_[empty].hash != 0)
        ++empty;
      if (empty == slots_.size())
        slots_.emplace_back();
      std::move_backward(slots_.begin() + static_cast<std::ptrdiff_t>(i),
                         slots_.begin() + static_cast<std::ptrdiff_t>(empty),
                         slots_.begin() + static_cast<std::ptrdiff_t>(empty)
                           + 1);
      slots_[i].pair = std::move(fresh);
      slots_[i].hash = h;
      ++count_;
      heap_ += heap_of(slots_[i].pair->first);
    }
    auto& held = slots_[i].pair->second;
    heap_ -= heap_of(held);
    store(held, value);
    heap_ += heap_of(held);
    return added;
  }
  auto at = find_pair(field);
  if (at != pairs_.end()) {
    auto& slot = pairs_[static_cast<std::size_t>(at - pairs_.begin())].second;
    heap_ -= heap_of(slot);
    store(slot, value);
    heap_ += heap_of(slot);
    // As redis: any write checks the count (the limit may have come down).
    convert_past(limits);
    return false;
  }
  pairs_.emplace_back(std::string{field}, std::string{value});
  heap_ += heap_of(pairs_.back().first) + heap_of(pairs_.back().second);
  convert_past(limits);
  return true;
}

void hash_object::convert_past(const listpack_limits& limits) noexcept {
  if (pairs_.size() <= limits.entries.load(std::memory_order_relaxed))
    return;
  try {
    convert();
  } catch (const std::bad_alloc&) {
    // The write is done; without memory to convert, the listpack stays
    // past its limit until a later write converts it.
  }
}

void hash_object::erase_slot(std::size_t i) {
  heap_ -= heap_of(slots_[i].pair->first) + heap_of(slots_[i].pair->second);
  // Backward shift: a field whose home is before its slot may move back
  // into the gap, which keeps the run contiguous and in order.
  auto n = slots_.size();
  auto j = i + 1;
  while (j < n && slots_[j].hash != 0 && home(slots_[j].hash) < j)
    ++j;
  std::move(slots_.begin() + static_cast<std::ptrdiff_t>(i) + 1,
            slots_.begin() + static_cast<std::ptrdiff_t>(j),
            slots_.begin() + static_cast<std::ptrdiff_t>(i));
  slots_[j - 1] = slot{};
  --count_;
  if (count_ < shrink_at(64 - shift_) && 64 - shift_ > min_bits) {
    try {
      rehash(64 - shift_ - 1);
    } catch (const std::bad_alloc&) {
      // no memory to shrink: the table stays as it is, whole
    }
  }
}

bool hash_object::erase(std::string_view field) {
  if (table_) {
    auto i = find_slot(hash_of(field), field);
    if (i == slots_.size())
      return false;
    erase_slot(i);
    return true;
  }
  auto it = find_pair(field);
  if (it == pairs_.end())
    return false;
  heap_ -= heap_of(it->first) + heap_of(it->second);
  pairs_.erase(it); // the others keep their order, as in a listpack
  return true;
}

void hash_object::rehash(unsigned bits) {
  // Everything that can fail comes before anything moves: the fields'
  // boxes (a listpack's), their hash order, the new array.
  std::vector<std::pair<std::uint64_t, pair_ptr*>> order;
  std::vector<pair_ptr> boxes;
  order.reserve(size());
  if (table_) {
    for (auto& s : slots_)
      if (s.hash != 0)
        order.emplace_back(s.hash, &s.pair);
  } else {
    boxes.reserve(pairs_.size());
    for (std::size_t k = 0; k < pairs_.size(); ++k) {
      boxes.push_back(std::make_unique<std::pair<std::string, std::string>>());
      order.emplace_back(hash_of(pairs_[k].first), &boxes.back());
    }
    std::sort(order.begin(), order.end(),
              [](auto& a, auto& b) { return a.first < b.first; });
  }
  // The fields in hash order, each at its new home or right after the one
  // before it (the new table is in order too); some may run past the last
  // home.
  unsigned shift = 64 - bits;
  auto place = [&](std::size_t next, std::uint64_t h) {
    return std::max(next, static_cast<std::size_t>(h >> shift));
  };
  std::size_t end = std::size_t{1} << bits;
  std::size_t next = 0;
  for (auto& [h, box] : order)
    next = place(next, h) + 1;
  end = std::max(end, next);
  std::vector<slot> fresh;
  // Room for runs that a later insert pushes past the end, so that they
  // rarely make the array reallocate (and double).
  fresh.reserve(end + end / 16 + 4);
  fresh.resize(end);
  if (!table_) // the pairs move into their boxes
    for (std::size_t k = 0; k < pairs_.size(); ++k)
      *boxes[k] = std::move(pairs_[k]);
  next = 0;
  for (auto& [h, box] : order) {
    auto i = place(next, h);
    fresh[i].hash = h;
    fresh[i].pair = std::move(*box);
    next = i + 1;
  }
  slots_ = std::move(fresh);
  shift_ = shift;
}

void hash_object::convert() {
  count_ = pairs_.size();
  rehash(bits_for(count_));
  table_ = true;
  pairs_.clear();
  pairs_.shrink_to_fit();
}

std::size_t hash_object::memory() const noexcept {
  auto entries = table_ ? slots_.capacity() * sizeof(slot)
                            + count_ * pair_block
                        : pairs_.capacity() * sizeof(pairs_[0]);
  return sizeof(*this) + entries + heap_;
}

hash_ptr hash_object::clone() const {
  hash_ptr copy{new hash_object};
  copy->pairs_ = pairs_;
  copy->table_ = table_;
  copy->slots_.reserve(slots_.capacity());
  for (auto& s : slots_) {
    auto& c = copy->slots_.emplace_back();
    c.hash = s.hash;
    if (s.pair)
      c.pair = std::make_unique<std::pair<std::string, std::string>>(*s.pair);
  }
  copy->shift_ = shift_;
  copy->count_ = count_;
  copy->for_each([&](const std::string& field, const std::string& value) {
    copy->heap_ += heap_of(field) + heap_of(value);
  });
  return copy;
}

} // namespace cachet::redis
