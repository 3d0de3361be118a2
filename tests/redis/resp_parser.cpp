// Unit tests of cachet-redis's RESP parser and glob matcher: every split of
// the byte stream, inline quoting, error texts and limits.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "glob.hpp"
#include "resp_parser.hpp"

using namespace cachet::redis;

namespace {

struct outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;
};

/// Feeds `input` in chunks of `chunk` bytes and collects every command.
outcome feed(const std::string& input, std::size_t chunk,
             parser_limits limits = {}) {
  resp_parser p{limits};
  outcome out;
  std::vector<std::string_view> args;
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    auto n = std::min(chunk, input.size() - at);
    auto [buf, room] = p.prepare(n);
    REQUIRE(room >= n);
    std::memcpy(buf, input.data() + at, n);
    p.commit(n);
    for (;;) {
      auto st = p.next(args);
      if (st == parse_status::need_more)
        break;
      if (st == parse_status::error) {
        out.error = p.error_text();
        return out;
      }
      out.commands.emplace_back(args.begin(), args.end());
    }
  }
  return out;
}

using cmds = std::vector<std::vector<std::string>>;

} // namespace

TEST_CASE("multibulk and inline commands parse under every split") {
  std::string big(70000, 'x');
  big[123] = '\0';
  std::string input = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(big.size())
                      + "\r\n" + big + "\r\n"
                      + "PING\r\n*0\r\n*-1\r\n\r\n  \r\n"
                      + "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
                      + "SET a \"x\\x41\\n\" 'it\\'s'\n";
  cmds expected{{"SET", "k", big},
                {"PING"},
                {"ECHO", ""},
                {"SET", "a", "xA\n", "it's"}};
  for (std::size_t chunk : {1, 2, 3, 7, 64, 4096, 1 << 20}) {
    auto out = feed(input, chunk);
    CHECK(out.error.empty());
    CHECK(out.commands == expected);
  }
}

TEST_CASE("protocol errors carry redis-server's texts") {
  auto err = [](const std::string& input) { return feed(input, 1).error; };
  CHECK(err("*1\r\n+PING\r\n") == "Protocol error: expected '$', got '+'");
  CHECK(err("*x\r\n") == "Protocol error: invalid multibulk length");
  CHECK(err("*3000000000\r\n") == "Protocol error: invalid multibulk length");
  CHECK(err("*1\r\n$-1\r\n") == "Protocol error: invalid bulk length");
  CHECK(err("*1\r\n$01\r\n") == "Protocol error: invalid bulk length");
  CHECK(err("*1\r\n$+1\r\n") == "Protocol error: invalid bulk length");
  CHECK(err("SET a \"b\r\n") == "Protocol error: unbalanced quotes in request");
  CHECK(err("SET a 'b'c\r\n") == "Protocol error: unbalanced quotes in request");
  CHECK(err("SET a \"b\"c\r\n") == "Protocol error: unbalanced quotes in request");
}

TEST_CASE("limits are checked before allocating") {
  parser_limits limits;
  limits.max_bulk_len = 1024 * 1024;
  limits.max_inline = 1000;
  auto out = feed("*1\r\n$1048577\r\n", 4, limits);
  CHECK(out.error == "Protocol error: invalid bulk length");
  out = feed("*1\r\n$1048576\r\n", 4, limits);
  CHECK(out.error.empty());
  CHECK(feed(std::string(1001, 'a'), 100, limits).error
        == "Protocol error: too big inline request");
  CHECK(feed("*" + std::string(1001, '1'), 100, limits).error
        == "Protocol error: too big mbulk count string");
  CHECK(feed("*1\r\n$" + std::string(1001, '1'), 100, limits).error
        == "Protocol error: too big bulk count string");
  // A huge count reserves nothing up front: the buffer stays small.
  resp_parser p{limits};
  std::string huge = "*2147483647\r\n$1\r\na\r\n";
  auto [buf, room] = p.prepare(huge.size());
  std::memcpy(buf, huge.data(), huge.size());
  p.commit(huge.size());
  std::vector<std::string_view> args;
  CHECK(p.next(args) == parse_status::need_more);
  CHECK(p.capacity() < 64 * 1024);
}

TEST_CASE("a big bulk gets its room once and is not moved again") {
  resp_parser p;
  std::string head = "*1\r\n$100000\r\n";
  auto [buf, room] = p.prepare(head.size());
  std::memcpy(buf, head.data(), head.size());
  p.commit(head.size());
  std::vector<std::string_view> args;
  CHECK(p.next(args) == parse_status::need_more);
  auto first = p.prepare(1);
  auto* base = first.first;
  CHECK(first.second >= 100002);
  std::string body(100000, 'b');
  body += "\r\n";
  std::size_t at = 0;
  while (at < body.size()) {
    auto [b, r] = p.prepare(1);
    CHECK(b == base + at); // no reallocation, no move
    auto n = std::min<std::size_t>(r, std::min<std::size_t>(9000, body.size() - at));
    std::memcpy(b, body.data() + at, n);
    p.commit(n);
    at += n;
  }
  REQUIRE(p.next(args) == parse_status::command);
  CHECK(args.size() == 1);
  CHECK(args[0].size() == 100000);
}

TEST_CASE("parse_ll follows redis's string2ll") {
  std::int64_t x = 0;
  CHECK((parse_ll("0", x) && x == 0));
  CHECK((parse_ll("-9223372036854775808", x) && x == INT64_MIN));
  CHECK((parse_ll("9223372036854775807", x) && x == INT64_MAX));
  CHECK_FALSE(parse_ll("9223372036854775808", x));
  CHECK_FALSE(parse_ll("-0", x));
  CHECK_FALSE(parse_ll("01", x));
  CHECK_FALSE(parse_ll("+1", x));
  CHECK_FALSE(parse_ll(" 1", x));
  CHECK_FALSE(parse_ll("", x));
  CHECK_FALSE(parse_ll("-", x));
}

TEST_CASE("glob patterns match as redis's stringmatchlen") {
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("h?llo", "hello"));
  CHECK(glob_match("h*llo", "heeeello"));
  CHECK(glob_match("h[ae]llo", "hallo"));
  CHECK_FALSE(glob_match("h[ae]llo", "hillo"));
  CHECK(glob_match("h[^e]llo", "hallo"));
  CHECK_FALSE(glob_match("h[^e]llo", "hello"));
  CHECK(glob_match("h[a-b]llo", "hbllo"));
  CHECK(glob_match("h\\*llo", "h*llo"));
  CHECK_FALSE(glob_match("h\\*llo", "hello"));
  CHECK(glob_match("SAVE", "save", true));
  CHECK(glob_match(std::string_view{"a\0*", 3}, std::string_view{"a\0b", 3}));
  // Many stars against a long non-match stays fast (no exponential walk).
  CHECK_FALSE(glob_match(std::string(50, '*') + "b", std::string(5000, 'a')));
}
