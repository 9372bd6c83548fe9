// `load`: a seeded plan of commands sent by concurrent callers, with retries,
// progress, and the outcomes counted.
#include "../step_context.hpp"

#include "../cluster/local_cluster.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace annals::scenarios {

namespace {

std::map<std::string, std::int64_t> merged(std::map<std::string, std::int64_t> a,
                                           const std::map<std::string, std::int64_t>& b) {
  for (const auto& [code, n] : b) a[code] += n;
  return a;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The outcomes of a load step's commands, shared by its callers.
struct Tally {
  std::mutex mtx;
  std::int64_t accepted = 0, rejected = 0, failed = 0;
  std::int64_t retries = 0, replayed = 0, applied_twice = 0;
  std::map<std::string, std::int64_t> rejected_by, failed_by;
  std::vector<double> latencies;
  std::int64_t max_position = 0;
  std::string first_failure;
  // Cluster scenarios: per node, the outcomes of the first sends.
  struct NodeCounts {
    std::int64_t sent = 0, accepted = 0, rejected = 0, failed = 0, node_unavailable = 0;
  };
  std::map<std::string, NodeCounts> by_node;
  std::int64_t node_unavailable = 0;

  void count(const CommandResult& r, double seconds, const std::string& node = {}) {
    std::lock_guard<std::mutex> lock(mtx);
    if (!node.empty()) {
      auto& n = by_node[node];
      ++n.sent;
      (r.accepted() ? n.accepted : r.rejected() ? n.rejected : n.failed)++;
      if (r.code() == "node_unavailable") ++n.node_unavailable, ++node_unavailable;
    }
    latencies.push_back(seconds);
    max_position = std::max(max_position, r.position);
    if (r.accepted()) ++accepted;
    else if (r.rejected()) ++rejected_by[std::string(r.code())], ++rejected;
    else {
      ++failed_by[std::string(r.code())], ++failed;
      if (first_failure.empty() && r.error) first_failure = r.error->message;
    }
  }
  void count_retry(const CommandResult& first, const CommandResult& again) {
    std::lock_guard<std::mutex> lock(mtx);
    ++retries;
    max_position = std::max(max_position, again.position);
    if (again.replayed) ++replayed;
    else if (first.accepted() && again.accepted()) ++applied_twice;
  }
};

// Sends `cmds` from `callers` threads and returns the seconds from the first
// send to the last answer (the work itself: the progress loop below only
// reports, so its 100 ms ticks never show in a figure).
// In a cluster scenario command i goes to nodes[i % size], each caller on its own connections.
double send_all(StepContext& ctx, const Step& step, const std::vector<PlannedCommand>& cmds, int callers, Tally& tally,
                bool with_retries, const std::vector<std::string>& nodes) {
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<bool> stop{false};
  std::mutex finished_mtx;
  std::condition_variable finished;
  std::vector<std::thread> threads;
  const auto n = cmds.size();
  const auto t0 = Clock::now();
  for (int c = 0; c < std::max(1, std::min<int>(callers, static_cast<int>(n))); ++c) {
    threads.emplace_back([&, c] {
      while (!stop) {
        const auto i = next.fetch_add(1);
        if (i >= n) break;
        const auto t = Clock::now();
        const std::string& node = nodes[i % nodes.size()];
        auto r = ctx.execute(cmds[i].command, node, c);
        tally.count(r, since(t), ctx.cluster ? node : std::string());
        if (with_retries && cmds[i].retried) {
          // The client did not hear the answer and sends the same command again.
          auto again = ctx.execute(cmds[i].command, node, c);
          tally.count_retry(r, again);
        }
        if (++done == n) {
          std::lock_guard<std::mutex> lock(finished_mtx);
          finished.notify_all();
        }
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(finished_mtx);
    while (!finished.wait_for(lock, milliseconds(100), [&] { return done >= n; }) && !stop) {
      if (ctx.stop_requested()) {
        stop = true;
        ctx.interrupted = true;
      }
      const double s = since(t0);
      ctx.observer.progress(step, static_cast<std::int64_t>(done.load()), static_cast<std::int64_t>(n),
                            s > 0 ? static_cast<double>(done.load()) / s : 0);
    }
  }
  for (auto& t : threads) t.join();
  return since(t0);
}

} // namespace

void run_step(StepContext& ctx, const Step& step, const LoadStep& given, StepOutcome& out) {
  LoadStep s = given;
  if (ctx.options.seed) s.seed = *ctx.options.seed;
  if (ctx.cluster)
    if (auto why = ctx.cluster->not_serving(s.nodes); !why.empty()) return fail(out, why);
  const auto plan = plan_load(s, "scenario-" + ctx.run_id + "-step-" + std::to_string(step.number));
  if (!plan.setup.empty()) {
    Tally setup;
    send_all(ctx, step, plan.setup, s.concurrency, setup, false, s.nodes);
    ctx.last_position = std::max(ctx.last_position, setup.max_position);
    if (setup.accepted != static_cast<std::int64_t>(plan.setup.size()) && !ctx.interrupted)
      fail(out, "setup: " + std::to_string(setup.accepted) + " of " + std::to_string(plan.setup.size()) +
                  " accepted (" + counts_text(merged(setup.rejected_by, setup.failed_by)) + ")");
    if (!out.ok || ctx.interrupted) {
      out.summary = "setup of " + counted(plan.setup.size(), s.aggregate + " instance");
      return;
    }
  }
  Tally t;
  const double secs = send_all(ctx, step, plan.commands, s.concurrency, t, true, s.nodes);
  ctx.last_position = std::max(ctx.last_position, t.max_position);
  const auto sent = t.accepted + t.rejected + t.failed;

  std::ostringstream os;
  if (plan.commands.empty() && !plan.setup.empty()) {
    out.summary = "setup: " + counted(plan.setup.size(), s.aggregate + " instance") + " ("
                  + plan.setup.front().command.command + ")" + (ctx.cluster ? " through " + join(s.nodes) : std::string())
                  + ", all accepted";
    out.details = {{"setup", plan.setup.size()}, {"commands", 0}};
    return;
  }
  os << counted(sent, s.aggregate + " command") << " over " << counted(s.aggregates, "instance") << ", "
     << counted(s.concurrency, "caller") << (ctx.cluster ? " to " + join(s.nodes) : std::string()) << " (seed " << s.seed << "): "
     << t.accepted << " accepted, " << t.rejected << " rejected";
  if (t.rejected) os << " (" << counts_text(t.rejected_by) << ")";
  os << ", " << t.failed << " failed";
  if (t.failed) os << " (" << counts_text(t.failed_by) << ")";
  if (ctx.cluster) os << "; node_unavailable " << t.node_unavailable;
  if (t.retries)
    os << "; " << counted(t.retries, "retry", "retries") << ": " << t.replayed << " replayed"
       << (t.applied_twice ? ", " + std::to_string(t.applied_twice) + " applied twice (no idempotency key)" : "");
  char rate[160];
  std::snprintf(rate, sizeof rate, "; %.0f cmd/s, latency p50 %s p99 %s",
                secs > 0 ? static_cast<double>(sent) / secs : 0.0, human_seconds(percentile(t.latencies, 0.5)).c_str(),
                human_seconds(percentile(t.latencies, 0.99)).c_str());
  os << rate;
  if (ctx.interrupted) os << " (interrupted after " << sent << " of " << plan.commands.size() << ")";
  out.summary = os.str();
  out.details = {{"commands", sent},
                 {"planned", plan.commands.size()},
                 {"setup", plan.setup.size()},
                 {"accepted", t.accepted},
                 {"rejected", t.rejected},
                 {"rejected_by", counts_json(t.rejected_by)},
                 {"failed", t.failed},
                 {"failed_by", counts_json(t.failed_by)},
                 {"retries", t.retries},
                 {"replayed", t.replayed},
                 {"applied_twice", t.applied_twice},
                 {"seconds", secs},
                 {"per_second", secs > 0 ? static_cast<double>(sent) / secs : 0.0},
                 {"latency_ms", json::object{{"p50", percentile(t.latencies, 0.5) * 1e3},
                                             {"p95", percentile(t.latencies, 0.95) * 1e3},
                                             {"p99", percentile(t.latencies, 0.99) * 1e3},
                                             {"max", percentile(t.latencies, 1.0) * 1e3}}},
                 {"seed", s.seed}};
  if (ctx.cluster) {
    json::object per;
    for (const auto& [node, n] : t.by_node)
      per[node] = json::object{{"sent", n.sent}, {"accepted", n.accepted}, {"rejected", n.rejected},
                               {"failed", n.failed}, {"node_unavailable", n.node_unavailable}};
    out.details["node_unavailable"] = t.node_unavailable;
    out.details["by_node"] = std::move(per);
  }
  if (ctx.interrupted) return;
  auto check = [&](const std::optional<CountExpectation>& e, std::int64_t n, const char* what) {
    if (!e) return;
    if (auto want = e->check(n); !want.empty())
      fail(out, std::string(what) + ": expected " + want + ", got " + std::to_string(n) +
                  (std::string(what) == "failed" && !t.first_failure.empty() ? " (" + t.first_failure + ")" : ""));
  };
  check(s.accepted, t.accepted, "accepted");
  check(s.rejected, t.rejected, "rejected");
  check(s.failed, t.failed, "failed");
  check(s.replayed, t.replayed, "replayed");
  // Unless the scenario says failures are expected, a failed command fails the step.
  if (!s.failed && t.failed) fail(out, counted(t.failed, "command") + " failed: " + t.first_failure);
}

} // namespace annals::scenarios
