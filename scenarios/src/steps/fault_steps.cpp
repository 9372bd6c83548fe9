// `inject`: crash, fail or delay a projector, clear its faults, restart the runtime.
#include "../step_context.hpp"

#include "annals/fault_injector.hpp"

namespace annals::scenarios {

void run_step(StepContext& ctx, const Step&, const InjectStep& s, StepOutcome& out) {
  out.details = {{"fault", s.fault}};
  if (!s.projection.empty()) out.details["projection"] = s.projection;
  auto check = [&](std::optional<Error> e) {
    if (e) fail(out, e->code + ": " + e->message);
  };
  if (s.fault == "crash_projector") {
    auto before = ctx.rt().projection_status(s.projection);
    const auto restarts = before ? before->restarts : 0;
    const auto t = Clock::now();
    FaultInjector(ctx.rt()).crash_projection(s.projection);
    if (!s.wait) {
      out.summary = "crashed projector " + s.projection;
      return;
    }
    bool ok = ctx.wait_for({s.projection}, milliseconds(15000),
                       [&](const ProjectionStatus& st) { return st.restarts > restarts && caught_up(st); });
    const double secs = since(t);
    auto st = ctx.rt().projection_status(s.projection);
    out.summary = "crashed projector " + s.projection + ": its supervisor restarted it";
    if (st) {
      out.summary += " (restart #" + std::to_string(st->restarts) + ", backoff " +
                     std::to_string(st->backoff.count()) + " ms) and it caught up to " +
                     std::to_string(st->checkpoint) + " in " + human_seconds(secs);
      out.details["restarts"] = st->restarts;
      out.details["checkpoint"] = st->checkpoint;
    }
    out.details["seconds"] = secs;
    if (!ok && !ctx.interrupted) fail(out, "the projector was not restarted and caught up within 15 s");
  } else if (s.fault == "fail_projector") {
    check(FaultInjector(ctx.rt()).fail_projection_on(s.projection, s.match, s.times));
    std::string what = (s.match.aggregate.empty() ? std::string("any") : s.match.aggregate) + "/" +
                       (s.match.id.empty() ? std::string("*") : s.match.id) + " " +
                       (s.match.event_type.empty() ? std::string("event") : s.match.event_type);
    const int max_attempts = ctx.rt().options().projections.max_attempts;
    out.summary = s.projection + " will fail " + counted(s.times, "time") +
                  " on the next " + what + " (" +
                  (s.times >= max_attempts ? "max_attempts " + std::to_string(max_attempts) + ": it will be parked"
                                           : "below max_attempts " + std::to_string(max_attempts) + ": restarts, then applies") +
                  ")";
    out.details["times"] = s.times;
  } else if (s.fault == "delay_projector") {
    check(FaultInjector(ctx.rt()).delay_projection(s.projection, s.delay));
    out.summary = s.delay.count() ? s.projection + " now applies each event " + std::to_string(s.delay.count()) + " ms late"
                                  : s.projection + " delay removed";
    out.details["delay_ms"] = s.delay.count();
  } else if (s.fault == "clear_faults") {
    check(FaultInjector(ctx.rt()).clear_projection_faults(s.projection));
    out.summary = s.projection + ": faults cleared";
  } else if (s.fault == "restart_runtime") {
    auto t = Clock::now();
    const auto head = ctx.rt().head_position();
    ctx.stop_runtime();
    const double stop_secs = since(t);
    t = Clock::now();
    ctx.start_runtime();
    const double start_secs = since(t);
    t = Clock::now();
    bool ok = ctx.wait_for(ctx.rt().projection_names(), milliseconds(30000), caught_up);
    const double catch_up_secs = since(t);
    out.summary = "runtime stopped in " + human_seconds(stop_secs) + " and started again on " +
                  ctx.options.store->describe() + " in " + human_seconds(start_secs) + "; " + counted(head, "event") +
                  " kept, projections caught up in " + human_seconds(catch_up_secs);
    out.details["head"] = head;
    out.details["stop_seconds"] = stop_secs;
    out.details["start_seconds"] = start_secs;
    out.details["catch_up_seconds"] = catch_up_secs;
    if (ctx.rt().head_position() != head)
      fail(out, "the store had " + counted(head, "event") + " before the restart and " +
                  std::to_string(ctx.rt().head_position()) + " after");
    if (!ok && !ctx.interrupted) fail(out, "projections did not catch up within 30 s after the restart");
  }
}

} // namespace annals::scenarios
