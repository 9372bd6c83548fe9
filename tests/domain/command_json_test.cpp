// The JSON command envelope (parse_command / Command::to_json), the command
// fingerprint used for idempotency, and CommandResult's JSON form.

#include <annals/command.hpp>
#include <annals/command_result.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>

#include <string>

namespace json = annals::json;
using annals::CommandLimits;
using annals::parse_command;

namespace {

const char* const full_envelope = R"({
  "aggregate": "account",
  "id": "acc-1",
  "command": "deposit",
  "data": {"amount": 250, "memo": {"text": "rent", "tags": ["a", "b"]}},
  "idempotency_key": "key-17",
  "expected_version": 3,
  "metadata": {"correlation_id": "corr-9", "principal": "alice"},
  "command_id": "cmd-0001"
})";

// Parses and expects an error; returns it.
annals::Error parse_error(std::string_view text, const CommandLimits& limits = {}) {
  auto c = parse_command(text, limits);
  INFO("parsing: " << text);
  REQUIRE_FALSE(c.has_value());
  return c.error();
}

annals::Command base_command() {
  annals::Command c;
  c.aggregate = "account";
  c.id = "acc-1";
  c.command = "deposit";
  c.data = json::object{{"amount", 10}, {"memo", "x"}};
  c.expected_version = 2;
  return c;
}

} // namespace

TEST_CASE("command json: a full envelope parses into every field", "[command][json]") {
  auto c = parse_command(full_envelope);
  REQUIRE(c.has_value());
  CHECK(c->aggregate == "account");
  CHECK(c->id == "acc-1");
  CHECK(c->command == "deposit");
  CHECK(c->data.at("amount") == 250);
  CHECK(c->data.at("memo").at("text") == "rent");
  REQUIRE(c->idempotency_key.has_value());
  CHECK(*c->idempotency_key == "key-17");
  REQUIRE(c->expected_version.has_value());
  CHECK(*c->expected_version == 3);
  CHECK(c->metadata.correlation_id == "corr-9");
  CHECK(c->metadata.principal == "alice");
  CHECK(c->command_id == "cmd-0001");
  CHECK(c->stream() == annals::StreamId{"account", "acc-1"});
}

TEST_CASE("command json: a full envelope round-trips through to_json", "[command][json]") {
  auto c = parse_command(full_envelope);
  REQUIRE(c.has_value());
  json::object out = c->to_json();
  CHECK(annals::canonical_json(out) == annals::canonical_json(json::parse(full_envelope)));

  // And parsing the output again gives the same command.
  auto again = parse_command(json::serialize(out));
  REQUIRE(again.has_value());
  CHECK(annals::canonical_json(again->to_json()) == annals::canonical_json(out));
  CHECK(again->fingerprint() == c->fingerprint());
}

// Found by fuzz/fuzz_command_json (input fuzz/corpus/command_json/double_round_trip.json):
// Boost.JSON 1.81's parser rounds "10.5e300" one unit in the last place off,
// so the data written back as text read as another number.
TEST_CASE("command json: numbers in the data read back exactly after the command is written as JSON",
          "[command][json]") {
  for (const char* amount : {"10.5e300", "123456789.123456789", "2.2250738585072011e-308", "0.1", "-7.25E-3"}) {
    INFO(amount);
    const std::string text = std::string(R"({"aggregate":"account","id":"acc-1","command":"deposit","data":{"amount":)")
                             + amount + "}}";
    auto c = parse_command(text);
    REQUIRE(c.has_value());
    // The number is the correctly rounded double of the text, as strtod reads it.
    CHECK(c->data.at("amount").as_double() == std::strtod(amount, nullptr));
    auto again = parse_command(json::serialize(c->to_json()));
    REQUIRE(again.has_value());
    CHECK(again->data.at("amount").as_double() == c->data.at("amount").as_double());
    CHECK(again->fingerprint() == c->fingerprint());
  }
}

TEST_CASE("command json: a minimal envelope leaves optional fields unset", "[command][json]") {
  auto c = parse_command(R"({"aggregate": "account", "id": "acc-2", "command": "close"})");
  REQUIRE(c.has_value());
  CHECK(c->data.empty());
  CHECK_FALSE(c->idempotency_key.has_value());
  CHECK_FALSE(c->expected_version.has_value());
  CHECK(c->metadata.correlation_id.empty());
  CHECK(c->metadata.principal.empty());
  CHECK(c->command_id.empty());
  CHECK(json::serialize(c->to_json()) == R"({"aggregate":"account","id":"acc-2","command":"close","data":{}})");
}

