#include "annals/cli/cli.hpp"

#include "context.hpp"
#include "describe_command.hpp"
#include "node_command.hpp"
#include "serve_command.hpp"
#include "store_tools.hpp"

#include "annals/persistence/memory_event_store.hpp"
#include "annals/persistence/sqlite_event_store.hpp"
#include "annals/persistence/store_url.hpp"

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
  return open_store_url(path);  // an SQLite file or a postgresql:// URL
}

std::string StoreSelection::describe() const { return memory ? "memory" : open_store_url(path)->describe(); }

bool StoreSelection::postgres() const { return !memory && store_kind(path) == StoreKind::postgres; }

void add_store_options(CLI::App& sub, StoreSelection& store, const std::string& embedded_default) {
  auto* path = sub.add_option("--store", store.path,
                              "SQLite store file or postgresql://user@host:port/database (default: the one "
                              "annals-*.db or " + embedded_default + " in the working directory)");
  sub.add_flag("--memory", store.memory, "use an in-memory store (nothing is kept)");
  sub.add_option("--domain", store.domains, "domain(s) to load (default: those that use the store; all in the catalog for --memory or a store without that record)");
  // Once the subcommand's options are parsed and checked, before it runs; a
  // failure reaches run_cli as a ToolError.
  sub.parse_complete_callback([&store, path, embedded_default] {
    if (!store.memory && path->count() == 0) choose_default_store(store, embedded_default);
  });
}

namespace {

constexpr const char* version_text = "annals " ANNALS_VERSION;

// The subcommand of `app` named `name`, or nullptr (CLI11 2.1 has no non-throwing look-up).
CLI::App* find_subcommand(CLI::App& app, const std::string& name) {
  auto found = app.get_subcommands([&](CLI::App* sub) { return !name.empty() && sub->get_name() == name; });
  return found.empty() ? nullptr : found.front();
}

// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`: "evnets" is 1 from "events".
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The subcommand `typed` most likely meant: the nearest by a few edits, else the one it begins; "" if none.
std::string closest_subcommand(const CLI::App& app, const std::string& typed) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, typed.size() / 3) + 1;
  std::vector<std::string> starting_with;
  for (const auto* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    const auto& name = sub->get_name();
    const auto d = edit_distance(typed, name);
    if (d < best_distance && d < typed.size()) best = name, best_distance = d;
    if (name.rfind(typed, 0) == 0) starting_with.push_back(name);
  }
  if (best.empty() && starting_with.size() == 1 && typed.size() >= 2) best = starting_with.front();
  return best;
}

// "unknown subcommand 'evnets' (did you mean 'events'?); `annals help` lists them"; `parents`
// names a nested one's parents ("dead-letters ").
std::string unknown_subcommand(const CLI::App& app, const std::string& typed, const std::string& parents = "") {
  const auto guess = closest_subcommand(app, typed);
  return "unknown subcommand '" + parents + typed + "'" + (guess.empty() ? "" : " (did you mean '" + parents + guess + "'?)") +
         "; `annals help" + (parents.empty() ? "" : " " + parents.substr(0, parents.size() - 1)) + "` lists them";
}

// `annals help [SUBCOMMAND...]` and `annals version`: what --help and --version print.
void add_help_commands(CLI::App& app, Context& ctx) {
  auto topic = std::make_shared<std::vector<std::string>>();
  auto* help = app.add_subcommand("help", "Show this help, or a subcommand's (annals help events)");
  help->add_option("subcommand", *topic, "the subcommand to describe (dead-letters retry: a nested one)");
  help->callback([&app, &ctx, topic] {
    CLI::App* described = &app;
    std::string parents;
    std::string usage = app.get_name();  // "annals dead-letters retry"
    for (const auto& name : *topic) {
      auto* sub = find_subcommand(*described, name);
      if (!sub) {
        ctx.fail(exit_usage, unknown_subcommand(*described, name, parents));
        return;
      }
      described = sub;
      parents += name + " ";
      usage += " " + name;
    }
    // described->help() would describe the subcommand being run: this one.
    ctx.out << described->get_formatter()->make_help(described, usage, CLI::AppFormatMode::Normal);
  });
  app.add_subcommand("version", "Print the version (same as --version)")->callback([&ctx] {
    ctx.out << version_text << "\n";
  });
}

// CLI11 says "A subcommand is required" for a mistyped one: name it instead.
// The arguments that are not options name the subcommands, down to one that
// has none (the top level and `dead-letters` take no options with values).
std::string mistyped_subcommand(CLI::App& app, const std::vector<std::string>& args) {
  CLI::App* current = &app;
  std::string parents;
  for (auto it = args.begin() + (args.empty() ? 0 : 1); it != args.end(); ++it) {
    if (!it->empty() && (*it)[0] == '-') continue;
    if (current->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); }).empty()) break;
    auto* sub = find_subcommand(*current, *it);
    if (!sub) return unknown_subcommand(*current, *it, parents);
    parents += *it + " ";
    current = sub;
  }
  return {};
}

} // namespace

int run_cli(const std::vector<std::string>& args, const scenarios::DomainCatalog& catalog, std::ostream& out,
            std::ostream& err, const std::atomic<bool>* interrupted) {
  Context ctx{catalog, out, err};
  ctx.interrupted = interrupted;
  std::string domains;
  for (const auto& d : catalog.domains()) domains += "\n  " + d.name + ": " + d.description;
  CLI::App app{"annals: run event-sourcing scenarios and inspect annals stores.\nDomains:" + domains, "annals"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text);
  add_run_command(app, ctx);
  add_store_tools(app, ctx);
  add_describe_command(app, ctx);
  add_serve_command(app, ctx);
  add_node_command(app, ctx);
  add_help_commands(app, ctx);

  if (const auto problem = mistyped_subcommand(app, args); !problem.empty()) return ctx.fail(exit_usage, problem);

  // CLI11 takes the arguments reversed, without the program name.
  std::vector<std::string> rest(args.empty() ? args.end() : args.begin() + 1, args.end());
  std::reverse(rest.begin(), rest.end());
  try {
    app.parse(rest);
  } catch (const CLI::ParseError& e) {
    // --help and --version (of the app or of a subcommand) exit with 0.
    if (e.get_exit_code() == 0) return app.exit(e, out, err);
    return ctx.fail(exit_usage, std::string(e.what()) + " (see annals --help)");
  } catch (const tools::ToolError& e) {
    return ctx.fail(e.code(), e.what());
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
