#pragma once
// Runs a scenario against a fresh runtime: installs its domains, checks every
// step against what is registered (before anything runs), then carries the
// steps out one by one, stopping at the first expectation that does not hold
// or when asked to stop (Ctrl-C). The runtime is shut down cleanly either
// way: what was acknowledged stays committed.

#include "annals/log.hpp"
#include "annals/persistence/event_store.hpp"
#include "annals/scenarios/domain_catalog.hpp"
#include "annals/scenarios/run_report.hpp"
#include "annals/scenarios/scenario.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace annals::scenarios {

/// What one step did.
struct StepOutcome {
  std::size_t number = 0;
  std::string kind;
  bool ok = true;
  std::string summary;   ///< what happened, one line
  std::string failure;   ///< why the step failed ("" when ok)
  double seconds = 0;
  json::object details;  ///< the same, for machines (--json)
};

struct RunResult {
  bool passed = false;
  bool interrupted = false;
  std::size_t steps_run = 0;
  std::optional<StepOutcome> failed_step;
  RunReport report;
  std::string metrics_text;  ///< Prometheus text format, at the end
};

/// Receives the run as it happens (the step log implements this). Calls come
/// from the runner's thread, except runtime_log, which may come from any.
class RunObserver {
public:
  virtual ~RunObserver() = default;
  virtual void started(const Scenario&, const std::string& /*store*/) {}
  virtual void step_started(const Step&) {}
  /// During `load` steps, a few times a second.
  virtual void progress(const Step&, std::int64_t /*done*/, std::int64_t /*total*/, double /*per_second*/) {}
  virtual void step_finished(const Step&, const StepOutcome&) {}
  /// The runtime's own structured log records (projector crashes, restarts, ...).
  virtual void runtime_log(const LogRecord&) {}
  virtual void report(const RunReport&) {}
  /// Cluster scenarios: PostgreSQL started ("cluster.postgres"), a node
  /// started, restarted, killed, ... ("cluster.node": its pid and log),
  /// "cluster.ready", "cluster.stopped"; `text` says it for people.
  virtual void cluster_event(const std::string& /*event*/, const json::object& /*fields*/, const std::string& /*text*/) {}
  virtual void finished(const RunResult&) {}
};

struct RunOptions {
  std::shared_ptr<EventStoreProvider> store;
  /// Set by a signal handler; the run stops at the next safe point.
  const std::atomic<bool>* interrupted = nullptr;
  /// Replaces the seed of every load step.
  std::optional<std::uint64_t> seed;
  /// Runtime log records at or above this level reach the observer.
  LogLevel runtime_log_level = LogLevel::info;
  /// Cluster scenarios: the program started as `PROGRAM node --config FILE`
  /// ("": this program, /proc/self/exe).
  std::string node_executable;
  /// Cluster scenarios: where the nodes' configs, logs and certificates go
  /// ("": annals-<scenario name>.cluster in the working directory, emptied
  /// first if an earlier run made it).
  std::string run_directory;
};

/// A cluster scenario's cluster could not be set up or ended its run: no
/// PostgreSQL programs, a node that does not start, ... (what() says what to
/// do). Everything started was stopped and removed before it is thrown.
class ClusterError : public std::runtime_error {
public:
  enum class Kind { postgres_missing, postgres_failed, certificates_failed, directory, node_failed, interrupted };
  ClusterError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

private:
  Kind kind_;
};

/// Checks that every domain, aggregate, command and projection the scenario
/// names exists (on a scratch in-memory runtime). Throws ScenarioError naming
/// the step.
void validate_scenario(const Scenario& scenario, const DomainCatalog& catalog);

/// Runs `scenario` (validating it first). Throws ScenarioError if it names a domain, aggregate,
/// command or projection that does not exist (nothing has run then), and
/// StoreError if the store cannot be opened. A cluster scenario (one with a
/// "cluster" section) ignores options.store: it starts its own PostgreSQL
/// and nodes, and throws ClusterError when they cannot start.
RunResult run_scenario(const Scenario& scenario, const DomainCatalog& catalog, const RunOptions& options,
                       RunObserver& observer);

} // namespace annals::scenarios
