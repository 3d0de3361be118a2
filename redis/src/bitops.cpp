// Bit commands on strings (redis-server 7.0's bitops.c as seen by
// clients): SETBIT, GETBIT, BITCOUNT. Bit 0 is the most significant bit of
// the first byte, as in redis.
#include "call.hpp"

#include <bitset>

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
  bool done = c.upsert_string(c.argv[1], [&](value& v, bool live) {
    if (!live)
      v = value{};
    std::string bytes{v.bytes()};
    if (bytes.size() <= byte)
      bytes.resize(byte + 1, '\0');
    auto& b = reinterpret_cast<unsigned char&>(bytes[byte]);
    old = (b & mask) != 0 ? 1 : 0;
    b = bit == "1" ? static_cast<unsigned char>(b | mask)
                   : static_cast<unsigned char>(b & ~mask);
    v.set_bytes(bytes);
    v.mark_in_place();
    return true;
  });
  if (!done)
    return;
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
  std::string bytes;
  auto found
    = c.read_string(c.argv[1], [&](std::string_view b) { bytes = b; });
  if (!found)
    return;
  if (!*found)
    return reply::integer(c.out, 0);
  auto len = static_cast<std::int64_t>(bytes.size());
  std::int64_t start = 0;
  std::int64_t end = len - 1;
  unsigned char first_mask = 0;
  unsigned char last_mask = 0;
  if (c.argv.size() == 4 || c.argv.size() == 5) {
    if (!c.integer_arg(c.argv[2], start) || !c.integer_arg(c.argv[3], end))
      return;
    // Both from the end and crossed: empty, before BIT|BYTE is looked at
    // (redis's order), rather than both clamped to the first byte.
    if (start < 0 && end < 0 && start > end)
      return reply::integer(c.out, 0);
    bool bits = false;
    if (c.argv.size() == 5) {
      if (iequals(c.argv[4], "bit"))
        bits = true;
      else if (!iequals(c.argv[4], "byte"))
        return c.error(syntax_error);
    }
    auto total = bits ? len * 8 : len;
    if (start < 0)
      start += total;
    if (end < 0)
      end += total;
    start = std::max<std::int64_t>(start, 0);
    end = std::max<std::int64_t>(end, 0);
    end = std::min(end, total - 1);
    if (bits && start <= end) {
      // Whole bytes, less the bits before start and after end.
      first_mask = static_cast<unsigned char>(
        ~((1u << (8 - (start & 7))) - 1) & 0xFF);
      last_mask = static_cast<unsigned char>((1u << (7 - (end & 7))) - 1);
      start >>= 3;
      end >>= 3;
    }
  } else if (c.argv.size() != 2) {
    return c.error(syntax_error);
  }
  if (start > end)
    return reply::integer(c.out, 0);
  std::int64_t n = 0;
  for (auto i = start; i <= end; ++i)
    n += popcount(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]));
  n -= popcount(static_cast<unsigned char>(bytes[static_cast<std::size_t>(start)])
                & first_mask);
  n -= popcount(static_cast<unsigned char>(bytes[static_cast<std::size_t>(end)])
                & last_mask);
  reply::integer(c.out, n);
}

} // namespace cachet::redis
