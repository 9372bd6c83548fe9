#pragma once
// annals::testkit: given/when/then for your own aggregates and projections,
// in the style of Akka's EventSourcedBehaviorTestKit. Pure functions only:
// no store, no actors, no threads, no clock (timestamps are deterministic).
//
//   annals::testkit::AggregateFixture account(bank::account_type(), "acc-1");
//   account.given(bank::AccountOpened{"Ada"}, bank::Deposited{100})
//          .when("withdraw", {{"amount", 500}})
//          .then_rejected("insufficient_funds");
//   account.when(bank::Deposit{5}).then_events(bank::Deposited{5});
//   account.then_state([](const bank::Account& s) { return s.balance == 105; });
//
//   annals::testkit::ProjectionFixture balances(bank::balances_projection());
//   balances.given("account", "acc-1", bank::AccountOpened{"Ada"}, bank::Deposited{100})
//           .then_query("total", {}, annals::json::parse(R"({"total": 100, "accounts": 1})"));
//
// A then_* check that does not hold throws ExpectationFailed (a
// std::runtime_error) whose message shows the expected and the actual value
// as JSON, so the kit works with any test framework. Misuse (a then_* before
// any when(), a state of another type) throws std::logic_error. Exceptions
// thrown by domain code propagate unchanged. See docs/testing.md.

#include "annals/aggregate_type.hpp"
#include "annals/command.hpp"
#include "annals/decision.hpp"
#include "annals/error.hpp"
#include "annals/event.hpp"
#include "annals/expected.hpp"
#include "annals/json.hpp"
#include "annals/projection_type.hpp"

#include <any>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace annals {
class Upcasters;
}

