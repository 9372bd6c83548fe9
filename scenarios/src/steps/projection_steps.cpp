// `reconcile`, `rebuild` and `dead_letters`: the operator's tools on projections.
#include "../step_context.hpp"

namespace annals::scenarios {

void run_step(StepContext& ctx, const Step&, const ReconcileStep& s, StepOutcome& out) {
  auto r = ctx.rt().reconcile_projection(s.projection, milliseconds(120000));
  if (!r) return fail(out, "reconcile failed: " + r.error().code + ": " + r.error().message);
  out.details = {{"projection", s.projection}, {"equal", r->equal}, {"position", r->position}};
  json::array diffs;
  for (const auto& d : r->differences) diffs.push_back(json::value(d));
  out.details["differences"] = std::move(diffs);
  json::array parked;
  std::vector<std::string> positions;
  for (auto p : r->parked) {
    parked.push_back(p);
    positions.push_back(std::to_string(p));
  }
  out.details["parked"] = std::move(parked);
  // Both copies skip the parked events: equal copies may both lack them.
  const std::string skipped = r->parked.empty() ? std::string()
                              : counted(r->parked.size(), "parked event") + (r->parked.size() == 1 ? " at position " : " at positions ") + join(positions);
  out.summary = r->equal ? s.projection + ": a fresh copy built from the store equals the live one at position " +
                             std::to_string(r->position) + (skipped.empty() ? "" : ", except " + skipped)
                         : s.projection + ": the fresh copy differs at position " + std::to_string(r->position) +
                             " in " + counted(r->differences.size(), "place") + ": " + join(r->differences);
  if (r->equal != s.expect_equal)
    return fail(out, s.expect_equal ? "expected equal copies" : "expected the copies to differ, but they are equal");
  if (!s.expect_equal) return;
  if (!s.except_parked && !skipped.empty())
    fail(out, "expected equal copies, but both lack " + skipped + " (expect \"equal_except_parked\" if that is "
              "intended)");
  if (s.except_parked && skipped.empty()) fail(out, "expected parked events that both copies skip, but none is parked");
}

void run_step(StepContext& ctx, const Step&, const RebuildStep& s, StepOutcome& out) {
  const auto t = Clock::now();
  if (auto e = ctx.rt().rebuild_projection(s.projection)) return fail(out, "rebuild failed: " + e->code + ": " + e->message);
  const double secs = since(t);
  auto st = ctx.rt().projection_status(s.projection);
  out.summary = s.projection + " rebuilt from the store in " + human_seconds(secs) +
                (st ? " (checkpoint " + std::to_string(st->checkpoint) + ")" : "");
  out.details = {{"projection", s.projection}, {"seconds", secs}};
}

void run_step(StepContext& ctx, const Step&, const DeadLettersStep& s, StepOutcome& out) {
  const auto letters = ctx.rt().dead_letters(s.projection);
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
      return fail(out, "parked events: expected " + want + ", got " + std::to_string(letters.size()));
  if (!s.retry) return;
  int applied = 0, still_failing = 0;
  std::string last_error;
  for (const auto& l : letters) {
    if (auto e = ctx.rt().retry_dead_letter(s.projection, l.position)) {
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

} // namespace annals::scenarios
