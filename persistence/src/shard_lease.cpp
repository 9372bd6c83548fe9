#include "annals/persistence/shard_lease.hpp"

namespace annals {

int shard_of(const StreamId& stream, int shard_count) {
  if (shard_count <= 1) return 0;
  // FNV-1a over the type, a separator byte that UTF-8 text never holds (so
  // ("ab", "c") and ("a", "bc") differ), then the id. Part of the cluster's
  // stored contract: changing it would move streams between shards.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : stream.aggregate) mix(c);
  mix(0xFF);
  for (unsigned char c : stream.id) mix(c);
  return static_cast<int>(h % static_cast<std::uint64_t>(shard_count));
}

} // namespace annals
