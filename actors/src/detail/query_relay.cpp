// The supervisor's query relay: hold a query while no projector runs, relay
// it to the live one, ask the next projector again if that one dies before
// answering, and answer it with a clear timeout once its deadline passes.
#include "supervisor_state.hpp"

#include <caf/actor_cast.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace annals::actors::detail {

namespace {

// How much longer than a query's own deadline the supervisor waits for its
// projector's answer: the projector answers expired waits itself (with the
// model or a timeout naming its position); only a projector that is busy
// beyond that gets a timeout from the supervisor. Shorter than the margin the
// runtime gives the supervisor (500 ms), so the clear error always wins.
constexpr std::chrono::milliseconds relay_margin{250};

using QueryIt = std::map<std::uint64_t, PendingQuery>::iterator;

// Why no projector answered, when none runs.
std::string not_running(const SupervisorState& st) {
  if (st.child) return "";
  if (st.restarts == 0) return "; it is starting";
  return "; it is restarting after a failure (" + st.last_error.value_or("unknown error") + ")";
}

// The answer to a query whose deadline passed without an answer from a
// projector: the same shape as a projector's own timeout, with the position
// the supervisor knows its projector reached.
QueryReply timed_out(const SupervisorState& st, const QueryRequest& q) {
  QueryReply r;
  r.position = st.reached;
  const std::string reached = std::to_string(st.reached);
  if (q.min_position > 0)
    r.error = Error{errc::timeout, "projection '" + st.type->name() + "' reached position " + reached + ", not "
                                     + std::to_string(q.min_position) + ", within the time limit" + not_running(st)};
  else
    r.error = Error{errc::timeout, "projection '" + st.type->name() + "' could not answer within the time limit (it had "
                                     "reached position " + reached + ")" + not_running(st)};
  return r;
}

void finish(Self self, QueryIt it, QueryReply reply) {
  auto& relay = self->state.relay;
  if (!it->second.at) --relay.held;
  it->second.promise.deliver(std::move(reply));
  relay.queries.erase(it);
}

// A held query is answered by the supervisor once its deadline passes.
void arm_deadline(Self self, Deadline deadline) {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  self->delayed_send(self, std::max(wait, std::chrono::milliseconds(0)) + std::chrono::milliseconds(1),
                     tick_atom::value);
}

// The query waits for the next projector; errors of its earlier relay no
// longer count.
void hold(Self self, QueryIt it) {
  auto& p = it->second;
  ++p.attempt;
  if (!p.at) return;
  p.at = nullptr;
  ++self->state.relay.held;
  arm_deadline(self, p.request.deadline);
}

void on_relay_error(Self self, std::uint64_t id, std::uint64_t attempt);

// Asks the live projector and relays its answer. If it dies before
// answering, the query is held again and goes to the next projector.
void relay(Self self, QueryIt it) {
  auto& st = self->state;
  auto& p = it->second;
  const auto now = std::chrono::steady_clock::now();
  if (p.request.deadline <= now) return finish(self, it, timed_out(st, p.request));
  if (!p.at) --st.relay.held;
  p.at = st.child.address();
  const auto attempt = ++p.attempt;
  const auto id = it->first;
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(p.request.deadline - now);
  self->request(st.child, remaining + relay_margin, query_atom::value, p.request)
    .then(
      [=](QueryReply& reply) {
        // Any projector's answer will do, also one sent just before a rebuild
        // replaced it (the query was asked again; the first answer wins).
        auto& queries = self->state.relay.queries;
        auto q = queries.find(id);
        if (q == queries.end()) return;
        remember_position(self, reply.position);
        finish(self, q, std::move(reply));
      },
      [=](caf::error&) { on_relay_error(self, id, attempt); });
}

void on_relay_error(Self self, std::uint64_t id, std::uint64_t attempt) {
  auto& st = self->state;
  auto it = st.relay.queries.find(id);
  if (it == st.relay.queries.end() || it->second.attempt != attempt) return;  // answered, or asked again since
  if (it->second.request.deadline <= std::chrono::steady_clock::now())
    return finish(self, it, timed_out(st, it->second.request));
  // Its projector went away without answering (its down message may still
  // come): held for the next one, or asked again if that one already runs.
  const auto was_at = it->second.at;
  hold(self, it);
  if (st.child && st.child.address() != was_at) relay(self, it);
}

// Relays every pending query that `pick` selects (the map may shrink meanwhile).
template <class Pick>
void relay_each(Self self, Pick pick) {
  auto& queries = self->state.relay.queries;
  for (auto it = queries.begin(); it != queries.end();) {
    auto next = std::next(it);
    if (pick(it->second)) relay(self, it);
    it = next;
  }
}

} // namespace

void accept_query(Self self, QueryRequest q, caf::typed_response_promise<QueryReply> rp) {
  auto& st = self->state;
  auto& r = st.relay;
  if (!st.child && r.held >= st.settings.max_waiting_queries) {
    QueryReply reply;
    reply.error = Error{errc::overloaded, "projection '" + st.type->name() + "' is restarting and has "
                                            + std::to_string(r.held) + " queries waiting"};
    rp.deliver(std::move(reply));
    return;
  }
  const auto deadline = q.deadline;
  auto it = r.queries.emplace(++r.next_query, PendingQuery{std::move(q), rp, {}, 0}).first;
  ++r.held;
  if (st.child) relay(self, it);
  else arm_deadline(self, deadline);
}

void hold_queries_of(Self self, const caf::actor_addr& dead) {
  auto& queries = self->state.relay.queries;
  for (auto it = queries.begin(); it != queries.end(); ++it)
    if (it->second.at == dead) hold(self, it);
}

void relay_held(Self self) {
  relay_each(self, [](const PendingQuery& p) { return !p.at; });
}

void relay_again(Self self, const caf::actor_addr& replaced) {
  relay_each(self, [&](const PendingQuery& p) { return !p.at || (replaced && p.at == replaced); });
}

void expire_held(Self self) {
  auto& st = self->state;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = st.relay.queries.begin(); it != st.relay.queries.end();) {
    auto next = std::next(it);
    if (!it->second.at && it->second.request.deadline <= now) finish(self, it, timed_out(st, it->second.request));
    it = next;
  }
}

void fail_all_queries(Self self, const Error& why) {
  auto& r = self->state.relay;
  for (auto& q : r.queries) {
    QueryReply reply;
    reply.error = why;
    q.second.promise.deliver(std::move(reply));
  }
  r.queries.clear();
  r.held = 0;
}

} // namespace annals::actors::detail
