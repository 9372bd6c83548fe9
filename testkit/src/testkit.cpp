#include "annals/testkit.hpp"

#include "annals/upcasters.hpp"

#include <algorithm>
#include <cctype>

namespace annals::testkit {

// --- timestamps ----------------------------------------------------------------

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

} // namespace

std::int64_t timestamp_us(std::string_view iso) {
  auto bad = [&]() -> std::invalid_argument {
    return std::invalid_argument("not an ISO 8601 UTC date or time (2026-11-24, 2026-11-24T10:00:00Z, "
                                 "2026-11-24T10:00:00.250Z): '" + std::string(iso) + "'");
  };
  std::size_t i = 0;
  auto number = [&](std::size_t digits) -> std::int64_t {
    std::int64_t v = 0;
    for (std::size_t k = 0; k < digits; ++k, ++i) {
      if (i >= iso.size() || !std::isdigit(static_cast<unsigned char>(iso[i]))) throw bad();
      v = v * 10 + (iso[i] - '0');
    }
    return v;
  };
  auto expect = [&](char c) {
    if (i >= iso.size() || iso[i] != c) throw bad();
    ++i;
  };
  const std::int64_t year = number(4);
  expect('-');
  const auto month = static_cast<unsigned>(number(2));
  expect('-');
  const auto day = static_cast<unsigned>(number(2));
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) throw bad();
  std::int64_t seconds = days_from_civil(year, month, day) * 86400;
  std::int64_t micros = 0;
  if (i < iso.size()) {
    expect('T');
    const std::int64_t h = number(2);
    expect(':');
    const std::int64_t m = number(2);
    expect(':');
    const std::int64_t s = number(2);
    if (h > 23 || m > 59 || s > 59) throw bad();
    seconds += h * 3600 + m * 60 + s;
    if (i < iso.size() && iso[i] == '.') {
      ++i;
      std::int64_t scale = 100000;
      std::size_t digits = 0;
      while (i < iso.size() && std::isdigit(static_cast<unsigned char>(iso[i]))) {
        if (++digits > 6) throw bad();
        micros += (iso[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (digits == 0) throw bad();
    }
    if (i < iso.size() && iso[i] == 'Z') ++i;
    if (i != iso.size()) throw bad();
  }
  return seconds * 1'000'000 + micros;
}

// --- messages ----------------------------------------------------------------

namespace detail {

void fail(const std::string& message) { throw ExpectationFailed(message); }

std::string text(const json::value& v) { return canonical_json(v); }

namespace {

// "(root)[0].data.amount" -> "[0].data.amount"
std::string tidy_path(std::string p) {
  static const std::string root = "(root)";
  if (p.compare(0, root.size(), root) == 0 && p.size() > root.size()) p.erase(0, root.size());
  return p;
}

std::string differences(const json::value& expected, const json::value& actual) {
  const auto paths = json_differences(expected, actual, 5);
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : ", ") + tidy_path(p);
  return out;
}

// Keys in a readable order (type before data), data canonical.
json::value event_json(const NewEvent& e) {
  json::object o;
  o["type"] = e.type;
  if (e.schema_version != 1) o["schema_version"] = e.schema_version;
  o["data"] = json::parse(canonical_json(e.data));
  return o;
}

} // namespace

void expect_json(const std::string& what, const json::value& expected, const json::value& actual, bool sort_keys) {
  if (expected == actual) return;
  auto show = [&](const json::value& v) { return sort_keys ? text(v) : json::serialize(v); };
  fail(what + ": differs at " + differences(expected, actual) + "\n  expected: " + show(expected)
       + "\n  actual:   " + show(actual));
}

json::value events_json(const std::vector<NewEvent>& events) {
  json::array out;
  for (const auto& e : events) out.push_back(event_json(e));
  return out;
}

} // namespace detail

namespace {

std::string rejection_text(const Error& e) { return e.code + ": " + e.message; }

std::string quoted(std::string_view s) { return json::serialize(json::value(json::string(s))); }

std::string expected_rejection(std::string_view code, std::string_view substring) {
  std::string out = "rejected with " + std::string(code);
  if (!substring.empty()) out += ", message containing " + quoted(substring);
  return out;
}

// Brings a stored event to the current schema version, as the runtime does
// before an aggregate or projection sees it.
void upcast(const Upcasters* upcasters, Event& e) {
  if (!upcasters) return;
  if (auto err = upcasters->upcast(e)) throw std::runtime_error("cannot apply stored event: " + err->message);
}

} // namespace

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

AggregateFixture& AggregateFixture::then_rejected(std::string_view code, std::string_view substring) {
  const Decision& d = last();
  const std::string what = context("then_rejected");
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

// What a store does to a document: serialize it, parse it back.
json::value through_text(const json::value& v, const std::string& what, const std::string& name) {
  const std::string stored = json::serialize(v);
  json::error_code ec;
  json::value back = json::parse(stored, ec);
  if (ec)
    detail::fail(what + ": the " + name + " is not valid JSON once stored as text (" + ec.message() + ")\n  "
                 + name + ": " + stored);
  return back;
}

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

// --- ProjectionFixture -------------------------------------------------------------

ProjectionFixture::ProjectionFixture(ProjectionType type, Options options)
  : type_(std::move(type)), options_(options), model_(type_.empty_model()), next_timestamp_us_(options.start_us) {}

ProjectionFixture& ProjectionFixture::apply_all(std::vector<Event> events) {
  // Apply to a copy: a handler that throws leaves the fixture as it was.
  std::any next = model_;
  std::map<StreamId, std::int64_t> versions = versions_;
  std::int64_t position = position_;
  std::int64_t ts = next_timestamp_us_;
  for (Event& e : events) {
    if (e.position == 0) e.position = position + 1;
    if (e.position <= position)
      throw std::invalid_argument("given_event: position " + std::to_string(e.position)
                                  + " is not after the last position " + std::to_string(position));
    position = e.position;
    std::int64_t& v = versions[e.stream];
    if (e.version == 0) e.version = v + 1;
    v = std::max(v, e.version);
    if (e.metadata.timestamp_us == 0) {
      e.metadata.timestamp_us = ts;
      ts += options_.tick_us;
    }
    Event current = e;
    upcast(options_.upcasters, current);
    type_.apply(next, current);
  }
  model_ = std::move(next);
  versions_ = std::move(versions);
  position_ = position;
  next_timestamp_us_ = ts;
  history_.insert(history_.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
  return *this;
}

ProjectionFixture& ProjectionFixture::append(const StreamId& stream, const std::vector<NewEvent>& events) {
  if (stream.aggregate.empty() || stream.id.empty())
    throw std::invalid_argument("given(): the aggregate type and id must not be empty");
  std::vector<Event> out;
  out.reserve(events.size());
  for (const auto& ne : events) {
    Event e;
    e.stream = stream;
    e.type = ne.type;
    e.schema_version = ne.schema_version;
    e.data = ne.data;
    out.push_back(std::move(e));
  }
  return apply_all(std::move(out));
}

ProjectionFixture& ProjectionFixture::given_json(const std::string& aggregate, const std::string& id,
                                                 std::string event_type, json::object data, int schema_version) {
  return append({aggregate, id}, {NewEvent{std::move(event_type), schema_version, json::value(std::move(data))}});
}

ProjectionFixture& ProjectionFixture::given_event(Event event) { return apply_all({std::move(event)}); }

ProjectionFixture& ProjectionFixture::given_history(const std::vector<Event>& events) {
  std::vector<Event> out = events;
  for (Event& e : out) e.position = 0;
  return apply_all(std::move(out));
}

ProjectionFixture& ProjectionFixture::at(std::int64_t ts) {
  next_timestamp_us_ = ts;
  return *this;
}

ProjectionFixture& ProjectionFixture::at(std::string_view iso) { return at(timestamp_us(iso)); }

Expected<json::value> ProjectionFixture::query(const std::string& name, const json::object& args) const {
  return type_.query(model_, name, args);
}

std::string ProjectionFixture::context(const std::string& check) const {
  return check + " on projection '" + type_.name() + "' at position " + std::to_string(position_);
}

ProjectionFixture& ProjectionFixture::then_query(const std::string& name, const json::object& args,
                                                 const json::value& expected) {
  const std::string what = context("then_query(" + name + " " + detail::text(json::value(args)) + ")");
  auto r = query(name, args);
  if (!r)
    detail::fail(what + ": the query failed\n  expected: " + detail::text(expected) + "\n  actual:   error "
                 + rejection_text(r.error()));
  detail::expect_json(what, expected, *r);
  return *this;
}

ProjectionFixture& ProjectionFixture::then_query_error(const std::string& name, const json::object& args,
                                                       std::string_view code, std::string_view substring) {
  const std::string what = context("then_query_error(" + name + " " + detail::text(json::value(args)) + ")");
  std::string want = "error " + std::string(code);
  if (!substring.empty()) want += ", message containing " + quoted(substring);
  auto r = query(name, args);
  if (r)
    detail::fail(what + ": the query answered\n  expected: " + want + "\n  actual:   " + detail::text(*r));
  if (r.error().code != code || r.error().message.find(substring) == std::string::npos)
    detail::fail(what + ": " + (r.error().code != code ? "another error code" : "another error message")
                 + "\n  expected: " + want + "\n  actual:   error " + rejection_text(r.error()));
  return *this;
}

ProjectionFixture& ProjectionFixture::then_model_json(const json::value& expected) {
  detail::expect_json(context("then_model_json"), expected, model_json());
  return *this;
}

ProjectionFixture& ProjectionFixture::then_model_round_trips(
  const std::vector<std::pair<std::string, json::object>>& queries) {
  const std::string what = context("then_model_round_trips");
  const json::value saved = model_json();
  auto restored = type_.model_from_json(through_text(saved, what, "model"));
  if (!restored)
    detail::fail(what + ": the model's JSON does not load back: " + rejection_text(restored.error())
                 + "\n  model: " + detail::text(saved));
  detail::expect_json(what + " (model loaded back vs. the model)", saved, type_.model_to_json(*restored));
  for (const auto& [name, args] : queries) {
    auto a = type_.query(model_, name, args);
    auto b = type_.query(*restored, name, args);
    auto as_json = [](const Expected<json::value>& r) {
      return r ? json::value(json::object{{"value", *r}})
               : json::value(json::object{{"error", r.error().code}, {"message", r.error().message}});
    };
    detail::expect_json(what + " (query " + name + " " + detail::text(json::value(args))
                          + " on the loaded model vs. the model)",
                        as_json(a), as_json(b));
  }
  return *this;
}

} // namespace annals::testkit
