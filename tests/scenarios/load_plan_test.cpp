// The commands of a `load` step are made before it runs, from its seed: the
// same step and seed give the same commands on every machine and in every
// version (a promise to scenario writers: a scenario's numbers mean the same
// traffic tomorrow), a different seed gives different ones.

#include <annals/scenarios/load_plan.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

using namespace annals;
using namespace annals::scenarios;

namespace {

json::value j(const char* text) { return boost::json::parse(text); }

LoadCommand lc(std::string command, const char* data, int weight = 1) {
  LoadCommand c;
  c.command = std::move(command);
  c.data = j(data);
  c.weight = weight;
  return c;
}

// 50 accounts, 2000 commands: the bank demo's load.
LoadStep bank_load(std::uint64_t seed = 42) {
  LoadStep s;
  s.aggregate = "account";
  s.id = "acc-{i}";
  s.aggregates = 50;
  s.commands = 2000;
  s.concurrency = 8;
  s.seed = seed;
  s.setup = lc("open", R"({"owner": "customer {i}", "initial_deposit": 100})");
  s.mix = {lc("deposit", R"({"amount": {"random": [1, 100]}})", 3), lc("withdraw", R"({"amount": {"random": [1, 200]}})", 1)};
  s.retry_fraction = 0.3;
  return s;
}

// A command as one comparable string: target, data, key, flags.
std::string text(const PlannedCommand& p) {
  return std::to_string(p.aggregate) + (p.setup ? " setup " : " ") + (p.retried ? "retried " : "") +
         boost::json::serialize(p.command.to_json());
}

std::vector<std::string> texts(const LoadPlan& plan) {
  std::vector<std::string> out;
  for (const auto& p : plan.setup) out.push_back(text(p));
  for (const auto& p : plan.commands) out.push_back(text(p));
  return out;
}

} // namespace

SCENARIO("A load's commands are reproducible from its seed") {
  GIVEN("the bank demo's load step") {
    const auto step = bank_load(42);
    WHEN("it is planned twice with the same seed") {
      const auto a = plan_load(step, "k");
      const auto b = plan_load(step, "k");
      THEN("the commands are the same: targets, data, keys, retried flags") {
        REQUIRE(a.commands.size() == 2000);
        CHECK(texts(a) == texts(b));
      }
    }
    WHEN("it is planned with another seed") {
      const auto a = plan_load(bank_load(42), "k");
      const auto b = plan_load(bank_load(43), "k");
      THEN("the commands differ (targets, amounts and retried flags), though there are as many") {
        REQUIRE(a.commands.size() == b.commands.size());
        std::size_t different_target = 0, different_data = 0, different_retry = 0;
        for (std::size_t n = 0; n < a.commands.size(); ++n) {
          different_target += a.commands[n].command.id != b.commands[n].command.id;
          different_data += a.commands[n].command.data != b.commands[n].command.data;
          different_retry += a.commands[n].retried != b.commands[n].retried;
        }
        CHECK(different_target > 1000);
        CHECK(different_data > 1000);
        CHECK(different_retry > 100);
      }
    }
    WHEN("only the retry fraction changes") {
      auto no_retries = step;
      no_retries.retry_fraction = 0;
      const auto a = plan_load(step, "k");
      const auto b = plan_load(no_retries, "k");
      THEN("the commands themselves stay the same (the retry draw never shifts the others)") {
        REQUIRE(a.commands.size() == 2000);
        REQUIRE(b.commands.size() == a.commands.size());
        std::size_t retried_a = 0, retried_b = 0;
        for (std::size_t n = 0; n < a.commands.size(); ++n) {
          REQUIRE(a.commands[n].command.to_json() == b.commands[n].command.to_json());
          retried_a += a.commands[n].retried;
          retried_b += b.commands[n].retried;
        }
        CHECK(retried_a > 300);  // retries were drawn in one plan (a fraction of 0.3) ...
        CHECK(retried_b == 0);   // ... and not in the other, and yet the commands are the same
      }
    }
  }
}