namespace annals::testkit {

/// A then_* expectation that does not hold. what() names the check and shows
/// "expected:" and "actual:" (as JSON where there is JSON to show).
class ExpectationFailed : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// 2026-01-01T00:00:00Z in microseconds: the timestamp of a fixture's first
/// event unless Options::start_us or at() says otherwise.
inline constexpr std::int64_t default_start_us = 1'767'225'600'000'000;

/// Microseconds since the epoch of an ISO 8601 UTC date or time:
/// "2026-11-24", "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.250Z" (the
/// "Z" is optional). Anything else throws std::invalid_argument.
std::int64_t timestamp_us(std::string_view iso);

struct Options {
  /// Timestamp (metadata.timestamp_us) of the first event.
  std::int64_t start_us = default_start_us;
  /// Added to the timestamp after each event (0: every event at the same instant).
  std::int64_t tick_us = 1'000'000;
  /// Optional: events are upcast with these before they are applied, as the
  /// runtime does with stored events (see given_json's schema_version). Not
  /// owned; must outlive the fixture.
  const Upcasters* upcasters = nullptr;
};

namespace detail {

template <class T, class = void> struct has_event_type : std::false_type {};
template <class T> struct has_event_type<T, std::void_t<decltype(T::event_type)>> : std::true_type {};
template <class T, class = void> struct has_command_type : std::false_type {};
template <class T> struct has_command_type<T, std::void_t<decltype(T::command_type)>> : std::true_type {};

template <class E>
void append_new_events(std::vector<NewEvent>& out, const E& e) {
  if constexpr (std::is_same_v<E, NewEvent>) {
    out.push_back(e);
  } else if constexpr (std::is_same_v<E, std::vector<NewEvent>>) {
    out.insert(out.end(), e.begin(), e.end());
  } else {
    static_assert(has_event_type<E>::value,
                  "events are domain structs with a static `event_type` (and BOOST_DESCRIBE_STRUCT), "
                  "annals::NewEvent, or std::vector<annals::NewEvent>");
    out.push_back(to_new_event(e));
  }
}

template <class... E>
std::vector<NewEvent> new_events(const E&... events) {
  std::vector<NewEvent> out;
  out.reserve(sizeof...(E));
  (append_new_events(out, events), ...);
  return out;
}

// The parameter type of a one-argument, non-generic callable (lambda,
// function, function pointer): lets then_state(lambda) find the State.
template <class F, class = void> struct callable_arg {};
template <class F>
struct callable_arg<F, std::void_t<decltype(&F::operator())>> : callable_arg<decltype(&F::operator())> {};
template <class R, class A> struct callable_arg<R(A), void> { using type = A; };
template <class R, class A> struct callable_arg<R(A) noexcept, void> { using type = A; };
template <class R, class A> struct callable_arg<R (*)(A), void> { using type = A; };
template <class R, class A> struct callable_arg<R (*)(A) noexcept, void> { using type = A; };
template <class R, class C, class A> struct callable_arg<R (C::*)(A) const, void> { using type = A; };
template <class R, class C, class A> struct callable_arg<R (C::*)(A) const noexcept, void> { using type = A; };
template <class R, class C, class A> struct callable_arg<R (C::*)(A), void> { using type = A; };
template <class R, class C, class A> struct callable_arg<R (C::*)(A) noexcept, void> { using type = A; };

template <class F, class = void> struct has_callable_arg : std::false_type {};
template <class F> struct has_callable_arg<F, std::void_t<typename callable_arg<F>::type>> : std::true_type {};

/// Throws ExpectationFailed(message).
[[noreturn]] void fail(const std::string& message);
/// Compact JSON with object keys sorted, for messages.
std::string text(const json::value& v);
/// Throws ExpectationFailed unless expected == actual (JSON equality); the
/// message is `what`, the differing paths, then expected and actual (keys
/// sorted unless sort_keys is false).
void expect_json(const std::string& what, const json::value& expected, const json::value& actual,
                 bool sort_keys = true);
/// Events as [{"type", "data"}] ("schema_version" too when it is not 1), in
/// that key order, data with sorted keys.
json::value events_json(const std::vector<NewEvent>& events);

// then_state / then_model: a predicate (returning bool, or void with its own
// assertions) or an expected value compared as JSON through encode().
template <class T, class X>
void check_value(const std::string& what, const T& actual, const X& x, const json::value& actual_json) {
  if constexpr (std::is_invocable_v<const X&, const T&>) {
    using R = std::invoke_result_t<const X&, const T&>;
    if constexpr (std::is_void_v<R>) {
      std::invoke(x, actual);
    } else {
      if (!static_cast<bool>(std::invoke(x, actual)))
        fail(what + ": the predicate returned false\n  actual:   " + text(actual_json));
    }
  } else {
    static_assert(std::is_convertible_v<const X&, const T&>,
                  "pass a predicate taking (const T&) or an expected value of type T");
    expect_json(what, encode(static_cast<const T&>(x)), encode(actual));
  }
}

template <class T>
const T& any_as(const std::any& a, const char* what, const std::string& owner) {
  if (const T* p = std::any_cast<T>(&a)) return *p;
  throw std::logic_error(std::string(what) + ": the " + owner + " is not of the requested C++ type");
}

} // namespace detail

/// One aggregate instance (one stream) of a type, driven by given/when/then.
///
/// given(...) appends past events (versions and positions 1..n, timestamps
/// from the fixture's clock) and applies them; when(...) decides a command on
/// the current state and, if accepted, commits and applies its events, so a
/// second when() sees the first one's effect. The results of the last when()
/// stay available (events(), rejection()) until the next when().
class AggregateFixture {
public:
  AggregateFixture(AggregateType type, std::string id, Options options = {});

  const AggregateType& type() const { return type_; }
  const StreamId& stream() const { return stream_; }

  // --- given ---------------------------------------------------------------

  /// Past events: domain structs with an `event_type`, annals::NewEvent, or
  /// std::vector<annals::NewEvent>, applied in order. If one cannot be applied
  /// (no handler, data that does not decode, a throwing handler) the
  /// exception propagates and the fixture is left as it was before the call.
  template <class... E>
  AggregateFixture& given(const E&... events) { return append(detail::new_events(events...)); }

  /// A past event as raw JSON. A schema_version older than the current one is
  /// upcast with Options::upcasters before it is applied, as stored events are.
  AggregateFixture& given_json(std::string event_type, json::object data = {}, int schema_version = 1);

  /// The timestamp of the next event (events after it: + tick_us each).
  AggregateFixture& at(std::int64_t timestamp_us);
  AggregateFixture& at(std::string_view iso);

  // --- when ----------------------------------------------------------------

  /// A command on this stream (aggregate and id filled in), e.g. to set
  /// metadata.principal before passing it to when(Command).
  Command command(std::string command_type, json::object data = {}) const;

