// The command line on a PostgreSQL store: --store takes a postgresql:// URL
// everywhere; `annals run` initialises an empty database, the store tools
// never do; an unreachable server is exit 3 naming host:port.

#include "cli_test_support.hpp"
#include "postgres_server.hpp"

#include <annals/cli/cli.hpp>

#include <catch2/catch.hpp>

#include <string>

using annals::test::PostgresServer;
using annals::test::run_annals;

namespace {
const auto catalog = annals::test::example_catalog();
std::string db_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }
} // namespace

SCENARIO("annals run initialises an empty PostgreSQL database, the store tools then read it", "[cli][postgres]") {
  auto& server = PostgresServer::shared();
  const std::string url = server.create_database();

  WHEN("a tool is pointed at the empty database first") {
    auto before = run_annals(catalog, {"events", "--store", url});
    THEN("it is refused with exit 3 and nothing is created in the database") {
      CHECK(before.code == annals::cli::exit_store);
      CHECK(before.reason().find("is not an annals store (it has no annals schema); the tools never initialise one")
            != std::string::npos);
      CHECK(server.exec(db_of(url), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0");
    }
  }

  WHEN("annals run runs a scenario on it, then the tools read it") {
    auto run = run_annals(catalog, {"run", ANNALS_SCENARIO_DIR "/idempotent-retries.json", "--store", url, "--color",
                                    "never"});
    auto streams = run_annals(catalog, {"streams", "--store", url, "--text"});
    auto events = run_annals(catalog, {"events", "--store", url});
    auto again = run_annals(catalog, {"run", ANNALS_SCENARIO_DIR "/idempotent-retries.json", "--store", url,
                                      "--color", "never"});
    THEN("the run passes, its events are listed, and a second run on the same database is refused") {
      INFO(run.out << run.err);
      CHECK(run.code == annals::cli::exit_ok);
      CHECK(streams.code == annals::cli::exit_ok);
      CHECK(streams.out.find("account") != std::string::npos);
      CHECK(events.code == annals::cli::exit_ok);
      CHECK(events.out_lines().size() == static_cast<std::size_t>(std::stoll(
                                           server.exec(db_of(url), "SELECT count(*) FROM events"))));
      CHECK(again.code == annals::cli::exit_usage);
      CHECK(again.reason().find("already holds") != std::string::npos);
    }
  }
}

SCENARIO("annals events --store on a PostgreSQL server that does not answer is exit 3 naming host:port",
         "[cli][postgres]") {
  // A port of the tests' server's neighbourhood where nothing listens: the server itself, stopped.
  auto own = PostgresServer::start_own();
  const std::string url = own->url("postgres");
  own->stop();
  auto r = run_annals(catalog, {"events", "--store", url});
  CHECK(r.code == annals::cli::exit_store);
  CHECK(r.reason() == "annals: cannot connect to PostgreSQL database 'postgres' at 127.0.0.1:" + std::to_string(own->port())
                        + " as user 'postgres' while opening the store: Connection refused; check that the server runs"
                          " and accepts this user, and the URL");
}
