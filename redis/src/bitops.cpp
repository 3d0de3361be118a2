// Bit commands on strings (redis-server 7.0's bitops.c as seen by
// clients): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP. Bit 0 is the most
// significant bit of the first byte, as in redis.
#include "call.hpp"

#include <algorithm>
#include <bitset>
#include <cstring>

#include <cachet/detail/epoch.hpp>

namespace cachet::redis {

namespace {

/// A bit offset argument: 0 up to the bits of proto-max-bulk-len, as
/// redis's getBitOffsetFromArgument; false (with redis's error) if not.
bool bit_offset(call& c, std::string_view arg, std::int64_t& offset) {
  if (!parse_ll(arg, offset) || offset < 0
      || (offset >> 3) >= c.env.config.proto_max_bulk_len) {
    c.error("ERR bit offset is not an integer or out of range");
    return false;
  }
  return true;
}

int popcount(unsigned char byte) {
  return static_cast<int>(std::bitset<8>{byte}.count());
}

/// BITCOUNT's and BITPOS's BYTE|BIT argument: whether the range counts
/// bits; false once redis's error is replied.
bool range_unit(call& c, std::string_view arg, bool& bits) {
  bits = iequals(arg, "bit");
  if (bits || iequals(arg, "byte"))
    return true;
  c.error(syntax_error);
  return false;
}

/// Bits [lo, hi] of a string (empty if lo > hi).
struct bit_span {
  std::int64_t lo;
  std::int64_t hi;
};

/// The range [start, end] of a string of `len` bytes, counted in bytes or
/// in bits (`bits`), negative from the end, clamped to the string, as
/// redis clamps it.
bit_span clamp_range(std::int64_t start, std::int64_t end, bool bits,
                     std::int64_t len) {
  auto total = bits ? len * 8 : len;
  if (start < 0)
    start += total;
  if (end < 0)
    end += total;
  start = std::max<std::int64_t>(start, 0);
  end = std::min(std::max<std::int64_t>(end, 0), total - 1);
  if (start > end)
    return {0, -1};
  return bits ? bit_span{start, end} : bit_span{start * 8, end * 8 + 7};
}

/// Bit `i` of `bytes` (bit 0: the first byte's most significant).
int bit_at(std::string_view bytes, std::int64_t i) {
  return (static_cast<unsigned char>(bytes[static_cast<std::size_t>(i >> 3)])
          >> (7 - (i & 7)))
         & 1;
}

/// The first bit equal to `bit` in bits [lo, hi] of `bytes`, or -1. Whole
/// bytes that cannot hold it are skipped eight at a time, then one at a
/// time; the bits of the others are looked at one by one.
std::int64_t find_bit(std::string_view bytes, int bit, std::int64_t lo,
                      std::int64_t hi) {
  const auto skip = static_cast<unsigned char>(bit != 0 ? 0x00 : 0xFF);
  const auto skip8 = bit != 0 ? std::uint64_t{0} : ~std::uint64_t{0};
  auto byte_at = [&](std::int64_t j) {
    return static_cast<unsigned char>(bytes[static_cast<std::size_t>(j)]);
  };
  for (auto i = lo; i <= hi;) {
    if ((i & 7) == 0) {
      auto j = i >> 3;
      const auto end = (hi + 1) >> 3; // bytes [j, end) lie wholly in range
      std::uint64_t word = 0;
      while (j + 8 <= end
             && (std::memcpy(&word, bytes.data() + j, 8), word == skip8))
        j += 8;
      while (j < end && byte_at(j) == skip)
        ++j;
      if (j != i >> 3) {
        i = j << 3;
        continue;
      }
    }
    if (bit_at(bytes, i) == bit)
      return i;
    ++i;
  }
  return -1;
}

} // namespace

void cmd_setbit(call& c) {
  std::int64_t offset = 0;
  if (!bit_offset(c, c.argv[2], offset))
    return;
  auto bit = c.argv[3];
  if (bit != "0" && bit != "1")
    return c.error("ERR bit is not an integer or out of range");
  auto byte = static_cast<std::size_t>(offset >> 3);
  auto mask = static_cast<unsigned char>(1u << (7 - (offset & 7)));
  int old = 0;
  bool changed = false;
  bool done = c.upsert_string(c.argv[1], [&](value& v, bool live) {
    if (!live)
      v = value{};
    auto bytes_now = v.bytes();
    old = byte < bytes_now.size()
              && (static_cast<unsigned char>(bytes_now[byte]) & mask) != 0
            ? 1
            : 0;
    // A new key, a longer string or a flipped bit is a write (dirty,
    // seen by WATCH); setting a bit as it is changes only the encoding,
    // as redis's SETBIT unshares the string either way.
    changed = !live || byte >= bytes_now.size() || old != (bit == "1");
    if (changed) {
      std::string bytes{bytes_now};
      if (bytes.size() <= byte)
        bytes.resize(byte + 1, '\0');
      auto& b = reinterpret_cast<unsigned char&>(bytes[byte]);
      b = bit == "1" ? static_cast<unsigned char>(b | mask)
                     : static_cast<unsigned char>(b & ~mask);
      v.set_bytes(bytes);
    }
    v.mark_in_place();
    return true;
  });
  if (!done)
    return;
  if (changed)
    c.wrote(c.argv[1]);
  reply::integer(c.out, old);
}

void cmd_getbit(call& c) {
  std::int64_t offset = 0;
  if (!bit_offset(c, c.argv[2], offset))
    return;
  auto byte = static_cast<std::size_t>(offset >> 3);
  int bit = 0;
  auto found = c.read_string(c.argv[1], [&](std::string_view bytes) {
    if (byte < bytes.size())
      bit = (static_cast<unsigned char>(bytes[byte]) >> (7 - (offset & 7)))
            & 1;
  });
  if (found)
    reply::integer(c.out, bit);
}

// BITCOUNT key [start end [BYTE|BIT]]: redis 7.0's order, the key first (an
// absent key is 0 whatever follows), then the range, negative from the end.
void cmd_bitcount(call& c) {
  detail::epoch_guard pin; // the view stays valid (a bitmap may be large)
  std::string_view bytes;
  auto found
    = c.read_string(c.argv[1], [&](std::string_view b) { bytes = b; });
  if (!found)
    return;
  if (!*found)
    return reply::integer(c.out, 0);
  auto len = static_cast<std::int64_t>(bytes.size());
  bit_span span{0, len * 8 - 1};
  if (c.argv.size() == 4 || c.argv.size() == 5) {
    std::int64_t start = 0;
    std::int64_t end = 0;
    if (!c.integer_arg(c.argv[2], start) || !c.integer_arg(c.argv[3], end))
      return;
    // Both from the end and crossed: empty, before BIT|BYTE is looked at
    // (redis's order), rather than both clamped to the first byte.
    if (start < 0 && end < 0 && start > end)
      return reply::integer(c.out, 0);
    bool bits = false;
    if (c.argv.size() == 5 && !range_unit(c, c.argv[4], bits))
      return;
    span = clamp_range(start, end, bits, len);
  } else if (c.argv.size() != 2) {
    return c.error(syntax_error);
  }
  if (span.lo > span.hi)
    return reply::integer(c.out, 0);
  // Whole bytes, less the bits before lo and after hi.
  auto byte_at = [&](std::int64_t i) {
    return static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  };
  auto first = span.lo >> 3;
  auto last = span.hi >> 3;
  std::int64_t n = 0;
  auto i = first;
  for (std::uint64_t word = 0; i + 8 <= last + 1; i += 8) {
    std::memcpy(&word, bytes.data() + i, 8);
    n += std::bitset<64>{word}.count();
  }
  for (; i <= last; ++i)
    n += popcount(byte_at(i));
  n -= popcount(byte_at(first) & ~(0xFFu >> (span.lo & 7)) & 0xFFu);
  n -= popcount(byte_at(last) & (0xFFu >> ((span.hi & 7) + 1)));
  reply::integer(c.out, n);
}

// BITPOS key bit [start [end [BYTE|BIT]]]: the bit argument first, then
// the key (absent: all zeros, so 0 for a clear bit and -1 for a set one),
// then the range. A clear bit searched for with no end given may be the
// first bit past the string (redis pads it with zeros on the right); with
// an end, only the range counts.
void cmd_bitpos(call& c) {
  std::int64_t bit = 0;
  if (!c.integer_arg(c.argv[2], bit))
    return;
  if (bit != 0 && bit != 1)
    return c.error("ERR The bit argument must be 1 or 0.");
  detail::epoch_guard pin; // the view stays valid (a bitmap may be large)
  std::string_view bytes;
  auto found
    = c.read_string(c.argv[1], [&](std::string_view b) { bytes = b; });
  if (!found)
    return;
  if (!*found)
    return reply::integer(c.out, bit != 0 ? -1 : 0);
  auto len = static_cast<std::int64_t>(bytes.size());
  auto n = c.argv.size();
  bool end_given = n >= 5;
  bit_span span{0, len * 8 - 1};
  if (n >= 4 && n <= 6) {
    std::int64_t start = 0;
    std::int64_t end = -1; // the last byte or bit, when not given
    bool bits = false;
    if (!c.integer_arg(c.argv[3], start)
        || (n == 6 && !range_unit(c, c.argv[5], bits))
        || (end_given && !c.integer_arg(c.argv[4], end)))
      return;
    span = clamp_range(start, end, bits, len);
  } else if (n != 3) {
    return c.error(syntax_error);
  }
  if (span.lo > span.hi)
    return reply::integer(c.out, -1);
  auto pos = find_bit(bytes, static_cast<int>(bit), span.lo, span.hi);
  if (pos < 0 && bit == 0 && !end_given)
    pos = span.hi + 1;
  reply::integer(c.out, pos);
}

// BITOP AND|OR|XOR|NOT destkey key [key ...]: an absent source is an empty
// string, shorter sources are padded with zero bytes, and the result (as
// long as the longest source) replaces destkey, its TTL and its type
// included; an empty result deletes destkey. The reads and the write are
// one step: no other command runs between them.
void cmd_bitop(call& c) {
  enum class op { and_, or_, xor_, not_ };
  op o{};
  auto name = c.argv[1];
  if (iequals(name, "and"))
    o = op::and_;
  else if (iequals(name, "or"))
    o = op::or_;
  else if (iequals(name, "xor"))
    o = op::xor_;
  else if (iequals(name, "not"))
    o = op::not_;
  else
    return c.error(syntax_error);
  if (o == op::not_ && c.argv.size() != 4)
    return c.error("ERR BITOP NOT must be called with a single source key.");
  auto dest = c.argv[2];
  c.env.gate.isolated(gate_slot, [&] {
    detail::epoch_guard pin; // the sources' views stay valid
    std::vector<std::string_view> sources;
    sources.reserve(c.argv.size() - 3);
    for (std::size_t i = 3; i < c.argv.size(); ++i) {
      auto& src = sources.emplace_back();
      auto found
        = c.read_string(c.argv[i], [&](std::string_view b) { src = b; });
      if (!found)
        return;
    }
    std::size_t size = 0;
    for (auto& src : sources)
      size = std::max(size, src.size());
    if (size == 0) {
      auto taken = c.tab().take(dest);
      if (!c.ok(taken))
        return;
      if (*taken) {
        c.forget(**taken);
        if (expired(**taken, now_ms()))
          c.count_expired();
        else
          c.wrote(dest);
      }
      return reply::integer(c.out, 0);
    }
    std::string result(size, '\0');
    if (!sources.front().empty()) // an absent key's view has no data
      std::memcpy(result.data(), sources.front().data(),
                  sources.front().size());
    auto* r = reinterpret_cast<unsigned char*>(result.data());
    if (o == op::not_) {
      for (std::size_t i = 0; i < size; ++i)
        r[i] = static_cast<unsigned char>(~r[i]);
    }
    // One plain loop per operation, which the compiler vectorizes.
    for (std::size_t k = 1; k < sources.size(); ++k) {
      auto* s = reinterpret_cast<const unsigned char*>(sources[k].data());
      auto have = sources[k].size();
      switch (o) {
        case op::and_:
          for (std::size_t i = 0; i < have; ++i)
            r[i] &= s[i];
          std::fill(r + have, r + size, static_cast<unsigned char>(0));
          break;
        case op::or_:
          for (std::size_t i = 0; i < have; ++i)
            r[i] |= s[i];
          break;
        case op::xor_:
          for (std::size_t i = 0; i < have; ++i)
            r[i] ^= s[i];
          break;
        case op::not_:
          break;
      }
    }
    bool done = c.upsert(dest, [&](value& v, bool) {
      v.expire_at = 0;
      v.set_bytes(result);
      v.mark_in_place(); // redis builds it as a raw string, whatever it holds
      return true;
    });
    if (!done)
      return;
    c.wrote(dest);
    reply::integer(c.out, static_cast<std::int64_t>(size));
  });
}

} // namespace cachet::redis
