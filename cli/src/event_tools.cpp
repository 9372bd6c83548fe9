// `annals events` and `annals streams`: the stored log, read straight from
// the store over a read-only connection (no runtime, no upcasting).
#include "store_tools.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>

namespace annals::cli {

namespace {

using tools::Access;
using tools::ToolError;

constexpr std::size_t batch_size = 1000;


StreamId parse_stream(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size())
    throw ToolError(exit_usage, "--stream expects AGGREGATE/ID (e.g. account/acc-1), got '" + text + "'");
  return StreamId{text.substr(0, slash), text.substr(slash + 1)};
}

// --- filter checks: a filter must name something of the store, or a typo
// would print nothing, as if there were nothing of it.

// "no event type 'depositd' in this store (its event types: deposited, ...); did you mean 'deposited'?"
std::string not_in_store(const std::string& what, const std::string& name, const std::set<std::string>& in_store,
                         const std::string& plural, const std::set<std::string>& candidates) {
  std::string m = "no " + what + " '" + name + "' in this store ("
                  + (in_store.empty() ? std::string("it has no events")
                                      : "its " + plural + ": "
                                          + tools::name_list(std::vector<std::string>(in_store.begin(), in_store.end())))
                  + ")";
  if (auto c = tools::closest(name, candidates)) m += "; did you mean '" + *c + "'?";
  return m;
}

// What the domains of the store declare (aggregate types, or their event
// types): names of the store even before it has events of them.
std::set<std::string> declared(const Context& ctx, const StoreSelection& sel, EventStore& store,
                               std::set<std::string> tools::DomainContents::*names) {
  const auto domains = tools::tool_domains(ctx, sel, store);
  std::set<std::string> out;
  for (const auto& d : tools::catalog_contents(ctx))
    if (std::find(domains.begin(), domains.end(), d.name) != domains.end()) out.insert((d.*names).begin(), (d.*names).end());
  return out;
}

void require_aggregate(const Context& ctx, const StoreSelection& sel, EventStore& store, const std::string& aggregate) {
  std::set<std::string> in_store = tools::store_use(store, sel).aggregates;
  for (auto& a : store.aggregate_types()) in_store.insert(std::move(a));
  if (in_store.count(aggregate)) return;
  auto known = declared(ctx, sel, store, &tools::DomainContents::aggregates);
  if (known.count(aggregate)) return;  // no events of it yet
  known.insert(in_store.begin(), in_store.end());
  throw ToolError(exit_usage, not_in_store("aggregate type", aggregate, in_store, "aggregate types", known));
}

void require_stream(const Context& ctx, const StoreSelection& sel, EventStore& store, const StreamId& stream) {
  require_aggregate(ctx, sel, store, stream.aggregate);
  if (store.stream_version(stream) > 0) return;
  throw ToolError(exit_usage, "no stream '" + stream.to_string() + "' in this store (`annals streams --aggregate "
                                + stream.aggregate + "` lists its streams)");
}

void require_event_types(const Context& ctx, const StoreSelection& sel, EventStore& store,
                         const std::set<std::string>& types) {
  if (types.empty()) return;
  const auto stored = store.event_types();
  const std::set<std::string> in_store(stored.begin(), stored.end());
  std::optional<std::set<std::string>> known;
  for (const auto& t : types) {
    if (in_store.count(t)) continue;
    if (!known) known = declared(ctx, sel, store, &tools::DomainContents::event_types);
    if (known->count(t)) continue;  // no events of it yet
    auto candidates = *known;
    candidates.insert(in_store.begin(), in_store.end());
    throw ToolError(exit_usage, not_in_store("event type", t, in_store, "event types", candidates));
  }
}

struct EventsArgs {
  StoreSelection store;
  std::string stream;
  std::string aggregate;
  std::vector<std::string> types;
  std::int64_t from = 1;
  std::int64_t to = 0;
  std::int64_t limit = 0;
  bool text = false;
  bool follow = false;
  std::int64_t poll_ms = 200;
  CLI::Option* stream_opt = nullptr;
  CLI::Option* to_opt = nullptr;
  CLI::Option* limit_opt = nullptr;
};

int run_events(Context& ctx, const EventsArgs& a) {
  std::optional<StreamId> stream;
  if (a.stream_opt->count() > 0) stream = parse_stream(a.stream);
  const bool has_to = a.to_opt->count() > 0;
  const bool has_limit = a.limit_opt->count() > 0;
  if (has_to && a.to < a.from)
    throw ToolError(exit_usage, "--to " + std::to_string(a.to) + " is before --from " + std::to_string(a.from));
  const std::set<std::string> types(a.types.begin(), a.types.end());

  auto store = tools::open_store(ctx, a.store, Access::read_only)->connect();
  // --follow waits for a stream to appear: only its aggregate type must be known.
  if (stream && a.follow) require_aggregate(ctx, a.store, *store, stream->aggregate);
  else if (stream) require_stream(ctx, a.store, *store, *stream);
  if (!a.aggregate.empty()) require_aggregate(ctx, a.store, *store, a.aggregate);
  require_event_types(ctx, a.store, *store, types);
  tools::Table table({}, "rlllll");
  std::int64_t printed = 0;
  // Prints what passes the filters; false once past --to or at --limit.
  auto emit = [&](const Event& e) {
    if (has_to && e.position > a.to) return false;
    if (e.position < a.from) return true;
    if (!a.aggregate.empty() && e.stream.aggregate != a.aggregate) return true;
    if (!types.empty() && !types.count(e.type)) return true;
    if (a.text) {
      table.add({std::to_string(e.position), tools::short_time(e.metadata.timestamp_us), e.stream.to_string(),
                 "v" + std::to_string(e.version),
                 e.schema_version == 1 ? e.type : e.type + " (schema " + std::to_string(e.schema_version) + ")",
                 plain_json(e.data)});
    } else {
      tools::print_json_line(ctx.out, e.to_json());
    }
    ++printed;
    return !(has_limit && printed >= a.limit);
  };

  // Ctrl-C ends a --follow, as it is meant to (exit 0); a plain listing it cuts short (exit 130).
  auto stopped = [&] {
    table.print(ctx.out);
    ctx.out.flush();
    return a.follow ? exit_ok : ctx.fail(exit_interrupted, "interrupted");
  };
  std::int64_t next = stream ? 1 : a.from;  // a version for a stream, else a position
  bool done = false;                        // past --to, or --limit printed
  // Reads and prints what is stored from `next` on, in batches; false once
  // it has read everything there is now.
  auto read_batch = [&] {
    const auto batch = stream ? store->read_stream(*stream, next, batch_size) : store->read_all(next, batch_size);
    for (const auto& e : batch) {
      next = (stream ? e.version : e.position) + 1;
      if (!emit(e)) {
        done = true;
        break;
      }
    }
    table.print(ctx.out);
    ctx.out.flush();
    return !done && batch.size() == batch_size;
  };
  for (;;) {
    if (ctx.stop_requested()) return stopped();
    if (!read_batch()) break;
  }
  // --follow: poll for events committed since, by this or any process, until Ctrl-C.
  while (a.follow && !done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(a.poll_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (ctx.stop_requested()) return stopped();
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(10), until - std::chrono::steady_clock::now()));
    }
    while (read_batch() && !ctx.stop_requested()) {
    }
  }
  ctx.out.flush();
  return exit_ok;
}

