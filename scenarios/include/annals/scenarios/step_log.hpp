#pragma once
// The step log: how `annals run` shows a scenario as it happens. Text: one
// line per step with its timing, the runtime's own log records indented
// under it, progress on `load` steps (terminals only), colour only when asked
// (the CLI asks when stdout is a terminal and NO_COLOR is unset). JSON: one
// object per line, for machines.

#include "annals/scenarios/scenario_runner.hpp"

#include <chrono>
#include <mutex>
#include <ostream>

namespace annals::scenarios {

struct TextLogOptions {
  bool colour = false;
  bool progress = false;  ///< redraw a progress line during load steps (needs a terminal)
};

class TextStepLog : public RunObserver {
public:
  TextStepLog(std::ostream& out, TextLogOptions options);
  void started(const Scenario& s, const std::string& store) override;
  void step_started(const Step& step) override;
  void progress(const Step& step, std::int64_t done, std::int64_t total, double per_second) override;
  void step_finished(const Step& step, const StepOutcome& out) override;
  void runtime_log(const LogRecord& r) override;
  void report(const RunReport& r) override;
  void cluster_event(const std::string& event, const json::object& fields, const std::string& text) override;
  void finished(const RunResult& r) override;

private:
  const char* c(const char* code) const { return options_.colour ? code : ""; }
  void clear_progress();  // with the lock held

  std::ostream& out_;
  TextLogOptions options_;
  std::mutex mtx_;  // runtime records arrive from other threads
  bool progress_shown_ = false;
  std::size_t steps_ = 0;
  std::chrono::steady_clock::time_point t0_;
};

/// {"event": "scenario.started" | "step" | "runtime.log" | "report" | "scenario.finished"
///  | "cluster.postgres" | "cluster.node" | "cluster.ready" | "cluster.stopped", ...}
class JsonStepLog : public RunObserver {
public:
  explicit JsonStepLog(std::ostream& out);
  void started(const Scenario& s, const std::string& store) override;
  void step_finished(const Step& step, const StepOutcome& out) override;
  void runtime_log(const LogRecord& r) override;
  void report(const RunReport& r) override;
  void cluster_event(const std::string& event, const json::object& fields, const std::string& text) override;
  void finished(const RunResult& r) override;

private:
  void line(const json::object& o);
  std::ostream& out_;
  std::mutex mtx_;
};

} // namespace annals::scenarios
