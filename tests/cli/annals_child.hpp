#pragma once
// The real `annals` (ANNALS_CLI) as a child process, for the tests where a
// process boundary matters: the working directory, terminals, signals, and
// output read while it runs.

#include "text.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace annals::test {

/// The real `annals` as a child process: stdout through a pipe (read while it
/// runs) or a terminal, stderr to a file; optionally in another directory
/// and with extra environment variables.
struct ChildOptions {
  std::string cwd;
  std::vector<std::string> env;  ///< "NAME=value"
  bool terminal = false;         ///< stdout is a pseudo-terminal
};

class Child {
public:
  using Options = ChildOptions;

  Child(const std::vector<std::string>& args, const std::string& err_file, Options opts = {}) : err_file_(err_file) {
    int out_read = -1, out_write = -1;
    if (opts.terminal) {
      out_read = ::posix_openpt(O_RDWR | O_NOCTTY);
      if (out_read < 0 || ::grantpt(out_read) != 0 || ::unlockpt(out_read) != 0) throw std::runtime_error("no pty");
      out_write = ::open(::ptsname(out_read), O_RDWR | O_NOCTTY);
    } else {
      int fds[2];
      if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
      out_read = fds[0];
      out_write = fds[1];
    }
    const int err_fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out_write, 1);
      ::dup2(err_fd, 2);
      ::close(out_read);
      if (!opts.cwd.empty() && ::chdir(opts.cwd.c_str()) != 0) ::_exit(126);
      for (const auto& e : opts.env) ::putenv(const_cast<char*>(e.c_str()));
      std::string program = ANNALS_CLI;
      std::vector<std::string> copy = args;
      std::vector<char*> argv{program.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(program.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out_write);
    ::close(err_fd);
    out_ = out_read;
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  /// Reads stdout until `text` appears or `timeout` passes; true if it appeared.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!annals::test::contains(out, text)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return annals::test::contains(out, text);
    }
    return true;
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  /// Reads the rest of stdout and waits for the exit; the exit code (-signal if killed).
  int finish() {
    while (read_some(120000)) {
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    err = annals::test::read_file(err_file_);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  std::string out, err;

private:
  // False at the end of output (or on timeout).
  bool read_some(int timeout_ms) {
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const auto n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return false;  // EOF (a pty gives EIO once the child is gone)
    out.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string err_file_;
};

/// Runs `annals ARGS...` to its end; its exit code, stdout and stderr.
inline int run_child(const std::vector<std::string>& args, const std::string& err_file, Child::Options opts,
                     std::string* out, std::string* err) {
  Child c(args, err_file, std::move(opts));
  const int code = c.finish();
  if (out) *out = c.out;
  if (err) *err = c.err;
  return code;
}

} // namespace annals::test
