// `annals run SCENARIO.json`: checks the scenario, runs it on a fresh store,
// prints the step log and the report (docs/scenarios.md).
#include "context.hpp"

#include "annals/persistence/memory_event_store.hpp"
#include "annals/persistence/postgres_event_store.hpp"
#include "annals/persistence/sqlite_event_store.hpp"
#include "annals/persistence/store_error.hpp"
#include "annals/persistence/store_lock.hpp"
#include "annals/persistence/store_url.hpp"
#include "annals/scenarios/scenario_parser.hpp"
#include "annals/scenarios/scenario_runner.hpp"
#include "annals/scenarios/step_log.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace annals::cli {

namespace {

namespace fs = std::filesystem;

struct RunArgs {
  std::string scenario;
  std::string store;
  bool memory = false;
  bool fresh = false;
  bool json = false;
  bool check_only = false;
  std::string colour = "auto";
  std::string metrics_out;
  std::optional<std::uint64_t> seed;
  std::string log_level = "info";
};

// Removes a store file and its WAL companions.
void remove_store_files(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
}

// A PostgreSQL database: initialised (annals' schema) when empty; a run
// needs it without events, and never deletes any (a shared store).
std::shared_ptr<EventStoreProvider> prepare_postgres_store(Context& ctx, const RunArgs& a, const std::string& url) {
  if (a.fresh) {
    ctx.fail(exit_usage, "--fresh does not empty a PostgreSQL store (annals never deletes a shared store's events); "
                         "give the run an empty database (CREATE DATABASE) instead");
    return nullptr;
  }
  PostgresStoreOptions o;
  o.url = url;
  auto provider = postgres_store(o);
  try {
    const std::int64_t events = provider->connect()->head_position();
    if (events > 0) {
      ctx.fail(exit_usage, describe_postgres_url(url) + " already holds " + scenarios::counted(events, "event")
                             + "; a scenario starts from an empty store: give it an empty database (CREATE DATABASE)");
      return nullptr;
    }
  } catch (const StoreError& e) {
    ctx.fail(exit_store, e.what());
    return nullptr;
  }
  return provider;
}

// Scenarios start from an empty store. Returns the provider, or fails with
// the reason. The default file is the scenario's own and recreated every run;
// a file named with --store is emptied only with --fresh. Nothing that is not
// an annals store is ever deleted.
std::shared_ptr<EventStoreProvider> prepare_store(Context& ctx, const RunArgs& a, const std::string& path,
                                                  bool is_default, StoreLock& owned) {
  if (store_kind(path) == StoreKind::postgres) return prepare_postgres_store(ctx, a, path);
  std::error_code ec;
  const bool existing = fs::exists(path, ec) && fs::file_size(path, ec) > 0;
  if (existing) {
    std::int64_t events = 0;
    try {
      SqliteStoreOptions o;
      o.path = path;
      o.read_only = true;
      events = sqlite_store(o)->connect()->head_position();
    } catch (const StoreError& e) {
      ctx.fail(exit_store, path + ": " + e.what() + " (not deleting it; choose another --store)");
      return nullptr;
    }
    if (events > 0 && !is_default && !a.fresh) {
      ctx.fail(exit_usage, path + " already holds " + scenarios::counted(events, "event") +
                             "; a scenario starts from an empty store: add --fresh to delete them, or "
                             "choose another --store");
      return nullptr;
    }
  }
  // Nothing is deleted, or written, while another process has the store
  // open: the run holds its ownership lock exclusive until it ends.
  try {
    owned = StoreLock::acquire(path, StoreLockMode::exclusive,
                               "not deleting it; stop that process first, or choose another --store");
  } catch (const StoreError& e) {
    ctx.fail(exit_store, e.what());
    return nullptr;
  }
  if (existing) remove_store_files(path);
  SqliteStoreOptions o;
  o.path = path;
  return sqlite_store(o);
}

// Why `path` cannot take the metrics, or "" if it can: checked before the
// run, so a bad --metrics-out fails at once, not after PASSED. Nothing is
// created or truncated here.
std::string unwritable(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return "it is a directory";
  if (fs::exists(path, ec)) {
    std::ofstream probe(path, std::ios::app);  // opened, not changed
    return probe ? "" : "no permission to write it";
  }
  const fs::path parent = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::exists(parent, ec)) return "there is no directory '" + parent.string() + "'";
  if (!fs::is_directory(parent, ec)) return "'" + parent.string() + "' is not a directory";
  if (::access(parent.c_str(), W_OK | X_OK) != 0) return "no permission to create files in '" + parent.string() + "'";
  return {};
}

bool colour_wanted(const Context& ctx, const RunArgs& a) {
  if (a.colour == "always") return true;
  if (a.colour == "never" || a.json) return false;
  const char* no_colour = std::getenv("NO_COLOR");
  return &ctx.out == &std::cout && ::isatty(STDOUT_FILENO) && !(no_colour && *no_colour);
}

