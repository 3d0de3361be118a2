#include "hash.hpp"

#include <algorithm>
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

/// A tree node: the key and value, three links, the colour and the
/// subtree's size, rounded as malloc would.
constexpr std::size_t tree_node_bytes
  = (sizeof(std::uint64_t) + 2 * sizeof(std::string) + 5 * sizeof(void*)
     + 15) / 16 * 16;

/// Puts `value` in `slot`, giving back a buffer far larger than it needs.
void store(std::string& slot, std::string_view value) {
  slot.assign(value.data(), value.size());
  if (slot.capacity() > 2 * value.size() + 32)
    slot.shrink_to_fit();
}

/// A key to look `field` up by, in a buffer of the thread's: no allocation
/// per lookup.
const std::pair<std::uint64_t, std::string>& probe(std::uint64_t hash,
                                                   std::string_view field) {
  thread_local std::pair<std::uint64_t, std::string> key;
  key.first = hash;
  key.second.assign(field.data(), field.size());
  return key;
}

} // namespace

std::uint64_t hash_object::hash_of(std::string_view field) noexcept {
  // Seeded per process, so no one can choose fields that crowd one hash.
  static const std::uint64_t seed
    = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  return XXH3_64bits_withSeed(field.data(), field.size(), seed);
}

std::vector<std::pair<std::string, std::string>>::const_iterator
hash_object::find_pair(std::string_view field) const {
  return std::find_if(pairs_.begin(), pairs_.end(),
                      [&](auto& p) { return p.first == field; });
}

const std::string* hash_object::find(std::string_view field) const {
  if (tree_) {
    auto it = tree_->find(probe(hash_of(field), field));
    return it == tree_->end() ? nullptr : &it->second;
  }
  auto it = find_pair(field);
  return it == pairs_.end() ? nullptr : &it->second;
}

bool hash_object::set(std::string_view field, std::string_view value,
                      const listpack_limits& limits) {
  auto longest = limits.value.load(std::memory_order_relaxed);
  if (!tree_ && (field.size() > longest || value.size() > longest))
    convert();
  if (tree_) {
    auto h = hash_of(field);
    auto it = tree_->find(probe(h, field));
    bool added = it == tree_->end();
    if (added) {
      it = tree_->insert({tree_key{h, std::string{field}}, std::string{}})
             .first;
      heap_ += heap_of(it->first.second);
    }
    auto& slot = it->second;
    heap_ -= heap_of(slot);
    store(slot, value);
    heap_ += heap_of(slot);
    return added;
  }
  auto at = find_pair(field);
  if (at != pairs_.end()) {
    auto& slot = pairs_[static_cast<std::size_t>(at - pairs_.begin())].second;
    heap_ -= heap_of(slot);
    store(slot, value);
    heap_ += heap_of(slot);
    // As redis: any write checks the count (the limit may have come down).
    if (pairs_.size() > limits.entries.load(std::memory_order_relaxed))
      convert();
    return false;
  }
  pairs_.emplace_back(std::string{field}, std::string{value});
  heap_ += heap_of(pairs_.back().first) + heap_of(pairs_.back().second);
  if (pairs_.size() > limits.entries.load(std::memory_order_relaxed))
    convert();
  return true;
}

bool hash_object::erase(std::string_view field) {
  if (tree_) {
    auto it = tree_->find(probe(hash_of(field), field));
    if (it == tree_->end())
      return false;
    heap_ -= heap_of(it->first.second) + heap_of(it->second);
    tree_->erase(it);
    return true;
  }
  auto it = find_pair(field);
  if (it == pairs_.end())
    return false;
  heap_ -= heap_of(it->first) + heap_of(it->second);
  pairs_.erase(it); // the others keep their order, as in a listpack
  return true;
}

hash_object::field_ref hash_object::at(std::size_t i) const {
  if (tree_) {
    auto it = tree_->find_by_order(i);
    return {it->first.second, it->second};
  }
  return {pairs_[i].first, pairs_[i].second};
}

void hash_object::convert() {
  auto tree = std::make_unique<tree_type>();
  for (auto& [field, value] : pairs_)
    tree->insert({tree_key{hash_of(field), std::move(field)},
                  std::move(value)});
  pairs_.clear();
  pairs_.shrink_to_fit();
  tree_ = std::move(tree);
}

std::size_t hash_object::memory() const noexcept {
  auto entries = tree_ ? tree_->size() * tree_node_bytes
                       : pairs_.capacity() * sizeof(pairs_[0]);
  return sizeof(*this) + entries + heap_;
}

hash_ptr hash_object::clone() const {
  hash_ptr copy{new hash_object};
  if (tree_)
    copy->tree_ = std::make_unique<tree_type>(*tree_);
  else
    copy->pairs_ = pairs_;
  copy->for_each([&](const std::string& field, const std::string& value) {
    copy->heap_ += heap_of(field) + heap_of(value);
  });
  return copy;
}

} // namespace cachet::redis
