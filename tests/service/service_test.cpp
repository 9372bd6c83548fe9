// The bank service over real HTTP: a Service on a loopback port (port 0),
// an SQLite store in a temporary directory, and the synchronous Beast client
// of tests/support/http_client.hpp. Every bad input is checked to leave the
// store unchanged.

#include "http_client.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/http/http_mapping.hpp>
#include <annals/http/service.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>
#include <annals/fault_injector.hpp>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>

using namespace annals::http;
using annals::test::TempDir;
using annals::test::wait_until;

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

using Response = annals::test::HttpResponse;
using Connection = annals::test::HttpConnection;

std::string command_json(const std::string& id, const std::string& command, json::object data = {},
                         json::object extra = {}) {
  json::object o{{"aggregate", "account"}, {"id", id}, {"command", command}, {"data", std::move(data)}};
  for (auto& kv : extra) o[kv.key()] = kv.value();
  return json::serialize(o);
}

std::int64_t balance_in(const json::value& query_response) {
  return query_response.as_object().at("result").as_object().at("balance").as_int64();
}

/// The bank domain, as bank_service and `annals serve --domain bank` serve it.
void install_bank(annals::Runtime& rt) {
  rt.register_aggregate(bank::account_type(100));
  rt.register_projection(bank::balances_projection(0));
  rt.register_projection(bank::daily_totals_projection(0));
}

struct ServiceFixture {
  TempDir dir;
  std::string db = dir.file("bank.db");
  std::unique_ptr<Service> service;

  ServiceOptions options() const {
    ServiceOptions o;
    o.port = 0;
    o.idle_timeout = 10s;
    o.runtime.store = annals::sqlite_store({db});
    o.runtime.command_timeout = 20s;
    o.install = install_bank;
    return o;
  }
  /// Starts a service and waits until its projections run (for a moment
  /// after start-up they may not, and /health says 503).
  Service& start(ServiceOptions o) {
    service = std::make_unique<Service>(std::move(o));
    service->start();
    auto& rt = service->runtime();
    REQUIRE(eventually([&] {
      for (const auto& name : rt.projection_names()) {
        auto st = rt.projection_status(name);
        if (!st || !st->running) return false;
      }
      return true;
    }));
    return *service;
  }
  Service& start() { return start(options()); }

  /// Every test ends with a prompt stop: connections close, nothing hangs.
  ~ServiceFixture() {
    if (!service) return;
    const auto t0 = std::chrono::steady_clock::now();
    service->stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  }

  /// Events in the file, counted through a connection of its own.
  std::int64_t stored_events() const { return annals::open_sqlite_store({db})->event_count(); }

  std::uint16_t port() const { return service->port(); }
  Response post(const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Connection(port()).request(http::verb::post, "/commands", body, headers);
  }
  Response get(const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Connection(port()).request(http::verb::get, target, {}, headers);
  }
  /// Opens an account; returns the result's position.
  std::int64_t open(const std::string& id, std::int64_t initial = 0) {
    json::object data{{"owner", "Ada"}};
    if (initial) data["initial_deposit"] = initial;
    auto r = post(command_json(id, "open", data));
    REQUIRE(r.status == 201);  // it creates the stream
    return r.integer("position");
  }

  /// Polls `done` (each poll may be an HTTP request) until it holds or `limit` passes.
  static bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    return wait_until(done, limit, 20ms);
  }
};

const char* const kAuthConfig = R"({"tokens": {
  "teller-token": {"principal": "alice", "commands": ["account:*"], "queries": ["balances:*"]},
  "clerk-token":  {"principal": "bob", "commands": ["account:open", "account:deposit"], "queries": []}
}})";

} // namespace

TEST_CASE_METHOD(ServiceFixture, "POST /commands: open and deposit are accepted with their versions and positions") {
  start();
  auto opened = post(command_json("acc-1", "open", {{"owner", "Ada"}}));
  REQUIRE(opened.status == 201);
  CHECK(opened.header(http::field::content_type) == "application/json");
  CHECK(opened.str("status") == "accepted");
  CHECK(opened.str("aggregate") == "account");
  CHECK(opened.str("id") == "acc-1");
  CHECK(opened.integer("version") == 1);
  CHECK(opened.integer("position") == 1);
  CHECK(opened.json().at("replayed").as_bool() == false);

  auto deposited = post(command_json("acc-1", "deposit", {{"amount", 250}}));
  REQUIRE(deposited.status == 200);
  CHECK(deposited.str("status") == "accepted");
  CHECK(deposited.integer("version") == 2);
  CHECK(deposited.integer("position") == 2);
  const auto body = deposited.json();
  const auto& events = body.at("events").as_array();
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("type").as_string() == "deposited");
  CHECK(events[0].at("position").as_int64() == 2);
  CHECK(events[0].at("data").at("amount").as_int64() == 250);
  CHECK(stored_events() == 2);
}

TEST_CASE_METHOD(ServiceFixture, "GET /queries: read-your-writes with min_position, and query errors") {
  start();
  open("acc-1", 100);
  auto dep = post(command_json("acc-1", "deposit", {{"amount", 50}}));
  REQUIRE(dep.status == 200);
  const auto pos = dep.integer("position");

  auto q = get("/queries/balances/balance?id=acc-1&min_position=" + std::to_string(pos));
  REQUIRE(q.status == 200);
  CHECK(q.str("projection") == "balances");
  CHECK(q.str("query") == "balance");
  CHECK(balance_in(q.json()) == 150);
  CHECK(q.json().at("result").at("owner").as_string() == "Ada");

  auto total = get("/queries/balances/total?min_position=" + std::to_string(pos));
  REQUIRE(total.status == 200);
  CHECK(total.json().at("result").at("total").as_int64() == 150);
  CHECK(total.json().at("result").at("accounts").as_int64() == 1);

  // The day of the commit, as the projection saw it.
  const auto events = service->runtime().read_stream({"account", "acc-1"});
  REQUIRE(events.size() == 3);
  const std::string day = annals::format_timestamp(events.back().metadata.timestamp_us).substr(0, 10);
  auto totals = get("/queries/daily_totals/day?date=" + day + "&min_position=" + std::to_string(pos));
  REQUIRE(totals.status == 200);
  CHECK(totals.json().at("result").at("deposited").as_int64() == 150);
  CHECK(totals.json().at("result").at("deposits").as_int64() == 2);

  SECTION("a numeric id is sent in double quotes to stay a string") {
    open("12345", 7);
    auto r = get("/queries/balances/balance?id=%2212345%22&min_position=" + std::to_string(pos + 2));
    REQUIRE(r.status == 200);
    CHECK(balance_in(r.json()) == 7);
    auto as_int = get("/queries/balances/balance?id=12345");
    CHECK(as_int.status == 400);
    CHECK(as_int.code() == "invalid_query");
  }
  SECTION("errors") {
    const auto before = stored_events();
    auto unknown_projection = get("/queries/nope/balance?id=acc-1");
    CHECK(unknown_projection.status == 404);
    CHECK(unknown_projection.code() == "unknown_projection");
    auto unknown_query = get("/queries/balances/nope");
    CHECK(unknown_query.status == 404);
    CHECK(unknown_query.code() == "unknown_query");
    auto not_found = get("/queries/balances/balance?id=acc-404");
    CHECK(not_found.status == 404);
    CHECK(not_found.code() == "not_found");
    auto missing_arg = get("/queries/balances/balance");
    CHECK(missing_arg.status == 400);
    CHECK(missing_arg.code() == "invalid_query");
    auto bad_escape = get("/queries/balances/balance?id=%zz");
    CHECK(bad_escape.status == 400);
    CHECK(bad_escape.code() == "invalid_query");
    auto bad_position = get("/queries/balances/balance?id=acc-1&min_position=soon");
    CHECK(bad_position.status == 400);
    CHECK(bad_position.code() == "invalid_query");
    auto repeated = get("/queries/balances/balance?id=acc-1&id=acc-2");
    CHECK(repeated.status == 400);
    auto future = get("/queries/balances/balance?id=acc-1&min_position=1000000&timeout_ms=200");
    CHECK(future.status == 504);
    CHECK(future.code() == "timeout");
    auto post_query = Connection(port()).request(http::verb::post, "/queries/balances/total", "{}");
    CHECK(post_query.status == 405);
    CHECK(post_query.header(http::field::allow) == "GET, HEAD");
    CHECK(stored_events() == before);
  }
}

