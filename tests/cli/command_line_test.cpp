// The surface of `annals` itself (docs/cli.md): a mistyped subcommand is
// named with the closest one, `annals help [SUBCOMMAND]` prints what --help
// prints, `annals version` and `--version` print the version.

#include "cli_test_support.hpp"

#include <catch2/catch.hpp>

using namespace annals;
using annals::test::CliResult;

namespace {

CliResult annals_cli(std::vector<std::string> args) {
  static const auto catalog = annals::test::example_catalog();
  return annals::test::run_annals(catalog, std::move(args));
}

} // namespace

SCENARIO("annals with a mistyped subcommand names it, suggests the closest one and exits 2") {
  struct Case {
    std::vector<std::string> args;
    std::string reason;
  };
  const std::vector<Case> cases = {
    {{"evnets"}, "annals: unknown subcommand 'evnets' (did you mean 'events'?); `annals help` lists them"},
    {{"evnets", "--text", "--store", "x.db"},
     "annals: unknown subcommand 'evnets' (did you mean 'events'?); `annals help` lists them"},
    {{"stream"}, "annals: unknown subcommand 'stream' (did you mean 'streams'?); `annals help` lists them"},
    {{"reconsile", "balances"}, "annals: unknown subcommand 'reconsile' (did you mean 'reconcile'?); `annals help` lists them"},
    {{"proj"}, "annals: unknown subcommand 'proj' (did you mean 'projections'?); `annals help` lists them"},
    {{"fly"}, "annals: unknown subcommand 'fly'; `annals help` lists them"},
    {{"dead-letters", "retyr"}, "annals: unknown subcommand 'dead-letters retyr' (did you mean 'dead-letters retry'?); "
                                "`annals help dead-letters` lists them"},
    {{"help", "evnets"}, "annals: unknown subcommand 'evnets' (did you mean 'events'?); `annals help` lists them"},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const auto& a : c.args) line += a + " ";
    INFO("annals " << line);
    auto r = annals_cli(c.args);
    CHECK(r.code == cli::exit_usage);
    CHECK(r.out.empty());
    CHECK(r.err == c.reason + "\n");
  }
}

SCENARIO("annals help prints the help of annals or of a subcommand, as --help does") {
  const std::vector<std::vector<std::string>> topics = {
    {}, {"events"}, {"run"}, {"dead-letters"}, {"dead-letters", "retry"}};
  for (const auto& topic : topics) {
    std::vector<std::string> help{"help"}, flag = topic;
    help.insert(help.end(), topic.begin(), topic.end());
    flag.push_back("--help");
    INFO("annals help " << (topic.empty() ? "" : topic.back()));
    auto r = annals_cli(help);
    auto expected = annals_cli(flag);
    REQUIRE(expected.code == cli::exit_ok);
    CHECK(r.code == cli::exit_ok);
    CHECK(r.err.empty());
    CHECK(r.out == expected.out);
  }
  auto top = annals_cli({"help"});
  CHECK_THAT(top.out, Catch::Contains("Usage: annals [OPTIONS] SUBCOMMAND"));
  CHECK_THAT(top.out, Catch::Contains("events"));
  CHECK_THAT(annals_cli({"help", "dead-letters", "retry"}).out, Catch::Contains("Usage: annals dead-letters retry"));
}

SCENARIO("annals version and annals --version print the version") {
  for (const char* arg : {"version", "--version"}) {
    INFO(arg);
    auto r = annals_cli({arg});
    CHECK(r.code == cli::exit_ok);
    CHECK(r.out == "annals 0.1.0\n");
    CHECK(r.err.empty());
  }
}
