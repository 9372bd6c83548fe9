// `annals projections`, `annals dead-letters list|retry`, `annals rebuild`,
// `annals reconcile`: the read side of a store. Read models live in memory,
// so each of these (except dead-letters list) starts a runtime of its own on
// the store with the selected domains and lets its projections catch up.
#include "store_tools.hpp"

#include "annals/persistence/store_error.hpp"
#include "annals/scenarios/run_report.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

namespace annals::cli {

namespace {

using tools::Access;
using tools::ToolError;
using tools::WaitResult;
using Seconds = std::chrono::duration<double>;

std::string seconds_text(double s) {
  std::ostringstream o;
  o << s;
  return o.str();
}

json::value error_json(const std::optional<Error>& e) {
  if (!e) return nullptr;
  return json::object{{"code", e->code}, {"message", e->message}};
}

json::value optional_json(const std::optional<std::int64_t>& v) {
  if (!v) return nullptr;
  return *v;
}

std::optional<std::int64_t> position_of(const std::optional<ProjectionSnapshot>& snap) {
  if (!snap) return std::nullopt;
  return snap->position;
}

std::optional<std::int64_t> snapshot_position(ProjectionStateStore& store, const std::string& projection) {
  auto snap = store.load_projection_snapshot(projection);
  if (!snap) return std::nullopt;
  return snap->position;
}

// Waits for the projections to apply what the store held at `target`; a
// ToolError (exit 1, or 130 when interrupted) if they do not.
void catch_up(Context& ctx, Runtime& rt, const std::vector<std::string>& names, std::int64_t target,
              double timeout_s) {
  switch (tools::wait_caught_up(ctx, rt, names, target, Seconds(timeout_s))) {
    case WaitResult::caught_up: return;
    case WaitResult::interrupted: throw ToolError(exit_interrupted, "interrupted");
    case WaitResult::timed_out:
      throw ToolError(exit_failed, "not caught up after " + seconds_text(timeout_s) + " s: "
                                     + tools::lagging(rt, names, target));
  }
}

// --- projections -----------------------------------------------------------

struct ProjectionsArgs {
  StoreSelection store;
  std::vector<std::string> names;
  double timeout = 30;
  bool text = false;
  std::string log_level;
};

int run_projections(Context& ctx, const ProjectionsArgs& a) {
  auto rt = tools::start_runtime(ctx, a.store, Access::read_only, a.log_level);
  std::vector<std::string> names = a.names;
  for (const auto& n : names) tools::require_projection(ctx, a.store, *rt, n);
  if (names.empty()) names = rt->projection_names();
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  const std::int64_t target = rt->head_position();
  const auto waited = tools::wait_caught_up(ctx, *rt, names, target, Seconds(a.timeout));
  const std::string behind = waited == WaitResult::caught_up ? "" : tools::lagging(*rt, names, target);

  auto store = rt->options().store->connect();
  tools::Table table({"PROJECTION", "RUNNING", "CHECKPOINT", "HEAD", "BACKLOG", "RESTARTS", "PARKED", "SNAPSHOT",
                      "LAST ERROR"},
                     "llrrrrrrl");
  for (const auto& n : names) {
    auto st = rt->projection_status(n);
    if (!st) throw ToolError(exit_failed, "projection '" + n + "': " + st.error().message);
    const auto snap = snapshot_position(*store, n);
    if (a.text) {
      table.add({n, st->running ? "yes" : "no", std::to_string(st->checkpoint), std::to_string(st->head),
                 std::to_string(st->backlog), std::to_string(st->restarts), std::to_string(st->parked),
                 snap ? std::to_string(*snap) : "-", st->last_error.value_or("-")});
    } else {
      tools::print_json_line(ctx.out, json::object{{"projection", n},
                                                   {"running", st->running},
                                                   {"checkpoint", st->checkpoint},
                                                   {"head", st->head},
                                                   {"backlog", st->backlog},
                                                   {"restarts", st->restarts},
                                                   {"parked", st->parked},
                                                   {"snapshot_position", optional_json(snap)},
                                                   {"last_error", st->last_error ? json::value(*st->last_error)
                                                                                 : json::value(nullptr)}});
    }
  }
  if (a.text) {
    if (names.empty()) ctx.out << "no projections in the selected domains\n";
    table.print(ctx.out);
  }
  ctx.out.flush();
  rt.reset();
  if (waited == WaitResult::interrupted) return ctx.fail(exit_interrupted, "interrupted");
  if (waited == WaitResult::timed_out)
    return ctx.fail(exit_failed, "not caught up after " + seconds_text(a.timeout) + " s: " + behind);
  return exit_ok;
}

// --- dead-letters ----------------------------------------------------------

json::object dead_letter_json(const DeadLetter& d) {
  return json::object{{"projection", d.projection},
                      {"position", d.position},
                      {"aggregate", d.stream.aggregate},
                      {"id", d.stream.id},
                      {"event_type", d.event_type},
                      {"attempts", d.attempts},
                      {"error", d.error},
                      {"parked_at", format_timestamp(d.parked_at_us)}};
}

struct ListArgs {
  StoreSelection store;
  std::string projection;
  bool text = false;
};

int run_list(Context& ctx, const ListArgs& a) {
  auto store = tools::open_store(ctx, a.store, Access::read_only)->connect();
  const auto letters = store->dead_letters(a.projection);
  if (letters.empty() && !a.projection.empty()) {
    // Nothing parked: fine for a projection of the store's domains, a mistake otherwise.
    tools::require_projection(ctx, a.store, *store, tools::tool_projections(ctx, a.store, *store), a.projection);
  }
  tools::Table table({"PROJECTION", "POSITION", "STREAM", "EVENT", "ATTEMPTS", "PARKED AT", "ERROR"}, "lrllrll");
  for (const auto& d : letters) {
    if (a.text)
      table.add({d.projection, std::to_string(d.position), d.stream.to_string(), d.event_type,
                 std::to_string(d.attempts), tools::short_time(d.parked_at_us), d.error});
    else
      tools::print_json_line(ctx.out, dead_letter_json(d));
  }
  if (a.text) {
    if (letters.empty())
      ctx.out << (a.projection.empty() ? std::string("no parked events")
                                       : "no parked events for projection '" + a.projection + "'")
              << '\n';
    table.print(ctx.out);
  }
  ctx.out.flush();
  return exit_ok;
}

struct RetryArgs {
  StoreSelection store;
  std::string projection;
  std::int64_t position = 0;
  bool all = false;
  double timeout = 30;
  bool json_out = false;
  std::string log_level;
  CLI::Option* position_opt = nullptr;
};

int run_retry(Context& ctx, const RetryArgs& a) {
  if (!a.all && a.position_opt->count() == 0)
    throw ToolError(exit_usage, "dead-letters retry needs --position N or --all");
  // A service on the same store keeps its own list of parked events and its
  // own read model: its snapshots would drop the retried event again.
  const StoreLock owned = tools::own_store(ctx, a.store);
  auto rt = tools::start_runtime(ctx, a.store, Access::read_write, a.log_level);
  tools::require_projection(ctx, a.store, *rt, a.projection);
  const auto parked = rt->dead_letters(a.projection);
  std::vector<std::int64_t> positions;
  if (a.all) {
    for (const auto& d : parked) positions.push_back(d.position);
  } else {
    const bool found = std::any_of(parked.begin(), parked.end(),
                                   [&](const DeadLetter& d) { return d.position == a.position; });
    if (!found)
      throw ToolError(exit_usage, "event " + std::to_string(a.position) + " is not parked for projection '"
                                    + a.projection + "'");
    positions.push_back(a.position);
  }
  if (positions.empty()) {
    if (a.json_out) tools::print_json_line(ctx.out, json::object{{"projection", a.projection}, {"retried", 0}});
    else ctx.out << "no parked events for projection '" << a.projection << "'\n";
    ctx.out.flush();
    return exit_ok;
  }
  // Retry on a model that has everything before the parked events applied.
  catch_up(ctx, *rt, {a.projection}, rt->head_position(), a.timeout);

  int still_failing = 0;
  for (auto position : positions) {
    if (ctx.stop_requested()) {
      ctx.out.flush();
      throw ToolError(exit_interrupted, "interrupted");
    }
    const auto error = rt->retry_dead_letter(a.projection, position);
    // The projection's code failing again is the projection's problem; the
    // store failing (read-only, full, locked) is not, and ends the retries.
    const bool store_failed = error && (error->code == errc::store_unavailable || error->code == errc::outcome_unknown);
    if (error && !store_failed) ++still_failing;
    if (a.json_out) {
      tools::print_json_line(ctx.out, json::object{{"projection", a.projection},
                                                   {"position", position},
                                                   {"applied", !error},
                                                   {"error", error_json(error)}});
    } else if (store_failed) {
      ctx.out << a.projection << " @" << position << ": stays parked, the store failed: " << one_line(error->message)
              << '\n';
    } else if (error) {
      ctx.out << a.projection << " @" << position << ": still fails, stays parked: " << one_line(error->message)
              << '\n';
    } else {
      ctx.out << a.projection << " @" << position << ": applied, removed from the dead letters\n";
    }
    if (store_failed) {
      ctx.out.flush();
      throw ToolError(exit_store, "the store failed while retrying event " + std::to_string(position) + " of '"
                                    + a.projection + "': " + error->message);
    }
  }
  ctx.out.flush();
  rt.reset();  // a retried event's projection snapshot is refreshed by the runtime before the retry returns
  if (still_failing > 0)
    return ctx.fail(exit_failed, std::to_string(still_failing) + " of " + scenarios::counted(positions.size(), "parked event") + " of '"
                                   + a.projection + (still_failing == 1 ? "' still fails" : "' still fail"));
  return exit_ok;
}

// --- rebuild ---------------------------------------------------------------

struct RebuildArgs {
  StoreSelection store;
  std::string projection;
  double timeout = 600;
  bool json_out = false;
  std::string log_level;
};

// Events of the store up to `checkpoint`, not counting what is parked for the projection.
std::int64_t events_up_to(EventLog& store, std::int64_t checkpoint) {
  std::int64_t n = store.event_count();
  for (std::int64_t from = checkpoint + 1;;) {
    const auto later = store.read_all(from, 1000);
    n -= static_cast<std::int64_t>(later.size());
    if (later.size() < 1000) break;
    from = later.back().position + 1;
  }
  return n;
}

int run_rebuild(Context& ctx, const RebuildArgs& a) {
  // The rebuilt snapshot would race with a running service's own snapshots.
  const StoreLock owned = tools::own_store(ctx, a.store);
  auto rt = tools::start_runtime(ctx, a.store, Access::read_write, a.log_level);
  tools::require_projection(ctx, a.store, *rt, a.projection);
  const auto type = rt->projection_status(a.projection);
  if (!type) throw ToolError(exit_failed, "projection '" + a.projection + "': " + type.error().message);
  const bool keeps_snapshots = type->snapshot_every > 0;
  // Refused before the work: the snapshot is what this tool leaves behind.
  if (const std::string why = tools::unwritable(a.store); keeps_snapshots && !why.empty())
    throw ToolError(exit_store, "cannot store the snapshot of " + a.projection + ": database '" + a.store.path
                                  + "' is read-only (" + why + ")");
  auto store = rt->options().store->connect();
  // Let the live copy catch up first: from then on it saves no snapshot, so
  // a snapshot taken after `called` is the rebuilt copy's.
  catch_up(ctx, *rt, {a.projection}, rt->head_position(), a.timeout);
  const bool had_snapshot = store->load_projection_snapshot(a.projection).has_value();

  const std::int64_t called = now_us();
  const auto t0 = std::chrono::steady_clock::now();
  const auto error = rt->rebuild_projection(
    a.projection, std::chrono::duration_cast<std::chrono::milliseconds>(Seconds(a.timeout)));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (error) throw ToolError(exit_failed, "rebuild of '" + a.projection + "' failed: " + error->message);

  auto st = rt->projection_status(a.projection);
  if (!st) throw ToolError(exit_failed, "projection '" + a.projection + "': " + st.error().message);
  std::int64_t skipped = 0;
  for (const auto& d : store->dead_letters(a.projection))
    if (d.position <= st->checkpoint) ++skipped;
  const std::int64_t replayed = events_up_to(*store, st->checkpoint) - skipped;

  // The rebuilt copy saves its snapshot through the journal just after the
  // swap (if the projection keeps snapshots): wait for it before stopping.
  auto saved = [&](const std::optional<ProjectionSnapshot>& s) {
    return s && s->taken_at_us >= called && s->position >= st->checkpoint;
  };
  auto snap = store->load_projection_snapshot(a.projection);
  const auto until = std::chrono::steady_clock::now()
                     + (had_snapshot || keeps_snapshots ? std::chrono::milliseconds(5000)
                                                        : std::chrono::milliseconds(500));
  while (!saved(snap) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    snap = store->load_projection_snapshot(a.projection);
  }
  rt.reset();

  if (a.json_out) {
    tools::print_json_line(ctx.out, json::object{{"projection", a.projection},
                                                 {"events_replayed", replayed},
                                                 {"parked_skipped", skipped},
                                                 {"checkpoint", st->checkpoint},
                                                 {"duration_ms", ms},
                                                 {"snapshot_position", optional_json(position_of(snap))},
                                                 {"snapshot_saved", saved(snap)}});
  } else {
    ctx.out << "rebuilt " << a.projection << ": replayed " << replayed << " events";
    if (skipped) ctx.out << " (" << skipped << " parked skipped)";
    ctx.out << ", checkpoint " << st->checkpoint << ", " << ms << " ms; ";
    if (saved(snap)) ctx.out << "snapshot saved at position " << snap->position << '\n';
    else if (snap) ctx.out << "stored snapshot unchanged (position " << snap->position << ")\n";
    else if (keeps_snapshots) ctx.out << "no snapshot stored\n";
    else ctx.out << "no snapshot stored (the projection keeps none)\n";
  }
  ctx.out.flush();
  return exit_ok;
}

// --- reconcile -------------------------------------------------------------

// "1 parked event at position 5", "2 parked events at positions 5, 9" (at most 20 listed).
std::string parked_events(const std::vector<std::int64_t>& positions) {
  if (positions.empty()) return {};
  std::vector<std::string> texts;
  for (auto p : positions) texts.push_back(std::to_string(p));
  const bool one = positions.size() == 1;
  return std::to_string(positions.size()) + (one ? " parked event at position " : " parked events at positions ")
         + tools::name_list(texts);
}

struct ReconcileArgs {
  StoreSelection store;
  std::string projection;
  double timeout = 600;
  bool json_out = false;
  std::string log_level;
};

int run_reconcile(Context& ctx, const ReconcileArgs& a) {
  auto rt = tools::start_runtime(ctx, a.store, Access::read_only, a.log_level);
  tools::require_projection(ctx, a.store, *rt, a.projection);
  catch_up(ctx, *rt, {a.projection}, rt->head_position(), a.timeout);
  auto r = rt->reconcile_projection(a.projection,
                                    std::chrono::duration_cast<std::chrono::milliseconds>(Seconds(a.timeout)));
  rt.reset();
  if (!r) throw ToolError(exit_failed, "reconcile of '" + a.projection + "' failed: " + r.error().message);
  const std::string parked = parked_events(r->parked);
  if (a.json_out) {
    json::array paths;
    for (const auto& d : r->differences) paths.push_back(json::value(d));
    json::array positions;
    for (auto p : r->parked) positions.push_back(p);
    tools::print_json_line(ctx.out, json::object{{"projection", a.projection},
                                                 {"equal", r->equal},
                                                 {"position", r->position},
                                                 {"differences", std::move(paths)},
                                                 {"parked", std::move(positions)}});
  } else if (r->equal) {
    ctx.out << a.projection << ": equal at position " << r->position << (parked.empty() ? "" : " except " + parked)
            << '\n';
  } else {
    ctx.out << a.projection << ": differs at position " << r->position << " in "
            << scenarios::counted(r->differences.size(), "path") << ":\n";
    for (const auto& d : r->differences) ctx.out << "  " << d << '\n';
    if (!parked.empty()) ctx.out << "  (and both copies skip " << parked << ")\n";
  }
  ctx.out.flush();
  if (!r->equal)
    return ctx.fail(exit_failed, "projection '" + a.projection + "' differs from a fresh copy built from the store");
  // Both copies skip what is parked: equal, yet not everything is in them.
  if (!r->parked.empty())
    return ctx.fail(exit_parked, "projection '" + a.projection + "' equals a fresh copy only without its " + parked
                                   + ": fix the projection, then `annals dead-letters retry --projection "
                                   + a.projection + " --all`");
  return exit_ok;
}

} // namespace

void add_projection_tools(CLI::App& app, Context& ctx) {
  // Shared wording.
  const std::string in_memory =
    "Read models live in memory: this starts a runtime of its own on the store,\n"
    "with the domains that use the store (or --domain), and lets its projections\n"
    "catch up from the stored events. It does not see a running service's read\n"
    "models.";

  {
    auto a = std::make_shared<ProjectionsArgs>();
    auto* sub = app.add_subcommand("projections", "Status of each projection after catching up with the store");
    add_store_options(*sub, a->store, "annals.db");
    sub->add_option("name", a->names, "projections to show (default: every one of the domains that use the store)")
      ->type_name("NAME");
    sub->add_option("--timeout", a->timeout, "seconds to wait for the projections to catch up")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS")
      ->capture_default_str();
    sub->add_flag("--text", a->text, "an aligned table instead of JSON lines");
    tools::add_log_level_option(*sub, a->log_level);
    sub->footer(in_memory + "\n"
      "The store is opened read-only: nothing is parked or snapshotted by this\n"
      "tool. One JSON line per projection: {\"projection\",\"running\",\"checkpoint\",\n"
      "\"head\",\"backlog\",\"restarts\",\"parked\",\"snapshot_position\",\"last_error\"};\n"
      "snapshot_position is the checkpoint of its stored read-model snapshot\n"
      "(null: none). Exit 1 when a projection has not caught up in --timeout.");
    sub->callback([&ctx, a] { tools::run_tool(ctx, [&] { return run_projections(ctx, *a); }); });
  }
  {
    auto* dl = app.add_subcommand("dead-letters", "List or retry events that projections parked");
    dl->require_subcommand(1);
    {
      auto a = std::make_shared<ListArgs>();
      auto* sub = dl->add_subcommand("list", "List parked events (JSON lines, or --text)");
      add_store_options(*sub, a->store, "annals.db");
      sub->add_option("--projection", a->projection, "only the events parked for this projection")->type_name("NAME");
      sub->add_flag("--text", a->text, "an aligned table instead of JSON lines");
      sub->footer(
        "Reads the store's dead letters directly (read-only, no runtime). One JSON\n"
        "line per parked event: {\"projection\",\"position\",\"aggregate\",\"id\",\n"
        "\"event_type\",\"attempts\",\"error\",\"parked_at\"}.");
      sub->callback([&ctx, a] { tools::run_tool(ctx, [&] { return run_list(ctx, *a); }); });
    }
    {
      auto a = std::make_shared<RetryArgs>();
      auto* sub = dl->add_subcommand("retry", "Apply parked events again (after a fix) and unpark those that work");
      add_store_options(*sub, a->store, "annals.db");
      sub->add_option("--projection", a->projection, "the projection whose parked events to retry")
        ->required()
        ->type_name("NAME");
      auto* pos = sub->add_option("--position", a->position, "the parked event's global position")
                    ->check(tools::at_least(1))
                    ->type_name("POS");
      auto* all = sub->add_flag("--all", a->all, "every event parked for the projection");
      pos->excludes(all);
      a->position_opt = pos;
      sub->add_option("--timeout", a->timeout, "seconds to wait for the projection to catch up first")
        ->check(CLI::PositiveNumber)
        ->type_name("SECONDS")
        ->capture_default_str();
      sub->add_flag("--json", a->json_out, "one JSON line per event instead of a sentence");
      tools::add_log_level_option(*sub, a->log_level);
      sub->footer(in_memory + "\n"
        "Once caught up, each parked event is applied again with the projection\n"
        "code of this build; one that applies is removed from the store's dead\n"
        "letters, one that fails stays parked (exit 1). The store must not be open\n"
        "for writing in another process (exit 3, naming it): stop the service\n"
        "first, or retry through it (Runtime::retry_dead_letter).");
      sub->callback([&ctx, a] { tools::run_tool(ctx, [&] { return run_retry(ctx, *a); }); });
    }
  }
  {
    auto a = std::make_shared<RebuildArgs>();
    auto* sub = app.add_subcommand("rebuild", "Rebuild a projection from position 0 and refresh its stored snapshot");
    add_store_options(*sub, a->store, "annals.db");
    sub->add_option("projection", a->projection, "the projection to rebuild")->required()->type_name("PROJECTION");
    sub->add_option("--timeout", a->timeout, "seconds the catch-up, and then the rebuild, may take")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS")
      ->capture_default_str();
    sub->add_flag("--json", a->json_out, "a JSON line instead of a sentence");
    tools::add_log_level_option(*sub, a->log_level);
    sub->footer(in_memory + "\n"
      "So a rebuild here verifies that the projection can be rebuilt from the\n"
      "store (every event replayed from position 0, parked ones skipped) and, if\n"
      "the projection keeps snapshots, replaces its stored snapshot with the\n"
      "rebuilt model: a service started afterwards loads that one. To rebuild a\n"
      "running service's read model, call Runtime::rebuild_projection there.\n"
      "Opens the store for writing (the snapshot); like any runtime, it parks an\n"
      "event that keeps failing. Refused (exit 3) while another process has the\n"
      "store open for writing.");
    sub->callback([&ctx, a] { tools::run_tool(ctx, [&] { return run_rebuild(ctx, *a); }); });
  }
  {
    auto a = std::make_shared<ReconcileArgs>();
    auto* sub = app.add_subcommand("reconcile", "Compare a projection with a fresh copy built from the store");
    add_store_options(*sub, a->store, "annals.db");
    sub->add_option("projection", a->projection, "the projection to reconcile")->required()->type_name("PROJECTION");
    sub->add_option("--timeout", a->timeout, "seconds the catch-up and the fresh copy may take")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS")
      ->capture_default_str();
    sub->add_flag("--json", a->json_out, "a JSON line instead of text");
    tools::add_log_level_option(*sub, a->log_level);
    sub->footer(in_memory + "\n"
      "The live copy starts from its stored snapshot (if any) and catches up; a\n"
      "fresh copy is built from position 0 to the same checkpoint; their JSON\n"
      "read models are compared. Prints \"equal at position N\" or the JSON paths\n"
      "that differ (exit 1). Both copies skip the projection's parked events:\n"
      "equal copies then print \"equal at position N except K parked event(s)\n"
      "at position(s) ...\" (exit 4). A stored snapshot that no longer matches\n"
      "the events shows up here; `annals rebuild` replaces it. Opens the store\n"
      "read-only.");
    sub->callback([&ctx, a] { tools::run_tool(ctx, [&] { return run_reconcile(ctx, *a); }); });
  }
}

} // namespace annals::cli