struct StreamsArgs {
  StoreSelection store;
  std::string aggregate;
  bool text = false;
};

int run_streams(Context& ctx, const StreamsArgs& a) {
  auto store = tools::open_store(ctx, a.store, Access::read_only)->connect();
  if (!a.aggregate.empty()) require_aggregate(ctx, a.store, *store, a.aggregate);
  tools::Table table({"AGGREGATE", "ID", "VERSION", "EVENTS", "FIRST", "LAST"}, "llrrrr");
  std::optional<StreamId> after;
  std::size_t total = 0;
  for (;;) {
    if (ctx.stop_requested()) {
      table.print(ctx.out);
      ctx.out.flush();
      return ctx.fail(exit_interrupted, "interrupted");
    }
    const auto page = store->streams(a.aggregate, after, batch_size);
    for (const auto& s : page) {
      if (a.text) {
        table.add({s.stream.aggregate, s.stream.id, std::to_string(s.version), std::to_string(s.events),
                   std::to_string(s.first_position), std::to_string(s.last_position)});
      } else {
        tools::print_json_line(ctx.out, json::object{{"aggregate", s.stream.aggregate},
                                                     {"id", s.stream.id},
                                                     {"version", s.version},
                                                     {"events", s.events},
                                                     {"first_position", s.first_position},
                                                     {"last_position", s.last_position}});
      }
    }
    total += page.size();
    table.print(ctx.out);
    if (page.size() < batch_size) break;
    after = page.back().stream;
  }
  if (a.text && total == 0)
    ctx.out << (a.aggregate.empty() ? std::string("no streams") : "no streams of '" + a.aggregate + "'") << '\n';
  ctx.out.flush();
  return exit_ok;
}

} // namespace

