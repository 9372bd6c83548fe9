// Cluster scenarios: `kill_node`, `pause_node`, `resume_node`, `stop_node`,
// `restart_node`, and `wait_until` shards_settled (with the time it took:
// after a kill, the takeover time).
#include "../step_context.hpp"

#include "../cluster/local_cluster.hpp"

namespace annals::scenarios {

void run_step(StepContext& ctx, const Step&, const NodeStep& s, StepOutcome& out) {
  auto& node = ctx.cluster->node(s.node);
  const auto pid = node.pid();
  const auto before = node.state_name();
  try {
    out.summary = ctx.cluster->act(s.action, s.node);
  } catch (const ClusterError& e) {
    out.summary = s.action + " " + s.node;
    out.details = {{"node", s.node}, {"action", s.action}};
    return fail(out, e.what());
  }
  out.details = {{"node", s.node},        {"action", s.action},          {"before", before},
                 {"state", node.state_name()}, {"pid", node.pid() ? node.pid() : pid}, {"log", node.log()}};
  // A step that changed nothing (kill a killed node) is a mistake in the scenario.
  if (before == node.state_name() && s.action != "restart") fail(out, out.summary);
  if (s.action == "restart" && !node.serving()) fail(out, out.summary);
}

void wait_shards_settled(StepContext& ctx, const WaitStep& s, StepOutcome& out) {
  const auto t = Clock::now();
  bool settled = false;
  const auto count = ctx.cluster->wait_settled(s.timeout, settled);
  const double secs = since(t);
  if (ctx.stop_requested()) ctx.interrupted = true;
  out.summary = std::string(settled ? "shards settled" : "shards not settled") + " after " + human_seconds(secs) + ": "
                + count.text;
  out.details = {{"condition", s.condition}, {"settled", settled}, {"seconds", secs}, {"shards", count.by_node}};
  if (!settled && !ctx.interrupted)
    fail(out, "the shards did not settle within " + std::to_string(s.timeout.count()) + " ms: " + count.text
                + " (the nodes' logs say why)");
}

} // namespace annals::scenarios