TEST_CASE_METHOD(ServiceFixture, "a domain rejection is 422 with the domain's code and changes nothing") {
  start();
  open("acc-1", 100);
  const auto before = stored_events();
  auto r = post(command_json("acc-1", "withdraw", {{"amount", 1000}}));
  CHECK(r.status == 422);
  CHECK(r.str("outcome") == "rejected");
  CHECK(r.code() == "insufficient_funds");
  CHECK(r.json().at("events").as_array().empty());
  CHECK(stored_events() == before);

  auto twice = post(command_json("acc-1", "open", {{"owner", "Ada"}}));
  CHECK(twice.status == 422);
  CHECK(twice.code() == "already_open");
  CHECK(stored_events() == before);
}

TEST_CASE_METHOD(ServiceFixture, "bad input gets a 4xx answer, changes nothing, and the service carries on") {
  start();
  open("acc-1", 100);
  const auto before = stored_events();
  struct Case {
    std::string what;
    http::verb verb;
    std::string target;
    std::string body;
    unsigned status;
    std::string code;
  };
  const std::vector<Case> cases{
    {"malformed JSON", http::verb::post, "/commands", R"({"aggregate": "account", "id": )", 400, "invalid_command"},
    {"not an object", http::verb::post, "/commands", "[1,2,3]", 400, "invalid_command"},
    {"an empty body", http::verb::post, "/commands", "", 400, "invalid_command"},
    {"a missing field", http::verb::post, "/commands", R"({"aggregate":"account","command":"deposit"})", 400,
     "invalid_command"},
    {"a misspelt field", http::verb::post, "/commands",
     command_json("acc-1", "deposit", {{"amount", 1}}, {{"expected_verison", 1}}), 400, "invalid_command"},
    {"a wrong data type", http::verb::post, "/commands", command_json("acc-1", "deposit", {{"amount", "lots"}}), 400,
     "invalid_command"},
    {"an unknown aggregate", http::verb::post, "/commands",
     R"({"aggregate":"ledger","id":"l-1","command":"post","data":{}})", 422, "unknown_aggregate"},
    {"an unknown command", http::verb::post, "/commands", command_json("acc-1", "transfer"), 422, "unknown_command"},
    {"GET on /commands", http::verb::get, "/commands", "", 405, "method_not_allowed"},
    {"PUT on /commands", http::verb::put, "/commands", command_json("acc-1", "deposit", {{"amount", 1}}), 405,
     "method_not_allowed"},
    {"DELETE on /health", http::verb::delete_, "/health", "", 405, "method_not_allowed"},
    {"an unknown path", http::verb::get, "/accounts/acc-1", "", 404, "unknown_path"},
    {"a query path that is too long", http::verb::get, "/queries/balances/balance/x", "", 404, "unknown_path"},
    {"the queries of an unknown projection", http::verb::get, "/queries/ledger", "", 404, "unknown_projection"},
    {"a path that is not UTF-8", http::verb::get, "/queries/balances%FF/total", "", 400, "bad_request"},
    {"a query string that is not UTF-8", http::verb::get, "/queries/balances/balance?id=%FF", "", 400,
     "invalid_query"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto r = Connection(port()).request(c.verb, c.target, c.body);
    CHECK(r.status == c.status);
    CHECK(r.code() == c.code);
    CHECK(r.header(http::field::content_type) == "application/problem+json");
    if (c.status == 405) CHECK(r.header(http::field::allow) == (c.target == "/commands" ? "POST" : "GET, HEAD"));
    CHECK(stored_events() == before);
  }
  // Still serving, and the account is as it was.
  auto q = get("/queries/balances/balance?id=acc-1&min_position=" + std::to_string(before));
  REQUIRE(q.status == 200);
  CHECK(balance_in(q.json()) == 100);
}

TEST_CASE_METHOD(ServiceFixture, "G7 a body over the limit is 413, answered before the body is read") {
  auto o = options();
  o.body_limit = 64 * 1024;
  start(std::move(o));
  open("acc-1", 100);
  const auto before = stored_events();

  SECTION("only the head is sent: the answer comes without waiting for the body") {
    Connection c(port(), 10s);
    c.send_raw("POST /commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n");
    auto r = c.read_response();
    CHECK(r.status == 413);
    CHECK(r.code() == "payload_too_large");
    CHECK(r.header(http::field::connection) == "close");
    CHECK(c.closed_by_server(5s));
  }
  SECTION("the whole oversized body is sent: the client still reads the 413") {
    const std::string big(200 * 1024, 'x');
    auto r = post(command_json("acc-1", "deposit", {{"amount", 1}}, {{"idempotency_key", big}}));
    CHECK(r.status == 413);
    CHECK(r.code() == "payload_too_large");
  }
  SECTION("a chunked body that grows over the limit") {
    Connection c(port(), 10s);
    std::string chunk(32 * 1024, 'x');
    std::ostringstream req;
    req << "POST /commands HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) req << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
    req << "0\r\n\r\n";
    c.send_raw(req.str());
    auto r = c.read_response();
    CHECK(r.status == 413);
  }
  CHECK(stored_events() == before);
  CHECK(get("/health").status == 200);
}

TEST_CASE_METHOD(ServiceFixture, "command data over the runtime's limit is 413 from the runtime") {
  start();
  open("acc-1", 100);
  const auto before = stored_events();
  // Inside the body limit (the envelope limit), over max_data_bytes.
  const std::string big((1 << 20) + 16, 'x');
  auto r = post(command_json("acc-1", "deposit", {{"amount", 1}, {"memo", big}}));
  CHECK(r.status == 413);
  CHECK(r.code() == "payload_too_large");
  CHECK(r.str("outcome") == "rejected");
  CHECK(stored_events() == before);
}

TEST_CASE_METHOD(ServiceFixture, "G7 a request head over the limit is 431, a garbled request 400, and the service survives") {
  start();
  open("acc-1", 100);
  const auto before = stored_events();
  {
    Connection c(port(), 10s);
    c.send_raw("GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
    auto r = c.read_response();
    CHECK(r.status == 431);
    CHECK(r.code() == "header_too_large");
    CHECK(c.closed_by_server(5s));
  }
  {
    Connection c(port(), 10s);
    c.send_raw("HELLO THERE\r\n\r\n");
    auto r = c.read_response();
    CHECK(r.status == 400);
    CHECK(r.code() == "bad_request");
  }
  {
    Connection c(port(), 10s);
    c.send_raw("POST /commands HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n");
    CHECK(c.read_response().status == 400);
  }
  {
    // Closing half way through a request is not an error for anybody else.
    Connection c(port(), 10s);
    c.send_raw("POST /commands HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"aggr");
  }
  CHECK(stored_events() == before);
  CHECK(get("/health").status == 200);
  CHECK(post(command_json("acc-1", "deposit", {{"amount", 1}})).status == 200);
}

TEST_CASE_METHOD(ServiceFixture, "a stale expected_version is 409 concurrency_conflict") {
  start();
  open("acc-1");  // version 1
  const auto before = stored_events();
  auto stale = post(command_json("acc-1", "deposit", {{"amount", 5}}, {{"expected_version", 0}}));
  CHECK(stale.status == 409);
  CHECK(stale.code() == "concurrency_conflict");
  CHECK(stored_events() == before);
  auto current = post(command_json("acc-1", "deposit", {{"amount", 5}}, {{"expected_version", 1}}));
  CHECK(current.status == 200);
  CHECK(current.integer("version") == 2);
  CHECK(stored_events() == before + 1);
}

TEST_CASE_METHOD(ServiceFixture, "the same idempotency key twice: the second is a replay and appends nothing") {
  start();
  open("acc-1");
  const std::string body = command_json("acc-1", "deposit", {{"amount", 40}}, {{"idempotency_key", "dep-1"}});
  auto first = post(body);
  REQUIRE(first.status == 200);
  CHECK(first.json().at("replayed").as_bool() == false);
  const auto after_first = stored_events();

  auto second = post(body);
  REQUIRE(second.status == 200);
  CHECK(second.json().at("replayed").as_bool() == true);
  CHECK(second.integer("position") == first.integer("position"));
  CHECK(stored_events() == after_first);

  auto other = post(command_json("acc-1", "deposit", {{"amount", 41}}, {{"idempotency_key", "dep-1"}}));
  CHECK(other.status == 409);
  CHECK(other.code() == "idempotency_conflict");
  CHECK(stored_events() == after_first);
}

TEST_CASE_METHOD(ServiceFixture, "GET /metrics is Prometheus text that promtool accepts") {
  start();
  open("acc-1", 10);
  post(command_json("acc-1", "withdraw", {{"amount", 1000}}));
  get("/queries/balances/total");
  auto r = get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.header(http::field::content_type) == "text/plain; version=0.0.4");
  CHECK(r.body.find("annals_commands_total{") != std::string::npos);
  const std::string file = dir.file("metrics.txt");
  std::ofstream(file) << r.body;
  const std::string cmd = "promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(file + ".out");
  std::string said((std::istreambuf_iterator<char>(out)), {});
  INFO("promtool said: " << said);
  CHECK(rc == 0);
}

TEST_CASE_METHOD(ServiceFixture, "malformed commands are counted under aggregate and command (invalid) in /metrics") {
  // Was: the counter stayed 0 (the service refused them without the runtime).
  start();
  for (const char* body : {R"({"aggregate": "account", "id": )", "[1,2,3]", "", R"({"aggregate":"account","command":"deposit"})"}) {
    INFO(body);
    CHECK(post(body).status == 400);
  }
  CHECK(post(R"({"aggregate":"ledger","id":"l-1","command":"post","data":{}})").status == 422);
  auto r = get("/metrics");
  REQUIRE(r.status == 200);
  INFO(r.body);
  CHECK(r.body.find(R"m(annals_commands_total{path="command",aggregate="(invalid)",command="(invalid)",outcome="rejected"} 5)m")
        != std::string::npos);
  const auto snapshot = service->runtime().metrics();
  std::uint64_t rejected = 0;
  for (const auto& c : snapshot.commands)
    if (c.aggregate == "(invalid)" && c.command == "(invalid)") rejected = c.rejected;
  CHECK(rejected == 5);
}

TEST_CASE_METHOD(ServiceFixture, "GET /health lists the projections") {
  start();
  open("acc-1", 10);  // 2 events
  REQUIRE(eventually([&] {
    auto h = get("/health").json();
    for (const auto& p : h.at("projections").as_array())
      if (p.at("checkpoint").as_int64() != 2) return false;
    return true;
  }));
  auto r = get("/health");
  REQUIRE(r.status == 200);
  auto h = r.json();
  CHECK(h.at("status").as_string() == "ok");
  CHECK(h.at("store").as_string() == "reachable");
  const auto& projections = h.at("projections").as_array();
  REQUIRE(projections.size() == 2);
  std::set<std::string> names;
  for (const auto& p : projections) {
    names.insert(std::string(p.at("name").as_string()));
    CHECK(p.at("running").as_bool());
    CHECK(p.at("checkpoint").as_int64() == 2);
    CHECK(p.at("backlog").as_int64() == 0);
    CHECK(p.at("restarts").as_int64() == 0);
    CHECK(p.at("parked").as_int64() == 0);
  }
  CHECK(names == std::set<std::string>{"balances", "daily_totals"});
}

TEST_CASE_METHOD(ServiceFixture, "GET /health is 503 degraded while a projection is down") {
  auto o = options();
  o.runtime.projections.initial_backoff = 30s;
  o.runtime.projections.max_backoff = 30s;
  start(std::move(o));
  REQUIRE(get("/health").status == 200);
  annals::FaultInjector(service->runtime()).crash_projection("balances");
  Response r;
  REQUIRE(eventually([&] {
    r = get("/health");
    return r.status == 503;
  }));
  auto h = r.json();
  CHECK(h.at("status").as_string() == "degraded");
  CHECK(h.at("store").as_string() == "reachable");
  for (const auto& p : h.at("projections").as_array())
    CHECK(p.at("running").as_bool() == (p.at("name").as_string() != "balances"));
}

TEST_CASE_METHOD(ServiceFixture, "with an auth config: bearer tokens, principals and permissions") {
  auto o = options();
  o.auth = parse_auth_config(kAuthConfig, "test config");
  start(std::move(o));
  const std::vector<std::pair<std::string, std::string>> alice{{"Authorization", "Bearer teller-token"}};
  const std::vector<std::pair<std::string, std::string>> bob{{"Authorization", "bearer   clerk-token"}};

  auto opened = post(command_json("acc-1", "open", {{"owner", "Ada"}, {"initial_deposit", 100}}), bob);
  REQUIRE(opened.status == 201);
  const auto before = stored_events();
  REQUIRE(before == 2);

  SECTION("no token is 401") {
    auto r = post(command_json("acc-1", "deposit", {{"amount", 1}}));
    CHECK(r.status == 401);
    CHECK(r.code() == "unauthorized");
    CHECK(r.header(http::field::www_authenticate) == "Bearer");
    auto q = get("/queries/balances/total");
    CHECK(q.status == 401);
    CHECK(post(command_json("acc-1", "deposit", {{"amount", 1}}), {{"Authorization", "Basic YWxpY2U6eA=="}}).status
          == 401);
  }
  SECTION("an unknown token is 401") {
    auto r = post(command_json("acc-1", "deposit", {{"amount", 1}}), {{"Authorization", "Bearer guess"}});
    CHECK(r.status == 401);
    CHECK(r.code() == "unauthorized");
    CHECK(get("/queries/balances/total", {{"Authorization", "Bearer guess"}}).status == 401);
  }
  SECTION("a principal that may not withdraw gets 403 and nothing is appended") {
    auto r = post(command_json("acc-1", "withdraw", {{"amount", 10}}), bob);
    CHECK(r.status == 403);
    CHECK(r.code() == "forbidden");
    CHECK(r.json().at("detail").as_string() == "principal 'bob' may not send 'account:withdraw'");
    // Claiming to be alice in the body does not help: the token decides.
    auto claimed = post(command_json("acc-1", "withdraw", {{"amount", 10}}, {{"metadata", {{"principal", "alice"}}}}),
                        bob);
    CHECK(claimed.status == 403);
    auto q = get("/queries/balances/total", bob);
    CHECK(q.status == 403);
    CHECK(q.code() == "forbidden");
    CHECK(stored_events() == before);
  }
  SECTION("an allowed token is 200, and its principal is recorded") {
    auto r = post(command_json("acc-1", "withdraw", {{"amount", 10}}, {{"metadata", {{"principal", "mallory"}}}}),
                  alice);
    REQUIRE(r.status == 200);
    CHECK(stored_events() == before + 1);
    const auto events = service->runtime().read_stream({"account", "acc-1"});
    REQUIRE(events.size() == 3);
    CHECK(events[0].metadata.principal == "bob");
    CHECK(events[2].metadata.principal == "alice");
    auto q = get("/queries/balances/balance?id=acc-1&min_position=" + std::to_string(r.integer("position")), alice);
    REQUIRE(q.status == 200);
    CHECK(balance_in(q.json()) == 90);
  }
}

TEST_CASE_METHOD(ServiceFixture, "G7 with an auth config, /health's details and /metrics need a token granting observe") {
  auto o = options();
  o.auth = parse_auth_config(R"({"tokens": {
    "observer-token": {"principal": "ops", "observe": true},
    "operator-token": {"principal": "carol", "operate": true},
    "clerk-token":    {"principal": "bob", "commands": ["account:*"], "queries": ["*"]}
  }})", "test config");
  o.runtime.projections.initial_backoff = 30s;
  o.runtime.projections.max_backoff = 30s;
  start(std::move(o));
  const std::vector<std::pair<std::string, std::string>> ops{{"Authorization", "Bearer observer-token"}};
  const std::vector<std::pair<std::string, std::string>> bob{{"Authorization", "Bearer clerk-token"}};
  const json::value bare_ok = json::object{{"status", "ok"}};

  SECTION("without a token, or with one that does not grant observe, /health is a bare liveness answer") {
    auto anonymous = get("/health");
    CHECK(anonymous.status == 200);
    CHECK(anonymous.json() == bare_ok);
    auto clerk = get("/health", bob);
    CHECK(clerk.status == 200);
    CHECK(clerk.json() == bare_ok);
  }
  SECTION("an unknown token is 401 on /health too") {
    auto r = get("/health", {{"Authorization", "Bearer guess"}});
    CHECK(r.status == 401);
    CHECK(r.code() == "unauthorized");
  }
  SECTION("a token granting observe sees the details") {
    auto r = get("/health", ops);
    CHECK(r.status == 200);
    CHECK(r.json().at("store").as_string() == "reachable");
    CHECK(r.json().at("projections").as_array().size() == 2);
  }
  SECTION("/metrics: 401 without a token, 403 without observe, 200 with it") {
    auto none = get("/metrics");
    CHECK(none.status == 401);
    CHECK(none.code() == "unauthorized");
    auto clerk = get("/metrics", bob);
    CHECK(clerk.status == 403);
    CHECK(clerk.code() == "forbidden");
    CHECK(std::string(clerk.json().at("detail").as_string()).find("\"observe\": true")
          != std::string::npos);
    CHECK(none.body.find("annals_") == std::string::npos);
    auto observer = get("/metrics", ops);
    CHECK(observer.status == 200);
    CHECK(observer.body.find("annals_commands_total") != std::string::npos);
  }
  SECTION("a token granting operate may observe too") {
    const std::vector<std::pair<std::string, std::string>> carol{{"Authorization", "Bearer operator-token"}};
    CHECK(get("/metrics", carol).status == 200);
    CHECK(get("/health", carol).json().at("store").as_string() == "reachable");
  }
  SECTION("degraded: the bare answer is 503 with the status only, the details stay with observe") {
    annals::FaultInjector(service->runtime()).crash_projection("balances");
    REQUIRE(wait_until([&] { return get("/health").status == 503; }));
    auto anonymous = get("/health");
    CHECK(anonymous.json() == json::value(json::object{{"status", "degraded"}}));
    auto observer = get("/health", ops);
    CHECK(observer.status == 503);
    CHECK(observer.json().at("projections").as_array().size() == 2);
  }
}

