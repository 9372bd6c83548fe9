#include "annals/scenarios/scenario_runner.hpp"

#include "step_context.hpp"

#include "cluster/local_cluster.hpp"

#include "annals/persistence/memory_event_store.hpp"
#include "annals/scenarios/scenario_parser.hpp"

#include <map>
#include <set>

namespace annals::scenarios {

// `report` prints the numbers so far (the runner sends them after the step
// line); `sleep` waits, ending early on Ctrl-C.
void run_step(StepContext&, const Step&, const ReportStep&, StepOutcome& out) { out.summary = "the numbers so far:"; }

void run_step(StepContext& ctx, const Step&, const SleepStep& s, StepOutcome& out) {
  ctx.pause(s.duration);
  out.summary = std::to_string(s.duration.count()) + " ms";
}

void validate_scenario(const Scenario& scenario, const DomainCatalog& catalog) {
  if (auto problem = catalog.unknown(scenario.domains); !problem.empty())
    throw ScenarioError(scenario.file, 0, "", problem);
  for (std::size_t i = 0; i < scenario.domains.size(); ++i)
    for (std::size_t k = 0; k < i; ++k)
      if (scenario.domains[i] == scenario.domains[k])
        throw ScenarioError(scenario.file, 0, "", "domain '" + scenario.domains[i] + "' is named twice");
  auto scratch_options = scenario_runtime_options(scenario, memory_store());
  scratch_options.log.level = LogLevel::off;
  Runtime scratch(scratch_options);
  try {
    catalog.install(scratch, scenario.domains);
  } catch (const std::invalid_argument& e) {  // e.g. two domains defining the same aggregate type
    throw ScenarioError(scenario.file, 0, "", std::string("its domains do not fit together: ") + e.what());
  }
  const auto aggregates = scratch.aggregate_commands();
  const auto names = scratch.projection_names();
  const std::set<std::string> projections(names.begin(), names.end());
  auto bad = [&](const Step& s, const std::string& why) { throw ScenarioError(scenario.file, s.number, s.kind, why); };
  auto check_aggregate = [&](const Step& s, const std::string& agg, std::vector<std::string> commands) {
    auto it = aggregates.find(agg);
    if (it == aggregates.end()) {
      std::vector<std::string> known;
      for (const auto& kv : aggregates) known.push_back(kv.first);
      bad(s, "unknown aggregate '" + agg + "' (known: " + join(known) + ")");
    }
    for (const auto& c : commands)
      if (!it->second.count(c))
        bad(s, "aggregate '" + agg + "' has no command '" + c + "' (it has: " +
                 join(std::vector<std::string>(it->second.begin(), it->second.end())) + ")");
  };
  auto check_projection = [&](const Step& s, const std::string& p) {
    if (!projections.count(p)) bad(s, "unknown projection '" + p + "' (known: " + join(names) + ")");
  };
  const auto queries = scratch.projection_queries();
  auto check_query = [&](const Step& s, const std::string& p, const std::string& q) {
    check_projection(s, p);
    const auto& known = queries.at(p);
    if (!known.count(q))
      bad(s, "projection '" + p + "' has no query '" + q + "' (it has: "
               + join(std::vector<std::string>(known.begin(), known.end())) + ")");
  };
  // An event type an expectation names must be one the aggregate can store
  // (any aggregate's, when the step names none): a typo would never match.
  const auto events = scratch.aggregate_events();
  auto check_event = [&](const Step& s, const std::string& agg, const std::string& type) {
    std::set<std::string> known;
    for (const auto& [name, types] : events)
      if (agg.empty() || name == agg) known.insert(types.begin(), types.end());
    if (known.count(type)) return;
    const std::string listed = join(std::vector<std::string>(known.begin(), known.end()));
    if (agg.empty()) bad(s, "no aggregate has an event type '" + type + "' (known: " + listed + ")");
    bad(s, "aggregate '" + agg + "' has no event type '" + type + "' (it has: " + listed + ")");
  };
  // A rejection code an expectation names must be one the aggregate
  // declares (when it declares any) or one of the runtime's.
  std::map<std::string, std::set<std::string>> declared;
  for (const auto& t : scratch.aggregate_types())
    for (const auto& kv : t->rejection_codes()) declared[t->name()].insert(kv.first);
  auto check_code = [&](const Step& s, const std::string& agg, const std::string& code) {
    auto it = declared.find(agg);
    if (it == declared.end() || it->second.count(code) || errc::is_runtime_code(code)) return;
    bad(s, "aggregate '" + agg + "' gives no code '" + code + "' (its rejection codes: "
             + join(std::vector<std::string>(it->second.begin(), it->second.end()))
             + "; the runtime's: `annals describe` lists them)");
  };
  for (const auto& step : scenario.steps) {
    std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, CommandStep>) {
          check_aggregate(step, b.aggregate, {b.command});
          if (b.expect.code) check_code(step, b.aggregate, *b.expect.code);
          if (b.expect.events)
            for (const auto& type : *b.expect.events) check_event(step, b.aggregate, type);
        } else if constexpr (std::is_same_v<T, LoadStep>) {
          std::vector<std::string> cmds;
          if (b.setup) cmds.push_back(b.setup->command);
          for (const auto& m : b.mix) cmds.push_back(m.command);
          check_aggregate(step, b.aggregate, cmds);
        } else if constexpr (std::is_same_v<T, InspectStep>)
          check_aggregate(step, b.aggregate, {});
        else if constexpr (std::is_same_v<T, StreamStep>) {
          check_aggregate(step, b.aggregate, {});
          for (const auto& kv : b.types) check_event(step, b.aggregate, std::string(kv.key()));
        }
        else if constexpr (std::is_same_v<T, WaitStep>) {
          if (b.projection != "*") check_projection(step, b.projection);
        } else if constexpr (std::is_same_v<T, InjectStep>) {
          if (b.fault != "restart_runtime") check_projection(step, b.projection);
          if (b.fault == "fail_projector" && !b.match.aggregate.empty()) check_aggregate(step, b.match.aggregate, {});
          if (b.fault == "fail_projector" && !b.match.event_type.empty())
            check_event(step, b.match.aggregate, b.match.event_type);
        } else if constexpr (std::is_same_v<T, QueryStep>) {
          // Unless the step asks that very error on purpose.
          if (b.expect_error == std::optional<std::string>("unknown_query")) check_projection(step, b.projection);
          else check_query(step, b.projection, b.query);
        }
        else if constexpr (std::is_same_v<T, ReconcileStep> ||
                             std::is_same_v<T, RebuildStep> || std::is_same_v<T, DeadLettersStep>)
          check_projection(step, b.projection);
      },
      step.body);
  }
}

