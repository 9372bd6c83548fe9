#pragma once
// `annals serve` (ANNALS_CLI) as a user runs it, in a child process: its URL
// read from stderr, SIGTERM to stop (the serve tests, the ops tests).

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace annals::test {

/// `annals serve ARGS...` in a child process; stderr goes to a file.
class ServeProcess {
public:
  ServeProcess(const TempDir& dir, std::vector<std::string> args)
    : err_path_(dir.file("serve-" + std::to_string(++count_) + ".err")) {
    args.insert(args.begin(), "serve");
    std::ofstream(err_path_).flush();  // exists (empty) before the child runs
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int fd = ::open(err_path_.c_str(), O_WRONLY | O_APPEND);
      ::dup2(fd, 2);
      const int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, 1);
      if (::chdir(dir.path().c_str()) != 0) ::_exit(126);
      std::string exe = ANNALS_CLI;
      std::vector<char*> argv{exe.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string err() const {
    std::ifstream f(err_path_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  /// Waits for "listening on http://HOST:PORT"; the port, or 0 if the process ended first.
  std::uint16_t port() {
    std::uint16_t found = 0;
    annals::test::wait_until([&] {
      const auto text = err();
      const auto at = text.find("listening on http://");
      if (at != std::string::npos) {
        const auto colon = text.find(':', at + 20);
        const auto comma = text.find(',', colon);
        if (colon != std::string::npos && comma != std::string::npos) {
          found = static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1, comma - colon - 1)));
          return true;
        }
      }
      return exited();
    }, std::chrono::seconds(30));
    return found;
  }
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return true;
    }
    return false;
  }
  /// Sends `sig` and waits for the exit code.
  int stop(int sig = SIGTERM) {
    if (pid_ > 0) ::kill(pid_, sig);
    annals::test::wait_until([&] { return exited(); }, std::chrono::seconds(30));
    return code_;
  }
  int wait() {
    annals::test::wait_until([&] { return exited(); }, std::chrono::seconds(30));
    return code_;
  }

private:
  static inline int count_ = 0;
  std::string err_path_;
  pid_t pid_ = -1;
  int code_ = -1000;
};

} // namespace annals::test
