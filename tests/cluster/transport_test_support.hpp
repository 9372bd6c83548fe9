#pragma once
// Helpers of the transport tests: the cluster's certificates
// (scripts/make-cluster-certs.sh), a synchronous send with a deadline, and
// annals_test_transport_peer as a child process.

#include <annals/cluster/node_transport.hpp>

#include "captured_log.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace annals::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline std::chrono::milliseconds since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

/// A shell command's exit code.
inline int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The cluster CA, certificates for nodes a, b and c, and a "rogue" one from
/// a foreign CA, in a fresh directory.
class ClusterCerts {
public:
  ClusterCerts() {
    if (run_shell("command -v openssl >/dev/null 2>&1") != 0)
      FAIL("the openssl command is missing: install openssl (apt-get install openssl)");
    const std::string cmd = std::string("sh ") + ANNALS_CERTS_SCRIPT + " --foreign " + dir_.path().string() +
                            " a b c > " + dir_.file("make-certs.log") + " 2>&1";
    if (run_shell(cmd) != 0) FAIL("scripts/make-cluster-certs.sh failed: " + cmd);
  }
  std::string dir() const { return dir_.path().string(); }
  std::string file(const std::string& name) const { return dir_.file(name); }
  /// A node's files, trusting the cluster's CA.
  cluster::TlsFiles of(const std::string& node) const {
    return {file(node + ".pem"), file(node + ".key"), file("ca.pem"), ""};
  }
  /// The rogue's files: its certificate from the foreign CA, which it trusts.
  cluster::TlsFiles rogue() const { return {file("rogue.pem"), file("rogue.key"), file("foreign-ca.pem"), ""}; }

private:
  TempDir dir_;
};

inline LoggerPtr logger_into(CapturedLog& log) {
  LogOptions o;
  o.level = LogLevel::debug;
  o.sink = log.sink();
  return std::make_shared<Logger>(std::move(o));
}

inline cluster::TransportOptions node_options(const std::string& cluster_name, const std::string& node) {
  cluster::TransportOptions o;
  o.cluster = cluster_name;
  o.node = node;
  return o;
}

inline cluster::RequestHandler echo_handler() {
  return [](std::string, std::string request, cluster::Reply reply) { reply(std::move(request)); };
}

inline cluster::PeerAddress address_of(const std::string& node, const cluster::NodeTransport& t) {
  return {node, "127.0.0.1", t.port()};
}

struct SendOutcome {
  std::optional<Expected<std::string>> result;
  /// From the send to its completion.
  std::chrono::milliseconds took{0};
  Clock::time_point done_at{};
  int calls = 0;
};

/// A send whose completion is waited for (never longer than `limit`); how
/// long it took and how often `done` was called by then.
class PendingSend {
public:
  PendingSend(cluster::NodeTransport& t, const cluster::PeerAddress& to, std::string request,
              std::chrono::milliseconds timeout)
    : state_(std::make_shared<State>()) {
    auto future = state_->promise.get_future();
    future_ = std::move(future);
    state_->t0 = Clock::now();
    auto st = state_;
    t.send(to, std::move(request), timeout, [st](Expected<std::string> r) {
      if (st->calls.fetch_add(1) != 0) return;
      st->done_at = Clock::now();
      st->promise.set_value(std::move(r));
    });
  }
  SendOutcome wait(std::chrono::milliseconds limit = 60s) {
    SendOutcome out;
    if (future_.wait_for(limit) != std::future_status::ready) return out;
    out.result.emplace(future_.get());
    out.done_at = state_->done_at;
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(state_->done_at - state_->t0);
    out.calls = state_->calls.load();
    return out;
  }
  int calls() const { return state_->calls.load(); }

private:
  struct State {
    std::promise<Expected<std::string>> promise;
    Clock::time_point t0;
    Clock::time_point done_at;
    std::atomic<int> calls{0};
  };
  std::shared_ptr<State> state_;
  std::future<Expected<std::string>> future_;
};

inline SendOutcome send_and_wait(cluster::NodeTransport& t, const cluster::PeerAddress& to, std::string request,
                                 std::chrono::milliseconds timeout = 10s) {
  PendingSend s(t, to, std::move(request), timeout);
  return s.wait(timeout + 30s);
}

/// annals_test_transport_peer in a child process; SIGKILLed when it goes.
class PeerProcess {
public:
  explicit PeerProcess(std::vector<std::string> args) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // A process group of its own: a stopped peer (SIGSTOP) whose group
      // became orphaned would bring SIGHUP to every member of that group,
      // which would be ctest's other tests.
      ::setpgid(0, 0);
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::string exe = ANNALS_TEST_TRANSPORT_PEER;
      std::vector<char*> argv{exe.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~PeerProcess() {
    kill();
    if (out_ >= 0) ::close(out_);
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  /// The next line of its output, or "" if none came within `limit`.
  std::string read_line(std::chrono::milliseconds limit = 20s) {
    const auto until = Clock::now() + limit;
    while (true) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0) return {};
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char buf[256];
      const auto n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return {};
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }
  /// Waits for "port N"; N.
  std::uint16_t port() {
    const auto line = read_line();
    if (line.rfind("port ", 0) != 0) FAIL("the peer did not say its port; it said: '" + line + "'");
    return static_cast<std::uint16_t>(std::stoi(line.substr(5)));
  }
  void signal(int sig) { if (pid_ > 0) ::kill(pid_, sig); }
  /// SIGKILL and reap.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

} // namespace annals::test