TEST_CASE("A small seeded plan gives exactly these commands (a change to the generator must be noticed)") {
  LoadStep s;
  s.aggregate = "account";
  s.id = "acc-{i}";
  s.aggregates = 3;
  s.commands = 6;
  s.seed = 7;
  s.setup = lc("open", R"({"owner": "customer {i}"})");
  s.mix = {lc("deposit", R"({"amount": {"random": [1, 100]}})", 3), lc("withdraw", R"({"amount": {"random": [1, 200]}})", 1)};
  s.retry_fraction = 0.5;
  const auto plan = plan_load(s, "run-1-step-2");
  // Recorded from the generator as of the first release of `annals run`.
  const std::vector<std::string> expected{
    R"(1 setup {"aggregate":"account","id":"acc-1","command":"open","data":{"owner":"customer 1"},"idempotency_key":"run-1-step-2-setup-1"})",
    R"(2 setup {"aggregate":"account","id":"acc-2","command":"open","data":{"owner":"customer 2"},"idempotency_key":"run-1-step-2-setup-2"})",
    R"(3 setup {"aggregate":"account","id":"acc-3","command":"open","data":{"owner":"customer 3"},"idempotency_key":"run-1-step-2-setup-3"})",
    R"(1 {"aggregate":"account","id":"acc-1","command":"deposit","data":{"amount":47},"idempotency_key":"run-1-step-2-1"})",
    R"(2 retried {"aggregate":"account","id":"acc-2","command":"deposit","data":{"amount":99},"idempotency_key":"run-1-step-2-2"})",
    R"(3 {"aggregate":"account","id":"acc-3","command":"deposit","data":{"amount":84},"idempotency_key":"run-1-step-2-3"})",
    R"(1 {"aggregate":"account","id":"acc-1","command":"deposit","data":{"amount":91},"idempotency_key":"run-1-step-2-4"})",
    R"(2 {"aggregate":"account","id":"acc-2","command":"withdraw","data":{"amount":198},"idempotency_key":"run-1-step-2-5"})",
    R"(2 retried {"aggregate":"account","id":"acc-2","command":"deposit","data":{"amount":14},"idempotency_key":"run-1-step-2-6"})",
  };
  CHECK(texts(plan) == expected);
}

TEST_CASE("splitmix64 is the reference splitmix64") {
  // The published reference outputs for a state of 0 (Vigna's splitmix64.c).
  std::uint64_t state = 0;
  CHECK(splitmix64(state) == 0xE220A8397B1DCDAFull);
  CHECK(splitmix64(state) == 0x6E789E6AA1B965F4ull);
  CHECK(splitmix64(state) == 0x06C45D188009454Full);
  CHECK(state == 3 * 0x9E3779B97F4A7C15ull);
}

TEST_CASE("The setup has one command per aggregate, in aggregate order") {
  const auto plan = plan_load(bank_load(), "run");
  REQUIRE(plan.setup.size() == 50);
  for (int i = 1; i <= 50; ++i) {
    const auto& p = plan.setup[static_cast<std::size_t>(i - 1)];
    CHECK(p.aggregate == i);
    CHECK(p.setup);
    CHECK_FALSE(p.retried);
    CHECK(p.command.aggregate == "account");
    CHECK(p.command.id == "acc-" + std::to_string(i));
    CHECK(p.command.command == "open");
    CHECK(p.command.data.at("owner") == json::value("customer " + std::to_string(i)));
    CHECK(p.command.data.at("initial_deposit") == 100);
  }
  for (const auto& p : plan.commands) CHECK_FALSE(p.setup);
  SECTION("and none without a setup command") {
    auto s = bank_load();
    s.setup.reset();
    CHECK(plan_load(s, "run").setup.empty());
  }
}

TEST_CASE("round_robin spreads the commands evenly over the aggregates, in turn") {
  auto s = bank_load();
  s.pick = "round_robin";
  s.aggregates = 7;
  s.commands = 70;
  const auto plan = plan_load(s, "run");
  std::map<int, int> per;
  for (std::size_t n = 0; n < plan.commands.size(); ++n) {
    const auto& p = plan.commands[n];
    CHECK(p.aggregate == static_cast<int>(n % 7) + 1);
    CHECK(p.command.id == "acc-" + std::to_string(p.aggregate));
    ++per[p.aggregate];
  }
  CHECK(per.size() == 7);
  for (const auto& [i, count] : per) CHECK(count == 10);
}

