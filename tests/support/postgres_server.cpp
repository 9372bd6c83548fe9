#include "postgres_server.hpp"

#include <libpq-fe.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <pwd.h>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace annals::test {

namespace {

namespace fs = std::filesystem;

std::string bindir() {
  const char* env = std::getenv("ANNALS_PG_BINDIR");
  return env && *env ? env : "/usr/lib/postgresql/15/bin";
}

bool as_root() { return ::geteuid() == 0; }

// A command line run as the server's user: `postgres` when we are root
// (PostgreSQL refuses to run as root), else ourselves.
std::string as_server_user(const std::string& command) {
  return as_root() ? "runuser -u postgres -- " + command : command;
}

void run(const std::string& command, const std::string& log, const std::string& what) {
  const int rc = std::system((command + " >>'" + log + "' 2>&1").c_str());
  if (rc != 0) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    throw std::runtime_error("the tests' PostgreSQL server: " + what + " failed (exit " + std::to_string(rc)
                             + "); its log " + log + ":\n" + text);
  }
}

void require_binaries() {
  for (const char* b : {"initdb", "pg_ctl", "postgres"})
    if (::access((bindir() + "/" + b).c_str(), X_OK) != 0)
      throw std::runtime_error("PostgreSQL server program " + bindir() + "/" + b
                               + " is missing: install postgresql-15 (scripts/install-deps.sh)");
  if (as_root() && !::getpwnam("postgres"))
    throw std::runtime_error("there is no 'postgres' user to run the tests' PostgreSQL server as (tests run as root):"
                             " install postgresql-15 (scripts/install-deps.sh)");
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
      || ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (s >= 0) ::close(s);
    throw std::runtime_error("no free loopback port for the tests' PostgreSQL server");
  }
  const int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

std::string pg_ctl(const std::string& data) { return as_server_user(bindir() + "/pg_ctl -D '" + data + "'"); }

std::string start_options(const std::string& dir, int port) {
  // Throwaway data: no fsync. Enough connections for parallel tests, each
  // with a runtime's journal and readers.
  return " -o \"-p " + std::to_string(port) + " -k '" + dir
         + "' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
           " -c max_connections=300\"";
}

// A new server directory in /tmp (the `postgres` user may not reach the
// build tree), initialised and started; its port.
int init_and_start(const std::string& dir) {
  require_binaries();
  fs::create_directories(dir);
  if (as_root()) {
    const passwd* pw = ::getpwnam("postgres");
    if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot hand " + dir + " to the postgres user");
  }
  const std::string data = dir + "/data";
  const std::string log = dir + "/setup.log";
  run(as_server_user(bindir() + "/initdb -D '" + data + "' -A trust -U postgres --no-sync -E UTF8 --locale=C"), log,
      "initdb");
  // The superuser without a password; any other user with one (the tests
  // of wrong credentials).
  {
    std::ofstream hba(data + "/pg_hba.conf", std::ios::trunc);
    hba << "local all all trust\n"
           "host all postgres 127.0.0.1/32 trust\n"
           "host all all 127.0.0.1/32 scram-sha-256\n";
  }
  for (int attempt = 0;; ++attempt) {
    const int port = free_port();
    try {
      run(pg_ctl(data) + " -l '" + dir + "/server.log' -w -t 60" + start_options(dir, port) + " start", log,
          "pg_ctl start");
      return port;
    } catch (const std::runtime_error&) {
      if (attempt == 3) throw;  // another process took the port between probe and start
    }
  }
}

std::string make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "annals-pg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

// Stops the server of `dir` (immediately: the data is thrown away) and
// removes the directory, when the pipe's other end closes: when this
// program ends, however it ends.
void start_watchdog(const std::string& dir, int& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const std::string script = "cat >/dev/null; " + pg_ctl(dir + "/data") + " -m immediate stop >/dev/null 2>&1; rm -rf '"
                             + dir + "'";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[0], 0);
    ::setsid();  // not killed with the test's process group by Ctrl-C before it cleans up
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[0]);
  write_end = fds[1];
}

} // namespace

