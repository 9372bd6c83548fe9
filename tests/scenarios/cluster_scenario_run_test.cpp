// Cluster scenarios, run (docs/scenarios.md, "Clusters"): `annals run` as a
// child process starts its own PostgreSQL 15 and `annals node` processes.
// PostgreSQL 15 must be installed: without it these tests fail and say what to install.

#include "cli_test_support.hpp"
#include "temp_dir.hpp"
#include "text.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace annals;
using annals::test::contains;
using annals::test::run_program;
using annals::test::TempDir;

namespace {

namespace fs = std::filesystem;

// `annals run ARGS...` with `dir` as the working directory.
test::CliResult run_in(const TempDir& dir, std::vector<std::string> args, const char* pg_bindir = nullptr) {
  args.insert(args.begin(), "run");
  return run_program(ANNALS_CLI, args, [&] {
    if (::chdir(dir.path().c_str()) != 0) ::_exit(126);
    if (pg_bindir) ::setenv("ANNALS_PG_BINDIR", pg_bindir, 1);
  });
}

std::vector<json::object> json_lines(const std::string& out) {
  std::vector<json::object> v;
  for (const auto& l : test::lines_of(out)) v.push_back(boost::json::parse(l).as_object());
  return v;
}

// The pids the run announced (PostgreSQL's and every start of a node) and PostgreSQL's directory.
struct Started {
  std::vector<pid_t> pids;
  std::string postgres_dir;
};
Started started_of(const std::vector<json::object>& lines) {
  Started s;
  for (const auto& o : lines) {
    const auto event = std::string(o.at("event").as_string());
    if (event == "cluster.postgres") s.postgres_dir = std::string(o.at("directory").as_string());
    if (event == "cluster.postgres" || event == "cluster.node") s.pids.push_back(static_cast<pid_t>(o.at("pid").as_int64()));
  }
  return s;
}

// Running (a zombie has ended: it only waits for init, its parent now, to reap it).
bool process_exists(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.file(name)) << text;
  return dir.file(name);
}

} // namespace

SCENARIO("the cluster example runs and passes, the kill and the takeover visible in its JSON output") {
  TempDir dir;
  const auto r = run_in(dir, {std::string(ANNALS_SCENARIO_DIR) + "/cluster-3-nodes.json", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto lines = json_lines(r.out);
  const json::object* kill = nullptr;
  const json::object* failing_fast = nullptr;
  const json::object* takeover = nullptr;
  const json::object* report = nullptr;
  bool passed = false;
  for (const auto& o : lines) {
    const auto event = std::string(o.at("event").as_string());
    if (event == "report") report = &o;
    if (event == "scenario.finished") passed = o.at("passed").as_bool();
    if (event != "step") continue;
    const auto kind = std::string(o.at("kind").as_string());
    const auto& d = o.at("details").as_object();
    if (kind == "kill_node" && !kill) kill = &o;
    else if (kind == "load" && kill && !failing_fast) failing_fast = &o;
    else if (kind == "wait_until" && failing_fast && !takeover) takeover = &o;
    (void)d;
  }
  CHECK(passed);
  REQUIRE(kill);
  CHECK(kill->at("details").as_object().at("node") == "n2");
  CHECK(kill->at("details").as_object().at("state") == "killed");
  REQUIRE(failing_fast);
  // Commands for the killed node's shards fail: node_unavailable, while the others go through.
  CHECK(failing_fast->at("details").as_object().at("node_unavailable").as_int64() >= 1);
  CHECK(failing_fast->at("details").as_object().at("accepted").as_int64() >= 1);
  REQUIRE(takeover);
  CHECK(takeover->at("details").as_object().at("settled") == true);
  CHECK(contains(std::string(takeover->at("summary").as_string()), "shards settled after"));
  CHECK(takeover->at("details").as_object().at("shards").as_object().at("n2") == "killed");
  REQUIRE(report);
  const auto& nodes = report->at("report").as_object().at("nodes").as_array();
  REQUIRE(nodes.size() == 3);
  std::int64_t shards = 0;
  for (const auto& n : nodes) shards += n.as_object().at("shards").as_int64();
  CHECK(shards == 12);
  // Everything it started is gone; the logs stay.
  const auto s = started_of(lines);
  CHECK(s.pids.size() >= 5);
  for (auto pid : s.pids) CHECK_FALSE(process_exists(pid));
  CHECK_FALSE(fs::exists(s.postgres_dir));
  CHECK(fs::exists(dir.file("annals-cluster-3-nodes.cluster/n2.log")));
}

SCENARIO("a node that cannot start ends the run with its reason, and nothing it started is left") {
  TempDir dir;
  // The nodes refuse a lease under 300 ms (annals node checks its config).
  const auto file = write(dir, "short-lease.json", R"({"name": "short-lease", "domain": "bank",
    "cluster": {"nodes": 2, "shards": 4, "lease_ttl_ms": 100}, "steps": [{"step": "report"}]})");
  const auto r = run_in(dir, {file, "--json"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.reason() == "annals: " + file + ": the cluster cannot start: node n1 did not start (exit 2): annals: "
                        + dir.file("annals-short-lease.cluster/n1.json")
                        + ": field 'lease_ttl_ms': must be at least 300, got 100 (its log: "
                        + dir.file("annals-short-lease.cluster/n1.log") + ")");
  const auto s = started_of(json_lines(r.out));
  REQUIRE(s.pids.size() >= 2);  // PostgreSQL and n1
  REQUIRE_FALSE(s.postgres_dir.empty());
  for (auto pid : s.pids) CHECK_FALSE(process_exists(pid));
  CHECK_FALSE(fs::exists(s.postgres_dir));
}

SCENARIO("without PostgreSQL 15's programs a cluster scenario says what to install (exit 3)") {
  TempDir dir;
  const auto file = write(dir, "c.json", R"({"name": "c", "domain": "bank", "cluster": {"nodes": 1, "shards": 1},
    "steps": [{"step": "report"}]})");
  const auto r = run_in(dir, {file}, "/nonexistent/postgresql/bin");
  CHECK(r.code == 3);
  CHECK(r.reason() == "annals: " + file + ": the cluster cannot start: a cluster scenario starts its own PostgreSQL 15, "
                        "but /nonexistent/postgresql/bin/initdb is missing: install postgresql-15 (scripts/install-deps.sh)");
}

SCENARIO("a cluster scenario takes no store options") {
  TempDir dir;
  const auto file = write(dir, "c.json", R"({"name": "c", "domain": "bank", "cluster": {"nodes": 1, "shards": 1},
    "steps": [{"step": "report"}]})");
  const auto r = run_in(dir, {file, "--memory"});
  CHECK(r.code == 2);
  CHECK(r.reason() == "annals: " + file + " is a cluster scenario: it starts its own PostgreSQL and nodes, so --store, "
                        "--memory and --fresh do not apply; leave them out");
}