TEST_CASE("random pick and weights are respected over many commands (loose bounds)") {
  LoadStep s;
  s.aggregate = "account";
  s.id = "acc-{i}";
  s.aggregates = 4;
  s.commands = 20000;
  s.seed = 99;
  s.mix = {lc("deposit", "{}", 3), lc("withdraw", "{}", 1), lc("close", "{}", 1)};
  const auto plan = plan_load(s, "run");
  std::map<int, int> per_aggregate;
  std::map<std::string, int> per_command;
  for (const auto& p : plan.commands) {
    ++per_aggregate[p.aggregate];
    ++per_command[p.command.command];
    CHECK(p.command.id == "acc-" + std::to_string(p.aggregate));
  }
  REQUIRE(per_aggregate.size() == 4);
  for (const auto& [i, count] : per_aggregate) {
    INFO("aggregate " << i);
    CHECK(count > 4500);  // 5000 each
    CHECK(count < 5500);
  }
  INFO("deposit " << per_command["deposit"] << ", withdraw " << per_command["withdraw"] << ", close "
                  << per_command["close"]);
  CHECK(per_command["deposit"] > 11000);  // 3/5 = 12000
  CHECK(per_command["deposit"] < 13000);
  CHECK(per_command["withdraw"] > 3500);  // 1/5 = 4000
  CHECK(per_command["withdraw"] < 4500);
  CHECK(per_command["close"] > 3500);
  CHECK(per_command["close"] < 4500);
  SECTION("a mix entry of weight 1 beside one of 1000 is still sent, rarely") {
    s.mix = {lc("deposit", "{}", 1000), lc("withdraw", "{}", 1)};
    int withdrawals = 0;
    for (const auto& p : plan_load(s, "run").commands) withdrawals += p.command.command == "withdraw";
    CHECK(withdrawals > 2);
    CHECK(withdrawals < 60);  // 20000/1001 = 20
  }
}

TEST_CASE("{i} and {n} are filled in strings of the data and the id, at any depth") {
  LoadStep s;
  s.aggregate = "inventory";
  s.id = "sku-{i}";
  s.aggregates = 3;
  s.commands = 12;
  s.pick = "round_robin";
  s.mix = {lc("reserve", R"({"order_id": "bulk-{n}-for-{i}", "tags": ["{i}", "x{n}y", 5], "nested": {"deep": "{n}{n}"}, "plain": "{x}"})")};
  const auto plan = plan_load(s, "run");
  for (std::size_t k = 0; k < plan.commands.size(); ++k) {
    const auto& c = plan.commands[k].command;
    const auto n = std::to_string(k + 1);
    const auto i = std::to_string(plan.commands[k].aggregate);
    CHECK(c.id == "sku-" + i);
    CHECK(c.data.at("order_id") == json::value("bulk-" + n + "-for-" + i));
    CHECK(c.data.at("tags") == json::value(json::array{json::value(i), json::value("x" + n + "y"), 5}));
    CHECK(c.data.at("nested").at("deep") == json::value(n + n));
    CHECK(c.data.at("plain") == "{x}");  // not a template
  }
  SECTION("setup commands have {n} = 0") {
    s.setup = lc("add_stock", R"({"note": "item {i} of {n}"})");
    const auto p = plan_load(s, "run");
    CHECK(p.setup.at(1).command.data.at("note") == "item 2 of 0");
  }
}

