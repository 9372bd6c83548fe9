#pragma once
// Runs the annals_test_writer helper as a separate process.

#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace annals::test {

/// In a forked child: becomes the helper program (never returns).
[[noreturn]] inline void exec_writer(const std::vector<std::string>& args) {
  std::string exe = ANNALS_TEST_WRITER;
  std::vector<std::string> copy = args;
  std::vector<char*> argv{exe.data()};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  ::_exit(127);
}

/// Runs the helper to completion; returns its exit code (-signal if killed).
inline int run_writer(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) exec_writer(args);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

/// A running helper whose standard output is read line by line.
class WriterProcess {
public:
  explicit WriterProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      exec_writer(args);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  ~WriterProcess() {
    kill(SIGKILL);
    if (out_) std::fclose(out_);
  }

  /// The next line, or "" at end of output.
  std::string read_line() {
    char buf[256];
    if (!std::fgets(buf, sizeof buf, out_)) return {};
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

  /// Waits for the process to end; its exit code (-signal if killed).
  int wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
  }

  /// Kills the process (no clean-up runs in it) and reaps it.
  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

private:
  pid_t pid_ = -1;
  std::FILE* out_ = nullptr;
};

} // namespace annals::test
