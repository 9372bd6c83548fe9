#include "pipeline/cluster_dispatcher.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>

namespace annals::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds time_left(const AdmittedCommand& c) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(c.deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

// A shard that moves while a command is on its way (a node joins, leaves or
// comes back from a pause, leases move a few per round) may send it to a node
// that just handed it on: it is routed again, this often at most.
constexpr int max_routings = 4;

// not_owner: nothing was written, so routing again is safe while time is left.
bool routes_again(const CommandResult& r, const AdmittedCommand& c) {
  return r.code() == errc::not_owner && time_left(c).count() > 0;
}

CommandResult not_owner_here(const StreamId& s) {
  return CommandResult::fail(s, Error{errc::not_owner, "this node does not hold the shard of " + s.to_string()
                                                         + " (it moved); the node that forwarded it routes it again"});
}

// A forwarder promises its answer within the timeout; this guards against
// one that does not, so a caller never blocks past its deadline for long.
constexpr auto forward_grace = std::chrono::seconds(2);

/// The answer of one forward, for a thread that waits for it.
class ForwardWait {
public:
  void set(ForwardedResult r) {
    std::lock_guard<std::mutex> lock(mtx_);
    result_ = std::move(r);
    cv_.notify_all();
  }
  std::optional<ForwardedResult> wait_until(Clock::time_point until) {
    std::unique_lock<std::mutex> lock(mtx_);
    cv_.wait_until(lock, until, [this] { return result_.has_value(); });
    return std::move(result_);
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::optional<ForwardedResult> result_;
};

} // namespace

ClusterDispatcher::ClusterDispatcher(LocalDispatcher& local, std::shared_ptr<CommandForwarder> forwarder)
    : local_(local), forwarder_(std::move(forwarder)) {}

Dispatched ClusterDispatcher::dispatch(AdmittedCommand c, const detail::CallsInFlight::Ticket& ticket) {
  const StreamId stream = c.command.stream();
  if (c.arrived_forwarded) {
    if (!forwarder_->owns(stream)) return Dispatched{not_owner_here(stream)};
    return Dispatched{local_.run_here(std::move(c), ticket)};
  }
  for (int attempt = 0;; ++attempt) {
    const bool last = attempt + 1 >= max_routings;
    // (A route_again answer sends the command nowhere: it does not count.)
    if (forwarder_->owns(stream)) {
      auto r = local_.run_here(last ? std::move(c) : AdmittedCommand(c), ticket);
      if (last || !routes_again(r, c)) return Dispatched{std::move(r)};
      continue;
    }
    auto wait = std::make_shared<ForwardWait>();
    forwarder_->forward(c.command, time_left(c), [wait](ForwardedResult r) { wait->set(std::move(r)); });
    auto answer = wait->wait_until(c.deadline + forward_grace);
    if (!answer)
      return Dispatched{CommandResult::fail(stream, Error{errc::timeout, "no answer from the node that holds the shard of "
                                                                           + stream.to_string()
                                                                           + "; the command may still take effect"}),
                        true, false};
    if (answer->route_again && time_left(c).count() > 0) {
      --attempt;
      continue;
    }
    if (!last && answer->from_owner && routes_again(answer->result, c)) continue;
    return Dispatched{std::move(answer->result), true, answer->from_owner};
  }
}

void ClusterDispatcher::dispatch_async(AdmittedCommand c, DispatchHandler done) {
  const StreamId stream = c.command.stream();
  if (c.arrived_forwarded) {
    auto plain = [done = std::move(done)](CommandResult r) { done(Dispatched{std::move(r)}); };
    if (!forwarder_->owns(stream)) return local_.hand_back(stream, not_owner_here(stream), std::move(plain));
    return local_.run_here_async(std::move(c), std::move(plain));
  }
  route_async(std::make_shared<AdmittedCommand>(std::move(c)), max_routings - 1, std::move(done));
}

void ClusterDispatcher::route_async(std::shared_ptr<AdmittedCommand> c, int again, DispatchHandler done) {
  const StreamId stream = c->command.stream();
  if (forwarder_->owns(stream)) {
    AdmittedCommand attempt = again > 0 ? *c : std::move(*c);
    local_.run_here_async(std::move(attempt), [this, c, again, done = std::move(done)](CommandResult r) mutable {
      if (again > 0 && routes_again(r, *c)) return route_async(std::move(c), again - 1, std::move(done));
      done(Dispatched{std::move(r)});
    });
    return;
  }
  forwarder_->forward(c->command, time_left(*c), [this, c, again, stream, done = std::move(done)](ForwardedResult r) mutable {
    if (r.route_again && time_left(*c).count() > 0) return route_async(std::move(c), again, std::move(done));
    if (again > 0 && r.from_owner && routes_again(r.result, *c))
      return route_async(std::move(c), again - 1, std::move(done));
    // Back through the stream's relay: on a runtime thread, in order.
    local_.hand_back(stream, std::move(r.result), [done = std::move(done), from_owner = r.from_owner](CommandResult res) {
      done(Dispatched{std::move(res), true, from_owner});
    });
  });
}

} // namespace annals::pipeline