TEST_CASE("command json: malformed JSON is invalid_command and says at which byte", "[command][json]") {
  SECTION("a stray character") {
    // Byte 25 is the 'x' where a value should start.
    auto e = parse_error(R"({"aggregate": "account", x})");
    CHECK(e.code == "invalid_command");
    CHECK_THAT(e.message, Catch::StartsWith("malformed JSON at byte 25"));
  }
  SECTION("truncated input") {
    const std::string text = R"({"aggregate": "account")";
    auto e = parse_error(text);
    CHECK(e.code == "invalid_command");
    CHECK_THAT(e.message, Catch::StartsWith("malformed JSON at byte " + std::to_string(text.size())));
  }
  SECTION("empty input") {
    auto e = parse_error("");
    CHECK(e.code == "invalid_command");
    CHECK_THAT(e.message, Catch::StartsWith("malformed JSON at byte 0"));
  }
}

TEST_CASE("command json: a number too large for a double is invalid_command, not an infinity stored as unreadable text",
          "[command][json]") {
  // Found by fuzz_event_upcast: Boost.JSON reads 1e6580136 as infinity,
  // which serializes as "Infinity" and never parses again.
  for (const std::string number : {"1000003246684e6580136", "1e400", "-1e309"}) {
    auto e = parse_error(R"({"aggregate":"account","id":"a","command":"deposit","data":{"amount":)" + number + "}}");
    CHECK(e.code == "invalid_command");
    CHECK_THAT(e.message, Catch::Contains("too large for a double"));
  }
  // The largest double and a tiny number that rounds to zero still parse.
  CHECK(parse_command(R"({"aggregate":"account","id":"a","command":"deposit","data":{"amount":1.7976931348623157e308}})",
                      CommandLimits{}).has_value());
  CHECK(parse_command(R"({"aggregate":"account","id":"a","command":"deposit","data":{"amount":1e-400}})",
                      CommandLimits{}).has_value());
}

TEST_CASE("command json: an envelope that is not an object is rejected", "[command][json]") {
  auto e = parse_error(R"(["account", "acc-1", "deposit"])");
  CHECK(e.code == "invalid_command");
  CHECK(e.message == "a command must be a JSON object, got array");

  auto s = parse_error(R"("deposit")");
  CHECK(s.message == "a command must be a JSON object, got string");
}

TEST_CASE("command json: missing aggregate, id or command is rejected naming the field", "[command][json]") {
  auto no_aggregate = parse_error(R"({"id": "acc-1", "command": "deposit"})");
  CHECK(no_aggregate.code == "invalid_command");
  CHECK(no_aggregate.message == "missing field 'aggregate'");

  auto no_id = parse_error(R"({"aggregate": "account", "command": "deposit"})");
  CHECK(no_id.code == "invalid_command");
  CHECK(no_id.message == "missing field 'id'");

  auto no_command = parse_error(R"({"aggregate": "account", "id": "acc-1"})");
  CHECK(no_command.code == "invalid_command");
  CHECK(no_command.message == "missing field 'command'");

  auto null_id = parse_error(R"({"aggregate": "account", "id": null, "command": "deposit"})");
  CHECK(null_id.code == "invalid_command");
  CHECK(null_id.message == "field 'id': expected string, got null");
}

TEST_CASE("command json: fields of the wrong type are rejected naming the field", "[command][json]") {
  SECTION("id is a number") {
    auto e = parse_error(R"({"aggregate": "account", "id": 17, "command": "deposit"})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'id': expected string, got integer");
  }
  SECTION("data is an array") {
    auto e = parse_error(R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": [1]})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'data': expected object, got array");
  }
  SECTION("expected_version is a string") {
    auto e = parse_error(
      R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "expected_version": "3"})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'expected_version': expected integer, got string");
  }
  SECTION("expected_version is a fraction") {
    auto e = parse_error(
      R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "expected_version": 1.5})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'expected_version': expected integer, got number");
  }
  SECTION("metadata.principal is a number") {
    auto e = parse_error(
      R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "metadata": {"principal": 7}})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'metadata.principal': expected string, got integer");
  }
  SECTION("metadata is a string") {
    auto e = parse_error(
      R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "metadata": "alice"})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'metadata': expected object, got string");
  }
  SECTION("idempotency_key is a boolean") {
    auto e = parse_error(
      R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "idempotency_key": true})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'idempotency_key': expected string, got boolean");
  }
}

