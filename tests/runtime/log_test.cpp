// Structured logs: one record per significant event, with correlation ids,
// level control, and JSON or text formatting.

#include "captured_log.hpp"
#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <mutex>

using namespace annals;
using namespace annals::test;

TEST_CASE_METHOD(RuntimeFixture, "the runtime logs start, stop, denied commands and projector trouble") {
  CapturedLog log;
  auto o = options();
  o.log.sink = log.sink();
  o.log.slow_recovery = std::chrono::milliseconds(0);  // every recovery counts as slow here
  o.projections.initial_backoff = std::chrono::milliseconds(5);
  o.projections.max_attempts = 2;
  o.authorize = [](const std::string& p, const Command&) {
    return p == "mallory" ? AuthDecision::deny("blocked") : AuthDecision::allow();
  };
  {
    auto rt = bank_runtime(o);
    rt->register_projection(sums("picky", [](const Event& e) {
      if (e.data.at("amount").as_int64() == 13) throw std::runtime_error("unlucky");
    }));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    auto denied = deposit("acc-1", 1);
    denied.metadata.principal = "mallory";
    denied.metadata.correlation_id = "corr-77";
    REQUIRE(rt->execute(denied).code() == errc::forbidden);
    REQUIRE(rt->execute(deposit("acc-1", 13)).accepted());
    REQUIRE(eventually([&] {
      return !log.of("projection.event_parked").empty() && log.of("projection.restarted").size() == 2;
    }));
  }
  REQUIRE(log.of("runtime.started").size() == 1);
  CHECK(log.of("runtime.started")[0].fields.at("store").as_string() == "sqlite:" + db);
  REQUIRE(log.of("runtime.stopped").size() == 1);

  auto d = log.of("command.denied");
  REQUIRE(d.size() == 1);
  CHECK(d[0].level == LogLevel::warn);
  CHECK(d[0].fields.at("principal").as_string() == "mallory");
  CHECK(d[0].fields.at("correlation_id").as_string() == "corr-77");
  CHECK(d[0].fields.at("command").as_string() == "deposit");
  CHECK(d[0].message == "blocked");

  CHECK(log.of("projection.crashed").size() == 2);
  CHECK(log.of("projection.restarted").size() == 2);
  auto parked = log.of("projection.event_parked");
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].level == LogLevel::error);
  CHECK(parked[0].fields.at("position").as_int64() == 2);  // open is 1; the denied command wrote nothing
  CHECK(parked[0].fields.at("error").as_string().find("unlucky") != std::string::npos);
  CHECK_FALSE(log.of("aggregate.slow_recovery").empty());
}

TEST_CASE_METHOD(RuntimeFixture, "store errors are logged with what failed") {
  CapturedLog log;
  SqliteStoreOptions so;
  so.busy_timeout = std::chrono::milliseconds(50);
  auto o = options(so);
  o.log.sink = log.sink();
  auto rt = bank_runtime(o);
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  SQLite::Database other(db, SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  auto r = rt->execute(deposit("acc-1", 1));
  REQUIRE(r.code() == errc::store_unavailable);
  other.exec("COMMIT");
  auto store = log.of("store.error");
  REQUIRE_FALSE(store.empty());
  CHECK(store[0].fields.at("failure").as_string() == "locked");
  auto failed = log.of("command.failed");
  REQUIRE(failed.size() == 1);
  CHECK_FALSE(failed[0].fields.at("correlation_id").as_string().empty());
  CHECK(failed[0].fields.at("code").as_string() == errc::store_unavailable);
}

TEST_CASE("log levels filter and both formats carry every field") {
  std::vector<LogRecord> got;
  LogOptions o;
  o.level = LogLevel::warn;
  o.sink = [&](const LogRecord& r) { got.push_back(r); };
  Logger logger(o);
  logger.log(LogLevel::info, "x.info", "hidden");
  logger.log(LogLevel::error, "x.error", "shown", {{"projection", "p"}, {"position", 7}});
  REQUIRE(got.size() == 1);
  CHECK(got[0].event == "x.error");

  auto line = Logger::format_json(got[0]);
  auto parsed = json::parse(line).as_object();
  CHECK(parsed.at("level").as_string() == "error");
  CHECK(parsed.at("event").as_string() == "x.error");
  CHECK(parsed.at("message").as_string() == "shown");
  CHECK(parsed.at("projection").as_string() == "p");
  CHECK(parsed.at("position").as_int64() == 7);
  CHECK(parsed.at("at").as_string().size() == 27);

  auto text = Logger::format_text(got[0]);
  CHECK(text.find("ERROR x.error  shown") != std::string::npos);
  CHECK(text.find("projection=p") != std::string::npos);
  CHECK(text.find("position=7") != std::string::npos);

  LogOptions off;
  off.level = LogLevel::off;
  off.sink = [&](const LogRecord& r) { got.push_back(r); };
  Logger silent(off);
  silent.log(LogLevel::error, "x", "y");
  CHECK(got.size() == 1);
}
