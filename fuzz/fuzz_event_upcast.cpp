// Fuzzes the read side of a stored event: its data and metadata as stored
// JSON text -> the upcaster chain -> the typed event of a real aggregate
// (the bank account) and of its projections. The input is one stored row as
// JSON: {"type": "deposited", "schema_version": 1, "data": {...},
// "metadata": {...}, "timestamp_us": 0}; missing fields take defaults.
// Checks, beyond "no crash, no UB":
//  - an upcast that fails is an Error naming the event, never an exception;
//  - an event that cannot be applied throws std::runtime_error naming the
//    event's stream (what the runtime turns into a failure it reports),
//    never another exception type and never a silent wrong state.
#include <annals/aggregate_type.hpp>
#include <annals/event.hpp>
#include <annals/json_parse.hpp>
#include <annals/projection_type.hpp>
#include <annals/upcasters.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

namespace json = annals::json;

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_event_upcast: %s\n", what.c_str());
  std::abort();
}

// A plausible history of the bank's schema, so the chain has several steps:
// "opened" v1 {"name"} -> v2 {"owner"}; "deposited" v1 {"dollars"} -> v2
// {"cents"} -> v3 {"amount"} (the current shape, bank::Deposited).
const annals::Upcasters& upcasters() {
  static annals::Upcasters u;
  static const bool registered = [] {
    u.add("account", "opened", 1, [](json::value v) {
      auto& o = v.as_object();
      // A copy first: inserting "owner" may move the object's storage, and
      // with it what o.at("name") refers to.
      json::value name = o.at("name");
      o.erase("name");
      o["owner"] = std::move(name);
      return v;
    });
    u.add("account", "deposited", 1, [](json::value v) {
      auto& o = v.as_object();
      const std::int64_t dollars = o.at("dollars").as_int64();
      if (dollars > std::numeric_limits<std::int64_t>::max() / 100 || dollars < std::numeric_limits<std::int64_t>::min() / 100)
        throw std::out_of_range("dollars out of range");
      o["cents"] = dollars * 100;
      o.erase("dollars");
      return v;
    });
    u.add("account", "deposited", 2, [](json::value v) {
      auto& o = v.as_object();
      json::value cents = o.at("cents");
      o.erase("cents");
      o["amount"] = std::move(cents);
      return v;
    });
    return true;
  }();
  (void)registered;
  return u;
}

// Runs f; an exception must be a std::runtime_error whose message names `stream`.
template <class F>
void expect_clean(F&& f, const std::string& stream, const char* where) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(stream) == std::string::npos)
      fail(std::string(where) + ": an error that does not name the stream: " + e.what());
  } catch (const std::exception& e) {
    fail(std::string(where) + ": an exception of type " + typeid(e).name() + ": " + e.what());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  static const annals::AggregateType account = bank::account_type();
  static const annals::ProjectionType balances = bank::balances_projection();
  static const annals::ProjectionType daily = bank::daily_totals_projection();

  // Parsed as the store reads its rows (annals::parse_json: exact doubles, no
  // infinities; a number beyond a double is an error, as for a stored row).
  json::error_code ec;
  json::value row = annals::parse_json(std::string_view(reinterpret_cast<const char*>(bytes), size), ec);
  if (ec || !row.is_object()) return 0;
  const json::object& o = row.get_object();

  annals::Event e;
  e.stream = {"account", "acc-1"};
  e.version = 2;
  e.position = 7;
  if (const auto* t = o.if_contains("type")) {
    if (!t->is_string()) return 0;
    e.type = std::string(t->get_string());
  }
  if (const auto* v = o.if_contains("schema_version")) {
    if (!v->is_int64() || v->get_int64() < std::numeric_limits<int>::min()
        || v->get_int64() > std::numeric_limits<int>::max())
      return 0;  // the store's column is an int
    e.schema_version = static_cast<int>(v->get_int64());
  }
  // The data and metadata are stored as text: serialize, parse back.
  // The store refuses to write data that is not finite (append_rules), and
  // parse_json never makes such data, so the round trip always parses.
  if (const auto* d = o.if_contains("data")) {
    e.data = annals::parse_json(json::serialize(*d), ec);
    if (ec) fail("data the store would write does not parse back: " + ec.message());
  }
  if (const auto* m = o.if_contains("metadata")) e.metadata = annals::EventMetadata::from_json(*m);
  if (const auto* ts = o.if_contains("timestamp_us")) {
    if (!ts->is_int64()) return 0;
    e.metadata.timestamp_us = ts->get_int64();
  }

  std::optional<annals::Error> upcast_error;
  try {
    upcast_error = upcasters().upcast(e);
  } catch (const std::exception& ex) {
    fail(std::string("upcast threw instead of returning an error: ") + ex.what());
  }
  if (upcast_error) {
    if (upcast_error->message.find("account/acc-1") == std::string::npos)
      fail("an upcast error that does not name the event: " + upcast_error->message);
    return 0;
  }

  // Apply to the aggregate (fresh, and after some history) and to both projections.
  const std::string stream = e.stream.to_string();
  std::any fresh = account.initial_state();
  expect_clean([&] { account.evolve(fresh, e); }, stream, "account");
  annals::Event opened;
  opened.stream = e.stream;
  opened.version = 1;
  opened.position = 3;
  opened.type = "opened";
  opened.data = json::object{{"owner", "Ada"}};
  std::any used = account.initial_state();
  account.evolve(used, opened);
  expect_clean([&] { account.evolve(used, e); }, stream, "account after opened");

  std::any model = balances.empty_model();
  expect_clean([&] { balances.apply(model, e); }, stream, "balances");
  std::any days = daily.empty_model();
  expect_clean([&] { daily.apply(days, e); }, stream, "daily_totals");
  (void)balances.model_to_json(model);
  (void)daily.model_to_json(days);
  return 0;
}
