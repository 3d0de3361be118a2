// Keys, values and per-thread operation streams shared by every path of one
// run, so that all paths see exactly the same keys in the same order.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

namespace cachet_bench {

/// splitmix64: a fast, well-mixed generator; deterministic from its seed.
struct rng {
  std::uint64_t state;

  std::uint64_t next() noexcept {
    auto z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, 1).
  double real() noexcept {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }

  /// Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept {
    return static_cast<std::uint64_t>(
      (static_cast<unsigned __int128>(next()) * n) >> 64);
  }
};

/// Zipf(theta) ranks in [0, n), after Gray et al., "Quickly generating
/// billion-record synthetic databases" (the generator YCSB uses).
class zipf_sampler {
public:
  zipf_sampler(std::uint64_t n, double theta) : n_(n), theta_(theta) {
    double zeta2 = 1.0 + std::pow(0.5, theta);
    zetan_ = 0;
    for (std::uint64_t i = 1; i <= n; ++i)
      zetan_ += 1.0 / std::pow(static_cast<double>(i), theta);
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta))
           / (1.0 - zeta2 / zetan_);
    half_pow_ = 1.0 + std::pow(0.5, theta);
  }

  std::uint64_t operator()(rng& r) const noexcept {
    double u = r.real();
    double uz = u * zetan_;
    if (uz < 1.0)
      return 0;
    if (uz < half_pow_)
      return 1;
    auto x = static_cast<std::uint64_t>(
      static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return x < n_ ? x : n_ - 1;
  }

private:
  std::uint64_t n_;
  double theta_;
  double zetan_;
  double alpha_;
  double eta_;
  double half_pow_;
};

/// An operation: a key index, with the top bit set for a write.
using op_code = std::uint32_t;
constexpr op_code write_bit = 0x80000000u;

/// Operations per thread stream; streams are replayed cyclically.
constexpr std::size_t stream_len = std::size_t{1} << 20;

/// 16-byte key string of a u64 key: its 16 hex digits.
inline std::string key_string(std::uint64_t k) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, k >>= 4)
    s[i] = digits[k & 0xf];
  return s;
}

/// 100-byte value string of key `k`; `version` makes rewritten values
/// differ. Hex digits of a mixed number, repeated: cheap to make a million.
inline std::string value_string(std::uint64_t k, std::uint64_t version = 0) {
  auto digits = key_string(rng{k ^ (version << 56)}.next());
  std::string s;
  s.reserve(100);
  while (s.size() + 16 <= 100)
    s += digits;
  s.append(digits, 0, 100 - s.size());
  return s;
}

/// u64 -> u64.
struct u64_types {
  using key_type = std::uint64_t;
  using value_type = std::uint64_t;
  static constexpr const char* name = "u64";
  static key_type make_key(std::uint64_t k) {
    return k;
  }
  static value_type make_value(std::uint64_t k, std::uint64_t version) {
    return k ^ version;
  }
};

/// 16-byte string -> 100-byte string.
struct str_types {
  using key_type = std::string;
  using value_type = std::string;
  static constexpr const char* name = "str";
  static key_type make_key(std::uint64_t k) {
    return key_string(k);
  }
  static value_type make_value(std::uint64_t k, std::uint64_t version) {
    return value_string(k, version);
  }
};

/// The same N keys for every path: random, distinct, below 2^59 so that the
/// BEAM stores them as small integers too.
inline std::vector<std::uint64_t> make_keys(std::size_t n) {
  std::vector<std::uint64_t> keys;
  keys.reserve(n);
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(n);
  rng r{0xcac4e7 + n};
  while (keys.size() < n) {
    auto k = r.next() >> 5;
    if (seen.insert(k).second)
      keys.push_back(k);
  }
  return keys;
}

/// Per-thread op streams for one (keys, dist, mix), generated on demand and
/// cached so every path (and every repeat) replays the same sequence.
class stream_cache {
public:
  /// Stream of thread `t`: key indexes in [0, n), `mix` percent reads.
  const std::vector<op_code>& get(std::size_t n, const std::string& dist,
                                  int mix, std::size_t t) {
    auto key = std::make_tuple(n, dist, mix, t);
    auto i = cache_.find(key);
    if (i != cache_.end())
      return *i->second;
    auto ops = std::make_unique<std::vector<op_code>>(stream_len);
    rng r{0x5eed ^ (n * 1000003) ^ (static_cast<std::uint64_t>(mix) << 40)
          ^ (t << 48) ^ (dist == "zipf" ? 0x21f0ULL : 0)};
    // Zipf ranks go through a fixed permutation, so hot keys are scattered
    // over the key array (and over the tables' insertion order).
    const auto& perm = permutation(n);
    const zipf_sampler* z = dist == "zipf" ? &zipf(n) : nullptr;
    for (auto& op : *ops) {
      auto idx = z != nullptr ? perm[(*z)(r)] : r.below(n);
      bool write = r.below(100) >= static_cast<std::uint64_t>(mix);
      op = static_cast<op_code>(idx) | (write ? write_bit : 0);
    }
    return *cache_.emplace(key, std::move(ops)).first->second;
  }

  /// Drops streams of key count `n` (keeps memory bounded between blocks).
  void drop(std::size_t n) {
    for (auto i = cache_.begin(); i != cache_.end();)
      i = std::get<0>(i->first) == n ? cache_.erase(i) : std::next(i);
  }

private:
  const std::vector<std::uint32_t>& permutation(std::size_t n) {
    auto& p = perms_[n];
    if (p.empty()) {
      p.resize(n);
      for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<std::uint32_t>(i);
      rng r{0x9e3 + n};
      for (std::size_t i = n - 1; i > 0; --i)
        std::swap(p[i], p[r.below(i + 1)]);
    }
    return p;
  }

  const zipf_sampler& zipf(std::size_t n) {
    auto& z = zipfs_[n];
    if (!z)
      z = std::make_unique<zipf_sampler>(n, 0.99);
    return *z;
  }

  std::map<std::tuple<std::size_t, std::string, int, std::size_t>,
           std::unique_ptr<std::vector<op_code>>>
    cache_;
  std::map<std::size_t, std::vector<std::uint32_t>> perms_;
  std::map<std::size_t, std::unique_ptr<zipf_sampler>> zipfs_;
};

} // namespace cachet_bench
