#include "annals/cluster/shard_lease_manager.hpp"

#include "annals/cluster/rendezvous.hpp"
#include "annals/persistence/store_error.hpp"

#include <algorithm>
#include <set>

namespace annals::cluster {

namespace {

json::array shard_list(const std::vector<int>& shards) {
  json::array a;
  for (int s : shards) a.push_back(s);
  return a;
}

} // namespace

ShardLeaseManager::ShardLeaseManager(std::string node, ShardLeaseTable& table, LeaseSettings settings, LoggerPtr log)
  : node_(std::move(node)), table_(table), settings_(settings), log_(std::move(log)),
    owners_(static_cast<std::size_t>(std::max(1, settings.shard_count))) {}

std::optional<ShardFence> ShardLeaseManager::fence_for(const StreamId& stream) const {
  return fence_of(shard_of(stream, settings_.shard_count));
}

std::optional<ShardFence> ShardLeaseManager::fence_of(int shard) const {
  std::lock_guard<std::mutex> lock(mtx_);
  auto it = held_.find(shard);
  if (it == held_.end() || Clock::now() >= it->second.usable_until) return std::nullopt;
  return it->second.fence;
}

LeaseRound ShardLeaseManager::run_round(const std::vector<std::string>& live_members) {
  LeaseRound round;
  const auto ttl = settings_.ttl;
  const auto margin = settings_.margin();

  // 1. Renew. The view counts from before the request was sent: the store's
  //    expiry is later than that by the request's own time.
  const auto renew_sent = Clock::now();
  const std::vector<ShardFence> renewed = table_.renew(node_, ttl);
  std::map<int, Held> now_held;
  for (const auto& f : renewed) now_held[f.shard] = Held{f, renew_sent + ttl - margin};
  {
    std::lock_guard<std::mutex> lock(mtx_);
    for (const auto& [shard, h] : held_) {
      auto it = now_held.find(shard);
      if (it == now_held.end() || !(it->second.fence == h.fence)) round.lost.push_back(shard);
    }
    for (const auto& f : renewed) round.renewed.push_back(f.shard);
    held_ = now_held;
    counters_.renewals += renewed.size();
    counters_.losses += round.lost.size();
  }
  if (!round.lost.empty() && log_)
    log_->log(LogLevel::warn, "cluster.leases_lost",
              "node '" + node_ + "' lost " + std::to_string(round.lost.size())
                + " shard lease(s) it could not renew in time (expired or taken over); their commands now go to"
                  " the new owner",
              {{"node", node_}, {"shards", shard_list(round.lost)}});

  // 2. Who holds what now.
  const std::vector<ShardLease> leases = table_.leases();
  std::vector<std::string> owners(static_cast<std::size_t>(settings_.shard_count));
  std::set<int> free;
  for (const auto& l : leases) {
    if (l.shard < 0 || l.shard >= settings_.shard_count) continue;
    const bool valid = !l.owner.empty() && l.remaining.count() > 0;
    owners[static_cast<std::size_t>(l.shard)] = valid ? l.owner : "";
    if (!valid) free.insert(l.shard);
  }

  // 3. Take the free or expired shards rendezvous hashing gives this node.
  std::vector<std::string> members = live_members;
  if (std::find(members.begin(), members.end(), node_) == members.end()) members.push_back(node_);
  const std::vector<int> targets = rendezvous_shards(node_, members, settings_.shard_count);
  for (int s : targets) {
    if (now_held.count(s) || !free.count(s)) continue;
    const auto sent = Clock::now();
    if (auto f = table_.acquire(s, node_, ttl)) {
      round.acquired.push_back(s);
      owners[static_cast<std::size_t>(s)] = node_;
      std::lock_guard<std::mutex> lock(mtx_);
      held_[s] = Held{*f, sent + ttl - margin};
      ++counters_.acquisitions;
    }
  }

  // 4. Hand back a few shards that another live member should hold.
  std::vector<int> extra;
  for (const auto& [s, h] : now_held)
    if (!std::binary_search(targets.begin(), targets.end(), s)) extra.push_back(s);
  for (int s : extra) {
    if (static_cast<int>(round.released.size()) >= settings_.max_releases_per_round) break;
    std::optional<ShardFence> fence;
    {
      // Out of this node's view first: no append may start with the fence
      // while it is being handed back.
      std::lock_guard<std::mutex> lock(mtx_);
      auto it = held_.find(s);
      if (it == held_.end()) continue;
      fence = it->second.fence;
      held_.erase(it);
    }
    if (table_.release(*fence)) {
      round.released.push_back(s);
      owners[static_cast<std::size_t>(s)] = "";
      std::lock_guard<std::mutex> lock(mtx_);
      ++counters_.releases;
    }
  }

  std::lock_guard<std::mutex> lock(mtx_);
  owners_ = std::move(owners);
  for (const auto& [s, h] : held_) round.held.push_back(s);
  if (log_ && (!round.acquired.empty() || !round.released.empty()))
    log_->log(LogLevel::info, "cluster.shards_moved",
              "node '" + node_ + "' took " + std::to_string(round.acquired.size()) + " and handed back "
                + std::to_string(round.released.size()) + " shard(s); it holds " + std::to_string(round.held.size())
                + " of " + std::to_string(settings_.shard_count),
              {{"node", node_}, {"acquired", shard_list(round.acquired)}, {"released", shard_list(round.released)},
               {"held", static_cast<std::int64_t>(round.held.size())}});
  return round;
}

void ShardLeaseManager::release_all() {
  std::map<int, Held> held;
  {
    std::lock_guard<std::mutex> lock(mtx_);
    held.swap(held_);
  }
  try {
    for (const auto& [s, h] : held)
      if (table_.release(h.fence)) {
        std::lock_guard<std::mutex> lock(mtx_);
        ++counters_.releases;
      }
  } catch (const StoreError& e) {
    if (log_)
      log_->log(LogLevel::warn, "cluster.release_failed",
                "node '" + node_ + "' could not hand back its shards (" + e.what()
                  + "); they are taken over when their leases expire",
                {{"node", node_}});
  }
}

std::vector<int> ShardLeaseManager::held() const {
  std::vector<int> out;
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mtx_);
  for (const auto& [s, h] : held_)
    if (now < h.usable_until) out.push_back(s);
  return out;
}

std::optional<std::chrono::steady_clock::time_point> ShardLeaseManager::next_view_end() const {
  std::optional<Clock::time_point> first;
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mtx_);
  for (const auto& [s, h] : held_)
    if (h.usable_until > now && (!first || h.usable_until < *first)) first = h.usable_until;
  return first;
}

std::string ShardLeaseManager::owner_of(int shard) const {
  std::lock_guard<std::mutex> lock(mtx_);
  if (shard < 0 || static_cast<std::size_t>(shard) >= owners_.size()) return "";
  return owners_[static_cast<std::size_t>(shard)];
}

LeaseCounters ShardLeaseManager::counters() const {
  std::lock_guard<std::mutex> lock(mtx_);
  return counters_;
}

} // namespace annals::cluster