TEST_CASE("auth config files: good ones parse, bad ones say what is wrong") {
  auto config = parse_auth_config(kAuthConfig, "auth.json");
  REQUIRE(config.tokens.size() == 2);
  const TokenGrant* alice = config.find_token("teller-token");
  REQUIRE(alice);
  CHECK(alice->principal == "alice");
  CHECK(AuthConfig::may_query(*alice, "balances", "total"));
  CHECK_FALSE(AuthConfig::may_query(*alice, "daily_totals", "day"));
  CHECK(config.find_token("nope") == nullptr);

  auto policy = config.command_policy();
  annals::Command c;
  c.aggregate = "account";
  c.command = "withdraw";
  CHECK(policy("alice", c).allowed);
  CHECK_FALSE(policy("bob", c).allowed);
  CHECK(policy("bob", c).reason == "principal 'bob' may not send 'account:withdraw'");
  CHECK_FALSE(policy("", c).allowed);
  CHECK_FALSE(policy("carol", c).allowed);

  CHECK(glob_match("*", "account:open"));
  CHECK(glob_match("account:*", "account:open"));
  CHECK(glob_match("*:deposit", "account:deposit"));
  CHECK_FALSE(glob_match("*:deposit", "account:withdraw"));
  CHECK_FALSE(glob_match("account:open", "account:opened"));

  auto fails_with = [](const std::string& text, const std::string& expected) {
    INFO(text);
    try {
      parse_auth_config(text, "auth.json");
      FAIL("no ConfigError");
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()) == expected);
    }
  };
  fails_with("{", "auth.json: not valid JSON (incomplete JSON)");
  fails_with("[]", "auth.json: expected an object, got array");
  fails_with("{}", "auth.json: missing field \"tokens\"");
  fails_with(R"({"tokens": {}, "extra": 1})", "auth.json: unknown field \"extra\" (expected only \"tokens\")");
  fails_with(R"({"tokens": {}})", "auth.json: tokens: no tokens: nobody could use the service");
  fails_with(R"({"tokens": {"t": {"commands": []}}})", "auth.json: tokens.\"t\": missing field \"principal\"");
  fails_with(R"({"tokens": {"t": {"principal": 5}}})", "auth.json: tokens.\"t\".principal: expected a string, got integer");
  fails_with(R"({"tokens": {"t": {"principal": "a", "commands": ["account:*", 3]}}})",
             "auth.json: tokens.\"t\".commands[1]: expected a string, got integer");
  fails_with(R"({"tokens": {"t": {"principal": "a", "queries": ["balances"]}}})",
             "auth.json: tokens.\"t\".queries[0]: pattern \"balances\" must be \"*\" or \"<projection>:<query>\" "
             "(\"*\" matches anything, e.g. \"account:*\")");
  fails_with(R"({"tokens": {"t": {"principal": "a", "comands": []}}})",
             "auth.json: tokens.\"t\": unknown field \"comands\" (expected \"principal\", \"commands\", \"queries\", \"observe\", \"operate\")");
  fails_with(R"({"tokens": {"t 1": {"principal": "a"}}})",
             "auth.json: tokens.\"t 1\": a token must not contain spaces or control characters");
  fails_with(R"({"tokens": {"t1": {"principal": "a", "commands": ["*"]}, "t2": {"principal": "a"}}})",
             "auth.json: tokens.\"t2\": principal \"a\" is also granted by token \"t1\" with different \"commands\"; "
             "commands are authorized per principal, so they must match");

  TempDir dir;
  try {
    load_auth_config(dir.file("missing.json"));
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == dir.file("missing.json") + ": cannot open the config file");
  }
  std::ofstream(dir.file("auth.json")) << kAuthConfig;
  CHECK(load_auth_config(dir.file("auth.json")).tokens.size() == 2);
}

