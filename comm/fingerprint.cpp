#include "comm/fingerprint.h"

#include <fmt/ranges.h>

#include <cstring>
#include <sstream>

#include "comm/communicator.h"
#include "common/error.h"

namespace tessera {
namespace {

constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr int kComponents = 3;
const char* const kComponentNames[kComponents] = {"config", "parameters", "data"};

const std::string& component(const FingerprintInput& in, int c) {
  return c == 0 ? in.config : c == 1 ? in.parameters : in.data;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string clip(const std::string& s) {
  constexpr size_t kMax = 160;
  return s.size() <= kMax ? s : s.substr(0, kMax) + "...";
}

// First difference between rank 0's text and ours, as "line N: rank 0 has '…', rank R has '…'".
std::string first_difference(const std::string& reference, const std::string& mine, int rank) {
  auto a = split_lines(reference);
  auto b = split_lines(mine);
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return fmt::format("line {}: rank 0 has '{}', rank {} has '{}'", i + 1, clip(a[i]), rank,
                         clip(b[i]));
    }
  }
  if (a.size() != b.size()) {
    const bool longer0 = a.size() > b.size();
    return fmt::format("rank 0 has {} lines, rank {} has {}; first extra line {}: '{}' (rank {})",
                       a.size(), rank, b.size(), n + 1, clip(longer0 ? a[n] : b[n]),
                       longer0 ? 0 : rank);
  }
  return "texts differ only in line endings or trailing bytes";
}

}  // namespace

uint64_t fnv1a64(const std::string& bytes, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::string describe_module(const torch::nn::Module& module) {
  std::string out;
  auto shape = [](const torch::Tensor& t) {
    return fmt::format("[{}]", fmt::join(t.sizes().begin(), t.sizes().end(), ", "));
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    out += fmt::format("{} {} {}\n", p.key(), shape(p.value()),
                       c10::toString(p.value().scalar_type()));
  }
  for (const auto& b : module.named_buffers(/*recurse=*/true)) {
    out += fmt::format("buffer {} {} {}\n", b.key(), shape(b.value()),
                       c10::toString(b.value().scalar_type()));
  }
  return out;
}

std::string Fingerprint::hex() const {
  return fmt::format("config={:016x} parameters={:016x} data={:016x}", config, parameters, data);
}

Fingerprint compute_fingerprint(const FingerprintInput& input) {
  return Fingerprint{fnv1a64(input.config), fnv1a64(input.parameters), fnv1a64(input.data)};
}

Fingerprint verify_fingerprint(Communicator& comm, const FingerprintInput& input) {
  const Fingerprint mine = compute_fingerprint(input);
  const uint64_t words[kComponents] = {mine.config, mine.parameters, mine.data};
  std::string packed(sizeof(words), '\0');
  std::memcpy(packed.data(), words, sizeof(words));
  const std::vector<std::string> all = comm.allgather_bytes(packed);
  const int n = comm.size();

  auto hash_of = [&](int rank, int c) {
    uint64_t w[kComponents];
    TESSERA_CHECK(all[rank].size() == sizeof(w),
                  "fingerprint: rank {} sent {} bytes, expected {} (mixed tessera versions?)",
                  rank, all[rank].size(), sizeof(w));
    std::memcpy(w, all[rank].data(), sizeof(w));
    return w[c];
  };

  std::vector<std::string> problems;
  for (int c = 0; c < kComponents; ++c) {
    std::vector<int> differing;
    for (int r = 1; r < n; ++r) {
      if (hash_of(r, c) != hash_of(0, c)) differing.push_back(r);
    }
    if (differing.empty()) continue;
    // Same decision on every rank (from the gathered hashes): these collectives match.
    std::string reference = comm.rank() == 0 ? component(input, c) : std::string();
    comm.broadcast_bytes(reference, 0);
    std::string detail;
    if (hash_of(comm.rank(), c) != hash_of(0, c)) {
      detail = first_difference(reference, component(input, c), comm.rank());
    }
    const std::vector<std::string> details = comm.allgather_bytes(detail);
    std::string text = fmt::format("rank(s) {} differ from rank 0 in {}",
                                   fmt::join(differing, ", "), kComponentNames[c]);
    for (int r : differing) text += fmt::format("; rank {}: {}", r, details[r]);
    problems.push_back(text);
  }
  TESSERA_CHECK(problems.empty(),
                "fingerprint mismatch, refusing to start: {}. Every rank must run the same "
                "config, model and data",
                fmt::join(problems, " | "));
  return mine;
}

}  // namespace tessera
