#pragma once
// Running the `annals` command line in-process (run_cli with string
// streams) and as a child process, for the tests of tests/cli/.

#include <annals/cli/cli.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>
#include <orders/inventory.hpp>
#include <orders/order.hpp>
#include <orders/projections.hpp>

#include <fcntl.h>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace annals::test {

/// The catalog of the `annals` executable (cli/main.cpp): bank and orders.
inline scenarios::DomainCatalog example_catalog() {
  scenarios::DomainCatalog catalog;
  catalog.add({"bank", "accounts; projections balances and daily_totals", [](Runtime& rt) {
                 rt.register_aggregate(bank::account_type());
                 rt.register_projection(bank::balances_projection());
                 rt.register_projection(bank::daily_totals_projection());
               }});
  catalog.add({"orders", "inventory and orders; projections order_summary and stock_levels", [](Runtime& rt) {
                 rt.register_aggregate(orders::inventory_type());
                 rt.register_aggregate(orders::order_type());
                 rt.register_projection(orders::order_summary_projection());
                 rt.register_projection(orders::stock_levels_projection());
               }});
  return catalog;
}

/// Splits output into lines (without their '\n').
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;

  std::vector<std::string> out_lines() const { return lines_of(out); }
  std::vector<std::string> err_lines() const { return lines_of(err); }
  /// The one-line reason of a failure: the last line on stderr.
  std::string reason() const {
    auto l = err_lines();
    return l.empty() ? std::string() : l.back();
  }
};

/// `annals ARGS...` in-process.
inline CliResult run_annals(const scenarios::DomainCatalog& catalog, std::vector<std::string> args) {
  args.insert(args.begin(), "annals");
  std::ostringstream out, err;
  CliResult r;
  r.code = cli::run_cli(args, catalog, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

/// Runs a program as a child process; its stdout and stderr are collected.
/// `in_child` runs in the forked child before the program starts (e.g. to
/// drop privileges); it may end the child with _exit(code).
inline CliResult run_program(const std::string& exe, const std::vector<std::string>& args,
                             const std::function<void()>& in_child = {}) {
  char out_tmpl[] = "/tmp/annals-cli-out-XXXXXX";
  char err_tmpl[] = "/tmp/annals-cli-err-XXXXXX";
  const int out_fd = ::mkstemp(out_tmpl);
  const int err_fd = ::mkstemp(err_tmpl);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("mkstemp failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Opened before in_child may drop privileges: a user such as nobody may
    // run the program but not reach it through the build tree's path (a
    // checkout in a 0700 directory).
    const int program_fd = ::open(exe.c_str(), O_RDONLY | O_CLOEXEC);
    if (in_child) in_child();
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    std::vector<std::string> copy = args;
    std::string program = exe;
    std::vector<char*> argv{program.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (program_fd >= 0) ::fexecve(program_fd, argv.data(), environ);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto slurp = [](int fd) {
    std::string s;
    ::lseek(fd, 0, SEEK_SET);
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return s;
  };
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  r.out = slurp(out_fd);
  r.err = slurp(err_fd);
  ::unlink(out_tmpl);
  ::unlink(err_tmpl);
  return r;
}

} // namespace annals::test
