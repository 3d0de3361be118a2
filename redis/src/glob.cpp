// Glob matching with redis-server's semantics (util.c's stringmatchlen):
// `*` any run, `?` one byte, `[...]` a class with ranges and `^` negation,
// `\` escaping the next byte. Recursion on `*` is bounded by trying each
// suffix once per star, and a nesting limit keeps hostile patterns (many
// stars) from exhausting the stack, as redis does.
#include "glob.hpp"

#include <cctype>

namespace cachet::redis {

namespace {

char fold(char c, bool nocase) {
  return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : c;
}

bool match(const char* p, const char* pe, const char* s, const char* se,
           bool nocase, bool& skip_longer, int nesting) {
  if (nesting > 1000)
    return false;
  while (p < pe && s < se) {
    switch (*p) {
      case '*': {
        while (p + 1 < pe && p[1] == '*')
          ++p;
        if (p + 1 == pe)
          return true;
        for (; s < se; ++s) {
          if (match(p + 1, pe, s, se, nocase, skip_longer, nesting + 1))
            return true;
          if (skip_longer)
            return false; // no later start can match either
        }
        skip_longer = true;
        return false;
      }
      case '?':
        ++s;
        break;
      case '[': {
        ++p;
        bool negate = p < pe && *p == '^';
        if (negate)
          ++p;
        bool hit = false;
        for (;;) {
          if (p >= pe) {
            --p; // an unterminated class ends the pattern
            break;
          }
          if (*p == '\\' && p + 1 < pe) {
            ++p;
            if (*p == *s)
              hit = true;
          } else if (*p == ']') {
            break;
          } else if (p + 2 < pe && p[1] == '-') {
            char lo = fold(p[0], nocase), hi = fold(p[2], nocase);
            if (lo > hi)
              std::swap(lo, hi);
            char c = fold(*s, nocase);
            if (c >= lo && c <= hi)
              hit = true;
            p += 2;
          } else if (fold(*p, nocase) == fold(*s, nocase)) {
            hit = true;
          }
          ++p;
        }
        if (negate)
          hit = !hit;
        if (!hit)
          return false;
        ++s;
        break;
      }
      case '\\':
        if (p + 1 < pe)
          ++p;
        [[fallthrough]];
      default:
        if (fold(*p, nocase) != fold(*s, nocase))
          return false;
        ++s;
        break;
    }
    ++p;
    if (s == se) {
      while (p < pe && *p == '*')
        ++p;
      break;
    }
  }
  return p == pe && s == se;
}

} // namespace

bool glob_match(std::string_view pattern, std::string_view str, bool nocase) {
  bool skip_longer = false;
  return match(pattern.data(), pattern.data() + pattern.size(), str.data(),
               str.data() + str.size(), nocase, skip_longer, 0);
}

} // namespace cachet::redis
