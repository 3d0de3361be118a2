// A value of cachet-redis's store: a string or a hash, its expiry, and its
// key's eviction slot.
#pragma once

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include <cachet/detail/engine_common.hpp>
#include <cachet/detail/varint.hpp>

#include "evict.hpp"
#include "hash.hpp"

namespace cachet::redis {

/// A value: a string's bytes or a hash's fields (hash.hpp), when it
/// expires (unix ms; 0: never) and, while maxmemory is set, its key's
/// eviction slot (evict.hpp).
///
/// 24 bytes, since every key's node holds one: the string and the hash
/// share one word, a pointer to the string's block (its size as a varint,
/// then its bytes: one allocation, as small as the bytes allow) or, tagged
/// in its low bit, to the hash. A copy copies the string (values are
/// immutable in the table, each write makes a new one) and shares the hash
/// (edited in place under its own lock, t_hash.cpp). The value in the
/// table's node keeps its string's block in the node itself (node_tail
/// below), tagged in its second bit: not its own to free. A third bit
/// marks a string changed in place (APPEND, SETRANGE, SETBIT), which redis
/// holds "raw" whatever its bytes, until it is written whole again.
class value {
public:
  std::int64_t expire_at = 0;
  slot_ptr slot;

  /// The empty string, without expiry.
  value() noexcept = default;

  /// A string value.
  static value string(std::string_view bytes, std::int64_t expire_at) {
    value v;
    v.set_bytes(bytes);
    v.expire_at = expire_at;
    return v;
  }

  value(const value& other)
    : expire_at(other.expire_at), slot(other.slot), data_(other.copy_data()) {
    // nop
  }

  value(value&& other) noexcept
    : expire_at(other.expire_at),
      slot(std::move(other.slot)),
      data_(std::exchange(other.data_, 0)) {
    // nop
  }

  value& operator=(const value& other) {
    if (this != &other) {
      auto data = other.copy_data();
      drop_data();
      data_ = data;
      expire_at = other.expire_at;
      slot = other.slot;
    }
    return *this;
  }

  value& operator=(value&& other) noexcept {
    if (this != &other) {
      drop_data();
      data_ = std::exchange(other.data_, 0);
      expire_at = other.expire_at;
      slot = std::move(other.slot);
    }
    return *this;
  }

  ~value() {
    drop_data();
  }

  bool is_string() const noexcept {
    return (data_ & hash_tag) == 0;
  }

  /// A string's bytes; empty for a hash.
  std::string_view bytes() const noexcept {
    if (data_ == 0 || !is_string())
      return {};
    std::size_t n;
    auto* p = detail::get_varint(
      reinterpret_cast<const char*>(data_ & ~tag_bits), n);
    return {p, n};
  }

  /// Marks a string changed in place (OBJECT ENCODING's "raw"); writing it
  /// whole (set_bytes) clears the mark. The empty string stays unmarked.
  void mark_in_place() noexcept {
    if (data_ != 0 && is_string())
      data_ |= in_place_tag;
  }

  bool changed_in_place() const noexcept {
    return (data_ & in_place_tag) != 0;
  }

  /// The hash; null for a string.
  hash_object* hash() const noexcept {
    return is_string() ? nullptr : reinterpret_cast<hash_object*>(data_ - 1);
  }

  /// Makes it the string `head` + `tail` (which may view its current
  /// bytes): one block, one copy.
  void set_bytes(std::string_view head, std::string_view tail = {}) {
    auto data = make_block(head, tail);
    drop_data();
    data_ = data;
  }

  /// Makes it the hash `h` (not null), shared with the holders of `h`.
  void set_hash(hash_ptr h) noexcept {
    drop_data();
    data_ = reinterpret_cast<std::uintptr_t>(h.detach()) | hash_tag;
  }

  /// Bytes of the string's block (0 for a hash or an empty string).
  std::size_t block_size() const noexcept {
    auto b = bytes();
    return b.empty() ? 0 : detail::varint_size(b.size()) + b.size();
  }

  /// TYPE's name for it.
  std::string_view type_name() const noexcept {
    return is_string() ? "string" : "hash";
  }

  /// A copy whose string block (block_size() bytes) is written at `at`,
  /// 8-aligned, and is not its own: a table's node keeps it.
  value placed_at(char* at) const {
    value out;
    out.expire_at = expire_at;
    out.slot = slot;
    if (auto b = bytes(); !b.empty()) {
      auto* p = detail::put_varint(at, b.size());
      std::memcpy(p, b.data(), b.size());
      out.data_ = reinterpret_cast<std::uintptr_t>(at) | placed_tag
                  | (data_ & in_place_tag);
    } else {
      out.data_ = copy_data(); // a hash, shared, or the empty string
    }
    return out;
  }

private:
  static constexpr std::uintptr_t hash_tag = 1;
  static constexpr std::uintptr_t placed_tag = 2;
  static constexpr std::uintptr_t in_place_tag = 4; // blocks are 8-aligned
  static constexpr std::uintptr_t tag_bits = 7;

  /// A block holding `head` + `tail`, or 0 for the empty string.
  static std::uintptr_t make_block(std::string_view head,
                                   std::string_view tail = {}) {
    auto n = head.size() + tail.size();
    if (n == 0)
      return 0;
    auto* mem
      = static_cast<char*>(::operator new(detail::varint_size(n) + n));
    auto* p = detail::put_varint(mem, n);
    if (!head.empty()) // memcpy wants a pointer even for no bytes
      std::memcpy(p, head.data(), head.size());
    if (!tail.empty())
      std::memcpy(p + head.size(), tail.data(), tail.size());
    return reinterpret_cast<std::uintptr_t>(mem);
  }

  std::uintptr_t copy_data() const {
    if (auto* h = hash()) {
      intrusive_ptr_add_ref(h);
      return data_;
    }
    return make_block(bytes()) | (data_ & in_place_tag);
  }

  void drop_data() noexcept {
    if (auto* h = hash())
      intrusive_ptr_release(h);
    else if (data_ != 0 && (data_ & placed_tag) == 0)
      ::operator delete(reinterpret_cast<void*>(data_ & ~tag_bits));
    data_ = 0;
  }

  std::uintptr_t data_ = 0;
};

static_assert(sizeof(value) == 24, "a value is three words");

} // namespace cachet::redis

/// The store's table keeps a string's block in the key's node.
template <>
struct cachet::detail::node_tail<cachet::redis::value> {
  static constexpr bool enabled = true;
  static std::size_t size(const cachet::redis::value& v) noexcept {
    return v.block_size();
  }
  static cachet::redis::value place(const cachet::redis::value& v,
                                    char* at) {
    return v.placed_at(at);
  }
};

namespace cachet::redis {

/// True if `v` has an expiry and it is not after `now`.
inline bool expired(const value& v, std::int64_t now) {
  return v.expire_at != 0 && v.expire_at <= now;
}

} // namespace cachet::redis