namespace {

// The steps one by one, until one fails or a stop is asked.
void run_steps(StepContext& ctx, const Scenario& scenario, RunObserver& observer, RunResult& result) {
  for (const auto& step : scenario.steps) {
    if (ctx.stop_requested()) {
      result.interrupted = true;
      break;
    }
    observer.step_started(step);
    const auto t = Clock::now();
    StepOutcome out;
    out.number = step.number;
    out.kind = step.kind;
    try {
      std::visit([&](const auto& body) { run_step(ctx, step, body, out); }, step.body);
    } catch (const std::exception& e) {
      fail(out, std::string("the step threw: ") + e.what());
    }
    out.seconds = since(t);
    ++result.steps_run;
    observer.step_finished(step, out);
    if (std::holds_alternative<ReportStep>(step.body)) observer.report(ctx.report());
    if (ctx.interrupted) {
      result.interrupted = true;
      break;
    }
    if (!out.ok) {
      result.failed_step = out;
      break;
    }
  }
}

RunResult run_cluster_scenario(const Scenario& scenario, const DomainCatalog& catalog, const RunOptions& options,
                               RunObserver& observer) {
  validate_scenario(scenario, catalog);
  StepContext ctx(scenario, catalog, options, observer);
  cluster_run::LocalCluster cluster(scenario, options, observer);
  ctx.cluster = &cluster;
  observer.started(scenario, cluster.describe());
  RunResult result;
  try {
    cluster.start();
  } catch (...) {  // nothing ran; what was started is stopped before the error goes out
    cluster.stop();
    observer.finished(result);
    throw;
  }
  ctx.started_at = Clock::now();  // the figures are the steps', not the cluster's start
  run_steps(ctx, scenario, observer, result);
  if (ctx.stop_requested() && !result.failed_step) result.interrupted = true;
  result.passed = !result.failed_step && !result.interrupted;
  result.report = ctx.report();
  result.metrics_text = cluster.metrics_text();
  cluster.stop();
  observer.report(result.report);
  observer.finished(result);
  return result;
}

} // namespace

RunResult run_scenario(const Scenario& scenario, const DomainCatalog& catalog, const RunOptions& options,
                       RunObserver& observer) {
  if (scenario.cluster) return run_cluster_scenario(scenario, catalog, options, observer);
  if (!options.store) throw std::invalid_argument("run_scenario: no store");
  validate_scenario(scenario, catalog);
  StepContext ctx(scenario, catalog, options, observer);
  observer.started(scenario, options.store->describe());
  RunResult result;
  try {
    ctx.start_runtime();
  } catch (...) {  // the store cannot be opened: the run ends before its first step
    observer.finished(result);
    throw;
  }
  run_steps(ctx, scenario, observer, result);
  // Ctrl-C during a last step that does not wait (a query, a reconcile) still counts.
  if (ctx.stop_requested() && !result.failed_step) result.interrupted = true;
  result.passed = !result.failed_step && !result.interrupted;
  result.report = ctx.report();
  result.metrics_text = ctx.rt().metrics_text();
  // Stop the runtime before the report goes out: everything acknowledged is
  // committed, projectors and the journal are shut down.
  ctx.stop_runtime();
  observer.report(result.report);
  observer.finished(result);
  return result;
}

} // namespace annals::scenarios
