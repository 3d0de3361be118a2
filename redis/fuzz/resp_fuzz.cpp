// libFuzzer target for the RESP parser: feeds the input in pieces whose
// sizes come from the input itself, so every way of splitting the stream is
// tried, and checks that each command's arguments lie inside the buffer.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "resp_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 1)
    return 0;
  // The first byte picks the chunk size; a small bulk limit exercises the
  // limit checks.
  std::size_t chunk = (data[0] % 32) + 1;
  ++data;
  --size;
  cachet::redis::parser_limits limits;
  limits.max_bulk_len = 1 << 20;
  limits.max_inline = 4096;
  cachet::redis::resp_parser parser{limits};
  std::vector<std::string_view> args;
  std::size_t total = 0;
  while (size > 0) {
    auto n = size < chunk ? size : chunk;
    auto [buf, room] = parser.prepare(n);
    if (room < n)
      __builtin_trap();
    std::memcpy(buf, data, n);
    parser.commit(n);
    data += n;
    size -= n;
    for (;;) {
      auto st = parser.next(args);
      if (st == cachet::redis::parse_status::need_more)
        break;
      if (st == cachet::redis::parse_status::error)
        return 0;
      for (auto a : args) {
        // Touch every byte, so ASan sees any view outside the buffer.
        for (auto c : a)
          total += static_cast<unsigned char>(c);
      }
    }
  }
  return total == 0xdeadbeef ? 1 : 0;
}