TEST_CASE("command json: unknown fields are rejected, at the top level and in metadata", "[command][json]") {
  auto top = parse_error(R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "amount": 5})");
  CHECK(top.code == "invalid_command");
  CHECK(top.message == "unknown field 'amount'");

  auto md = parse_error(
    R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "metadata": {"user": "bob"}})");
  CHECK(md.code == "invalid_command");
  CHECK(md.message == "unknown field 'metadata.user'");
}

TEST_CASE("command json: ids must be non-empty, within the length limit and free of control characters",
          "[command][json][limits]") {
  SECTION("empty id") {
    auto e = parse_error(R"({"aggregate": "account", "id": "", "command": "deposit"})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'id' must not be empty");
  }
  SECTION("id one byte over the limit") {
    CommandLimits limits;
    limits.max_id_length = 8;
    auto ok = parse_command(R"({"aggregate": "account", "id": "12345678", "command": "deposit"})", limits);
    CHECK(ok.has_value());
    auto e = parse_error(R"({"aggregate": "account", "id": "123456789", "command": "deposit"})", limits);
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'id' is 9 bytes long; the limit is 8");
  }
  SECTION("id over the default limit") {
    const std::string id(CommandLimits{}.max_id_length + 1, 'a');
    auto e = parse_error(R"({"aggregate": "account", "id": ")" + id + R"(", "command": "deposit"})");
    CHECK(e.code == "invalid_command");
    CHECK_THAT(e.message, Catch::StartsWith("field 'id' is 257 bytes long"));
  }
  SECTION("a control character in the id") {
    auto e = parse_error(R"({"aggregate": "account", "id": "acc\n1", "command": "deposit"})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'id' contains control characters");
  }
  SECTION("an empty aggregate") {
    auto e = parse_error(R"({"aggregate": "", "id": "acc-1", "command": "deposit"})");
    CHECK(e.code == "invalid_command");
    CHECK(e.message == "field 'aggregate' must not be empty");
  }
}

TEST_CASE("command json: a negative expected_version is rejected", "[command][json]") {
  auto e = parse_error(
    R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "expected_version": -1})");
  CHECK(e.code == "invalid_command");
  CHECK(e.message == "field 'expected_version' must be >= 0, got -1");

  auto zero = parse_command(
    R"({"aggregate": "account", "id": "acc-1", "command": "open", "expected_version": 0})");
  REQUIRE(zero.has_value());
  REQUIRE(zero->expected_version.has_value());
  CHECK(*zero->expected_version == 0);
}

TEST_CASE("command json: an envelope over max_envelope_bytes is payload_too_large", "[command][json][limits]") {
  CommandLimits limits;
  limits.max_envelope_bytes = 100;
  const std::string small = R"({"aggregate": "account", "id": "acc-1", "command": "deposit"})";
  REQUIRE(small.size() <= 100);
  CHECK(parse_command(small, limits).has_value());

  const std::string big = R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": {"memo": ")"
                          + std::string(100, 'm') + R"("}})";
  auto e = parse_error(big, limits);
  CHECK(e.code == "payload_too_large");
  CHECK(e.message == "command is " + std::to_string(big.size()) + " bytes; the limit is 100");

  // Even when it is not valid JSON: the size is checked first.
  auto junk = parse_error(std::string(101, '{'), limits);
  CHECK(junk.code == "payload_too_large");
}

TEST_CASE("command json: data over max_data_bytes is payload_too_large", "[command][json][limits]") {
  CommandLimits limits;
  limits.max_data_bytes = 64;
  const std::string fits = R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": {"m": ")"
                           + std::string(50, 'x') + R"("}})";  // data serializes to 58 bytes
  CHECK(parse_command(fits, limits).has_value());

  const std::string big = R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": {"m": ")"
                          + std::string(60, 'x') + R"("}})";  // 68 bytes
  auto e = parse_error(big, limits);
  CHECK(e.code == "payload_too_large");
  CHECK(e.message == "command data is 68 bytes; the limit is 64");
}

TEST_CASE("command fingerprint: metadata, command id, idempotency key and data key order do not matter",
          "[command][fingerprint]") {
  annals::Command a = base_command();
  annals::Command b = base_command();
  b.metadata.correlation_id = "corr-other";
  b.metadata.principal = "mallory";
  b.command_id = "cmd-other";
  b.idempotency_key = "some-key";
  b.data = json::object{};
  b.data["memo"] = "x";
  b.data["amount"] = 10;
  REQUIRE(json::serialize(a.data) != json::serialize(b.data));  // really a different key order
  CHECK(a.fingerprint() == b.fingerprint());
}

