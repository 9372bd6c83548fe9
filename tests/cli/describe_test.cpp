// `annals describe` (docs/scenarios.md, "The example domains"): the
// reference of each domain comes from its registered types, and the copy in
// docs/scenarios.md is the current output.

#include "cli_test_support.hpp"
#include "text.hpp"

#include <annals/persistence/memory_event_store.hpp>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace annals;
using annals::test::contains;

namespace {

json::object described(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"describe", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = test::run_annals(test::example_catalog(), args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return json::parse(r.out).as_object();
}

const json::object& named(const json::value& list, const std::string& name) {
  for (const auto& v : list.as_array())
    if (v.at("name") == json::value(name)) return v.as_object();
  FAIL("nothing named " << name << " in " << json::serialize(list));
  throw std::logic_error("unreachable");
}

// The text between the markers in a docs file, without the fence lines.
std::string doc_block(const std::string& file, const std::string& begin, const std::string& end) {
  std::ifstream in(file);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const auto b = text.find(begin);
  const auto e = text.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  std::string block = text.substr(b + begin.size(), e - b - begin.size());
  // Strip the ```text fence that renders it.
  const auto open = block.find("```text\n");
  const auto close = block.rfind("```");
  REQUIRE(open != std::string::npos);
  REQUIRE(close > open);
  return block.substr(open + 8, close - open - 8);
}

} // namespace

SCENARIO("describe: each example domain's reference comes from its registered types") {
  GIVEN("the catalog of the annals executable") {
    WHEN("annals describe --json runs") {
      const auto doc = described();
      THEN("commands and events carry the shapes of their described structs") {
        const auto& bank = named(doc.at("domains"), "bank");
        const auto& account = named(bank.at("aggregates"), "account");
        CHECK(account.at("commands").at("deposit") == json::parse(R"({"amount":"integer"})"));
        CHECK(account.at("commands").at("open") == json::parse(R"({"owner":"string","initial_deposit?":"integer"})"));
        CHECK(account.at("commands").at("close") == json::object{});
        CHECK(account.at("events").at("withdrawn") == json::parse(R"({"amount":"integer"})"));
        AND_THEN("the declared rejection codes with their meanings") {
          CHECK(contains(std::string(account.at("rejections").at("insufficient_funds").as_string()), "withdraw"));
          CHECK(account.at("rejections").as_object().size() == 8);
        }
        AND_THEN("nested shapes: arrays of structs") {
          const auto& order = named(named(doc.at("domains"), "orders").at("aggregates"), "order");
          CHECK(order.at("commands").at("place") ==
                json::parse(R"({"customer":"string","items":[{"sku":"string","quantity":"integer","unit_price":"integer"}]})"));
        }
        AND_THEN("projections with the events they follow and their queries' args and answers") {
          const auto& balances = named(bank.at("projections"), "balances");
          CHECK(balances.at("follows") ==
                json::parse(R"(["account/closed","account/deposited","account/opened","account/withdrawn"])"));
          CHECK(balances.at("queries").at("balance") ==
                json::parse(R"({"args":{"id":"string"},
                                "answer":{"owner":"string","balance":"integer","closed":"boolean","id":"string"}})"));
          CHECK(balances.at("queries").at("accounts").at("args") == json::object{});
          CHECK(balances.at("queries").at("accounts").at("answer").is_array());
          const auto& daily = named(bank.at("projections"), "daily_totals");
          CHECK(daily.at("queries").at("days").at("answer").at("*") ==
                json::parse(R"({"deposits":"integer","deposited":"integer","withdrawals":"integer","withdrawn":"integer"})"));
        }
        AND_THEN("the runtime's own codes are listed") {
          const auto& codes = doc.at("runtime_codes").as_array();
          CHECK(std::find(codes.begin(), codes.end(), json::value("outcome_unknown")) != codes.end());
        }
      }
    }
  }
}

SCENARIO("describe: the answers of a query are what its shape says") {
  // The shape is the answer's type: a balance query answers those fields.
  Runtime rt([] {
    RuntimeOptions o;
    o.store = memory_store();
    o.log.level = LogLevel::off;
    return o;
  }());
  test::example_catalog().install(rt, {"bank"});
  Command open;
  open.aggregate = "account";
  open.id = "acc-1";
  open.command = "open";
  open.data = {{"owner", "ada"}, {"initial_deposit", 5}};
  auto r = rt.execute(open);
  REQUIRE(r.accepted());
  auto answer = rt.query("balances", "balance", {{"id", "acc-1"}}, r.position);
  REQUIRE(answer);
  CHECK(*answer == json::parse(R"({"owner":"ada","balance":5,"closed":false,"id":"acc-1"})"));
  auto total = rt.query("balances", "total", {}, r.position);
  REQUIRE(total);
  CHECK(*total == json::parse(R"({"total":5,"accounts":1})"));
  AND_THEN("a query declared without arguments refuses one, naming it") {
    auto bad = rt.query("balances", "total", {{"id", "acc-1"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == "invalid_query");
    CHECK(contains(bad.error().message, "unknown field 'id'"));
  }
}

SCENARIO("describe: docs/scenarios.md holds the current output of `annals describe`") {
  auto r = test::run_program(ANNALS_CLI, {"describe"});  // the executable's own catalog (cli/main.cpp)
  REQUIRE(r.code == 0);
  const std::string docs = std::string(ANNALS_DOCS_DIR) + "/scenarios.md";
  INFO("regenerate the block in docs/scenarios.md with: annals describe");
  CHECK(doc_block(docs, "<!-- annals describe: begin -->", "<!-- annals describe: end -->") == r.out);
}

SCENARIO("describe: --domain picks domains, and an unknown one is a usage error naming the known ones") {
  const auto doc = described({"--domain", "orders"});
  CHECK(doc.at("domains").as_array().size() == 1);
  auto r = test::run_annals(test::example_catalog(), {"describe", "--domain", "bnak"});
  CHECK(r.code == 2);
  CHECK(contains(r.reason(), "unknown domain 'bnak'"));
  CHECK(contains(r.reason(), "bank"));
}
