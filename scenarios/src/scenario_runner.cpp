#include "annals/scenarios/scenario_runner.hpp"

#include "annals/metrics_registry.hpp"
#include "annals/persistence/memory_event_store.hpp"
#include "annals/runtime.hpp"
#include "annals/scenarios/expectations.hpp"
#include "annals/scenarios/load_plan.hpp"
#include "annals/scenarios/scenario_parser.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace annals::scenarios {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string event_types(const std::vector<Event>& events) {
  std::vector<std::string> t;
  for (const auto& e : events) t.push_back(e.type);
  return "[" + join(t) + "]";
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
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

// The runtime settings a scenario asks for, on `store`.
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

// The outcomes of a load step's commands, shared by its callers.
struct Tally {
  std::mutex mtx;
  std::int64_t accepted = 0, rejected = 0, failed = 0;
  std::int64_t retries = 0, replayed = 0, applied_twice = 0;
  std::map<std::string, std::int64_t> rejected_by, failed_by;
  std::vector<double> latencies;
  std::int64_t max_position = 0;
  std::string first_failure;

  void count(const CommandResult& r, double seconds) {
    std::lock_guard<std::mutex> lock(mtx);
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

class Runner {
public:
  Runner(const Scenario& sc, const DomainCatalog& catalog, const RunOptions& opts, RunObserver& obs)
      : sc_(sc), catalog_(catalog), opts_(opts), obs_(obs), registry_(make_metrics_registry()) {}

  RunResult run() {
    validate_scenario(sc_, catalog_);
    t0_ = Clock::now();
    obs_.started(sc_, opts_.store->describe());
    start_runtime();
    RunResult result;
    for (const auto& step : sc_.steps) {
      if (stop_requested()) {
        result.interrupted = true;
        break;
      }
      obs_.step_started(step);
      auto t = Clock::now();
      StepOutcome out;
      out.number = step.number;
      out.kind = step.kind;
      try {
        run_step(step, out);
      } catch (const std::exception& e) {
        fail(out, std::string("the step threw: ") + e.what());
      }
      out.seconds = since(t);
      ++result.steps_run;
      obs_.step_finished(step, out);
      if (std::holds_alternative<ReportStep>(step.body)) obs_.report(report());
      if (interrupted_in_step_) {
        result.interrupted = true;
        break;
      }
      if (!out.ok) {
        result.failed_step = out;
        break;
      }
    }
    result.passed = !result.failed_step && !result.interrupted;
    result.report = report();
    result.metrics_text = rt_->metrics_text();
    // Stop the runtime before the report goes out: everything acknowledged is
    // committed, projectors and the journal are shut down.
    rt_.reset();
    obs_.report(result.report);
    obs_.finished(result);
    return result;
  }

private:
  const Scenario& sc_;
  const DomainCatalog& catalog_;
  const RunOptions& opts_;
  RunObserver& obs_;
  std::shared_ptr<MetricsRegistry> registry_;
  std::unique_ptr<Runtime> rt_;
  Clock::time_point t0_;
  std::int64_t last_position_ = 0;  // the latest acknowledged command's position (read-your-writes)
  std::string run_id_ = make_uuid().substr(0, 8);
  bool interrupted_in_step_ = false;

  bool stop_requested() const { return opts_.interrupted && opts_.interrupted->load(); }

  static void fail(StepOutcome& out, std::string why) {
    if (!out.ok) return;  // keep the first reason
    out.ok = false;
    out.failure = std::move(why);
  }

  // --- set-up and checks before anything runs ---------------------------------

  RuntimeOptions runtime_options(std::shared_ptr<EventStoreProvider> store) const {
    RuntimeOptions o = scenario_runtime_options(sc_, std::move(store));
    o.log.level = opts_.runtime_log_level;
    o.log.sink = [obs = &obs_](const LogRecord& r) { obs->runtime_log(r); };
    o.metrics = registry_;
    return o;
  }


  void start_runtime() {
    rt_ = std::make_unique<Runtime>(runtime_options(opts_.store));
    catalog_.install(*rt_, sc_.domains);
  }

  RunReport report() {
    return RunReport::from(rt_->metrics(), sc_.name, since(t0_), rt_->head_position());
  }

  // Sleeps up to `d`, waking early when a stop is requested. False if stopped.
  bool pause(milliseconds d) {
    auto until = Clock::now() + d;
    while (Clock::now() < until) {
      if (stop_requested()) {
        interrupted_in_step_ = true;
        return false;
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(10), until - Clock::now()));
    }
    return true;
  }

  // Polls until `done` holds for the projection(s); false on timeout or stop.
  template <class Pred>
  bool wait_for(const std::vector<std::string>& projections, milliseconds timeout, Pred done) {
    auto until = Clock::now() + timeout;
    for (;;) {
      bool all = true;
      for (const auto& p : projections) {
        auto st = rt_->projection_status(p);
        if (!st || !done(*st)) {
          all = false;
          break;
        }
      }
      if (all) return true;
      if (Clock::now() >= until) return false;
      if (!pause(milliseconds(5))) return false;
    }
  }

  static bool caught_up(const ProjectionStatus& s) { return s.running && s.checkpoint >= s.head; }

  // --- steps -------------------------------------------------------------------

  void run_step(const Step& step, StepOutcome& out) {
    std::visit([&](const auto& b) { run(step, b, out); }, step.body);
  }

  static Command to_command(const CommandStep& s) {
    Command c;
    c.aggregate = s.aggregate;
    c.id = s.id;
    c.command = s.command;
    c.data = s.data;
    c.idempotency_key = s.idempotency_key;
    c.expected_version = s.expected_version;
    c.metadata.principal = s.principal;
    return c;
  }

  static std::string check_result(const CommandExpectation& e, const CommandResult& r) {
    std::string got = to_string(r.status);
    if (!r.accepted()) got += " " + std::string(r.code()) + (r.error ? ": " + r.error->message : "");
    if (got.rfind(e.status, 0) != 0) return "expected " + e.status + (e.code ? " " + *e.code : "") + ", got " + got;
    if (e.code && r.code() != *e.code) return "expected " + e.status + " " + *e.code + ", got " + got;
    if (e.events) {
      std::vector<std::string> types;
      for (const auto& ev : r.events) types.push_back(ev.type);
      if (types != *e.events) return "expected events [" + join(*e.events) + "], got " + event_types(r.events);
    }
    return {};
  }

  static std::string describe(const CommandResult& r) {
    if (r.accepted())
      return "accepted v" + std::to_string(r.version) + " @" + std::to_string(r.position) + " " + event_types(r.events) +
             (r.replayed ? " (replayed: nothing appended)" : "");
    return std::string(to_string(r.status)) + " " + std::string(r.code()) + (r.error ? ": " + r.error->message : "");
  }

  void run(const Step&, const CommandStep& s, StepOutcome& out) {
    const Command cmd = to_command(s);
    std::string target = s.aggregate + "/" + s.id + " " + s.command + (s.data.empty() ? "" : " " + brief_json(s.data, 80));
    std::optional<CommandResult> first;
    int replays = 0;
    json::array results;
    for (int i = 0; i < s.repeat; ++i) {
      auto r = rt_->execute(cmd);
      results.push_back(r.to_json());
      if (r.accepted()) last_position_ = std::max(last_position_, r.position);
      if (auto why = check_result(s.expect, r); !why.empty())
        fail(out, (s.repeat > 1 ? "send " + std::to_string(i + 1) + ": " : std::string()) + why);
      if (!first) {
        first = r;
        continue;
      }
      if (r.replayed) ++replays;
      // A repeat with the same key must give the first answer and append nothing.
      if (s.idempotency_key && first->accepted() && (!r.replayed || r.position != first->position))
        fail(out, "send " + std::to_string(i + 1) + " with the same idempotency key was not a replay of the first: " +
                    describe(r));
    }
    out.summary = target + (s.repeat > 1 ? " x" + std::to_string(s.repeat) : "") + " -> " + describe(*first);
    if (s.repeat > 1)
      out.summary += s.idempotency_key ? "; " + std::to_string(replays) + " repeats replayed, no duplicate effect"
                                       : "; no idempotency key: every repeat ran again";
    out.details = {{"command", cmd.to_json()}, {"results", std::move(results)}};
  }

  // Sends `cmds` from `callers` threads; reports progress; stops early on Ctrl-C.
  void send_all(const Step& step, const std::vector<PlannedCommand>& cmds, int callers, Tally& tally,
                bool with_retries) {
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    const auto n = cmds.size();
    for (int c = 0; c < std::max(1, std::min<int>(callers, static_cast<int>(n))); ++c) {
      threads.emplace_back([&] {
        while (!stop) {
          const auto i = next.fetch_add(1);
          if (i >= n) break;
          const auto t = Clock::now();
          auto r = rt_->execute(cmds[i].command);
          tally.count(r, since(t));
          if (with_retries && cmds[i].retried) {
            // The client did not hear the answer and sends the same command again.
            auto again = rt_->execute(cmds[i].command);
            tally.count_retry(r, again);
          }
          ++done;
        }
      });
    }
    const auto t0 = Clock::now();
    while (done < n && !stop) {
      std::this_thread::sleep_for(milliseconds(100));
      if (stop_requested()) {
        stop = true;
        interrupted_in_step_ = true;
      }
      const double s = since(t0);
      obs_.progress(step, static_cast<std::int64_t>(done.load()), static_cast<std::int64_t>(n),
                    s > 0 ? static_cast<double>(done.load()) / s : 0);
    }
    for (auto& t : threads) t.join();
  }

  void run(const Step& step, const LoadStep& given, StepOutcome& out) {
    LoadStep s = given;
    if (opts_.seed) s.seed = *opts_.seed;
    const auto plan = plan_load(s, "scenario-" + run_id_ + "-step-" + std::to_string(step.number));
    if (!plan.setup.empty()) {
      Tally setup;
      send_all(step, plan.setup, s.concurrency, setup, false);
      last_position_ = std::max(last_position_, setup.max_position);
      if (setup.accepted != static_cast<std::int64_t>(plan.setup.size()) && !interrupted_in_step_)
        fail(out, "setup: " + std::to_string(setup.accepted) + " of " + std::to_string(plan.setup.size()) +
                    " accepted (" + counts_text(setup.rejected_by) + counts_text(setup.failed_by) + ")");
      if (!out.ok || interrupted_in_step_) {
        out.summary = "setup of " + std::to_string(plan.setup.size()) + " " + s.aggregate + " instances";
        return;
      }
    }
    Tally t;
    const auto t0 = Clock::now();
    send_all(step, plan.commands, s.concurrency, t, true);
    const double secs = since(t0);
    last_position_ = std::max(last_position_, t.max_position);
    const auto sent = t.accepted + t.rejected + t.failed;

    std::ostringstream os;
    os << sent << " " << s.aggregate << " commands over " << s.aggregates << " instance" << (s.aggregates == 1 ? "" : "s")
       << ", " << s.concurrency << " caller" << (s.concurrency == 1 ? "" : "s") << " (seed " << s.seed << "): "
       << t.accepted << " accepted, " << t.rejected << " rejected";
    if (t.rejected) os << " (" << counts_text(t.rejected_by) << ")";
    os << ", " << t.failed << " failed";
    if (t.failed) os << " (" << counts_text(t.failed_by) << ")";
    if (t.retries)
      os << "; " << t.retries << " retries: " << t.replayed << " replayed"
         << (t.applied_twice ? ", " + std::to_string(t.applied_twice) + " applied twice (no idempotency key)" : "");
    char rate[160];
    std::snprintf(rate, sizeof rate, "; %.0f cmd/s, latency p50 %s p99 %s",
                  secs > 0 ? static_cast<double>(sent) / secs : 0.0, human_seconds(percentile(t.latencies, 0.5)).c_str(),
                  human_seconds(percentile(t.latencies, 0.99)).c_str());
    os << rate;
    if (interrupted_in_step_) os << " (interrupted after " << sent << " of " << plan.commands.size() << ")";
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
    if (interrupted_in_step_) return;
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
    if (!s.failed && t.failed) fail(out, std::to_string(t.failed) + " commands failed: " + t.first_failure);
  }

  void run(const Step&, const QueryStep& s, StepOutcome& out) {
    const std::int64_t min_position = s.read_your_writes ? std::max(last_position_, s.min_position) : s.min_position;
    const auto t = Clock::now();
    auto r = rt_->query(s.projection, s.query, s.args, min_position, s.timeout);
    const double secs = since(t);
    auto st = rt_->projection_status(s.projection);
    std::string where = s.projection + "." + s.query + (s.args.empty() ? "" : " " + brief_json(s.args, 60));
    std::string freshness;
    if (st) {
      freshness = "projection at " + std::to_string(st->checkpoint) + " of " + std::to_string(st->head);
      if (st->head > st->checkpoint) freshness += ", " + std::to_string(st->head - st->checkpoint) + " behind";
    }
    std::string wait = min_position > 0 ? "read-your-writes @" + std::to_string(min_position) + ", " : "";
    out.details = {{"projection", s.projection}, {"query", s.query}, {"args", s.args}, {"min_position", min_position},
                   {"ms", secs * 1e3}};
    if (st) out.details["checkpoint"] = st->checkpoint, out.details["head"] = st->head;
    if (!r) {
      out.details["error"] = json::object{{"code", r.error().code}, {"message", r.error().message}};
      out.summary = where + " -> error " + r.error().code + ": " + r.error().message + " (" + wait + freshness + ")";
      if (!s.expect_error) fail(out, "query failed: " + r.error().code + ": " + r.error().message);
      else if (r.error().code != *s.expect_error)
        fail(out, "expected error " + *s.expect_error + ", got " + r.error().code + ": " + r.error().message);
      return;
    }
    out.details["result"] = *r;
    out.summary = where + " -> " + brief_json(*r, 100) + " (" + wait + freshness + ")";
    if (s.expect_error) return fail(out, "expected error " + *s.expect_error + ", got " + brief_json(*r, 80));
    if (s.expect)
      if (auto d = match_subset(*s.expect, *r); !d.empty()) return fail(out, d);
    if (s.equals)
      if (auto d = match_equal(*s.equals, *r); !d.empty()) return fail(out, d);
    for (const auto& p : s.that)
      if (auto d = check_predicate(p, *r); !d.empty()) return fail(out, d);
  }

  std::vector<std::string> projections_named(const std::string& p) {
    return p == "*" ? rt_->projection_names() : std::vector<std::string>{p};
  }

  void run(const Step&, const WaitStep& s, StepOutcome& out) {
    const auto names = projections_named(s.projection);
    const auto t = Clock::now();
    bool ok = wait_for(names, s.timeout, [&](const ProjectionStatus& st) {
      if (s.condition == "caught_up") return caught_up(st);
      if (s.condition == "running") return st.running;
      if (s.condition == "restarted") return st.restarts >= s.count;
      return st.parked >= s.count;  // parked
    });
    const double secs = since(t);
    std::vector<std::string> states;
    json::array details;
    for (const auto& n : names) {
      auto st = rt_->projection_status(n);
      if (!st) continue;
      states.push_back(n + " at " + std::to_string(st->checkpoint) + "/" + std::to_string(st->head) +
                       (st->restarts ? ", " + std::to_string(st->restarts) + " restarts" : "") +
                       (st->parked ? ", " + std::to_string(st->parked) + " parked" : ""));
      details.push_back(json::object{{"projection", n}, {"running", st->running}, {"checkpoint", st->checkpoint},
                                     {"head", st->head}, {"restarts", st->restarts}, {"parked", st->parked}});
    }
    std::string cond = s.condition == "restarted" || s.condition == "parked"
                         ? s.condition + " >= " + std::to_string(s.count)
                         : s.condition == "caught_up" ? std::string("caught up") : s.condition;
    out.summary = (s.projection == "*" ? "every projection" : s.projection) + " " + cond + " after " +
                  human_seconds(secs) + ": " + join(states, "; ");
    out.details = {{"condition", s.condition}, {"projections", std::move(details)}, {"seconds", secs}};
    if (!ok && !interrupted_in_step_)
      fail(out, "not " + cond + " within " + std::to_string(s.timeout.count()) + " ms: " + join(states, "; "));
  }

  void run(const Step&, const InjectStep& s, StepOutcome& out) {
    out.details = {{"fault", s.fault}};
    if (!s.projection.empty()) out.details["projection"] = s.projection;
    auto check = [&](std::optional<Error> e) {
      if (e) fail(out, e->code + ": " + e->message);
    };
    if (s.fault == "crash_projector") {
      auto before = rt_->projection_status(s.projection);
      const auto restarts = before ? before->restarts : 0;
      const auto t = Clock::now();
      rt_->crash_projection(s.projection);
      if (!s.wait) {
        out.summary = "crashed projector " + s.projection;
        return;
      }
      bool ok = wait_for({s.projection}, milliseconds(15000),
                         [&](const ProjectionStatus& st) { return st.restarts > restarts && caught_up(st); });
      const double secs = since(t);
      auto st = rt_->projection_status(s.projection);
      out.summary = "crashed projector " + s.projection + ": its supervisor restarted it";
      if (st) {
        out.summary += " (restart #" + std::to_string(st->restarts) + ", backoff " +
                       std::to_string(st->backoff.count()) + " ms) and it caught up to " +
                       std::to_string(st->checkpoint) + " in " + human_seconds(secs);
        out.details["restarts"] = st->restarts;
        out.details["checkpoint"] = st->checkpoint;
      }
      out.details["seconds"] = secs;
      if (!ok && !interrupted_in_step_) fail(out, "the projector was not restarted and caught up within 15 s");
    } else if (s.fault == "fail_projector") {
      EventMatch m;
      m.aggregate = s.match.aggregate;
      m.event_type = s.match.type;
      m.id = s.match.id;
      check(rt_->fail_projection_on(s.projection, m, s.times));
      std::string what = (s.match.aggregate.empty() ? std::string("any") : s.match.aggregate) + "/" +
                         (s.match.id.empty() ? std::string("*") : s.match.id) + " " +
                         (s.match.type.empty() ? std::string("event") : s.match.type);
      const int max_attempts = rt_->options().projections.max_attempts;
      out.summary = s.projection + " will fail " + std::to_string(s.times) + " time" + (s.times == 1 ? "" : "s") +
                    " on the next " + what + " (" +
                    (s.times >= max_attempts ? "max_attempts " + std::to_string(max_attempts) + ": it will be parked"
                                             : "below max_attempts " + std::to_string(max_attempts) + ": restarts, then applies") +
                    ")";
      out.details["times"] = s.times;
    } else if (s.fault == "delay_projector") {
      check(rt_->delay_projection(s.projection, s.delay));
      out.summary = s.delay.count() ? s.projection + " now applies each event " + std::to_string(s.delay.count()) + " ms late"
                                    : s.projection + " delay removed";
      out.details["delay_ms"] = s.delay.count();
    } else if (s.fault == "clear_faults") {
      check(rt_->clear_projection_faults(s.projection));
      out.summary = s.projection + ": faults cleared";
    } else if (s.fault == "restart_runtime") {
      auto t = Clock::now();
      const auto head = rt_->head_position();
      rt_.reset();
      const double stop_secs = since(t);
      t = Clock::now();
      start_runtime();
      const double start_secs = since(t);
      t = Clock::now();
      bool ok = wait_for(rt_->projection_names(), milliseconds(30000), caught_up);
      const double catch_up_secs = since(t);
      out.summary = "runtime stopped in " + human_seconds(stop_secs) + " and started again on " +
                    opts_.store->describe() + " in " + human_seconds(start_secs) + "; " + std::to_string(head) +
                    " events kept, projections caught up in " + human_seconds(catch_up_secs);
      out.details["head"] = head;
      out.details["stop_seconds"] = stop_secs;
      out.details["start_seconds"] = start_secs;
      out.details["catch_up_seconds"] = catch_up_secs;
      if (rt_->head_position() != head)
        fail(out, "the store had " + std::to_string(head) + " events before the restart and " +
                    std::to_string(rt_->head_position()) + " after");
      if (!ok && !interrupted_in_step_) fail(out, "projections did not catch up within 30 s after the restart");
    }
  }

  void run(const Step&, const ReconcileStep& s, StepOutcome& out) {
    auto r = rt_->reconcile_projection(s.projection, milliseconds(120000));
    if (!r) return fail(out, "reconcile failed: " + r.error().code + ": " + r.error().message);
    out.details = {{"projection", s.projection}, {"equal", r->equal}, {"position", r->position}};
    json::array diffs;
    for (const auto& d : r->differences) diffs.push_back(json::value(d));
    out.details["differences"] = std::move(diffs);
    out.summary = r->equal ? s.projection + ": a fresh copy built from the store equals the live one at position " +
                               std::to_string(r->position)
                           : s.projection + ": the fresh copy differs at position " + std::to_string(r->position) +
                               " in " + std::to_string(r->differences.size()) + " place(s): " + join(r->differences);
    if (r->equal != s.expect_equal)
      fail(out, s.expect_equal ? "expected equal copies" : "expected the copies to differ, but they are equal");
  }

  void run(const Step&, const RebuildStep& s, StepOutcome& out) {
    const auto t = Clock::now();
    if (auto e = rt_->rebuild_projection(s.projection)) return fail(out, "rebuild failed: " + e->code + ": " + e->message);
    const double secs = since(t);
    auto st = rt_->projection_status(s.projection);
    out.summary = s.projection + " rebuilt from the store in " + human_seconds(secs) +
                  (st ? " (checkpoint " + std::to_string(st->checkpoint) + ")" : "");
    out.details = {{"projection", s.projection}, {"seconds", secs}};
  }

  void run(const Step&, const DeadLettersStep& s, StepOutcome& out) {
    const auto letters = rt_->dead_letters(s.projection);
    std::vector<std::string> items;
    json::array arr;
    for (const auto& l : letters) {
      items.push_back("@" + std::to_string(l.position) + " " + l.stream.aggregate + "/" + l.stream.id + " " +
                      l.event_type + " (" + l.error + ")");
      arr.push_back(json::object{{"position", l.position}, {"stream", l.stream.aggregate + "/" + l.stream.id},
                                 {"event_type", l.event_type}, {"error", l.error}});
    }
    out.summary = s.projection + ": " + std::to_string(letters.size()) + " parked" + (items.empty() ? "" : ": " + join(items, "; "));
    out.details = {{"projection", s.projection}, {"parked", std::move(arr)}};
    if (s.count)
      if (auto want = s.count->check(static_cast<std::int64_t>(letters.size())); !want.empty())
        return fail(out, "expected " + want + " parked events, got " + std::to_string(letters.size()));
    if (!s.retry) return;
    int applied = 0, still_failing = 0;
    std::string last_error;
    for (const auto& l : letters) {
      if (auto e = rt_->retry_dead_letter(s.projection, l.position)) {
        ++still_failing;
        last_error = e->message;
      } else {
        ++applied;
      }
    }
    out.summary += "; retried: " + std::to_string(applied) + " applied, " + std::to_string(still_failing) + " still failing";
    out.details["applied"] = applied;
    out.details["still_failing"] = still_failing;
    if (s.expect_retry == "ok" && still_failing) fail(out, std::to_string(still_failing) + " still fail: " + last_error);
    if (s.expect_retry == "fails" && applied) fail(out, std::to_string(applied) + " applied, but the retry was expected to fail");
  }

  void run(const Step&, const InspectStep& s, StepOutcome& out) {
    auto r = rt_->inspect(s.aggregate, s.id);
    if (!r) return fail(out, r.error().code + ": " + r.error().message);
    out.summary = s.aggregate + "/" + s.id + " v" + std::to_string(r->version) + " " + brief_json(r->state, 100);
    out.details = {{"aggregate", s.aggregate}, {"id", s.id}, {"version", r->version}, {"state", r->state}};
    if (s.version && r->version != *s.version)
      return fail(out, "expected version " + std::to_string(*s.version) + ", got " + std::to_string(r->version));
    if (s.state)
      if (auto d = match_subset(*s.state, r->state); !d.empty()) fail(out, "state " + d);
  }

  void run(const Step&, const StreamStep& s, StepOutcome& out) {
    const auto events = rt_->read_stream(StreamId{s.aggregate, s.id});
    std::map<std::string, std::int64_t> types;
    std::int64_t prev_position = 0;
    std::string order_problem;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      ++types[e.type];
      if (order_problem.empty() && e.version != static_cast<std::int64_t>(i) + 1)
        order_problem = "event " + std::to_string(i + 1) + " has version " + std::to_string(e.version) + " (a gap)";
      if (order_problem.empty() && e.position <= prev_position)
        order_problem = "version " + std::to_string(e.version) + " has position " + std::to_string(e.position) +
                        ", not after " + std::to_string(prev_position);
      prev_position = e.position;
    }
    const auto n = static_cast<std::int64_t>(events.size());
    out.summary = s.aggregate + "/" + s.id + ": " + std::to_string(n) + " events, versions 1.." + std::to_string(n) +
                  (order_problem.empty() ? " without gaps, positions increasing" : "") + "; " + counts_text(types);
    out.details = {{"aggregate", s.aggregate}, {"id", s.id}, {"events", n}, {"types", counts_json(types)}};
    if (!order_problem.empty()) return fail(out, order_problem);
    if (s.version && n != *s.version)
      return fail(out, "expected version " + std::to_string(*s.version) + ", got " + std::to_string(n));
    for (const auto& kv : s.types) {
      std::string type(kv.key());
      const auto want = kv.value().to_number<std::int64_t>();
      const auto got = types.count(type) ? types[type] : 0;
      if (got != want)
        return fail(out, "expected " + std::to_string(want) + " '" + type + "' events, got " + std::to_string(got));
    }
  }

