#pragma once
// A throwaway PostgreSQL 15 for a cluster scenario: initdb + pg_ctl in a
// temporary directory, on 127.0.0.1 and a free port, fsync off (the data is
// thrown away), run as the `postgres` user when we are root (PostgreSQL
// refuses root). Stopped and removed when the object goes; a watchdog
// process does the same if this program dies without unwinding (SIGKILL).

#include <string>
#include <sys/types.h>

namespace annals::scenarios::cluster_run {

class LocalPostgres {
public:
  /// Starts it and creates database `database`. Throws ClusterError
  /// (postgres_missing when the programs are not installed, postgres_failed).
  explicit LocalPostgres(const std::string& database);
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  /// postgresql://postgres@127.0.0.1:PORT/DATABASE
  const std::string& url() const { return url_; }
  const std::string& directory() const { return dir_; }
  int port() const { return port_; }
  /// The postmaster's process id.
  pid_t pid() const { return pid_; }
  /// Stops the server and removes its directory (idempotent).
  void stop();

private:
  std::string dir_;
  std::string url_;
  int port_ = 0;
  pid_t pid_ = 0;
  int watchdog_pipe_ = -1;
  pid_t watchdog_ = 0;
  bool stopped_ = false;
};

} // namespace annals::scenarios::cluster_run
