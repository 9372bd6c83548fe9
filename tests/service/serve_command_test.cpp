// `annals serve` as a user runs it: the real executable in a child process,
// its URL read from stderr, requests over loopback HTTP, SIGTERM to stop.

#include "http_client.hpp"
#include "postgres_server.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using annals::test::ServeProcess;
using annals::test::TempDir;
using annals::test::wait_until;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string open_account(const std::string& id) {
  return json::serialize(json::object{{"aggregate", "account"}, {"id", id}, {"command", "open"},
                                      {"data", json::object{{"owner", "Ada"}}}});
}

} // namespace

SCENARIO("annals serve: the catalog's domains over HTTP until SIGTERM") {
  GIVEN("annals serve --domain bank --store bank.db --port 0") {
    TempDir dir;
    ServeProcess serve(dir, {"--domain", "bank", "--store", dir.file("bank.db"), "--port", "0"});
    const auto port = serve.port();
    REQUIRE(port != 0);
    WHEN("a command is sent, its projection queried, and SIGTERM follows") {
      annals::test::HttpConnection c(port);
      const auto opened = c.request(http::verb::post, "/commands", open_account("acc-1"));
      const auto balance = c.request(http::verb::get, "/queries/balances/balance?id=acc-1&min_position=1");
      const auto root = c.request(http::verb::get, "/");
      const int code = serve.stop(SIGTERM);
      THEN("the command is accepted, the query answers, the process exits 0 after saying it stops") {
        CHECK(opened.json().at("status") == "accepted");
        CHECK(opened.status == 201);
        // GET / names the domain served, and only its types (orders is in the catalog, not served).
        const auto doc = root.json();
        CHECK(doc.at("domains").as_array().size() == 1);
        CHECK(doc.at("domains").at(0).at("name") == "bank");
        CHECK(doc.at("domains").at(0).at("projections") == json::array{"balances", "daily_totals"});
        CHECK(doc.at("aggregates").as_array().size() == 1);
        CHECK(balance.status == 200);
        CHECK(code == 0);
        CHECK(serve.err().find("annals serve: listening on http://127.0.0.1:") != std::string::npos);
        CHECK(serve.err().find("annals serve: stopping") != std::string::npos);
        CHECK(serve.err().find("WARNING") == std::string::npos);
      }
    }
  }
}

TEST_CASE("annals serve --host 0.0.0.0 without --config warns loudly and with tokens it does not") {
  TempDir dir;
  {
    ServeProcess open(dir, {"--memory", "--host", "0.0.0.0", "--port", "0"});
    REQUIRE(open.port() != 0);
    // The warning follows the "listening on" line: wait for it rather than read once.
    CHECK(wait_until([&] {
      return open.err().find("WARNING: listening on 0.0.0.0 (not loopback) with no --config") != std::string::npos;
    }, 10s));
    CHECK(open.stop() == 0);
  }
  std::ofstream(dir.file("tokens.json")) << R"({"tokens": {"t": {"principal": "p", "commands": ["*"]}}})";
  ServeProcess guarded(dir, {"--memory", "--host", "0.0.0.0", "--port", "0", "--config", dir.file("tokens.json")});
  REQUIRE(guarded.port() != 0);
  CHECK(guarded.stop() == 0);
  // Read after the exit: everything it would have printed is there.
  CHECK(guarded.err().find("auth ON (1 token(s)") != std::string::npos);
  CHECK(guarded.err().find("WARNING") == std::string::npos);
}

TEST_CASE("annals serve with an unknown domain or a bad host is a usage error (exit 2)") {
  TempDir dir;
  ServeProcess unknown(dir, {"--memory", "--domain", "bnak", "--port", "0"});
  CHECK(unknown.wait() == 2);
  CHECK(unknown.err().find("annals: unknown domain 'bnak' (known: bank, orders)") != std::string::npos);
  ServeProcess bad_host(dir, {"--memory", "--host", "local host", "--port", "0"});
  CHECK(bad_host.wait() == 2);
  CHECK(bad_host.err().find("--host 'local host' is not an IP address") != std::string::npos);
}

// Two `annals serve` processes on the store `store` (an SQLite file or a
// PostgreSQL URL), each taking commands for the same account.
void two_serve_processes_side_by_side(const TempDir& dir, const std::string& store) {
  ServeProcess a(dir, {"--domain", "bank", "--store", store, "--port", "0"});
  const auto port_a = a.port();
  INFO(a.err());
  REQUIRE(port_a != 0);
  ServeProcess b(dir, {"--domain", "bank", "--store", store, "--port", "0"});
  const auto port_b = b.port();
  INFO(b.err());
  REQUIRE(port_b != 0);
  annals::test::HttpConnection to_a(port_a), to_b(port_b);
  // B subscribes first: what A commits reaches it live (the subscription reads the store's log).
  annals::test::HttpConnection sub(port_b);
  sub.send_raw("GET /events/subscribe?from=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(sub.read_until("retry: 1000\n\n", 10s).find("200 OK") != std::string::npos);

  CHECK(to_a.request(http::verb::post, "/commands", open_account("acc-1")).status == 201);
  const std::string deposit = R"({"aggregate":"account","id":"acc-1","command":"deposit","data":{"amount":1}})";
  std::int64_t last_position = 0;
  for (int i = 0; i < 3; ++i) {  // alternating: each process's copy of the account is stale every time
    CHECK(to_b.request(http::verb::post, "/commands", deposit).status == 200);
    const auto on_a = to_a.request(http::verb::post, "/commands", deposit);
    CHECK(on_a.status == 200);
    last_position = on_a.integer("position");
  }
  const auto stream = to_b.request(http::verb::get, "/streams/account/acc-1").json();
  const auto& events = stream.at("events").as_array();
  REQUIRE(events.size() == 7);
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].at("version") == static_cast<std::int64_t>(i + 1));
  CHECK(sub.read_until("id: 7\n", 10s).find("id: 7\nevent: deposited\n") != std::string::npos);
  // G9 over HTTP: B's projection answers with A's last deposit in it, given A's position.
  const auto balance = to_b.request(http::verb::get, "/queries/balances/balance?id=acc-1&min_position="
                                                       + std::to_string(last_position));
  INFO(balance.body);
  CHECK(balance.status == 200);
  CHECK(balance.body.find("\"balance\":6") != std::string::npos);
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
}

TEST_CASE("G9 two annals serve processes on one SQLite file work side by side, each reading the other's writes") {
  TempDir dir;
  two_serve_processes_side_by_side(dir, dir.file("shared.db"));
}

TEST_CASE("G9 two annals serve processes on one PostgreSQL database work side by side, each reading the other's writes") {
  TempDir dir;
  two_serve_processes_side_by_side(dir, annals::test::PostgresServer::shared().create_database());
}
