#pragma once
// What every step gets while a scenario runs: the runtime (a new one after a
// restart), the observer, the run's options, the position read-your-writes
// queries wait for, and waits that end early on Ctrl-C. One function per
// step type implements it, in steps/*.cpp.

#include "annals/metrics_registry.hpp"
#include "annals/runtime.hpp"
#include "annals/scenarios/expectations.hpp"
#include "annals/scenarios/load_plan.hpp"
#include "annals/scenarios/scenario_runner.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace annals::scenarios {

namespace cluster_run {
class LocalCluster;
}

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double since(Clock::time_point t0);
std::string join(const std::vector<std::string>& v, const char* sep = ", ");
/// "insufficient_funds 3, timeout 1"
std::string counts_text(const std::map<std::string, std::int64_t>& by_code);
json::object counts_json(const std::map<std::string, std::int64_t>& by_code);
/// Marks the step failed, keeping the first reason.
void fail(StepOutcome& out, std::string why);
/// Running, and applied everything up to the store's head.
bool caught_up(const ProjectionStatus& s);
/// "at 4/5", or while its projector restarts (its checkpoint is not known
/// then) "restarting (restart #3, backoff 80 ms)".
std::string projection_progress(const ProjectionStatus& s);
/// The runtime settings a scenario asks for, on `store`.
RuntimeOptions scenario_runtime_options(const Scenario& sc, std::shared_ptr<EventStoreProvider> store);

class StepContext {
public:
  StepContext(const Scenario& scenario, const DomainCatalog& catalog, const RunOptions& options,
              RunObserver& observer);
  ~StepContext();

  Runtime& rt() { return *rt_; }
  /// Set in a cluster scenario (no runtime then): commands and queries go to its nodes over HTTP.
  cluster_run::LocalCluster* cluster = nullptr;
  /// A command, to the runtime or (a cluster scenario) to `node` over connection number `connection`.
  CommandResult execute(const Command& c, const std::string& node = "n1", int connection = 0);
  Expected<json::value> query(const std::string& node, const std::string& projection, const std::string& query,
                              const json::object& args, std::int64_t min_position,
                              std::optional<milliseconds> timeout);
  /// A runtime on the scenario's store with its domains installed; its log
  /// records go to the observer and its metrics to the run's registry (which
  /// outlives restarts).
  void start_runtime();
  /// Stops the runtime: what was acknowledged is committed.
  void stop_runtime();
  RunReport report();

  bool stop_requested() const { return options.interrupted && options.interrupted->load(); }
  /// Sleeps up to `d`; false (and `interrupted` set) if a stop was requested.
  bool pause(milliseconds d);
  /// Polls the projections' status until `done` holds for all; false on timeout or stop.
  template <class Pred>
  bool wait_for(const std::vector<std::string>& projections, milliseconds timeout, Pred done) {
    const auto until = Clock::now() + timeout;
    for (;;) {
      bool all = true;
      for (const auto& p : projections) {
        auto st = rt().projection_status(p);
        if (!st || !done(*st)) {
          all = false;
          break;
        }
      }
      if (all) return true;
      if (Clock::now() >= until || !pause(milliseconds(5))) return false;
    }
  }

  const Scenario& scenario;
  const RunOptions& options;
  RunObserver& observer;
  Clock::time_point started_at = Clock::now();
  std::int64_t last_position = 0;  ///< the latest acknowledged command's position (read-your-writes)
  std::string run_id;               ///< makes a run's idempotency keys its own
  bool interrupted = false;         ///< the current step stopped early for Ctrl-C

private:
  const DomainCatalog& catalog_;
  std::shared_ptr<MetricsRegistry> registry_ = make_metrics_registry();
  std::unique_ptr<Runtime> rt_;
};

// The step types (steps/*.cpp). `out` arrives ok; a step fails it with fail().
void run_step(StepContext& ctx, const Step& step, const CommandStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const InspectStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const StreamStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const LoadStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const QueryStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const WaitStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const InjectStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const ReconcileStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const RebuildStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const DeadLettersStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const ReportStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const SleepStep& s, StepOutcome& out);
void run_step(StepContext& ctx, const Step& step, const NodeStep& s, StepOutcome& out);
/// `wait_until` shards_settled (steps/node_steps.cpp).
void wait_shards_settled(StepContext& ctx, const WaitStep& s, StepOutcome& out);

} // namespace annals::scenarios
