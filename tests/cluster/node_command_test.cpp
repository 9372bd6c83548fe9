// `annals node --config node.json`: a config that cannot work is refused at
// start with one line that names the field or the cause, and an exit code
// (2: fix the config, 3: the shared database cannot be reached). The node
// that runs is exercised by the multi-process tests.

#include "../cli/cli_test_support.hpp"
#include "closed_port.hpp"
#include "postgres_server.hpp"
#include "temp_dir.hpp"

#include <annals/cluster/cluster_node.hpp>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <grp.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;

namespace {


CliResult node_with(const TempDir& dir, const std::string& config) {
  std::ofstream(dir.file("node.json")) << config;
  return run_annals(example_catalog(), {"node", "--config", dir.file("node.json")});
}

std::string config(const std::string& store, const std::string& extra = "") {
  return R"({"node": "n1", "store": ")" + store + R"(", "listen": "127.0.0.1:0")" + extra + "}";
}

} // namespace

TEST_CASE("annals node refuses a config it cannot use, naming the field (exit 2)", "[cluster][cli]") {
  TempDir dir;
  const std::string pg = "postgresql://postgres@127.0.0.1:1/x";
  struct Case {
    std::string config;
    std::string says;
  };
  const std::vector<Case> cases{
    {"{\"node\": \"n1\",", "node.json: not JSON"},
    {config(pg, R"(, "shard": 8)"), "node.json: unknown field 'shard'"},
    {config(pg, R"(, "shards": "8")"), "node.json: field 'shards': expected integer, got string"},
    {R"({"store": ")" + pg + R"(", "listen": "127.0.0.1:0"})", "node.json: missing field 'node'"},
    {config("cluster.db"), "field 'store': a cluster shares one PostgreSQL database: expected a postgresql:// URL"},
    {R"({"node": "n1", "store": ")" + pg + R"(", "listen": "localhost"})", "field 'listen': expected \"IP:port\""},
    {config(pg, R"(, "domains": ["bnak"])"), "field 'domains': unknown domain 'bnak' (known: bank, orders)"},
    {config(pg, R"(, "lease_ttl_ms": 50)"), "field 'lease_ttl_ms': must be at least 300, got 50"},
    {config(pg, R"(, "shards": 0)"), "field 'shards': expected 1 to 100000, got 0"},
    {config(pg, R"(, "auth": "missing-tokens.json")"), "field 'auth': "},
    {config(pg, R"(, "log_level": "loud")"), "field 'log_level': expected debug, info, warn or error"},
    {config(pg, R"(, "tls": {"certificate": "n1.pem", "key": "n1.key", "ca": "ca.pem"})"),
     "node 'n1' cannot start:"},
  };
  for (const auto& c : cases) {
    const auto r = node_with(dir, c.config);
    INFO(c.config << "\n-> " << r.err);
    CHECK(r.code == 2);
    CHECK_THAT(r.reason(), Catch::Contains(c.says));
  }
  // The TLS files are named where they were looked for: beside the config.
  CHECK_THAT(node_with(dir, config(pg, R"(, "tls": {"certificate": "n1.pem", "key": "n1.key", "ca": "ca.pem"})")).reason(),
             Catch::Contains(dir.file("n1.pem")));
}

TEST_CASE("annals node is refused by the cluster when its name is in use or its shard count differs (exit 2), "
          "and says so when the database cannot be reached (exit 3)", "[cluster][cli][postgres]") {
  TempDir dir;
  const std::string url = PostgresServer::shared().create_database();
  cluster::NodeOptions first;
  first.node = "n1";
  first.store.url = url;
  first.leases.shard_count = 8;
  cluster::ClusterNode running(first);

  const auto same_name = node_with(dir, config(url, R"(, "shards": 8)"));
  CHECK(same_name.code == 2);
  CHECK_THAT(same_name.reason(), Catch::Contains("node 'n1' cannot start: ") && Catch::Contains("node name 'n1' is in use"));

  const auto other_count = node_with(dir, R"({"node": "n2", "store": ")" + url + R"(", "listen": "127.0.0.1:0"})");
  CHECK(other_count.code == 2);
  CHECK_THAT(other_count.reason(), Catch::Contains("has 8 shards, this node is configured with 64"));

  const auto away = node_with(dir, config("postgresql://postgres@127.0.0.1:" + std::to_string(closed_port()) + "/x"));
  CHECK(away.code == 3);
  CHECK_THAT(away.reason(), Catch::Contains("node 'n1' cannot start: cannot connect to PostgreSQL"));
}

TEST_CASE("annals node refuses a TLS file it may not read, saying so and what to do (exit 2)", "[cluster][cli]") {
  namespace fs = std::filesystem;
  // Run as nobody when the tests run as root (root reads any file).
  const bool as_nobody = ::geteuid() == 0;
  TempDir dir;
  const std::string cert = dir.file("n1.pem");
  std::ofstream(cert) << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
  std::ofstream(dir.file("n1.key")) << "key";
  std::ofstream(dir.file("ca.pem")) << "ca";
  std::ofstream(dir.file("node.json"))
    << config("postgresql://postgres@127.0.0.1:1/x",
              R"(, "tls": {"certificate": "n1.pem", "key": "n1.key", "ca": "ca.pem"})");
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                                | fs::perms::others_read | fs::perms::others_exec);
  for (const auto* f : {"node.json", "n1.key", "ca.pem"})
    fs::permissions(dir.file(f), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read
                                   | fs::perms::others_read);
  fs::permissions(cert, fs::perms::none);
  constexpr int could_read = 120;
  const auto r = run_program(ANNALS_CLI, {"node", "--config", dir.file("node.json")}, [&] {
    if (as_nobody && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(127);
    if (::access(cert.c_str(), R_OK) == 0) ::_exit(could_read);
  });
  fs::permissions(cert, fs::perms::owner_all);
  INFO(r.err);
  REQUIRE(r.code != 127);
  REQUIRE(r.code != could_read);  // the test could not make the file unreadable
  CHECK(r.code == 2);
  CHECK_THAT(r.reason(), Catch::Contains("TLS certificate file " + cert + " cannot be read (Permission denied)")
                           && Catch::Contains("let this node's user read it"));
}
