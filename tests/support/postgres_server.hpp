#pragma once
// A throwaway PostgreSQL 15 server for the tests: initdb + pg_ctl in a
// directory of its own, on 127.0.0.1 and a free port, as the `postgres` user
// (runuser) when the tests run as root, with --no-sync and fsync=off (test
// data only). Each test asks for a database of its own (create_database), so
// tests run in parallel on one server.
//
// Under ctest, one server serves the whole run: the fixture test
// "postgres: start the tests' server" starts it in the build tree and
// "postgres: stop the tests' server" stops it (both run even when tests
// fail); tests find it through ANNALS_TEST_POSTGRES_DIR. A test program run
// by hand starts its own, stopped by a watchdog process when the program
// ends in any way (exit, a failed REQUIRE, a kill).
//
// Missing server binaries fail the test (never a silent pass): the error says
// "install postgresql-15 (scripts/install-deps.sh)".

#include <memory>
#include <string>

namespace annals::test {

class PostgresServer {
public:
  /// The server of this test program: the ctest fixture's, or one started
  /// now. Throws std::runtime_error saying what to do when it cannot start.
  static PostgresServer& shared();
  /// A server of the caller's own (a test that stops or restarts it),
  /// stopped and removed when the object goes, or by the watchdog.
  static std::unique_ptr<PostgresServer> start_own();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  /// Starts a server in `dir` (created; an old one there is stopped and
  /// wiped first) that outlives this process; stop_detached stops it.
  static void start_detached(const std::string& dir);
  static void stop_detached(const std::string& dir);

  /// A new empty database; its connection URL (superuser postgres, no password).
  std::string create_database();
  /// The URL of database `db` for user `user` (and password, if not empty).
  std::string url(const std::string& db, const std::string& user = "postgres", const std::string& password = "") const;
  /// Runs SQL as the superuser on database `db`; the first column of the
  /// first row, or "" when there is none. Throws std::runtime_error.
  std::string exec(const std::string& db, const std::string& sql) const;

  int port() const { return port_; }
  /// Stops the server (fast shutdown: sessions are ended) and starts it
  /// again on the same port, the data kept.
  void restart();
  /// Stops it (fast shutdown) / starts it again on the same port.
  void stop();
  void start();

private:
  PostgresServer(std::string dir, int port, int watchdog = -1) : dir_(std::move(dir)), port_(port), watchdog_(watchdog) {}
  std::string dir_;
  int port_ = 0;
  int watchdog_ = -1;  // write end of the pipe the watchdog waits on (servers started by this program)
};

} // namespace annals::test
