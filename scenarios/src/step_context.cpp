#include "step_context.hpp"

#include "cluster/local_cluster.hpp"

#include <algorithm>

namespace annals::scenarios {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string counts_text(const std::map<std::string, std::int64_t>& by_code) {
  std::vector<std::string> parts;
  for (const auto& [code, n] : by_code) parts.push_back(code + " " + std::to_string(n));
  return join(parts);
}

json::object counts_json(const std::map<std::string, std::int64_t>& by_code) {
  json::object o;
  for (const auto& [code, n] : by_code) o[code] = n;
  return o;
}

void fail(StepOutcome& out, std::string why) {
  if (!out.ok) return;  // keep the first reason
  out.ok = false;
  out.failure = std::move(why);
}

bool caught_up(const ProjectionStatus& s) { return s.running && s.checkpoint >= s.head; }

std::string projection_progress(const ProjectionStatus& s) {
  if (!s.running)
    return "restarting (restart #" + std::to_string(s.restarts) + ", backoff " + std::to_string(s.backoff.count()) +
           " ms)";
  return "at " + std::to_string(s.checkpoint) + "/" + std::to_string(s.head);
}

RuntimeOptions scenario_runtime_options(const Scenario& sc, std::shared_ptr<EventStoreProvider> store) {
  RuntimeOptions o;
  o.store = std::move(store);
  const auto& s = sc.settings;
  if (s.max_attempts) o.projections.max_attempts = *s.max_attempts;
  if (s.initial_backoff) o.projections.initial_backoff = *s.initial_backoff;
  if (s.max_backoff) o.projections.max_backoff = *s.max_backoff;
  if (s.query_timeout) o.projections.query_timeout = *s.query_timeout;
  if (s.command_timeout) o.command_timeout = *s.command_timeout;
  if (s.bus_window) o.projections.bus_window = *s.bus_window;
  if (s.catch_up_batch) o.projections.catch_up_batch = *s.catch_up_batch;
  return o;
}

StepContext::StepContext(const Scenario& scenario, const DomainCatalog& catalog, const RunOptions& options,
                         RunObserver& observer)
    : scenario(scenario), options(options), observer(observer), run_id(make_uuid().substr(0, 8)),
      catalog_(catalog) {}

StepContext::~StepContext() = default;

void StepContext::start_runtime() {
  RuntimeOptions o = scenario_runtime_options(scenario, options.store);
  o.log.level = options.runtime_log_level;
  o.log.sink = [obs = &observer](const LogRecord& r) { obs->runtime_log(r); };
  o.metrics = registry_;
  rt_ = std::make_unique<Runtime>(o);
  catalog_.install(*rt_, scenario.domains);
}

void StepContext::stop_runtime() { rt_.reset(); }

CommandResult StepContext::execute(const Command& c, const std::string& node, int connection) {
  return cluster ? cluster->execute(node, c, connection) : rt().execute(c);
}

Expected<json::value> StepContext::query(const std::string& node, const std::string& projection,
                                         const std::string& q, const json::object& args, std::int64_t min_position,
                                         std::optional<milliseconds> timeout) {
  if (cluster) return cluster->query(node, projection, q, args, min_position, timeout);
  return rt().query(projection, q, args, min_position, timeout);
}

RunReport StepContext::report() {
  if (cluster) return cluster->report(since(started_at), last_position);
  return RunReport::from(rt_->metrics(), scenario.name, since(started_at), rt_->head_position());
}

bool StepContext::pause(milliseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (stop_requested()) {
      interrupted = true;
      return false;
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(10), until - Clock::now()));
  }
  return true;
}

} // namespace annals::scenarios