TEST_CASE("command fingerprint: differs when data, target, command or expected version differ",
          "[command][fingerprint]") {
  const annals::Command a = base_command();

  annals::Command data = a;
  data.data["amount"] = 11;
  CHECK(a.fingerprint() != data.fingerprint());

  annals::Command extra = a;
  extra.data["note"] = "n";
  CHECK(a.fingerprint() != extra.fingerprint());

  annals::Command id = a;
  id.id = "acc-2";
  CHECK(a.fingerprint() != id.fingerprint());

  annals::Command cmd = a;
  cmd.command = "withdraw";
  CHECK(a.fingerprint() != cmd.fingerprint());

  annals::Command ver = a;
  ver.expected_version = 3;
  CHECK(a.fingerprint() != ver.fingerprint());

  annals::Command nover = a;
  nover.expected_version.reset();
  CHECK(a.fingerprint() != nover.fingerprint());
}

TEST_CASE("command result json: an accepted result with events round-trips", "[command_result][json]") {
  const annals::StreamId s{"account", "acc-1"};
  std::vector<annals::Event> events(2);
  events[0].stream = s;
  events[0].version = 4;
  events[0].position = 40;
  events[0].type = "opened";
  events[0].data = json::object{{"owner", "Ada"}};
  events[1].stream = s;
  events[1].version = 5;
  events[1].position = 41;
  events[1].type = "deposited";
  events[1].data = json::object{{"amount", 100}};
  auto r = annals::CommandResult::accept(s, 5, 41, events);

  json::object j = r.to_json();
  CHECK(j.at("status") == "accepted");
  CHECK(j.at("replayed") == false);
  CHECK_FALSE(j.contains("error"));

  auto back = annals::CommandResult::from_json(j);
  REQUIRE(back.has_value());
  CHECK(back->accepted());
  CHECK(back->aggregate == "account");
  CHECK(back->id == "acc-1");
  CHECK(back->version == 5);
  CHECK(back->position == 41);
  CHECK_FALSE(back->replayed);
  CHECK_FALSE(back->error.has_value());
  CHECK(back->code().empty());
  REQUIRE(back->events.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(back->events[i].stream == s);
    CHECK(back->events[i].version == events[i].version);
    CHECK(back->events[i].position == events[i].position);
    CHECK(back->events[i].type == events[i].type);
    CHECK(back->events[i].data == events[i].data);
  }
  CHECK(back->to_json() == j);
}

TEST_CASE("command result json: a rejected result with its error round-trips", "[command_result][json]") {
  auto r = annals::CommandResult::reject({"account", "acc-9"},
                                         annals::Error{"insufficient_funds", "balance 5 is less than 10"}, 7);
  r.replayed = true;
  json::object j = r.to_json();
  CHECK(j.at("status") == "rejected");
  CHECK(j.at("error").at("code") == "insufficient_funds");

  auto back = annals::CommandResult::from_json(j);
  REQUIRE(back.has_value());
  CHECK(back->rejected());
  CHECK(back->aggregate == "account");
  CHECK(back->id == "acc-9");
  CHECK(back->version == 7);
  CHECK(back->position == 0);
  CHECK(back->events.empty());
  CHECK(back->replayed);
  REQUIRE(back->error.has_value());
  CHECK(back->code() == "insufficient_funds");
  CHECK(back->error->message == "balance 5 is less than 10");
  CHECK(back->to_json() == j);
}

TEST_CASE("command result json: a failed result keeps its status", "[command_result][json]") {
  auto r = annals::CommandResult::fail({"account", "acc-3"}, annals::Error{"store_unavailable", "disk full"});
  auto back = annals::CommandResult::from_json(r.to_json());
  REQUIRE(back.has_value());
  CHECK(back->failed());
  CHECK(back->code() == "store_unavailable");
}

TEST_CASE("command result json: malformed stored results are reported, not thrown", "[command_result][json]") {
  auto bad_status = annals::CommandResult::from_json(
    json::parse(R"({"status": "maybe", "aggregate": "a", "id": "b", "version": 0, "position": 0})"));
  REQUIRE_FALSE(bad_status.has_value());
  CHECK(bad_status.error().code == "internal_error");
  CHECK_THAT(bad_status.error().message, Catch::Contains("status 'maybe'"));

  auto not_object = annals::CommandResult::from_json(json::parse("[]"));
  REQUIRE_FALSE(not_object.has_value());
  CHECK(not_object.error().code == "internal_error");
}