  AggregateFixture& when(std::string command_type, json::object data = {});
  /// A full command. Empty aggregate/id are filled in (others must match
  /// this stream); expected_version is checked like the runtime does
  /// (concurrency_conflict); an empty command_id becomes "command-<n>" (it
  /// is the causation id of the events). Exceptions from the command
  /// handler, or from applying its events, propagate (the fixture is then
  /// unchanged and has no last result). An accepted event whose
  /// schema_version is not the current one throws std::runtime_error, as the
  /// runtime refuses to write it.
  AggregateFixture& when(Command command);
  /// A typed command (a described struct with a `command_type`).
  template <class C, std::enable_if_t<detail::has_command_type<C>::value, int> = 0>
  AggregateFixture& when(const C& command) {
    return when(std::string(C::command_type), encode(command).as_object());
  }

  // --- results of the last when() -------------------------------------------

  /// The last when()'s decision (std::logic_error if none ran).
  const Decision& decision() const;
  bool accepted() const { return decision().accepted(); }
  /// The events the last command emitted (empty if it was rejected).
  const std::vector<NewEvent>& events() const { return decision().events(); }
  /// The last command's rejection, if it was rejected.
  std::optional<Error> rejection() const;

  // --- state -----------------------------------------------------------------

  json::value state_json() const { return type_.state_to_json(state_); }
  template <class State>
  const State& state() const { return detail::any_as<State>(state_, "state<State>()", "state of '" + type_.name() + "'"); }
  /// The stream's version: the number of events given or emitted so far.
  std::int64_t version() const { return static_cast<std::int64_t>(history_.size()); }
  /// Every event of the stream, given or emitted, as committed (versions,
  /// positions, timestamps, causation id and principal of emitted ones).
  const std::vector<Event>& history() const { return history_; }

  // --- then: the last command ------------------------------------------------

  /// Accepted with exactly these events (types, schema versions and data
  /// compared as JSON, in order). Same argument kinds as given().
  template <class... E>
  AggregateFixture& then_events(const E&... expected) { return check_events(detail::new_events(expected...)); }
  /// Accepted with no events.
  AggregateFixture& then_no_events() { return check_events({}); }
  /// Rejected with this code (and a message containing message_substring).
  /// Once the aggregate declares rejection codes (rejects()), a code it does
  /// not declare fails here and in when(), runtime codes (errc) aside.
  AggregateFixture& then_rejected(std::string_view code, std::string_view message_substring = {});

  // --- then: the state ----------------------------------------------------------

  /// then_state(pred) / then_state<State>(pred): pred(const State&) returns
  /// bool (false fails) or void (it asserts itself). then_state(expected) /
  /// then_state<State>(expected): encode(state) == encode(expected);
  /// then_state(json::value) is then_state_json. A generic lambda needs the
  /// State spelled out: then_state<Account>([](const auto& s) {...}).
  template <class State = void, class X>
  AggregateFixture& then_state(const X& x) {
    if constexpr (std::is_void_v<State>) {
      if constexpr (std::is_same_v<X, json::value>)
        return then_state_json(x);
      else if constexpr (detail::has_callable_arg<X>::value)
        return then_state<std::decay_t<typename detail::callable_arg<X>::type>>(x);
      else
        return then_state<X>(x);
    } else {
      detail::check_value<State>(context("then_state"), state<State>(), x, state_json());
      return *this;
    }
  }
  /// state_json() == expected.
  AggregateFixture& then_state_json(const json::value& expected);
  /// to_snapshot, stored as JSON text (as the SQLite store does), then
  /// from_snapshot gives a state with the same JSON (and the same snapshot).
  /// std::logic_error if the type takes no snapshots (snapshot_every 0).
  AggregateFixture& then_snapshot_round_trips();
  /// The snapshot of the current state (std::logic_error if the type takes none).
  json::value snapshot_json() const;

  // --- restarts ------------------------------------------------------------------

  /// Rebuilds the state by replaying the whole history from the initial
  /// state, as a runtime does when it reactivates the aggregate.
  AggregateFixture& restart();
  /// Replaces the state with the one loaded back from its snapshot, as a
  /// runtime does when it reactivates from a snapshot.
  AggregateFixture& restart_from_snapshot();

private:
  AggregateFixture& append(const std::vector<NewEvent>& events);
  void commit(const std::vector<NewEvent>& events, const EventMetadata& metadata);
  AggregateFixture& check_events(const std::vector<NewEvent>& expected);
  std::string context(const std::string& check) const;
  void check_declared(const std::string& code, const std::string& where) const;
  const Decision& last() const;

