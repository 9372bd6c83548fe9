// The testkit: ProjectionFixture, given events / then query answers.
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