PostgresServer::~PostgresServer() {
  if (watchdog_ >= 0) ::close(watchdog_);  // the watchdog stops the server and removes its directory
}

std::unique_ptr<PostgresServer> PostgresServer::start_own() {
  require_binaries();
  const std::string dir = make_temp_dir();
  int pipe = -1;
  start_watchdog(dir, pipe);
  std::unique_ptr<PostgresServer> server(new PostgresServer(dir, 0, pipe));
  server->port_ = init_and_start(dir);
  return server;
}

PostgresServer& PostgresServer::shared() {
  static std::mutex m;
  static std::unique_ptr<PostgresServer> server;
  std::lock_guard<std::mutex> lock(m);
  if (server) return *server;
  const char* fixture = std::getenv("ANNALS_TEST_POSTGRES_DIR");
  if (fixture && *fixture && fs::exists(fs::path(fixture) / "port")) {
    server.reset(new PostgresServer(read_file(fs::path(fixture) / "datadir"),
                                    std::stoi(read_file(fs::path(fixture) / "port"))));
    return *server;
  }
  server = start_own();
  return *server;
}

void PostgresServer::start_detached(const std::string& state) {
  stop_detached(state);  // a server left by an interrupted run
  fs::create_directories(state);
  const std::string dir = make_temp_dir();
  const int port = init_and_start(dir);
  std::ofstream(fs::path(state) / "datadir") << dir << "\n";
  std::ofstream(fs::path(state) / "port") << port << "\n";
}

void PostgresServer::stop_detached(const std::string& state) {
  const fs::path datadir = fs::path(state) / "datadir";
  if (!fs::exists(datadir)) return;
  const std::string dir = read_file(datadir);
  if (!dir.empty() && fs::exists(dir + "/data"))
    std::system((pg_ctl(dir + "/data") + " -m immediate stop >/dev/null 2>&1").c_str());
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
  fs::remove(fs::path(state) / "port", ec);
  fs::remove(datadir, ec);
}

std::string PostgresServer::url(const std::string& db, const std::string& user, const std::string& password) const {
  return "postgresql://" + user + (password.empty() ? "" : ":" + password) + "@127.0.0.1:" + std::to_string(port_) + "/"
         + db;
}

std::string PostgresServer::create_database() {
  static std::atomic<int> counter{0};
  static const std::string tag = [] {
    std::random_device rd;
    return std::to_string(::getpid()) + "_" + std::to_string(rd() % 100000);
  }();
  const std::string name = "t_" + tag + "_" + std::to_string(counter++);
  exec("postgres", "CREATE DATABASE " + name);
  return url(name);
}

std::string PostgresServer::exec(const std::string& db, const std::string& sql) const {
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(url(db).c_str()), &PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK)
    throw std::runtime_error("cannot connect to the tests' PostgreSQL server: " + std::string(PQerrorMessage(c.get())));
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), sql.c_str()), &PQclear);
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    throw std::runtime_error("the tests' PostgreSQL server refused '" + sql + "': " + PQerrorMessage(c.get()));
  if (st == PGRES_TUPLES_OK && PQntuples(r.get()) > 0) return PQgetvalue(r.get(), 0, 0);
  return {};
}

void PostgresServer::stop() { run(pg_ctl(dir_ + "/data") + " -m fast -w -t 60 stop", dir_ + "/setup.log", "pg_ctl stop"); }

void PostgresServer::start() {
  run(pg_ctl(dir_ + "/data") + " -l '" + dir_ + "/server.log' -w -t 60" + start_options(dir_, port_) + " start",
      dir_ + "/setup.log", "pg_ctl start");
}

void PostgresServer::restart() {
  stop();
  start();
}

} // namespace annals::test