int run(Context& ctx, const RunArgs& a) {
  scenarios::Scenario sc;
  try {
    sc = scenarios::load_scenario(a.scenario);
  } catch (const scenarios::ScenarioError& e) {
    return ctx.fail(exit_usage, e.what());
  }
  const bool is_default = a.store.empty();
  const std::string path = is_default ? scenario_store_file(sc.name) : a.store;

  scenarios::RunOptions opts;
  opts.interrupted = ctx.interrupted;
  opts.seed = a.seed;
  opts.runtime_log_level = log_level_from_string(a.log_level).value_or(LogLevel::info);

  StoreLock owned;  // held until run_scenario has stopped its runtime
  std::unique_ptr<scenarios::RunObserver> log;
  if (a.json) log = std::make_unique<scenarios::JsonStepLog>(ctx.out);
  else {
    const bool colour = colour_wanted(ctx, a);
    log = std::make_unique<scenarios::TextStepLog>(ctx.out, scenarios::TextLogOptions{colour, colour});
  }
  try {
    if (a.check_only) {
      // Parsed (above); now the names, against the domains on an in-memory store: nothing is written.
      scenarios::validate_scenario(sc, ctx.catalog);
      ctx.out << a.scenario << ": ok (" << scenarios::counted(sc.steps.size(), "step") << ", domains";
      for (const auto& d : sc.domains) ctx.out << " " << d;
      ctx.out << ")\n";
      return exit_ok;
    }
    if (!a.metrics_out.empty())
      if (const auto why = unwritable(a.metrics_out); !why.empty())
        return ctx.fail(exit_usage, "cannot write the metrics to " + a.metrics_out + ": " + why +
                                      "; choose another --metrics-out (nothing was run)");
    if (sc.cluster) {
      // It starts its own PostgreSQL and nodes: no store to choose.
      if (!is_default || a.memory || a.fresh)
        return ctx.fail(exit_usage, sc.file + " is a cluster scenario: it starts its own PostgreSQL and nodes, so "
                                               "--store, --memory and --fresh do not apply; leave them out");
    } else {
      opts.store = a.memory ? memory_store() : prepare_store(ctx, a, path, is_default, owned);
      if (!opts.store) return ctx.exit_code;
    }
    auto result = scenarios::run_scenario(sc, ctx.catalog, opts, *log);
    if (!a.metrics_out.empty()) {
      std::ofstream m(a.metrics_out, std::ios::trunc);
      m << result.metrics_text;
      if (!m) return ctx.fail(exit_failed, "cannot write the metrics to " + a.metrics_out);
    }
    if (result.interrupted) return ctx.fail(exit_interrupted, "interrupted: the run stopped after step " +
                                                                 std::to_string(result.steps_run));
    if (!result.passed && result.failed_step)
      return ctx.fail(exit_failed, sc.file + ": step " + std::to_string(result.failed_step->number) + " (" +
                                     result.failed_step->kind + ") failed: " + result.failed_step->failure);
    if (sc.cluster && !a.json) {
      ctx.out << "\nThe nodes' configs and logs are in annals-" << sc.name << ".cluster/ (n1.log, ...).\n";
    } else if (!a.memory && !a.json) {
      // Without --store the tools find the one store of the working directory.
      const auto here = stores_in_working_directory(embedded_store_file);
      const bool found = is_default && here.size() == 1 && here.front() == path;
      const std::string store = found ? "" : " --store " + path;
      ctx.out << "\nThe events are in " << path << ": try `annals events" << store << " --text` or `annals streams"
              << store << " --text`" << (found ? " (the only store here: the tools find it)" : "") << ".\n";
    }
    ctx.exit_code = exit_ok;
    return exit_ok;
  } catch (const scenarios::ScenarioError& e) {
    return ctx.fail(exit_usage, e.what());
  } catch (const scenarios::ClusterError& e) {
    using Kind = scenarios::ClusterError::Kind;
    if (e.kind() == Kind::interrupted) return ctx.fail(exit_interrupted, "interrupted while the cluster started");
    const bool setup = e.kind() == Kind::postgres_missing || e.kind() == Kind::postgres_failed ||
                       e.kind() == Kind::certificates_failed || e.kind() == Kind::directory;
    return ctx.fail(setup ? exit_store : exit_failed, sc.file + ": the cluster cannot start: " + e.what());
  } catch (const StoreError& e) {
    const std::string store = a.memory ? "memory" : store_kind(path) == StoreKind::postgres ? describe_postgres_url(path) : path;
    return ctx.fail(exit_store, "store " + store + ": " + e.what());
  }
}

} // namespace

void add_run_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<RunArgs>();
  auto* sub = app.add_subcommand("run", "Run a scenario file: commands, loads, queries, injected faults, checks; "
                                        "prints a step log and a report (docs/scenarios.md)");
  sub->add_option("scenario", a->scenario, "the scenario, e.g. examples/scenarios/bank-demo.json")->required();
  sub->add_option("--store", a->store,
                  "SQLite store file or postgresql://user@host:port/database, an empty one (default: "
                  "annals-<scenario name>.db in the working directory, recreated for every run)");
  sub->add_flag("--memory", a->memory, "use an in-memory store (nothing is kept)")->excludes("--store");
  sub->add_flag("--fresh", a->fresh, "delete the events already in --store first (only an annals store is deleted)");
  sub->add_flag("--json", a->json, "one JSON object per line instead of the readable log");
  sub->add_option("--color", a->colour, "colour the log: auto (a terminal, NO_COLOR unset), always, never")
    ->check(CLI::IsMember({"auto", "always", "never"}))
    ->capture_default_str();
  sub->add_option("--metrics-out", a->metrics_out, "write the metrics in Prometheus' text format to this file");
  sub->add_option("--seed", a->seed, "replace the seed of every load step");
  sub->add_option("--log-level", a->log_level, "runtime log records shown in the log: debug, info, warn, error, off")
    ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))
    ->capture_default_str();
  sub->add_flag("--check", a->check_only, "only check the scenario (JSON, steps, names); run nothing");
  sub->callback([&ctx, a] { ctx.exit_code = run(ctx, *a); });
}

} // namespace annals::cli
