#include "node_forwarder.hpp"

#include "annals/json_parse.hpp"
#include "annals/persistence/shard_lease.hpp"
#include "annals/runtime.hpp"

#include <limits>

namespace annals::cluster {

namespace {

ForwardedResult unavailable(const StreamId& s, std::string why) {
  return ForwardedResult{CommandResult::fail(s, Error{errc::node_unavailable, std::move(why)}), false};
}

// The owner's pipeline checks the envelope against its own limits; decoding
// must not refuse what those allow.
CommandLimits decoding_limits() {
  CommandLimits l;
  l.max_id_length = l.max_data_bytes = l.max_envelope_bytes = l.max_key_length =
    std::numeric_limits<std::size_t>::max() / 2;
  return l;
}

} // namespace

NodeForwarder::NodeForwarder(ForwarderSettings settings, LoggerPtr log)
    : settings_(std::move(settings)), log_(std::move(log)) {}

NodeForwarder::~NodeForwarder() { stop(); }

void NodeForwarder::attach(NodeTransport* transport, const ClusterCoordinator* coordinator) {
  transport_ = transport;
  coordinator_ = coordinator;
  if (settings_.handoff_wait.count() > 0 && !park_thread_.joinable())
    park_thread_ = std::thread([this] { park_loop(); });
}

void NodeForwarder::serve(Runtime* runtime) {
  std::lock_guard<std::mutex> lock(serving_mtx_);
  runtime_ = runtime;
}

void NodeForwarder::stop() {
  std::list<Parked> left;
  {
    std::lock_guard<std::mutex> lock(park_mtx_);
    stopping_ = true;
    left.swap(parked_);
  }
  park_cv_.notify_all();
  if (park_thread_.joinable()) park_thread_.join();
  {
    std::lock_guard<std::mutex> lock(transport_mtx_);
    transport_ = nullptr;
  }
  for (auto& p : left)
    p.done(unavailable(p.command.stream(), "node '" + settings_.me + "' is stopping; retry on another node"));
}

bool NodeForwarder::owns(const StreamId& stream) const {
  return coordinator_ && coordinator_->leases().fence_for(stream).has_value();
}

std::optional<PeerAddress> NodeForwarder::address_of(const std::string& node) const {
  auto parse = [&](const ClusterMember& m) { return peer_address(node, m.address); };
  for (const auto& m : coordinator_->members())
    if (m.node == node && !m.left) return parse(m);
  std::lock_guard<std::mutex> lock(looked_up_mtx_);
  for (const auto& m : looked_up_members_)
    if (m.node == node && !m.left) return parse(m);
  return std::nullopt;
}

std::string NodeForwarder::no_owner_message(const StreamId& stream) const {
  const int shard = shard_of(stream, coordinator_->leases().shard_count());
  return "shard " + std::to_string(shard) + " (" + stream.to_string()
         + ") has no live owner now: it is being handed over, or its owner died and the lease (ttl "
         + std::to_string(settings_.lease_ttl.count()) + " ms) is being taken over; retry shortly with the same"
           " idempotency key";
}

void NodeForwarder::forward(Command command, std::chrono::milliseconds timeout, Done done) {
  const StreamId stream = command.stream();
  if (!coordinator_) return done(unavailable(stream, "node '" + settings_.me + "' is not started yet"));
  const auto now = Clock::now();
  const auto deadline = now + timeout;
  const int shard = shard_of(stream, coordinator_->leases().shard_count());
  const std::string owner = coordinator_->leases().owner_of(shard);
  const bool unknown = owner.empty() || owner == settings_.me || !address_of(owner) || refused_by(shard, owner);
  if (unknown && settings_.handoff_wait.count() > 0 && timeout.count() > 0) {
    std::lock_guard<std::mutex> lock(park_mtx_);
    if (!stopping_) {
      parked_.push_back(Parked{std::move(command), deadline, std::min(deadline, now + settings_.handoff_wait),
                               std::move(done)});
      park_cv_.notify_all();
      return;
    }
  }
  route(command, deadline, owner, done);
}

bool NodeForwarder::route(Command& command, Clock::time_point deadline, const std::string& owner, Done& done) {
  const StreamId stream = command.stream();
  if (owner.empty()) {
    done(unavailable(stream, no_owner_message(stream)));
  } else if (owner == settings_.me) {
    if (owns(stream)) {
      ForwardedResult again = unavailable(stream, "this node became the owner of " + stream.to_string());
      again.route_again = true;
      done(std::move(again));
    } else {
      const int shard = shard_of(stream, coordinator_->leases().shard_count());
      done(unavailable(stream, "node '" + settings_.me + "' is losing its lease on shard " + std::to_string(shard)
                                 + " (" + stream.to_string()
                                 + "): not renewed in time; retry shortly with the same idempotency key"));
    }
  } else if (auto peer = address_of(owner)) {
    send(owner, *peer, std::move(command), deadline, std::move(done));
  } else {
    done(unavailable(stream, "the owner of " + stream.to_string() + ", node '" + owner
                               + "', is not a member with an address now; retry shortly"));
  }
  return true;
}

bool NodeForwarder::refused_by(int shard, const std::string& owner, Clock::time_point* at) const {
  std::lock_guard<std::mutex> lock(refused_mtx_);
  auto it = refused_.find(shard);
  if (it == refused_.end() || it->second.first != owner || Clock::now() - it->second.second > std::chrono::seconds(5))
    return false;
  if (at) *at = it->second.second;
  return true;
}

void NodeForwarder::send(const std::string& owner, const PeerAddress& peer, Command command, Clock::time_point deadline,
                         Done done) {
  const StreamId stream = command.stream();
  const auto left = std::max(std::chrono::milliseconds(1),
                             std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
  json::object request{{"command", command.to_json()}, {"timeout_ms", left.count()}};
  std::unique_lock<std::mutex> lock(transport_mtx_);
  if (!transport_) {
    lock.unlock();
    return done(unavailable(stream, "node '" + settings_.me + "' is stopping; retry on another node"));
  }
  // send never calls `done` before it returns (always on a transport thread).
  const int shard = shard_of(stream, coordinator_->leases().shard_count());
  transport_->send(peer, json::serialize(request), left,
                   [this, shard, stream, owner, done = std::move(done)](Expected<std::string> reply) {
                     if (!reply) {
                       Error e = reply.error();
                       return done(ForwardedResult{CommandResult::fail(stream, std::move(e)), false});
                     }
                     json::error_code ec;
                     const auto parsed = parse_json(*reply, ec);
                     auto result = !ec ? CommandResult::from_json(parsed)
                                       : Expected<CommandResult>(Error{errc::internal_error, ec.message()});
                     if (!result)
                       return done(ForwardedResult{
                         CommandResult::fail(stream, Error{errc::internal_error, "node '" + owner
                                                                                   + "' answered what is not a command result: "
                                                                                   + result.error().message}),
                         false});
                     if (result->code() == errc::not_owner) {
                       std::lock_guard<std::mutex> lock(refused_mtx_);
                       refused_[shard] = {owner, Clock::now()};
                     }
                     done(ForwardedResult{std::move(*result), true});
                   });
}

void NodeForwarder::park_loop() {
  std::unique_lock<std::mutex> lock(park_mtx_);
  while (!stopping_) {
    park_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopping_; });
    if (stopping_ || parked_.empty()) continue;
    std::list<Parked> now_parked;
    now_parked.swap(parked_);
    lock.unlock();

    const auto now = Clock::now();
    if (now - looked_up_at_ >= settings_.lookup_interval && settings_.open_lookup) {
      looked_up_at_ = now;
      try {
        if (!lookup_) lookup_ = settings_.open_lookup();
        std::map<int, std::string> owners;
        for (const auto& l : lookup_->leases())
          if (!l.owner.empty() && l.remaining.count() > 0) owners[l.shard] = l.owner;
        looked_up_ = std::move(owners);
        auto members = lookup_->members();
        std::lock_guard<std::mutex> members_lock(looked_up_mtx_);
        looked_up_members_ = std::move(members);
      } catch (const std::exception&) {
        lookup_.reset();  // the store is away: the round's view still serves
      }
    }
    std::list<Parked> still;
    for (auto& p : now_parked) {
      const StreamId stream = p.command.stream();
      const int shard = shard_of(stream, coordinator_->leases().shard_count());
      std::string owner = coordinator_->leases().owner_of(shard);
      Clock::time_point refused_at{};
      const bool stale = !owner.empty() && refused_by(shard, owner, &refused_at);
      if (owner.empty() || owner == settings_.me || stale) {
        auto it = looked_up_.find(shard);
        // After a refusal only a lookup made since counts.
        const bool fresh = !stale || looked_up_at_ > refused_at;
        owner = it != looked_up_.end() && fresh ? it->second : "";
      }
      const bool ready = owns(stream) || (!owner.empty() && owner != settings_.me && address_of(owner));
      if (ready || now >= p.give_up) route(p.command, p.deadline, owns(stream) ? settings_.me : owner, p.done);
      else still.push_back(std::move(p));
    }
    lock.lock();
    parked_.splice(parked_.end(), still);
  }
}

void NodeForwarder::handle(const std::string& from_node, const std::string& request, Reply reply) {
  json::error_code ec;
  const auto parsed = parse_json(request, ec);
  const json::object* o = !ec ? parsed.if_object() : nullptr;
  const json::value* cmd = o ? o->if_contains("command") : nullptr;
  const json::value* timeout = o ? o->if_contains("timeout_ms") : nullptr;
  if (!cmd || !timeout || !timeout->is_int64())
    return reply(Error{errc::invalid_command, "node '" + from_node + "' sent a request that is not a forwarded command"});
  auto command = command_from_json(*cmd, decoding_limits());
  if (!command) return reply(command.error());
  std::lock_guard<std::mutex> lock(serving_mtx_);
  if (!runtime_)
    return reply(Error{errc::node_unavailable, "node '" + settings_.me + "' does not run commands now (starting or stopping)"});
  runtime_->execute_forwarded(std::move(*command), std::chrono::milliseconds(std::max<std::int64_t>(0, timeout->as_int64())),
                              [reply = std::move(reply)](CommandResult r) { reply(json::serialize(r.to_json())); });
}

} // namespace annals::cluster