TEST_CASE("HTTP mapping: status codes and query strings") {
  CHECK(http_status_for("invalid_command") == 400);
  CHECK(http_status_for("invalid_query") == 400);
  CHECK(http_status_for("forbidden") == 403);
  CHECK(http_status_for("unknown_aggregate") == 422);
  CHECK(http_status_for("unknown_command") == 422);
  CHECK(http_status_for("unknown_projection") == 404);
  CHECK(http_status_for("unknown_query") == 404);
  CHECK(http_status_for("not_found") == 404);
  CHECK(http_status_for("concurrency_conflict") == 409);
  CHECK(http_status_for("idempotency_conflict") == 409);
  CHECK(http_status_for("payload_too_large") == 413);
  CHECK(http_status_for("insufficient_funds") == 422);
  CHECK(http_status_for("internal_error") == 500);
  CHECK(http_status_for("store_unavailable") == 503);
  CHECK(http_status_for("outcome_unknown") == 503);
  CHECK(http_status_for("shutting_down") == 503);
  CHECK(http_status_for("overloaded") == 503);
  CHECK(http_status_for("timeout") == 504);
  CHECK(http_status_for("something_new", false) == 500);

  auto q = parse_query_string("id=acc%2D1&n=-42&flag=true&off=false&name=Ada+Lovelace&quoted=%2207%22&empty"
                              "&min_position=17&timeout_ms=250");
  REQUIRE(q);
  CHECK(q->min_position == 17);
  REQUIRE(q->timeout);
  CHECK(q->timeout->count() == 250);
  CHECK(json::serialize(q->args)
        == R"({"id":"acc-1","n":-42,"flag":true,"off":false,"name":"Ada Lovelace","quoted":"07","empty":""})");
  CHECK(parse_query_string("")->args.empty());
  CHECK(parse_query_string("big=99999999999999999999")->args.at("big").is_string());
  CHECK(parse_query_string("a=%4").error().code == "invalid_query");
  CHECK(parse_query_string("=1").error().code == "invalid_query");
  CHECK(parse_query_string("a=1&a=2").error().code == "invalid_query");
  CHECK(parse_query_string("min_position=-1").error().code == "invalid_query");
  CHECK(parse_query_string("timeout_ms=x").error().code == "invalid_query");
  CHECK(parse_query_string("id=%FF").error().code == "invalid_query");
  CHECK(parse_query_string("id=%C3%A9")->args.at("id").as_string() == "\xC3\xA9");

  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(valid_utf8("\xFF"));
  CHECK_FALSE(valid_utf8("\xC3"));              // cut short
  CHECK_FALSE(valid_utf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
}

TEST_CASE_METHOD(ServiceFixture, "keep-alive, HTTP/1.0 and Expect: 100-continue") {
  start();
  {
    Connection c(port());
    for (int i = 0; i < 5; ++i) {
      auto r = c.request(http::verb::get, "/health");
      CHECK(r.status == 200);
      CHECK(r.header(http::field::connection) != "close");
    }
    CHECK(c.request(http::verb::post, "/commands", command_json("acc-1", "open", {{"owner", "Ada"}})).status == 201);
    CHECK(c.request(http::verb::post, "/commands", command_json("acc-1", "deposit", {{"amount", 3}})).status == 200);
  }
  {
    Connection c(port());
    auto r = c.request(http::verb::get, "/health", {}, {}, 10);
    CHECK(r.status == 200);
    CHECK(c.closed_by_server(5s));
  }
  {
    Connection c(port());
    const std::string body = command_json("acc-1", "deposit", {{"amount", 4}});
    c.send_raw("POST /commands HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
               + std::to_string(body.size()) + "\r\n\r\n");
    auto cont = c.read_response();
    CHECK(cont.status == 100);
    c.send_raw(body);
    auto r = c.read_response();
    CHECK(r.status == 200);
    CHECK(r.integer("version") == 3);
  }
  {
    // Two requests in one write (pipelining): two answers, in order.
    Connection c(port());
    c.send_raw("GET /queries/balances/balance?id=acc-1&min_position=3 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    auto first = c.read_response();
    CHECK(first.status == 200);
    CHECK(balance_in(first.json()) == 7);
    CHECK(c.read_response().status == 404);
  }
  CHECK(stored_events() == 3);
}

TEST_CASE_METHOD(ServiceFixture,
                 "G7 over max_connections a new connection is answered 503 with Retry-After and closed, "
                 "and served again once others close") {
  auto o = options();
  o.max_connections = 2;
  start(std::move(o));
  // Given two open connections (each answered once, so both are registered)
  auto a = std::make_unique<Connection>(port());
  Connection b(port());
  REQUIRE(a->request(http::verb::get, "/health").status == 200);
  REQUIRE(b.request(http::verb::get, "/health").status == 200);

  // when more connect at once, then each gets 503 without sending anything, and is closed
  std::vector<std::unique_ptr<Connection>> extra;
  for (int i = 0; i < 8; ++i) extra.push_back(std::make_unique<Connection>(port(), 10s));
  for (auto& c : extra) {
    auto r = c->read_response();
    CHECK(r.status == 503);
    CHECK(r.code() == "overloaded");
    CHECK(r.header(http::field::retry_after) == "1");
    const std::string message(r.json().at("detail").as_string());
    CHECK(message.find("max_connections = 2") != std::string::npos);
    CHECK(message.find("--max-connections") != std::string::npos);
    CHECK(c->closed_by_server(5s));
  }
  extra.clear();
  // the open ones are still served
  CHECK(b.request(http::verb::post, "/commands", command_json("acc-1", "open", {{"owner", "Ada"}})).status == 201);

  // when one of them closes, then a new connection is served again
  a.reset();
  CHECK(wait_until([&] {
    try {
      return Connection(port(), 10s).request(http::verb::get, "/health").status == 200;
    } catch (const std::exception&) {
      return false;  // closed by the server after its 503
    }
  }));
}

TEST_CASE_METHOD(ServiceFixture,
                 "G7 over max_waiting_requests a request is answered 503 naming the limit, "
                 "and served again once the waiting ones are answered") {
  auto o = options();
  o.max_waiting_requests = 2;
  start(std::move(o));
  open("acc-1", 100);
  // Given two queries that wait for a position nobody writes (for 3 s)
  const std::string far = "GET /queries/balances/total?min_position=1000000000000&timeout_ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n";
  Connection q1(port()), q2(port());
  q1.send_raw(far);
  q2.send_raw(far);
  REQUIRE(wait_until([&] { return service->waiting_requests() == 2; }));
  const auto before = stored_events();

  // when a command, a query and a health check come, then each is refused at once with the limit named
  for (auto r : {post(command_json("acc-1", "deposit", {{"amount", 1}})), get("/queries/balances/total"),
                 get("/health")}) {
    CHECK(r.status == 503);
    CHECK(r.code() == "overloaded");
    CHECK(r.header(http::field::retry_after) == "1");
    const std::string message(r.json().at("detail").as_string());
    CHECK(message.find("max_waiting_requests = 2") != std::string::npos);
    CHECK(message.find("--max-waiting-requests") != std::string::npos);
  }
  CHECK(stored_events() == before);
  // /metrics waits for nothing: still answered
  CHECK(get("/metrics").status == 200);

  // when the waiting queries time out, then requests are served again
  CHECK(q1.read_response().status == 504);
  CHECK(q2.read_response().status == 504);
  REQUIRE(wait_until([&] { return service->waiting_requests() == 0; }));
  CHECK(post(command_json("acc-1", "deposit", {{"amount", 1}})).status == 200);
  CHECK(get("/health").status == 200);
}

TEST_CASE_METHOD(ServiceFixture,
                 "G6 queries waiting for an unreachable min_position hold no thread: a command and /health "
                 "are answered meanwhile") {
  auto o = options();
  o.io_threads = 2;
  o.health_threads = 2;
  start(std::move(o));
  open("acc-1", 100);
  // Given more queries waiting for position 10^12 than the service has threads
  const std::size_t waiting = service->options().io_threads + service->options().health_threads + 1;
  std::vector<std::unique_ptr<Connection>> queries;
  for (std::size_t i = 0; i < waiting; ++i) {
    queries.push_back(std::make_unique<Connection>(port()));
    queries.back()->send_raw(
      "GET /queries/balances/total?min_position=1000000000000&timeout_ms=6000 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  REQUIRE(wait_until([&] { return service->waiting_requests() == waiting; }));

  // when a command and a health check are sent, then both are answered while every query still waits
  CHECK(post(command_json("acc-1", "deposit", {{"amount", 5}})).status == 200);
  CHECK(get("/health").status == 200);
  for (auto& q : queries) CHECK(q->bytes_waiting() == 0);

  // and each query gets its timeout in the end, with the position it waited for
  for (auto& q : queries) {
    auto r = q->read_response();
    CHECK(r.status == 504);
    CHECK(r.code() == "timeout");
    CHECK(std::string(r.json().at("detail").as_string()).find("1000000000000") != std::string::npos);
  }
  CHECK(wait_until([&] { return service->waiting_requests() == 0; }));
}

TEST_CASE_METHOD(ServiceFixture, "G7 a client that trickles its request head is dropped after the idle timeout "
                                 "without holding a thread") {
  auto o = options();
  o.io_threads = 1;  // the one thread must stay free for others
  o.idle_timeout = 1s;
  start(std::move(o));
  // Given a client that sends its head one byte every 50 ms and never ends it
  std::atomic<bool> dropped{false};
  std::atomic<std::size_t> sent{0};
  std::thread slow([&] {
    try {
      Connection c(port(), 10s);
      c.send_raw("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      const auto give_up = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < give_up) {
        c.send_raw("a");  // throws once the server has closed the connection
        ++sent;
        std::this_thread::sleep_for(50ms);  // the scenario: a slow-loris client, not a synchronisation
      }
    } catch (const std::exception&) {
      dropped = true;
    }
  });
  REQUIRE(wait_until([&] { return sent > 0; }));
  // when others ask meanwhile, then they are served by the one io thread
  CHECK(get("/health").status == 200);
  CHECK(post(command_json("acc-1", "open", {{"owner", "Ada"}})).status == 201);
  // and the trickling client is dropped (its head never got near the 8 KiB limit)
  CHECK(wait_until([&] { return dropped.load(); }, 20s));
  slow.join();
  CHECK(sent < service->options().header_limit);
  CHECK(get("/health").status == 200);
}

TEST_CASE("a port in use is a clear start-up error") {
  TempDir dir;
  ServiceOptions o;
  o.runtime.store = annals::sqlite_store({dir.file("a.db")});
  Service first(o);
  first.start();
  o.port = first.port();
  o.runtime.store = annals::sqlite_store({dir.file("b.db")});
  Service second(o);
  try {
    second.start();
    FAIL("no error");
  } catch (const boost::system::system_error& e) {
    CHECK(std::string(e.what()).find("cannot bind to 127.0.0.1:" + std::to_string(first.port())) == 0);
  }
}

TEST_CASE_METHOD(ServiceFixture, "20 concurrent clients, 25 deposits each: all accepted, balances exact") {
  start();
  constexpr int kClients = 20, kDeposits = 25;
  std::atomic<int> ok{0}, not_ok{0};
  std::atomic<std::int64_t> last_position{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&, t] {
      try {
        Connection c(port());
        const std::string id = "acc-" + std::to_string(t);
        auto record = [&](const Response& r) {
          if (r.status != 200 && r.status != 201) {  // 201: the open
            ++not_ok;
            return;
          }
          ++ok;
          auto p = r.integer("position");
          auto seen = last_position.load();
          while (p > seen && !last_position.compare_exchange_weak(seen, p)) {}
        };
        record(c.request(http::verb::post, "/commands", command_json(id, "open", {{"owner", id}})));
        for (int i = 0; i < kDeposits; ++i)
          record(c.request(http::verb::post, "/commands", command_json(id, "deposit", {{"amount", t + 1}})));
      } catch (const std::exception&) {
        ++not_ok;
      }
    });
  for (auto& t : clients) t.join();
  CHECK(not_ok == 0);
  CHECK(ok == kClients * (kDeposits + 1));
  CHECK(stored_events() == kClients * (kDeposits + 1));
  CHECK(last_position == kClients * (kDeposits + 1));
  for (int t = 0; t < kClients; ++t) {
    auto q = get("/queries/balances/balance?id=acc-" + std::to_string(t) + "&min_position="
                 + std::to_string(last_position.load()));
    REQUIRE(q.status == 200);
    CHECK(balance_in(q.json()) == kDeposits * (t + 1));
  }
  auto total = get("/queries/balances/total?min_position=" + std::to_string(last_position.load()));
  CHECK(total.json().at("result").at("total").as_int64() == kDeposits * (kClients * (kClients + 1) / 2));
}

TEST_CASE_METHOD(ServiceFixture, "G7 idle and stalled connections are closed after the idle timeout while others are served") {
  auto o = options();
  o.idle_timeout = 1s;
  start(std::move(o));
  const auto t0 = std::chrono::steady_clock::now();
  Connection idle(port(), 10s);
  Connection slow(port(), 10s);
  slow.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n");  // never finishes its head

  // Meanwhile others are served, each well within the timeout.
  for (int i = 0; i < 5; ++i) {
    auto r = get("/health");
    CHECK(r.status == 200);
    std::this_thread::sleep_for(100ms);  // the scenario: requests spread over half the idle timeout
  }
  CHECK(idle.closed_by_server(5s));
  CHECK(slow.closed_by_server(5s));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 5s);
  CHECK(get("/health").status == 200);
}

TEST_CASE_METHOD(ServiceFixture, "stop() closes idle connections at once and the runtime stays usable") {
  start();
  Connection c(port(), 10s);
  CHECK(c.request(http::verb::get, "/health").status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  service->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(c.closed_by_server(2s));
  service->stop();  // idempotent
  annals::Command cmd;
  cmd.aggregate = "account";
  cmd.id = "acc-9";
  cmd.command = "open";
  cmd.data = {{"owner", "Ada"}};
  CHECK(service->runtime().execute(cmd).accepted());
}

TEST_CASE("G7 destroying the service while a query waits for a far position ends cleanly") {
  TempDir dir;
  ServiceOptions o;
  o.runtime.store = annals::sqlite_store({dir.file("bank.db")});
  o.install = install_bank;
  o.shutdown_grace = 200ms;
  // An earlier runtime waited for calls in flight only up to command_timeout + 1 s, then crashed.
  o.runtime.command_timeout = 500ms;
  auto svc = std::make_unique<Service>(o);
  svc->start();
  // Given a query waiting for a position nobody writes, for longer than the runtime would wait for it
  Connection q(svc->port());
  q.send_raw("GET /queries/balances/total?min_position=1000000000000&timeout_ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(wait_until([&] { return svc->waiting_requests() == 1; }));
  // when the service is stopped and destroyed, then it is not torn down under the waiting query
  svc->stop();
  CHECK(svc->waiting_requests() == 1);  // stop() gave up on it after the grace: it holds no thread
  svc.reset();  // the runtime answers the query shutting_down and stops (crashed in its shutdown before)
  CHECK(q.closed_by_server(5s));
}

// ---- HTTP conventions (issue 13) ---------------------------------------------------------------

namespace {
using Headers = std::vector<std::pair<std::string, std::string>>;
std::string deposit_json(const std::string& id, std::int64_t amount, json::object extra = {}) {
  return command_json(id, "deposit", {{"amount", amount}}, std::move(extra));
}
} // namespace

TEST_CASE_METHOD(ServiceFixture, "the Idempotency-Key header books a retried deposit once") {
  // Was: only the body field counted; the header was ignored and the retry booked the deposit twice.
  start();
  open("acc-1");
  const auto before = stored_events();
  const Headers key{{"Idempotency-Key", "dep-1"}};
  auto first = post(deposit_json("acc-1", 5), key);
  auto retry = post(deposit_json("acc-1", 5), key);
  CHECK(first.status == 200);
  CHECK(retry.status == 200);
  CHECK(first.json().at("replayed") == false);
  CHECK(retry.json().at("replayed") == true);
  CHECK(stored_events() == before + 1);
  auto balance = get("/queries/balances/balance?id=acc-1&min_position=" + std::to_string(before + 1));
  CHECK(balance_in(balance.json()) == 5);
}

TEST_CASE_METHOD(ServiceFixture, "an Idempotency-Key header that differs from the body's key is 400 and books nothing") {
  start();
  open("acc-1");
  const auto before = stored_events();
  auto r = post(deposit_json("acc-1", 5, {{"idempotency_key", "body-key"}}), {{"Idempotency-Key", "header-key"}});
  CHECK(r.status == 400);
  CHECK(r.code() == "invalid_command");
  CHECK(r.str("detail")
        == "the Idempotency-Key header ('header-key') and the body's idempotency_key ('body-key') differ; "
           "send the key once, in either");
  CHECK(stored_events() == before);
  // The same key in both is one key.
  CHECK(post(deposit_json("acc-1", 5, {{"idempotency_key", "k"}}), {{"Idempotency-Key", "k"}}).status == 200);
}

TEST_CASE_METHOD(ServiceFixture, "results carry the stream version as ETag and If-Match is expected_version (412 on a mismatch)") {
  start();
  auto opened = post(command_json("acc-1", "open", {{"owner", "Ada"}}));
  CHECK(opened.header(http::field::etag) == "\"1\"");
  auto deposited = post(deposit_json("acc-1", 5), {{"If-Match", "\"1\""}});
  CHECK(deposited.status == 200);
  CHECK(deposited.header(http::field::etag) == "\"2\"");
  const auto before = stored_events();
  auto stale = post(deposit_json("acc-1", 5), {{"If-Match", "\"1\""}});
  CHECK(stale.status == 412);
  CHECK(stale.header(http::field::content_type) == "application/problem+json");
  CHECK(stale.code() == "concurrency_conflict");
  CHECK(stale.json().at("status") == 412);
  CHECK(stored_events() == before);
  // Without If-Match a body's expected_version that does not hold stays 409.
  CHECK(post(deposit_json("acc-1", 5, {{"expected_version", 1}})).status == 409);
  auto bad = post(deposit_json("acc-1", 5), {{"If-Match", "two"}});
  CHECK(bad.status == 400);
  CHECK(bad.code() == "invalid_command");
  CHECK(stored_events() == before);
}

TEST_CASE_METHOD(ServiceFixture, "a command that creates a stream is 201 with Location and later ones are 200") {
  start();
  auto opened = post(command_json("acc 1/x", "open", {{"owner", "Ada"}}));
  CHECK(opened.status == 201);
  CHECK(opened.header(http::field::location) == "/streams/account/acc%201%2Fx");
  auto deposited = post(deposit_json("acc 1/x", 5));
  CHECK(deposited.status == 200);
  CHECK(deposited.header(http::field::location).empty());
  auto stream = get(opened.header(http::field::location));
  REQUIRE(stream.status == 200);
  CHECK(stream.json().at("events").as_array().size() == 2);
}

TEST_CASE_METHOD(ServiceFixture, "a POST body that is not JSON by its Content-Type is 415 and books nothing") {
  start();
  open("acc-1");
  const auto before = stored_events();
  auto r = post(deposit_json("acc-1", 5), {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(r.status == 415);
  CHECK(r.code() == "unsupported_media_type");
  CHECK(r.header(http::field::accept) == "application/json");
  CHECK(stored_events() == before);
  CHECK(post(deposit_json("acc-1", 5), {{"Content-Type", "application/json; charset=utf-8"}}).status == 200);
}

TEST_CASE_METHOD(ServiceFixture, "HEAD on a GET route answers GET's status and headers without the body") {
  start();
  open("acc-1", 10);
  for (const std::string target : {"/", "/health", "/queries/balances/total", "/queries/balances",
                                   "/streams/account/acc-1", "/events", "/queries/nope/x"}) {
    INFO(target);
    auto got = get(target);
    auto head = Connection(port()).request(http::verb::head, target);
    CHECK(head.status == got.status);
    CHECK(head.header(http::field::content_type) == got.header(http::field::content_type));
    CHECK(head.header(http::field::content_length) == std::to_string(got.body.size()));
    CHECK(head.body.empty());
  }
  CHECK(Connection(port()).request(http::verb::head, "/commands").status == 405);
}

TEST_CASE_METHOD(ServiceFixture, "errors are RFC 9457 problems with annals' code as an extension member") {
  start();
  open("acc-1", 10);
  auto rejected = post(command_json("acc-1", "withdraw", {{"amount", 1000}}));
  auto unknown = post(R"({"aggregate":"ledger","id":"l-1","command":"post","data":{}})");
  auto path = get("/nope");
  for (const auto* r : {&rejected, &unknown, &path}) {
    CHECK(r->header(http::field::content_type) == "application/problem+json");
    const auto v = r->json();
    const auto& o = v.as_object();
    CHECK(o.at("status").as_int64() == r->status);
    CHECK(o.at("type").as_string() == "urn:annals:error:" + r->code());
    CHECK(!o.at("title").as_string().empty());
    CHECK(!o.at("detail").as_string().empty());
  }
  CHECK(rejected.status == 422);
  CHECK(rejected.code() == "insufficient_funds");
  CHECK(rejected.json().at("title") == "Unprocessable Entity");
  CHECK(rejected.str("outcome") == "rejected");
  CHECK(unknown.status == 422);  // understood, but there is no such aggregate type (was 404)
  CHECK(unknown.code() == "unknown_aggregate");
  CHECK(path.status == 404);
  CHECK(path.code() == "unknown_path");
}

TEST_CASE_METHOD(ServiceFixture, "GET / lists the domains and aggregates with commands and projections with queries") {
  auto o = options();
  o.domains.push_back({"bank", "accounts", {"account"}, {"balances", "daily_totals"}});
  start(std::move(o));
  for (const std::string target : {"/", "/api"}) {
    auto r = get(target);
    REQUIRE(r.status == 200);
    const auto doc = r.json();
    const auto& body = doc.as_object();
    CHECK(body.at("domains").at(0).at("name") == "bank");
    CHECK(body.at("domains").at(0).at("aggregates").at(0) == "account");
    const auto& account = body.at("aggregates").at(0).as_object();  // in `doc`
    CHECK(account.at("name") == "account");
    CHECK(account.at("commands").as_object().contains("deposit"));
    const auto& balances = body.at("projections").at(0).as_object();
    CHECK(balances.at("name") == "balances");
    CHECK(balances.at("queries").as_object().contains("balance"));
  }
  auto queries = get("/queries/balances");
  REQUIRE(queries.status == 200);
  CHECK(queries.str("projection") == "balances");
  CHECK(queries.json().at("queries").as_object().contains("total"));
  CHECK(queries.json().at("queries").at("balance").as_object().contains("args"));
}

TEST_CASE_METHOD(ServiceFixture, "GET /streams/{aggregate}/{id} pages a stream from a version and the last page has its ETag") {
  start();
  open("acc-1", 10);
  for (int i = 0; i < 3; ++i) post(deposit_json("acc-1", 1));  // versions 1..5
  auto page = get("/streams/account/acc-1?limit=3");
  REQUIRE(page.status == 200);
  CHECK(page.json().at("events").as_array().size() == 3);
  CHECK(page.json().at("events").at(0).at("version") == 1);
  CHECK(page.json().at("next_version") == 4);
  CHECK(page.str("next") == "/streams/account/acc-1?from_version=4&limit=3");
  CHECK(page.header(http::field::link) == "</streams/account/acc-1?from_version=4&limit=3>; rel=\"next\"");
  CHECK(page.header(http::field::etag).empty());
  auto last = get(page.str("next"));
  REQUIRE(last.status == 200);
  CHECK(last.json().at("events").as_array().size() == 2);
  CHECK(last.json().at("events").at(1).at("type") == "deposited");
  CHECK(last.json().at("next").is_null());
  CHECK(last.header(http::field::etag) == "\"5\"");

  CHECK(get("/streams/account/acc-404").code() == "not_found");
  CHECK(get("/streams/ledger/l-1").code() == "unknown_aggregate");
  CHECK(get("/streams/account/acc-1?limit=0").status == 400);
  CHECK(get("/streams/account/acc-1?limit=5000").status == 400);
  CHECK(get("/streams/account/acc-1?form_version=2").code() == "invalid_query");
}

TEST_CASE_METHOD(ServiceFixture, "GET /events?from=&limit= pages the whole log by global position") {
  start();
  open("acc-1");
  open("acc-2");
  open("acc-3");
  auto page = get("/events?from=2&limit=1");
  REQUIRE(page.status == 200);
  REQUIRE(page.json().at("events").as_array().size() == 1);
  CHECK(page.json().at("events").at(0).at("position") == 2);
  CHECK(page.json().at("events").at(0).at("id") == "acc-2");
  CHECK(page.json().at("next_position") == 3);
  auto rest = get("/events?from=3");
  CHECK(rest.json().at("events").as_array().size() == 1);
  CHECK(rest.json().at("next").is_null());
  CHECK(get("/events?from=0").status == 400);
}

namespace {
const std::string kSubscribe = "GET /events/subscribe?from=1 HTTP/1.1\r\nHost: x\r\n\r\n";
}

TEST_CASE_METHOD(ServiceFixture, "GET /events/subscribe: Server-Sent Events (catch-up then live) resumable with Last-Event-ID") {
  auto o = options();
  o.subscription_heartbeat = 300ms;
  start(std::move(o));
  open("acc-1", 10);  // positions 1, 2
  Connection sub(port());
  sub.send_raw(kSubscribe);
  auto caught_up = sub.read_until("id: 2\n", 10s);
  CHECK(caught_up.find("HTTP/1.1 200 OK\r\n") == 0);
  CHECK(caught_up.find("Content-Type: text/event-stream\r\n") != std::string::npos);
  CHECK(caught_up.find("id: 1\nevent: opened\ndata: {") != std::string::npos);
  REQUIRE(caught_up.find("id: 2\nevent: deposited\ndata: {") != std::string::npos);

  // Live: a command committed now arrives on the open subscription.
  post(deposit_json("acc-1", 7));
  auto live = sub.read_until("\n\n", 10s);
  CHECK(live.find("id: 3\nevent: deposited\ndata: ") == 0);
  const auto data = live.substr(live.find("data: ") + 6, live.find("\n\n") - live.find("data: ") - 6);
  CHECK(json::parse(data).at("data").at("amount") == 7);

  // Quiet: heartbeat comments keep proxies from closing it.
  CHECK(sub.read_until(": heartbeat\n\n", 10s).find(": heartbeat\n\n") != std::string::npos);

  // A reconnect with Last-Event-ID: 2 starts after event 2.
  Connection again(port());
  again.send_raw("GET /events/subscribe?from=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 2\r\n\r\n");
  auto resumed = again.read_until("id: 3\n", 10s);
  CHECK(resumed.find("id: 3\n") != std::string::npos);
  CHECK(resumed.find("id: 1\n") == std::string::npos);
  CHECK(resumed.find("id: 2\n") == std::string::npos);
}

TEST_CASE_METHOD(ServiceFixture, "an event subscription needs a grant and counts against max_connections") {
  auto o = options();
  o.max_connections = 2;
  o.auth = parse_auth_config(R"({"tokens": {
    "reader": {"principal": "r", "commands": ["*"], "queries": ["$events:all"]},
    "other":  {"principal": "o", "commands": ["*"], "queries": ["balances:*"]}}})", "test config");
  start(std::move(o));
  auto denied = get("/events/subscribe", {{"Authorization", "Bearer other"}});
  CHECK(denied.status == 403);
  CHECK(denied.code() == "forbidden");
  CHECK(get("/events/subscribe").status == 401);
  CHECK(get("/events", {{"Authorization", "Bearer other"}}).status == 403);
  CHECK(get("/streams/account/a", {{"Authorization", "Bearer other"}}).status == 403);
  // Those requests' connections count until the service has seen them close.
  REQUIRE(wait_until([&] { return service->open_connections() == 0; }, 10s, 5ms));

  Connection sub(port());
  sub.send_raw("GET /events/subscribe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer reader\r\n\r\n");
  CHECK(sub.read_until("retry: 1000\n\n", 10s).find("200 OK") != std::string::npos);
  Connection second(port());
  second.send_raw("GET /events/subscribe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer reader\r\n\r\n");
  CHECK(second.read_until("retry: 1000\n\n", 10s).find("200 OK") != std::string::npos);
  // Both subscriptions hold a connection: a third is refused; the fixture's stop() then closes them promptly.
  auto third = get("/health");
  CHECK(third.status == 503);
  CHECK(third.code() == "overloaded");
}
