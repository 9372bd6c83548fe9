#include "annals/cluster/rendezvous.hpp"

#include <cstdint>

namespace annals::cluster {

namespace {

// A well-mixed 64-bit weight of (node, shard): FNV-1a of the name, then the
// shard folded in with a finalizer (splitmix64), so neighbouring shards get
// unrelated winners.
std::uint64_t weight(const std::string& node, int shard) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : node) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= static_cast<std::uint64_t>(shard) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  h ^= h >> 31;
  return h;
}

} // namespace

std::string rendezvous_owner(int shard, const std::vector<std::string>& members) {
  std::string best;
  std::uint64_t best_weight = 0;
  for (const auto& m : members) {
    const std::uint64_t w = weight(m, shard);
    // Ties (practically never) go to the smaller name, so all nodes agree.
    if (best.empty() || w > best_weight || (w == best_weight && m < best)) {
      best = m;
      best_weight = w;
    }
  }
  return best;
}

std::vector<int> rendezvous_shards(const std::string& node, const std::vector<std::string>& members,
                                   int shard_count) {
  std::vector<int> out;
  for (int s = 0; s < shard_count; ++s)
    if (rendezvous_owner(s, members) == node) out.push_back(s);
  return out;
}

} // namespace annals::cluster
