#pragma once
// For the scenario runner tests: the bank domain in a catalog (as in
// cli/main.cpp), an observer that records everything it is told, and a
// look at a SQLite store after a run.

#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/runtime.hpp>
#include <annals/scenarios/domain_catalog.hpp>
#include <annals/scenarios/scenario_runner.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace annals::test {

/// The bank domain, registered as the `annals` executable does.
inline scenarios::DomainCatalog bank_catalog() {
  scenarios::DomainCatalog catalog;
  catalog.add({"bank", "accounts; projections balances and daily_totals", [](Runtime& rt) {
                 rt.register_aggregate(bank::account_type());
                 rt.register_projection(bank::balances_projection());
                 rt.register_projection(bank::daily_totals_projection());
               }});
  return catalog;
}

/// Everything a run tells its observer, in order.
class RecordingObserver : public scenarios::RunObserver {
public:
  void started(const scenarios::Scenario& s, const std::string& store) override {
    std::lock_guard<std::mutex> lock(mtx);
    ++starts;
    scenario = s.name;
    this->store = store;
  }
  void step_started(const scenarios::Step& step) override {
    std::lock_guard<std::mutex> lock(mtx);
    started_steps.push_back(step.number);
  }
  void progress(const scenarios::Step&, std::int64_t done, std::int64_t total, double) override {
    std::lock_guard<std::mutex> lock(mtx);
    progress_calls.emplace_back(done, total);
    progress_seen = true;
    progress_total = total;  // the mix's total once the setup is done
    progress_done = done;
  }
  void step_finished(const scenarios::Step&, const scenarios::StepOutcome& out) override {
    std::lock_guard<std::mutex> lock(mtx);
    outcomes.push_back(out);
  }
  void runtime_log(const LogRecord& r) override {
    std::lock_guard<std::mutex> lock(mtx);
    log_events.push_back(r.event);
    log_records.push_back(r);
  }
  void report(const scenarios::RunReport& r) override {
    std::lock_guard<std::mutex> lock(mtx);
    reports.push_back(r);
  }
  void finished(const scenarios::RunResult& r) override {
    std::lock_guard<std::mutex> lock(mtx);
    ++finishes;
    passed = r.passed;
  }

  /// The outcome of step `number` (1-based); fails the test if it did not run.
  const scenarios::StepOutcome& outcome(std::size_t number) const {
    for (const auto& o : outcomes)
      if (o.number == number) return o;
    throw std::runtime_error("step " + std::to_string(number) + " did not run");
  }
  /// Whether step `number` has started (safe while the run goes on in another thread).
  bool step_has_started(std::size_t number) const {
    std::lock_guard<std::mutex> lock(mtx);
    for (auto n : started_steps)
      if (n == number) return true;
    return false;
  }
  bool logged(const std::string& event) const {
    std::lock_guard<std::mutex> lock(mtx);
    for (const auto& e : log_events)
      if (e == event) return true;
    return false;
  }

  mutable std::mutex mtx;
  int starts = 0, finishes = 0;
  bool passed = false;
  std::string scenario, store;
  std::vector<std::size_t> started_steps;
  std::vector<std::pair<std::int64_t, std::int64_t>> progress_calls;
  std::atomic<bool> progress_seen{false};
  std::atomic<std::int64_t> progress_total{0};
  std::atomic<std::int64_t> progress_done{0};
  std::vector<scenarios::StepOutcome> outcomes;
  std::vector<std::string> log_events;
  std::vector<LogRecord> log_records;
  std::vector<scenarios::RunReport> reports;
};

/// What a SQLite store holds after a run (opened read-only).
struct StoreContents {
  std::int64_t events = 0;
  std::int64_t head = 0;
  std::map<std::string, std::vector<std::int64_t>> versions;  ///< "aggregate/id" -> versions in order

  /// "" when every stream's versions are 1..n without gaps, else the first stream that is not.
  std::string gaps() const {
    for (const auto& [stream, v] : versions)
      for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i] != static_cast<std::int64_t>(i) + 1)
          return stream + ": event " + std::to_string(i + 1) + " has version " + std::to_string(v[i]);
    return {};
  }
};

inline StoreContents read_store(const std::string& path) {
  SqliteStoreOptions o;
  o.path = path;
  o.read_only = true;
  auto store = open_sqlite_store(o);
  StoreContents c;
  c.events = store->event_count();
  c.head = store->head_position();
  for (std::int64_t from = 1;;) {
    auto batch = store->read_all(from, 5000);
    if (batch.empty()) break;
    for (const auto& e : batch) c.versions[e.stream.aggregate + "/" + e.stream.id].push_back(e.version);
    from = batch.back().position + 1;
  }
  return c;
}

/// No event was written to `path`: the file is absent or holds none.
inline bool no_events_in(const std::string& path) {
  if (!std::filesystem::exists(path)) return true;
  return read_store(path).events == 0;
}

} // namespace annals::test
