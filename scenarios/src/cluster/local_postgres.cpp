#include "local_postgres.hpp"

#include "annals/scenarios/scenario_runner.hpp"

#include <arpa/inet.h>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace annals::scenarios::cluster_run {

namespace {

namespace fs = std::filesystem;

std::string bindir() {
  const char* env = std::getenv("ANNALS_PG_BINDIR");
  return env && *env ? env : "/usr/lib/postgresql/15/bin";
}

bool as_root() { return ::geteuid() == 0; }

std::string as_server_user(const std::string& command) {
  return as_root() ? "runuser -u postgres -- " + command : command;
}

std::string tail_of(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) all.push_back(l);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : " | ") + all[i];
  return out;
}

void run(const std::string& command, const std::string& log, const std::string& what) {
  const int rc = std::system((command + " >>'" + log + "' 2>&1 </dev/null").c_str());
  if (rc != 0)
    throw ClusterError(ClusterError::Kind::postgres_failed,
                       "the cluster's PostgreSQL: " + what + " failed (" + tail_of(log, 3) + "; its log: " + log + ")");
}

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (s >= 0) ::close(s);
    throw ClusterError(ClusterError::Kind::postgres_failed, "no free loopback port for the cluster's PostgreSQL");
  }
  const int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

// The process exists and is not a zombie.
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

std::string pg_ctl(const std::string& data) { return as_server_user(bindir() + "/pg_ctl -D '" + data + "'"); }

} // namespace

LocalPostgres::LocalPostgres(const std::string& database) {
  for (const char* b : {"initdb", "pg_ctl", "postgres", "createdb"})
    if (::access((bindir() + "/" + b).c_str(), X_OK) != 0)
      throw ClusterError(ClusterError::Kind::postgres_missing,
                         "a cluster scenario starts its own PostgreSQL 15, but " + bindir() + "/" + b
                           + " is missing: install postgresql-15 (scripts/install-deps.sh)");
  if (as_root() && !::getpwnam("postgres"))
    throw ClusterError(ClusterError::Kind::postgres_missing,
                       "a cluster scenario run as root starts PostgreSQL as the 'postgres' user, and there is none: "
                       "install postgresql-15 (scripts/install-deps.sh)");
  // In the temporary directory: the `postgres` user may not reach the working directory.
  std::string tmpl = (fs::temp_directory_path() / "annals-cluster-pg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    throw ClusterError(ClusterError::Kind::postgres_failed, "cannot create a directory for the cluster's PostgreSQL in "
                                                              + fs::temp_directory_path().string());
  dir_ = tmpl;
  // The watchdog: when the pipe's write end closes (this process ends in
  // any way), it stops the server and removes the directory.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw ClusterError(ClusterError::Kind::postgres_failed, "pipe failed");
  const std::string script =
    "cat >/dev/null; " + pg_ctl(dir_ + "/data") + " -m immediate stop >/dev/null 2>&1; rm -rf '" + dir_ + "'";
  watchdog_ = ::fork();
  if (watchdog_ == 0) {
    ::dup2(fds[0], 0);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::setsid();  // not stopped by the terminal's Ctrl-C before it has cleaned up
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[0]);
  watchdog_pipe_ = fds[1];
  try {
    if (as_root()) {
      const passwd* pw = ::getpwnam("postgres");
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw ClusterError(ClusterError::Kind::postgres_failed, "cannot hand " + dir_ + " to the postgres user");
    }
    const std::string data = dir_ + "/data";
    const std::string log = dir_ + "/setup.log";
    run(as_server_user(bindir() + "/initdb -D '" + data + "' -A trust -U postgres --no-sync -E UTF8 --locale=C"), log,
        "initdb");
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      try {
        run(pg_ctl(data) + " -l '" + dir_ + "/server.log' -w -t 60 -o \"-p " + std::to_string(port_) + " -k '" + dir_
              + "' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start",
            log, "pg_ctl start");
        break;
      } catch (const ClusterError&) {
        if (attempt == 2) throw;  // another process took the port between the probe and the start
      }
    }
    std::ifstream pidfile(data + "/postmaster.pid");
    pidfile >> pid_;
    run(bindir() + "/createdb -h 127.0.0.1 -p " + std::to_string(port_) + " -U postgres " + database, log, "createdb");
    url_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  } catch (...) {
    stop();
    throw;
  }
}

LocalPostgres::~LocalPostgres() { stop(); }

void LocalPostgres::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (fs::exists(dir_ + "/data/postmaster.pid"))
    std::system((pg_ctl(dir_ + "/data") + " -m immediate -w -t 30 stop >/dev/null 2>&1 </dev/null").c_str());
  // pg_ctl returns once the pid file is gone, a moment before the process is:
  // wait for it (a zombie waits for init, not for us), so that no server is
  // left when the run ends.
  for (int i = 0; pid_ > 0 && i < 1000 && running(pid_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (watchdog_pipe_ >= 0) ::close(watchdog_pipe_);
  if (watchdog_ > 0) ::waitpid(watchdog_, nullptr, 0);
  watchdog_pipe_ = -1;
  watchdog_ = 0;
}

} // namespace annals::scenarios::cluster_run