TEST_CASE("{\"random\": [lo, hi]} gives integers within [lo, hi], both ends included") {
  SECTION("through fill_template") {
    std::uint64_t rng = 5;
    std::set<std::int64_t> seen;
    for (int k = 0; k < 2000; ++k) {
      const auto v = fill_template(j(R"({"random": [-3, 3]})"), 1, 1, rng);
      REQUIRE(v.is_int64());
      CHECK(v.as_int64() >= -3);
      CHECK(v.as_int64() <= 3);
      seen.insert(v.as_int64());
    }
    CHECK(seen == std::set<std::int64_t>{-3, -2, -1, 0, 1, 2, 3});
    std::uint64_t r2 = 5;
    CHECK(fill_template(j(R"({"random": [4, 4]})"), 1, 1, r2) == 4);
  }
  SECTION("the same state gives the same value, and is advanced") {
    std::uint64_t a = 11, b = 11;
    const auto first = fill_template(j(R"({"random": [1, 1000000]})"), 1, 1, a);
    const auto again = fill_template(j(R"({"random": [1, 1000000]})"), 1, 1, b);
    CHECK(first == again);
    CHECK(a == b);
    CHECK(a != 11);
  }
  SECTION("in a plan") {
    const auto plan = plan_load(bank_load(), "run");
    std::int64_t min_dep = 1000, max_dep = 0, min_wd = 1000, max_wd = 0;
    for (const auto& p : plan.commands) {
      const auto amount = p.command.data.at("amount").as_int64();
      if (p.command.command == "deposit") min_dep = std::min(min_dep, amount), max_dep = std::max(max_dep, amount);
      else min_wd = std::min(min_wd, amount), max_wd = std::max(max_wd, amount);
    }
    CHECK(min_dep == 1);
    CHECK(max_dep == 100);
    CHECK(min_wd == 1);
    CHECK(max_wd == 200);
  }
  SECTION("an object that merely has a 'random' key among others is data, not a template") {
    std::uint64_t rng = 1;
    const auto v = fill_template(j(R"({"random": [1, 2], "other": "{i}"})"), 7, 1, rng);
    CHECK(v == j(R"({"random": [1, 2], "other": "7"})"));
  }
}

TEST_CASE("Idempotency keys are unique per command, and absent when idempotency_keys is false") {
  auto s = bank_load();
  const auto plan = plan_load(s, "scenario-ab12-step-5");
  REQUIRE(plan.setup.size() == 50);
  REQUIRE(plan.commands.size() == 2000);
  std::set<std::string> keys;
  for (const auto* list : {&plan.setup, &plan.commands})
    for (const auto& p : *list) {
      REQUIRE(p.command.idempotency_key);
      CHECK(p.command.idempotency_key->rfind("scenario-ab12-step-5", 0) == 0);
      keys.insert(*p.command.idempotency_key);
    }
  CHECK(keys.size() == plan.setup.size() + plan.commands.size());
  SECTION("another prefix (another run or step) gives other keys") {
    const auto other = plan_load(s, "scenario-cd34-step-5");
    REQUIRE(other.commands.size() == plan.commands.size());
    for (const auto& p : other.commands) CHECK(keys.count(*p.command.idempotency_key) == 0);
  }
  SECTION("without keys") {
    s.idempotency_keys = false;
    const auto bare = plan_load(s, "scenario-ab12-step-5");
    REQUIRE(bare.setup.size() == plan.setup.size());
    REQUIRE(bare.commands.size() == plan.commands.size());
    for (const auto& p : bare.setup) CHECK_FALSE(p.command.idempotency_key);
    for (const auto& p : bare.commands) CHECK_FALSE(p.command.idempotency_key);
  }
}

TEST_CASE("retry_fraction marks about that share of commands as retried") {
  auto s = bank_load();
  s.commands = 10000;
  auto count_retried = [&](double f) {
    s.retry_fraction = f;
    int n = 0;
    for (const auto& p : plan_load(s, "run").commands) n += p.retried;
    return n;
  };
  CHECK(count_retried(0) == 0);
  CHECK(count_retried(1) == 10000);
  const int some = count_retried(0.3);
  CHECK(some > 2700);
  CHECK(some < 3300);
}

TEST_CASE("A load of zero commands plans only its setup") {
  auto s = bank_load();
  s.commands = 0;
  s.mix.clear();
  const auto plan = plan_load(s, "run");
  CHECK(plan.commands.empty());
  CHECK(plan.setup.size() == 50);
}
