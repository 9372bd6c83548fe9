#include "node_process.hpp"

#include "annals/scenarios/scenario_runner.hpp"

#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace annals::scenarios::cluster_run {

namespace fs = std::filesystem;

NodeProcess::NodeProcess(std::string name, std::string executable, std::string config, std::string log)
    : name_(std::move(name)), executable_(std::move(executable)), config_(std::move(config)), log_(std::move(log)) {}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) kill();
}

void NodeProcess::spawn() {
  const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw ClusterError(ClusterError::Kind::node_failed, "cannot write node " + name_ + "'s log " + log_);
  std::error_code ec;
  log_offset_ = fs::file_size(log_, ec);
  const pid_t parent = ::getpid();
  std::vector<std::string> args{executable_, "node", "--config", config_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw ClusterError(ClusterError::Kind::node_failed, "cannot start node " + name_ + ": fork failed");
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the runner died before prctl
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execv(executable_.c_str(), argv.data());
    const char msg[] = "annals: cannot execute the node program\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  stop_requested_ = false;
  http_port_ = 0;
  state_ = State::starting;
}

bool NodeProcess::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  pid_ = 0;
  if (state_ != State::killed && state_ != State::stopped) state_ = State::exited;
  return false;
}

std::string NodeProcess::last_log_line() const {
  std::ifstream in(log_);
  in.seekg(static_cast<std::streamoff>(log_offset_));
  std::string last;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) last = l;
  return last;
}

void NodeProcess::wait_ready(std::chrono::milliseconds timeout, const std::atomic<bool>* stop) {
  const std::string marker = "listening on http://127.0.0.1:";
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::ifstream in(log_);
      in.seekg(static_cast<std::streamoff>(log_offset_));
      for (std::string l; std::getline(in, l);) {
        const auto at = l.find(marker);
        if (l.rfind("annals node: node '", 0) != 0 || at == std::string::npos || in.eof()) continue;
        http_port_ = static_cast<std::uint16_t>(std::stoi(l.substr(at + marker.size())));
        state_ = State::running;
        return;
      }
    }
    if (!alive()) {
      const std::string why = last_log_line();
      throw ClusterError(ClusterError::Kind::node_failed,
                         "node " + name_ + " did not start (exit " + std::to_string(exit_code_) + "): "
                           + (why.empty() ? std::string("it wrote nothing") : why) + " (its log: " + log_ + ")");
    }
    if (stop && stop->load()) throw ClusterError(ClusterError::Kind::interrupted, "interrupted while node " + name_ + " started");
    if (std::chrono::steady_clock::now() >= until)
      throw ClusterError(ClusterError::Kind::node_failed,
                         "node " + name_ + " did not start within " + std::to_string(timeout.count())
                           + " ms (its log: " + log_ + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NodeProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_code_ = -SIGKILL;
  pid_ = 0;
  state_ = State::killed;
}

void NodeProcess::pause() {
  if (pid_ > 0 && ::kill(pid_, SIGSTOP) == 0) state_ = State::paused;
}

void NodeProcess::resume() {
  if (pid_ > 0 && ::kill(pid_, SIGCONT) == 0) state_ = State::running;
}

int NodeProcess::terminate(std::chrono::milliseconds grace) {
  request_stop();
  return wait_stopped(grace);
}

void NodeProcess::request_stop() {
  if (pid_ <= 0 || stop_requested_) return;
  stop_requested_ = true;
  ::kill(pid_, SIGCONT);  // a paused node cannot stop
  ::kill(pid_, SIGTERM);
}

int NodeProcess::wait_stopped(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return exit_code_;
  const auto until = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < until) {
    if (!alive()) {
      state_ = State::stopped;
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  state_ = State::stopped;
  return -1;
}

std::string NodeProcess::state_name() const {
  switch (state_) {
  case State::not_started: return "not started";
  case State::starting: return "starting";
  case State::running: return "running";
  case State::paused: return "paused";
  case State::killed: return "killed";
  case State::stopped: return "stopped";
  case State::exited: return "exited";
  }
  return "?";
}

} // namespace annals::scenarios::cluster_run
