#include "annals/cli/cli.hpp"

#include "context.hpp"
#include "describe_command.hpp"

#include "annals/persistence/memory_event_store.hpp"
#include "annals/persistence/sqlite_event_store.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace annals::cli {

std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return text;
}

int Context::fail(int code, const std::string& message) {
  err << "annals: " << one_line(message) << "\n";
  err.flush();
  exit_code = code;
  return code;
}

std::shared_ptr<EventStoreProvider> StoreSelection::provider() const {
  if (memory) return memory_store();
  SqliteStoreOptions o;
  o.path = path;
  return sqlite_store(o);
}

std::string StoreSelection::describe() const { return memory ? "memory" : "sqlite:" + path; }

void add_store_options(CLI::App& sub, StoreSelection& store, const std::string& default_path) {
  store.path = default_path;
  sub.add_option("--store", store.path, "SQLite store file")->capture_default_str();
  sub.add_flag("--memory", store.memory, "use an in-memory store (nothing is kept)");
  sub.add_option("--domain", store.domains, "domain(s) to load (default: those that use the store; all in the catalog for --memory or a store without that record)");
}

int run_cli(const std::vector<std::string>& args, const scenarios::DomainCatalog& catalog, std::ostream& out,
            std::ostream& err, const std::atomic<bool>* interrupted) {
  Context ctx{catalog, out, err};
  ctx.interrupted = interrupted;
  std::string domains;
  for (const auto& d : catalog.domains()) domains += "\n  " + d.name + ": " + d.description;
  CLI::App app{"annals: run event-sourcing scenarios and inspect annals stores.\nDomains:" + domains, "annals"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "annals 0.1.0");
  add_run_command(app, ctx);
  add_store_tools(app, ctx);
  add_describe_command(app, ctx);

  // CLI11 takes the arguments reversed, without the program name.
  std::vector<std::string> rest(args.empty() ? args.end() : args.begin() + 1, args.end());
  std::reverse(rest.begin(), rest.end());
  try {
    app.parse(rest);
  } catch (const CLI::ParseError& e) {
    // --help and --version (of the app or of a subcommand) exit with 0.
    if (e.get_exit_code() == 0) return app.exit(e, out, err);
    return ctx.fail(exit_usage, std::string(e.what()) + " (see annals --help)");
  } catch (const std::exception& e) {
    return ctx.fail(exit_failed, e.what());
  }
  return ctx.exit_code;
}

int run_cli(const std::vector<std::string>& args, const scenarios::DomainCatalog& catalog, std::ostream& out,
            std::ostream& err) {
  return run_cli(args, catalog, out, err, nullptr);
}

namespace {
std::atomic<bool> g_interrupted{false};
}

int main(int argc, char** argv, const scenarios::DomainCatalog& catalog) {
  // SIGINT/SIGTERM go to one thread that sets the flag: the first asks for a
  // clean stop, a second one ends the process at once (committed data is
  // safe either way: SQLite keeps what was committed).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (g_interrupted.exchange(true)) {
        const char msg[] = "\nannals: interrupted twice, exiting now\n";
        (void)!::write(2, msg, sizeof msg - 1);
        ::_exit(exit_interrupted);
      }
      const char msg[] = "\nannals: interrupted, stopping cleanly (Ctrl-C again to exit at once)\n";
      (void)!::write(2, msg, sizeof msg - 1);
    }
  }).detach();

  std::vector<std::string> args(argv, argv + argc);
  return run_cli(args, catalog, std::cout, std::cerr, &g_interrupted);
}

} // namespace annals::cli