void add_event_tools(CLI::App& app, Context& ctx) {
  {
    auto a = std::make_shared<EventsArgs>();
    auto* sub = app.add_subcommand("events", "List stored events, oldest first (JSON lines, or --text)");
    add_store_options(*sub, a->store, embedded_store_file);
    auto* stream = sub->add_option("--stream", a->stream,
                                   "only the events of one stream, AGGREGATE/ID (e.g. account/acc-1)")
                     ->type_name("AGG/ID");
    auto* aggregate = sub->add_option("--aggregate", a->aggregate, "only events of this aggregate type (e.g. account)")
                        ->type_name("TYPE");
    stream->excludes(aggregate);
    a->stream_opt = stream;
    sub->add_option("--type", a->types, "only events of this type (repeatable: any of them)")->type_name("EVENT_TYPE");
    sub->add_option("--from", a->from, "first global position (inclusive)")
      ->check(tools::at_least(0))
      ->type_name("POS")
      ->capture_default_str();
    a->to_opt =
      sub->add_option("--to", a->to, "last global position (inclusive)")->check(tools::at_least(0))->type_name("POS");
    a->limit_opt =
      sub->add_option("--limit", a->limit, "print at most N events (N >= 1)")->check(tools::at_least(1))->type_name("N");
    sub->add_flag("--text", a->text, "one aligned line per event: position, time, stream, version, type, data");
    sub->add_flag("--follow,-f", a->follow,
                  "after the stored events, print new ones as they are committed (by any process) until Ctrl-C "
                  "(exit 0), --to or --limit");
    sub->add_option("--poll-interval", a->poll_ms, "with --follow: how often to look for new events, in ms")
      ->check(tools::at_least(1))
      ->type_name("MS")
      ->capture_default_str();
    sub->footer(
      "Events are printed as stored (raw): no upcasters run, so older events keep\n"
      "their stored schema_version and shape. A JSON line is one event:\n"
      "{\"position\",\"aggregate\",\"id\",\"version\",\"type\",\"schema_version\",\"data\",\"metadata\"}.\n"
      "The store is opened read-only and read in batches of 1000, so this works\n"
      "beside a running writer and on a store of any size.");
    sub->callback([&ctx, a] { tools::run_tool(ctx, [&] { return run_events(ctx, *a); }); });
  }
  {
    auto a = std::make_shared<StreamsArgs>();
    auto* sub = app.add_subcommand("streams", "List streams with their version, event count and positions");
    add_store_options(*sub, a->store, embedded_store_file);
    sub->add_option("--aggregate", a->aggregate, "only streams of this aggregate type (e.g. account)")->type_name("TYPE");
    sub->add_flag("--text", a->text, "an aligned table instead of JSON lines");
    sub->footer(
      "One line per stream, ordered by aggregate type then id:\n"
      "{\"aggregate\",\"id\",\"version\",\"events\",\"first_position\",\"last_position\"}\n"
      "(positions are global: the stream's first and last event in the log).\n"
      "The store is opened read-only.");
    sub->callback([&ctx, a] { tools::run_tool(ctx, [&] { return run_streams(ctx, *a); }); });
  }
}

} // namespace annals::cli
