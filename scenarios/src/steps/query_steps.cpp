// `query` (with expectations and read-your-writes) and `wait_until`.
#include "../step_context.hpp"

#include "../cluster/local_cluster.hpp"

namespace annals::scenarios {

namespace {

std::vector<std::string> projections_named(StepContext& ctx, const std::string& p) {
  return p == "*" ? ctx.rt().projection_names() : std::vector<std::string>{p};
}

} // namespace

void run_step(StepContext& ctx, const Step&, const QueryStep& s, StepOutcome& out) {
  if (ctx.cluster)
    if (auto why = ctx.cluster->not_serving({s.node}); !why.empty()) return fail(out, why);
  const std::int64_t min_position = s.read_your_writes ? std::max(ctx.last_position, s.min_position) : s.min_position;
  const auto t = Clock::now();
  auto r = ctx.query(s.node, s.projection, s.query, s.args, min_position, s.timeout);
  const double secs = since(t);
  // A cluster's projections run in the nodes: their status is not at hand.
  std::optional<ProjectionStatus> st;
  if (!ctx.cluster)
    if (auto status = ctx.rt().projection_status(s.projection)) st = *status;
  std::string where = (ctx.cluster ? s.node + ": " : std::string()) + s.projection + "." + s.query + (s.args.empty() ? "" : " " + brief_json(s.args, 60));
  std::string freshness;
  if (st && !st->running) {
    freshness = "projection " + projection_progress(*st);
  } else if (st) {
    freshness = "projection at " + std::to_string(st->checkpoint) + " of " + std::to_string(st->head);
    if (st->head > st->checkpoint) freshness += ", " + std::to_string(st->head - st->checkpoint) + " behind";
  }
  if (ctx.cluster) freshness = "answered in " + human_seconds(secs);
  std::string wait = min_position > 0 ? "read-your-writes @" + std::to_string(min_position) + ", " : "";
  out.details = {{"projection", s.projection}, {"query", s.query}, {"args", s.args}, {"min_position", min_position},
                 {"ms", secs * 1e3}};
  if (ctx.cluster) out.details["node"] = s.node;
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
  // A long answer is cut in the one-line summary, saying so: the report's
  // details (--json) hold it whole.
  std::string answer = brief_json(*r, std::string::npos);
  if (answer.size() > 100)
    answer = answer.substr(0, 97) + "... [" + std::to_string(answer.size()) + " characters; --json has all]";
  out.summary = where + " -> " + answer + " (" + wait + freshness + ")";
  if (s.expect_error) return fail(out, "expected error " + *s.expect_error + ", got " + brief_json(*r, 80));
  if (s.expect)
    if (auto d = match_subset(*s.expect, *r); !d.empty()) return fail(out, d);
  if (s.equals)
    if (auto d = match_equal(*s.equals, *r); !d.empty()) return fail(out, d);
  for (const auto& p : s.that)
    if (auto d = check_predicate(p, *r); !d.empty()) return fail(out, d);
}

void run_step(StepContext& ctx, const Step&, const WaitStep& s, StepOutcome& out) {
  if (s.condition == "shards_settled") return wait_shards_settled(ctx, s, out);
  const auto names = projections_named(ctx, s.projection);
  const auto t = Clock::now();
  bool ok = ctx.wait_for(names, s.timeout, [&](const ProjectionStatus& st) {
    if (s.condition == "caught_up") return caught_up(st);
    if (s.condition == "running") return st.running;
    if (s.condition == "restarted") return st.restarts >= s.count;
    return st.parked >= s.count;  // parked
  });
  const double secs = since(t);
  std::vector<std::string> states;
  json::array details;
  for (const auto& n : names) {
    auto st = ctx.rt().projection_status(n);
    if (!st) continue;
    states.push_back(n + " " + projection_progress(*st) +
                     (st->restarts && st->running ? ", " + counted(st->restarts, "restart") : "") +
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
  if (!ok && !ctx.interrupted)
    fail(out, "not " + cond + " within " + std::to_string(s.timeout.count()) + " ms: " + join(states, "; "));
}

} // namespace annals::scenarios
