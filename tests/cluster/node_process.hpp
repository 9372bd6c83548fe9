#pragma once
// `annals node --config FILE` as a child process for the multi-process
// cluster tests: its stderr in a file, its HTTP port read from the line it
// prints once it serves, and signals to kill, pause and resume it.

#include "http_client.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <boost/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <csignal>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace annals::test {

class NodeProcess {
public:
  NodeProcess(const TempDir& dir, std::string name, std::string config_path)
    : name_(std::move(name)), config_(std::move(config_path)), dir_(dir.path()) {}
  ~NodeProcess() { kill(SIGKILL); }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  /// Starts it (again) and waits until it serves; false if it exited first.
  bool start() {
    err_path_ = dir_ + "/" + name_ + "-" + std::to_string(++starts_) + ".err";
    std::ofstream(err_path_).flush();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // A process group of its own: a stopped node (SIGSTOP) whose group
      // became orphaned would bring SIGHUP to every member of that group,
      // which would be ctest's other tests.
      ::setpgid(0, 0);
      const int fd = ::open(err_path_.c_str(), O_WRONLY | O_APPEND);
      ::dup2(fd, 2);
      const int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, 1);
      std::string exe = ANNALS_CLI, node = "node", flag = "--config";
      std::vector<char*> argv{exe.data(), node.data(), flag.data(), config_.data(), nullptr};
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    port_ = 0;
    wait_until([&] {
      const auto text = err();
      const auto at = text.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) {
        const auto comma = text.find(',', at);
        if (comma != std::string::npos) {
          port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + 30, comma - at - 30)));
          return true;
        }
      }
      return exited();
    }, std::chrono::seconds(30));
    return port_ != 0;
  }

  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig == SIGKILL || sig == SIGTERM) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      pid_ = -1;
    }
  }
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      pid_ = -1;
      return true;
    }
    return false;
  }
  int exit_code() const { return code_; }

  /// Whether every thread of it is stopped (after SIGSTOP: the signal is
  /// delivered asynchronously, a thread may still run a moment).
  bool stopped() const {
    if (pid_ <= 0) return false;
    const std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
    DIR* d = ::opendir(tasks.c_str());
    if (!d) return false;
    bool all = true, any = false;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(tasks + "/" + e->d_name + "/stat");
      std::string stat((std::istreambuf_iterator<char>(f)), {});
      const auto paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size()) continue;
      any = true;
      if (stat[paren + 2] != 'T' && stat[paren + 2] != 't') all = false;
    }
    ::closedir(d);
    return any && all;
  }

  std::string err() const {
    std::ifstream f(err_path_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  /// Every start's stderr.
  std::string all_err() const {
    std::string out;
    for (int i = 1; i <= starts_; ++i) {
      std::ifstream f(dir_ + "/" + name_ + "-" + std::to_string(i) + ".err");
      out += std::string(std::istreambuf_iterator<char>(f), {});
    }
    return out;
  }
  const std::string& name() const { return name_; }
  std::uint16_t port() const { return port_; }

  /// A metric's value from its /metrics: the sum of the series that start
  /// with `family` (a family name, or a name and its first labels without
  /// the closing brace); nullopt when it does not answer or has none.
  std::optional<double> metric(const std::string& family) const {
    try {
      HttpConnection c(port_, std::chrono::seconds(2));
      const auto text = c.request(boost::beast::http::verb::get, "/metrics").body;
      double sum = 0;
      bool found = false;
      std::size_t at = 0;
      while ((at = text.find("\n" + family, at)) != std::string::npos) {
        at += 1;
        const auto end = text.find('\n', at);
        const std::string line = text.substr(at, end - at);
        const char next = line.size() > family.size() ? line[family.size()] : '\0';
        if (next == ' ' || next == '{' || next == ',' || next == '}') {
          sum += std::stod(line.substr(line.rfind(' ') + 1));
          found = true;
        }
      }
      if (!found) return std::nullopt;
      return sum;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

private:
  std::string name_, config_, dir_, err_path_;
  pid_t pid_ = -1;
  int starts_ = 0;
  int code_ = -1000;
  std::uint16_t port_ = 0;
};

} // namespace annals::test
