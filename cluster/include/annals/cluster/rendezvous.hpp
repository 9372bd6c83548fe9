#pragma once
// Which live node should own a shard: rendezvous (highest random weight)
// hashing. Every node computes the same answer from the same member list,
// and when a member joins or leaves only the shards it wins or held move
// (about shard_count / members of them), not a reshuffle of all.

#include <string>
#include <vector>

namespace annals::cluster {

/// The member with the highest weight for the shard; "" when there is none.
std::string rendezvous_owner(int shard, const std::vector<std::string>& members);

/// The shards (of shard_count) whose rendezvous owner is `node`.
std::vector<int> rendezvous_shards(const std::string& node, const std::vector<std::string>& members,
                                   int shard_count);

} // namespace annals::cluster