  AggregateType type_;
  StreamId stream_;
  Options options_;
  std::any state_;
  std::vector<Event> history_;
  std::int64_t next_timestamp_us_;
  std::int64_t commands_ = 0;
  std::optional<Decision> last_;
  std::string last_description_;  // "when(withdraw {"amount":500}) at version 2"
};

/// One projection type fed with hand-made events of any streams.
///
/// given(aggregate, id, ...) appends events of one stream: positions are
/// global (1, 2, ... across all calls), versions per stream, timestamps from
/// the fixture's clock. Events the projection does not handle are skipped,
/// as in the runtime.
class ProjectionFixture {
public:
  explicit ProjectionFixture(ProjectionType type, Options options = {});

  const ProjectionType& type() const { return type_; }

  // --- given ---------------------------------------------------------------

  /// Events of one stream, in order (same argument kinds as
  /// AggregateFixture::given). If the projection throws, the exception
  /// propagates and the fixture is left as it was before the call.
  template <class... E>
  ProjectionFixture& given(const std::string& aggregate, const std::string& id, const E&... events) {
    return append({aggregate, id}, detail::new_events(events...));
  }
  /// A raw event (upcast with Options::upcasters when schema_version is old).
  ProjectionFixture& given_json(const std::string& aggregate, const std::string& id, std::string event_type,
                                json::object data = {}, int schema_version = 1);
  /// A hand-built event, e.g. with metadata. Zero position, version or
  /// timestamp are assigned; a non-zero position must be past the last one.
  ProjectionFixture& given_event(Event event);
  /// Events committed elsewhere (e.g. AggregateFixture::history()): each keeps
  /// its stream, version, data and metadata and gets the next position here.
  ProjectionFixture& given_history(const std::vector<Event>& events);

  ProjectionFixture& at(std::int64_t timestamp_us);
  ProjectionFixture& at(std::string_view iso);

  // --- queries and the model -----------------------------------------------------

  Expected<json::value> query(const std::string& name, const json::object& args = {}) const;
  json::value model_json() const { return type_.model_to_json(model_); }
  template <class Model>
  const Model& model() const { return detail::any_as<Model>(model_, "model<Model>()", "model of '" + type_.name() + "'"); }
  /// The position of the last event given (0 before any).
  std::int64_t position() const { return position_; }
  /// Every event given, handled or not, with the positions it got.
  const std::vector<Event>& history() const { return history_; }

  // --- then ---------------------------------------------------------------

  /// The query answers exactly `expected` (JSON equality).
  ProjectionFixture& then_query(const std::string& name, const json::object& args, const json::value& expected);
  /// The query fails with this error code (and a message containing message_substring).
  ProjectionFixture& then_query_error(const std::string& name, const json::object& args, std::string_view code,
                                      std::string_view message_substring = {});
  /// model_json() == expected.
  ProjectionFixture& then_model_json(const json::value& expected);
  /// Like AggregateFixture::then_state, on the read model.
  template <class Model = void, class X>
  ProjectionFixture& then_model(const X& x) {
    if constexpr (std::is_void_v<Model>) {
      if constexpr (std::is_same_v<X, json::value>)
        return then_model_json(x);
      else if constexpr (detail::has_callable_arg<X>::value)
        return then_model<std::decay_t<typename detail::callable_arg<X>::type>>(x);
      else
        return then_model<X>(x);
    } else {
      detail::check_value<Model>(context("then_model"), model<Model>(), x, model_json());
      return *this;
    }
  }
  /// model_to_json, stored as JSON text, then model_from_json gives a model
  /// with the same JSON (the read model's snapshot form), and these queries
  /// ((name, args) pairs) answer alike on both.
  ProjectionFixture& then_model_round_trips(const std::vector<std::pair<std::string, json::object>>& queries = {});

private:
  ProjectionFixture& append(const StreamId& stream, const std::vector<NewEvent>& events);
  ProjectionFixture& apply_all(std::vector<Event> events);
  std::string context(const std::string& check) const;

  ProjectionType type_;
  Options options_;
  std::any model_;
  std::vector<Event> history_;
  std::map<StreamId, std::int64_t> versions_;
  std::int64_t position_ = 0;
  std::int64_t next_timestamp_us_;
};

} // namespace annals::testkit
