// SynthRng: the random number generator of the synthetic-data generators and the packers.
//
// splitmix64 (Steele, Lea, Flood 2014): a 64-bit state advanced by a Weyl constant and mixed by a
// fixed finaliser. Every derived value (uniform doubles, integers in a range, normal deviates via
// Box-Muller) is computed here with plain integer and IEEE arithmetic, never with std::rand or
// the <random> distribution classes, whose outputs differ between standard libraries: the same
// (seed, sample index, stream) gives the same numbers on every platform and compiler.
//
// for_sample(seed, index, stream) derives an independent generator for one sample, so a sample
// never depends on how many samples came before it (any index can be regenerated alone, and
// samples can be produced in any order or in parallel).
//
// Not thread-safe: one generator per thread or per sample. Value type, cheap to copy.
#pragma once

#include <cmath>
#include <cstdint>

namespace tessera {

class SynthRng {
 public:
  explicit SynthRng(uint64_t seed) : state_(seed) {}

  // The generator of sample `index` of the data set seeded `seed`; `stream` separates
  // independent uses of the same sample (e.g. image content vs. added noise).
  static SynthRng for_sample(uint64_t seed, uint64_t index, uint64_t stream = 0) {
    uint64_t s = mix(seed ^ 0x6a09e667f3bcc909ULL);
    s = mix(s ^ (index + 0x9e3779b97f4a7c15ULL));
    s = mix(s ^ (stream * 0xbf58476d1ce4e5b9ULL + 0x3c6ef372fe94f82bULL));
    return SynthRng(s);
  }

  // The splitmix64 finaliser: a bijective 64-bit mix.
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t next_u64() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [lo, hi] (inclusive); lo <= hi. Lemire's multiply-shift without the
  // rejection step: the bias is below 2^-32 for any range used here.
  int64_t integer(int64_t lo, int64_t hi) {
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t x = next_u64() >> 32;
    return lo + static_cast<int64_t>((x * range) >> 32);
  }

  bool chance(double p) { return uniform() < p; }

  // Standard normal deviate (Box-Muller; the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 6.283185307179586 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }
  double normal(double mean, double sigma) { return mean + sigma * normal(); }

 private:
  uint64_t state_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace tessera
