#include "annals/cluster/cluster_coordinator.hpp"

#include "annals/persistence/store_error.hpp"

#include <algorithm>
#include <iterator>
#include <set>

namespace annals::cluster {

ClusterCoordinator::ClusterCoordinator(std::function<std::unique_ptr<ClusterCoordination>()> open,
                                       CoordinatorSettings settings, LoggerPtr log)
  : open_(std::move(open)), settings_(std::move(settings)), log_(std::move(log)) {
  table_ = open_();
  table_->configure_shards(settings_.leases.shard_count);
  incarnation_ = table_->join(settings_.me, settings_.gone_after());
  leases_ = std::make_shared<ShardLeaseManager>(settings_.me.node, *table_, settings_.leases, log_);
  if (log_)
    log_->log(LogLevel::info, "cluster.joined",
              "node '" + settings_.me.node + "' joined the cluster (incarnation " + std::to_string(incarnation_)
                + ", " + std::to_string(settings_.leases.shard_count) + " shards, lease ttl "
                + std::to_string(settings_.leases.ttl.count()) + " ms)",
              {{"node", settings_.me.node}, {"address", settings_.me.address}, {"incarnation", incarnation_}});
  round();
  announced_ = leases_->held();
  thread_ = std::thread([this] { loop(); });
}

ClusterCoordinator::~ClusterCoordinator() { stop(); }

void ClusterCoordinator::loop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mtx_);
  auto next_round = Clock::now() + settings_.leases.interval();
  while (!stopping_) {
    // Wake for the next round, or earlier when a lease ends in this node's
    // view (renewals failing): its aggregates stop before the store's expiry.
    auto wake_at = next_round;
    lock.unlock();
    if (auto view_end = leases_->next_view_end(); view_end && *view_end < wake_at) wake_at = *view_end;
    lock.lock();
    wake_.wait_until(lock, wake_at, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (Clock::now() >= next_round) {
      if (round()) {
        std::lock_guard<std::mutex> hook(callback_mtx_);
        if (on_round_) on_round_(members());
      }
      next_round = Clock::now() + settings_.leases.interval();
    }
    announce_departures();
    lock.lock();
  }
}

void ClusterCoordinator::on_shards_left(std::function<void(const std::vector<int>&)> callback) {
  std::lock_guard<std::mutex> lock(callback_mtx_);  // waits for a call under way
  on_left_ = std::move(callback);
}

void ClusterCoordinator::on_round(std::function<void(const std::vector<ClusterMember>&)> callback) {
  std::lock_guard<std::mutex> lock(callback_mtx_);
  on_round_ = std::move(callback);
}

void ClusterCoordinator::announce_departures() {
  std::vector<int> now = leases_->held();
  std::vector<int> left;
  std::set_difference(announced_.begin(), announced_.end(), now.begin(), now.end(), std::back_inserter(left));
  announced_ = std::move(now);
  if (left.empty()) return;
  std::lock_guard<std::mutex> lock(callback_mtx_);
  if (on_left_) on_left_(left);
}

bool ClusterCoordinator::round() {
  const std::string& me = settings_.me.node;
  try {
    if (!table_->heartbeat(me, incarnation_)) {
      // Declared gone and replaced by a newer process of the same name: this
      // one must not hold anything any more.
      if (log_)
        log_->log(LogLevel::error, "cluster.replaced",
                  "node '" + me + "' (incarnation " + std::to_string(incarnation_)
                    + ") was replaced by a newer process of the same name; it stops taking shards",
                  {{"node", me}});
      leases_->release_all();
      std::lock_guard<std::mutex> lock(mtx_);
      stopping_ = true;
      return false;
    }
    std::vector<ClusterMember> members = table_->members();
    std::vector<std::string> live;
    for (const auto& m : members)
      if (!m.left && (m.node == me || m.since_heartbeat < settings_.gone_after())) live.push_back(m.node);
    std::vector<std::string> before;
    {
      std::lock_guard<std::mutex> lock(mtx_);
      before = live_;
    }
    if (log_ && rounds_ > 0 && before != live) {
      std::set<std::string> was(before.begin(), before.end()), is(live.begin(), live.end());
      for (const auto& n : is)
        if (!was.count(n)) log_->log(LogLevel::info, "cluster.member_up", "node '" + n + "' is up", {{"node", n}});
      for (const auto& n : was)
        if (!is.count(n))
          log_->log(LogLevel::warn, "cluster.member_gone",
                    "node '" + n + "' is gone (left, or no heartbeat for "
                      + std::to_string(settings_.gone_after().count()) + " ms); its shards are taken over when their"
                      " leases expire",
                    {{"node", n}});
    }
    leases_->run_round(live);
    std::lock_guard<std::mutex> lock(mtx_);
    members_ = std::move(members);
    live_ = std::move(live);
    ++rounds_;
    return true;
  } catch (const StoreError& e) {
    // The held leases run out in this node's view by themselves; the next
    // round tries again (the session reconnects).
    if (log_)
      log_->log(LogLevel::warn, "cluster.round_failed",
                "node '" + me + "' could not renew its leases (" + std::string(e.what())
                  + "); it stops writing a shard before its lease can expire",
                {{"node", me}});
    std::lock_guard<std::mutex> lock(mtx_);
    ++failed_rounds_;
    return false;
  }
}

std::vector<ClusterMember> ClusterCoordinator::members() const {
  std::lock_guard<std::mutex> lock(mtx_);
  return members_;
}

std::vector<std::string> ClusterCoordinator::live_members() const {
  std::lock_guard<std::mutex> lock(mtx_);
  return live_;
}

std::uint64_t ClusterCoordinator::rounds() const {
  std::lock_guard<std::mutex> lock(mtx_);
  return rounds_;
}

std::uint64_t ClusterCoordinator::failed_rounds() const {
  std::lock_guard<std::mutex> lock(mtx_);
  return failed_rounds_;
}

void ClusterCoordinator::abandon() {
  {
    std::lock_guard<std::mutex> lock(mtx_);
    if (stopped_) return;
    stopping_ = true;
    stopped_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ClusterCoordinator::stop() {
  {
    std::lock_guard<std::mutex> lock(mtx_);
    if (stopped_) return;
  }
  abandon();
  leases_->release_all();
  try {
    table_->leave(settings_.me.node, incarnation_);
    if (log_)
      log_->log(LogLevel::info, "cluster.left", "node '" + settings_.me.node + "' left the cluster",
                {{"node", settings_.me.node}});
  } catch (const StoreError&) {
    // Its heartbeat ages instead.
  }
}

} // namespace annals::cluster
