// Names read from a stored row or a request (an event type, a command name)
// reach messages that operators read through what() and on a terminal: a
// control character in one must neither cut the message short nor reach the
// terminal raw (fuzz_event_upcast found a NUL hiding the stream).

#include <annals/aggregate_type.hpp>
#include <annals/quoted.hpp>
#include <annals/upcasters.hpp>
#include <bank/account.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using namespace annals;
using Catch::Matchers::Contains;

TEST_CASE("quoted writes each control character as a JSON-style escape and leaves the rest") {
  CHECK(quoted("frozen") == "'frozen'");
  CHECK(quoted(std::string("a\0b", 3)) == "'a\\u0000b'");
  CHECK(quoted("\x1b[2Jx\x7f") == "'\\u001b[2Jx\\u007f'");
  CHECK(quoted("d\xc3\xa9p\xc3\xb4t") == "'d\xc3\xa9p\xc3\xb4t'");  // UTF-8 stays as it is
  CHECK(printable("\n") == "\\u000a");
}

SCENARIO("a stored event whose type holds a NUL is refused with a message that names its stream") {
  GIVEN("the bank's account aggregate and a stored event of type \"deposited\\0x\"") {
    const auto account = bank::account_type();
    Event e;
    e.stream = {"account", "acc-1"};
    e.version = 1;
    e.position = 7;
    e.type = std::string("deposited\0x", 11);
    e.data = json::object{{"amount", 5}};
    WHEN("it is applied to the aggregate's state") {
      auto state = account.initial_state();
      THEN("the error's what() shows the NUL escaped and still names the event and the stream") {
        try {
          account.evolve(state, e);
          FAIL("an event of an unknown type was applied");
        } catch (const std::runtime_error& error) {
          CHECK_THAT(std::string(error.what()),
                     Contains("has no handler for event 'deposited\\u0000x' (event 7 of account/acc-1)"));
        }
      }
    }
  }
}

SCENARIO("an unknown command name with an escape sequence is echoed escaped") {
  GIVEN("a command named \"open\\x1b[2J\"") {
    const auto account = bank::account_type();
    Command c;
    c.aggregate = "account";
    c.id = "acc-1";
    c.command = "open\x1b[2J";
    WHEN("the aggregate decides it") {
      auto state = account.initial_state();
      const auto d = account.decide(state, c);
      THEN("unknown_command, naming it with the escape written out") {
        REQUIRE_FALSE(d.accepted());
        CHECK(d.rejection().code == "unknown_command");
        CHECK(d.rejection().message == "aggregate 'account' has no command 'open\\u001b[2J'");
      }
    }
  }
}

SCENARIO("an upcast error names an event type with a control character escaped") {
  GIVEN("upcasters of \"deposited\" up to v2 and a stored v3 event whose type holds a tab") {
    Upcasters u;
    const std::string type("deposited\t", 10);
    u.add("account", type, 1, [](json::value v) { return v; });
    Event e;
    e.stream = {"account", "acc-1"};
    e.position = 2;
    e.type = type;
    e.schema_version = 3;
    WHEN("it is upcast") {
      const auto error = u.upcast(e);
      THEN("an error names it as 'deposited\\u0009 v3'") {
        REQUIRE(error);
        CHECK_THAT(error->message, Contains("event 2 (deposited\\u0009 v3) of account/acc-1 is newer than this build"));
      }
    }
  }
}
