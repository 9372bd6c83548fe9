#pragma once
// One `annals node --config FILE` child process of a cluster scenario: its
// stdout and stderr go to a log file (appended to across restarts), it runs
// in a process group of its own (the terminal's Ctrl-C reaches the runner,
// which stops the nodes in order) and dies with the runner (PR_SET_PDEATHSIG).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace annals::scenarios::cluster_run {

class NodeProcess {
public:
  enum class State { not_started, starting, running, paused, killed, stopped, exited };

  NodeProcess(std::string name, std::string executable, std::string config, std::string log);
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  /// Starts the process (state starting). Throws ClusterError.
  void spawn();
  /// Waits for its "listening on http://..." line; sets the HTTP port. Throws
  /// ClusterError when it exits first (with its last log line), on timeout,
  /// or when `stop` becomes true.
  void wait_ready(std::chrono::milliseconds timeout, const std::atomic<bool>* stop);
  void kill();                                        ///< SIGKILL, reaped
  void pause();                                       ///< SIGSTOP
  void resume();                                      ///< SIGCONT
  /// SIGTERM (the node hands its shards back) and waits up to `grace`; then SIGKILL.
  /// Its exit code (-1 when it had to be killed).
  int terminate(std::chrono::milliseconds grace);
  /// The two halves of terminate(), to stop several nodes at once. SIGTERM
  /// is sent once: a second one makes a node exit at once, without handing back.
  void request_stop();
  int wait_stopped(std::chrono::milliseconds grace);
  /// Reaps it if it has ended; true while the process exists.
  bool alive();

  const std::string& name() const { return name_; }
  const std::string& log() const { return log_; }
  const std::string& config() const { return config_; }
  pid_t pid() const { return pid_; }
  std::uint16_t http_port() const { return http_port_; }
  State state() const { return state_; }
  /// running (not paused, killed or stopped): it answers requests.
  bool serving() const { return state_ == State::running; }
  /// "running", "paused", "killed", ...
  std::string state_name() const;
  /// The last non-empty line of its log (why it ended).
  std::string last_log_line() const;

private:
  std::string name_, executable_, config_, log_;
  pid_t pid_ = 0;
  std::uint16_t http_port_ = 0;
  std::uintmax_t log_offset_ = 0;  // where this start's output begins in the log
  State state_ = State::not_started;
  int exit_code_ = 0;
  bool stop_requested_ = false;  // SIGTERM sent to this start of it
};

} // namespace annals::scenarios::cluster_run