  void run(const Step&, const ReportStep&, StepOutcome& out) {  // the report follows the step line
    out.summary = "the numbers so far:";
  }

  void run(const Step&, const SleepStep& s, StepOutcome& out) {
    pause(s.duration);
    out.summary = std::to_string(s.duration.count()) + " ms";
  }
};

} // namespace

// Every aggregate, command and projection a step names must exist: checked
// on a scratch in-memory runtime, so a bad scenario never touches the store.
void validate_scenario(const Scenario& scenario, const DomainCatalog& catalog) {
  for (const auto& d : scenario.domains)
    if (!catalog.find(d))
      throw ScenarioError(scenario.file, 0, "", "unknown domain '" + d + "' (known: " + join(catalog.names()) + ")");
  auto scratch_options = scenario_runtime_options(scenario, memory_store());
  scratch_options.log.level = LogLevel::off;
  Runtime scratch(scratch_options);
  catalog.install(scratch, scenario.domains);
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
  for (const auto& step : scenario.steps) {
    std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, CommandStep>) check_aggregate(step, b.aggregate, {b.command});
        else if constexpr (std::is_same_v<T, LoadStep>) {
          std::vector<std::string> cmds;
          if (b.setup) cmds.push_back(b.setup->command);
          for (const auto& m : b.mix) cmds.push_back(m.command);
          check_aggregate(step, b.aggregate, cmds);
        } else if constexpr (std::is_same_v<T, InspectStep> || std::is_same_v<T, StreamStep>)
          check_aggregate(step, b.aggregate, {});
        else if constexpr (std::is_same_v<T, WaitStep>) {
          if (b.projection != "*") check_projection(step, b.projection);
        } else if constexpr (std::is_same_v<T, InjectStep>) {
          if (b.fault != "restart_runtime") check_projection(step, b.projection);
        } else if constexpr (std::is_same_v<T, QueryStep> || std::is_same_v<T, ReconcileStep> ||
                             std::is_same_v<T, RebuildStep> || std::is_same_v<T, DeadLettersStep>)
          check_projection(step, b.projection);
      },
      step.body);
  }
}

RunResult run_scenario(const Scenario& scenario, const DomainCatalog& catalog, const RunOptions& options,
                       RunObserver& observer) {
  if (!options.store) throw std::invalid_argument("run_scenario: no store");
  return Runner(scenario, catalog, options, observer).run();
}

} // namespace annals::scenarios
