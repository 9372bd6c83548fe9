// The testkit: AggregateFixture, given events / when a command / then events or a rejection.
#include "annals/testkit.hpp"
#include "fixture_support.hpp"

#include <algorithm>
#include <cctype>

namespace annals::testkit {

using detail::expected_rejection;
using detail::quoted;
using detail::rejection_text;
using detail::through_text;
using detail::upcast;

// --- AggregateFixture -------------------------------------------------------------

AggregateFixture::AggregateFixture(AggregateType type, std::string id, Options options)
  : type_(std::move(type)),
    stream_{type_.name(), std::move(id)},
    options_(options),
    state_(type_.initial_state()),
    next_timestamp_us_(options.start_us) {
  if (stream_.id.empty()) throw std::invalid_argument("AggregateFixture: the stream id must not be empty");
}

void AggregateFixture::commit(const std::vector<NewEvent>& events, const EventMetadata& metadata) {
  // Apply to a copy: a handler that throws leaves the fixture as it was.
  std::any next = state_;
  std::vector<Event> added;
  added.reserve(events.size());
  std::int64_t ts = next_timestamp_us_;
  for (const auto& ne : events) {
    Event e;
    e.stream = stream_;
    e.version = version() + static_cast<std::int64_t>(added.size()) + 1;
    e.position = e.version;
    e.type = ne.type;
    e.schema_version = ne.schema_version;
    e.data = ne.data;
    e.metadata = metadata;
    e.metadata.timestamp_us = ts;
    ts += options_.tick_us;
    Event current = e;
    upcast(options_.upcasters, current);
    type_.evolve(next, current);
    added.push_back(std::move(e));  // kept as stored (its own schema version)
  }
  state_ = std::move(next);
  next_timestamp_us_ = ts;
  history_.insert(history_.end(), std::make_move_iterator(added.begin()), std::make_move_iterator(added.end()));
}

AggregateFixture& AggregateFixture::append(const std::vector<NewEvent>& events) {
  commit(events, EventMetadata{});
  return *this;
}

AggregateFixture& AggregateFixture::given_json(std::string event_type, json::object data, int schema_version) {
  return append({NewEvent{std::move(event_type), schema_version, json::value(std::move(data))}});
}

AggregateFixture& AggregateFixture::at(std::int64_t ts) {
  next_timestamp_us_ = ts;
  return *this;
}

AggregateFixture& AggregateFixture::at(std::string_view iso) { return at(timestamp_us(iso)); }

Command AggregateFixture::command(std::string command_type, json::object data) const {
  Command c;
  c.aggregate = stream_.aggregate;
  c.id = stream_.id;
  c.command = std::move(command_type);
  c.data = std::move(data);
  return c;
}

AggregateFixture& AggregateFixture::when(std::string command_type, json::object data) {
  return when(command(std::move(command_type), std::move(data)));
}

AggregateFixture& AggregateFixture::when(Command c) {
  if (c.aggregate.empty()) c.aggregate = stream_.aggregate;
  if (c.id.empty()) c.id = stream_.id;
  if (c.stream() != stream_)
    throw std::invalid_argument("when(): the command is for " + c.stream().to_string() + ", this fixture is "
                                + stream_.to_string());
  if (c.command_id.empty()) c.command_id = "command-" + std::to_string(commands_ + 1);
  ++commands_;
  last_.reset();
  last_description_ = "when(" + c.command + " " + detail::text(json::value(c.data)) + ") on "
                      + stream_.to_string() + " at version " + std::to_string(version());

  if (c.expected_version && *c.expected_version != version()) {
    last_ = Decision::reject(errc::concurrency_conflict,
                             stream_.to_string() + " is at version " + std::to_string(version())
                               + ", the command expected version " + std::to_string(*c.expected_version));
    return *this;
  }
  Decision d = type_.decide(state_, c);  // domain exceptions propagate
  if (!d.accepted()) check_declared(d.rejection().code, "when(" + c.command + ")");
  if (d.accepted()) {
    for (const auto& ev : d.events()) {
      const int current = options_.upcasters ? options_.upcasters->current_version(stream_.aggregate, ev.type) : 1;
      if (ev.schema_version != current)
        throw std::runtime_error("event '" + ev.type + "' is written as schema version "
                                 + std::to_string(ev.schema_version) + " but the current version is "
                                 + std::to_string(current) + " (set its schema_version)");
    }
    EventMetadata meta;
    meta.correlation_id = c.metadata.correlation_id;
    meta.causation_id = c.command_id;
    meta.principal = c.metadata.principal;
    commit(d.events(), meta);
  }
  last_ = std::move(d);
  return *this;
}

const Decision& AggregateFixture::last() const {
  if (!last_) throw std::logic_error("no command has been run on " + stream_.to_string() + ": call when() first");
  return *last_;
}

const Decision& AggregateFixture::decision() const { return last(); }

std::optional<Error> AggregateFixture::rejection() const {
  const Decision& d = last();
  if (d.accepted()) return std::nullopt;
  return d.rejection();
}

std::string AggregateFixture::context(const std::string& check) const {
  if (last_) return check + " after " + last_description_;
  return check + " on " + stream_.to_string() + " at version " + std::to_string(version());
}

AggregateFixture& AggregateFixture::check_events(const std::vector<NewEvent>& expected) {
  const Decision& d = last();
  const json::value want = detail::events_json(expected);
  const std::string what = context(expected.empty() ? "then_no_events" : "then_events");
  if (!d.accepted())
    detail::fail(what + ": the command was rejected\n  expected: accepted with " + json::serialize(want)
                 + "\n  actual:   rejected with " + rejection_text(d.rejection()));
  detail::expect_json(what, want, detail::events_json(d.events()), /*sort_keys=*/false);
  return *this;
}

// A code the aggregate's handlers give must be one it declares (rejects()),
// so that `annals describe` lists every code a caller can get.
void AggregateFixture::check_declared(const std::string& code, const std::string& where) const {
  const auto& declared = type_.rejection_codes();
  if (declared.empty() || declared.count(code) || errc::is_runtime_code(code)) return;
  std::string names;
  for (const auto& kv : declared) names += (names.empty() ? "" : ", ") + kv.first;
  detail::fail(where + " on " + stream_.to_string() + ": rejected with '" + code + "', which aggregate '"
               + type_.name() + "' does not declare (it declares " + names + "); add .rejects(\"" + code
               + "\", \"what it means\") to its definition");
}

AggregateFixture& AggregateFixture::then_rejected(std::string_view code, std::string_view substring) {
  const Decision& d = last();
  const std::string what = context("then_rejected");
  check_declared(std::string(code), what);
  const std::string want = expected_rejection(code, substring);
  if (d.accepted())
    detail::fail(what + ": the command was accepted\n  expected: " + want + "\n  actual:   accepted with "
                 + json::serialize(detail::events_json(d.events())));
  const Error& r = d.rejection();
  if (r.code != code || r.message.find(substring) == std::string::npos)
    detail::fail(what + ": " + (r.code != code ? "another rejection code" : "another rejection message")
                 + "\n  expected: " + want + "\n  actual:   rejected with " + rejection_text(r));
  return *this;
}

AggregateFixture& AggregateFixture::then_state_json(const json::value& expected) {
  detail::expect_json(context("then_state_json"), expected, state_json());
  return *this;
}

namespace {

// to_snapshot, stored as text, then from_snapshot: the restored state, or ExpectationFailed.
std::any snapshot_round_trip(const AggregateType& type, const std::any& state, const std::string& what,
                             json::value* snapshot_out = nullptr) {
  if (type.snapshot_every() <= 0)
    throw std::logic_error(what + ": aggregate '" + type.name() + "' takes no snapshots (snapshot_every is 0)");
  json::value snap;
  try {
    snap = type.to_snapshot(state);
  } catch (const std::exception& e) {
    detail::fail(what + ": the state cannot be saved as a snapshot: " + e.what());
  }
  auto restored = type.from_snapshot(through_text(snap, what, "snapshot"));
  if (!restored)
    detail::fail(what + ": the snapshot does not load back: " + rejection_text(restored.error())
                 + "\n  snapshot: " + detail::text(snap));
  if (snapshot_out) *snapshot_out = snap;
  return std::move(*restored);
}

} // namespace

AggregateFixture& AggregateFixture::then_snapshot_round_trips() {
  const std::string what = context("then_snapshot_round_trips");
  json::value snap;
  std::any restored = snapshot_round_trip(type_, state_, what, &snap);
  detail::expect_json(what + " (state loaded back from the snapshot vs. the state)", state_json(),
                      type_.state_to_json(restored));
  detail::expect_json(what + " (snapshot of the loaded state vs. the snapshot)", snap, type_.to_snapshot(restored));
  return *this;
}

json::value AggregateFixture::snapshot_json() const {
  if (type_.snapshot_every() <= 0)
    throw std::logic_error("snapshot_json: aggregate '" + type_.name() + "' takes no snapshots (snapshot_every is 0)");
  return type_.to_snapshot(state_);
}

AggregateFixture& AggregateFixture::restart() {
  std::any state = type_.initial_state();
  for (const Event& stored : history_) {
    Event e = stored;
    upcast(options_.upcasters, e);
    type_.evolve(state, e);
  }
  state_ = std::move(state);
  return *this;
}

AggregateFixture& AggregateFixture::restart_from_snapshot() {
  state_ = snapshot_round_trip(type_, state_, context("restart_from_snapshot"));
  return *this;
}

} // namespace annals::testkit
