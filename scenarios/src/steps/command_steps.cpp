// The write side: `command` (one command, optionally repeated), `inspect`
// (an instance's state) and `stream` (a stream read back from the store).
#include "../step_context.hpp"

#include "../cluster/local_cluster.hpp"

#include <algorithm>
#include <map>

namespace annals::scenarios {

namespace {

std::string event_types(const std::vector<Event>& events) {
  std::vector<std::string> t;
  for (const auto& e : events) t.push_back(e.type);
  return "[" + join(t) + "]";
}

Command to_command(const CommandStep& s) {
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

std::string check_result(const CommandExpectation& e, const CommandResult& r) {
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

std::string describe(const CommandResult& r) {
  if (r.accepted())
    return "accepted v" + std::to_string(r.version) + " @" + std::to_string(r.position) + " " + event_types(r.events) +
           (r.replayed ? " (replayed: nothing appended)" : "");
  return std::string(to_string(r.status)) + " " + std::string(r.code()) + (r.error ? ": " + r.error->message : "");
}

} // namespace

void run_step(StepContext& ctx, const Step&, const CommandStep& s, StepOutcome& out) {
  if (ctx.cluster)
    if (auto why = ctx.cluster->not_serving({s.node}); !why.empty()) return fail(out, why);
  const Command cmd = to_command(s);
  std::string target = s.aggregate + "/" + s.id + " " + s.command + (s.data.empty() ? "" : " " + brief_json(s.data, 80));
  std::optional<CommandResult> first;
  int replays = 0;
  json::array results;
  for (int i = 0; i < s.repeat; ++i) {
    auto r = ctx.execute(cmd, s.node);
    results.push_back(r.to_json());
    if (r.accepted()) ctx.last_position = std::max(ctx.last_position, r.position);
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
  if (ctx.cluster) target = s.node + ": " + target;
  out.summary = target + (s.repeat > 1 ? " x" + std::to_string(s.repeat) : "") + " -> " + describe(*first);
  if (s.repeat > 1)
    out.summary += s.idempotency_key ? "; " + counted(replays, "repeat") + " replayed, no duplicate effect"
                                     : "; no idempotency key: every repeat ran again";
  out.details = {{"command", cmd.to_json()}, {"results", std::move(results)}};
  if (ctx.cluster) out.details["node"] = s.node;
}

// Sends `cmds` from `callers` threads; reports progress; stops early on Ctrl-C.

void run_step(StepContext& ctx, const Step&, const InspectStep& s, StepOutcome& out) {
  auto r = ctx.rt().inspect(s.aggregate, s.id);
  if (!r) return fail(out, r.error().code + ": " + r.error().message);
  out.summary = s.aggregate + "/" + s.id + " v" + std::to_string(r->version) + " " + brief_json(r->state, 100);
  out.details = {{"aggregate", s.aggregate}, {"id", s.id}, {"version", r->version}, {"state", r->state}};
  if (s.version && r->version != *s.version)
    return fail(out, "expected version " + std::to_string(*s.version) + ", got " + std::to_string(r->version));
  if (s.state)
    if (auto d = match_subset(*s.state, r->state); !d.empty()) fail(out, "state " + d);
}

void run_step(StepContext& ctx, const Step&, const StreamStep& s, StepOutcome& out) {
  const auto events = ctx.rt().read_stream(StreamId{s.aggregate, s.id});
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
  out.summary = s.aggregate + "/" + s.id + ": " + counted(n, "event") + ", versions 1.." + std::to_string(n) +
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
      return fail(out, "expected " + counted(want, "'" + type + "' event") + ", got " + std::to_string(got));
  }
}

} // namespace annals::scenarios
