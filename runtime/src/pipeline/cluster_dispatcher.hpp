#pragma once
// ClusterDispatcher: a clustered node's dispatch. A command runs here when
// this node holds its shard (the LocalDispatcher); otherwise it goes to the
// node that does, through the CommandForwarder, and that node's result comes
// back unchanged. A command that arrived forwarded runs here or fails with
// not_owner: it is never sent on, so two nodes with stale views cannot pass
// it back and forth.
//
// not_owner means nothing was written (the store refused the fenced append,
// or this node never tried), so a command that meets it (here: the lease was
// lost meanwhile; at the owner: the lease moved) is routed again, a few times
// at most, while its deadline allows; so is one the forwarder hands back because this node
// became the owner while it waited. Results of forwarded asynchronous commands are handed
// back through their stream's relay, on a runtime thread, in order.

#include "pipeline/local_dispatcher.hpp"

#include "annals/command_forwarder.hpp"

#include <memory>

namespace annals::pipeline {

class ClusterDispatcher final : public CommandDispatcher {
public:
  ClusterDispatcher(LocalDispatcher& local, std::shared_ptr<CommandForwarder> forwarder);

  Dispatched dispatch(AdmittedCommand command, const detail::CallsInFlight::Ticket& ticket) override;
  void dispatch_async(AdmittedCommand command, DispatchHandler done) override;

private:
  /// One routing attempt; `again`: how often a not_owner may still route it again.
  void route_async(std::shared_ptr<AdmittedCommand> command, int again, DispatchHandler done);

  LocalDispatcher& local_;
  std::shared_ptr<CommandForwarder> forwarder_;
};

} // namespace annals::pipeline
