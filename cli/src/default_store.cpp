// Where a store is when no --store is given: `annals run` writes the
// scenario's own annals-<name>.db in the working directory, and the store
// tools take the one store they find there (docs/cli.md, "Which store").
#include "context.hpp"

#include "store_tools.hpp"

#include <algorithm>
#include <filesystem>

namespace annals::cli {

namespace fs = std::filesystem;

std::string scenario_store_file(const std::string& scenario_name) { return "annals-" + scenario_name + ".db"; }

std::vector<std::string> stores_in_working_directory(const std::string& embedded_default) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(".", ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    // annals-x.db-wal and annals-x.db.annals-lock belong to a store; they are none.
    const bool scenario_store = name.size() > 10 && name.rfind("annals-", 0) == 0 &&
                                name.compare(name.size() - 3, 3, ".db") == 0;
    std::error_code type_ec;
    if ((scenario_store || name == embedded_default) && it->is_regular_file(type_ec)) found.push_back(name);
  }
  std::sort(found.begin(), found.end());
  return found;
}

void choose_default_store(StoreSelection& store, const std::string& embedded_default) {
  const auto found = stores_in_working_directory(embedded_default);
  if (found.size() == 1) {
    store.path = found.front();
    return;
  }
  if (found.empty())
    throw tools::ToolError(exit_store, "no store in the working directory: `annals run SCENARIO.json` writes " +
                                         scenario_store_file("<scenario name>") +
                                         " here; pass --store FILE for a store elsewhere");
  throw tools::ToolError(exit_usage, "several stores in the working directory (" + tools::join(found) +
                                       "): pass --store FILE to choose one");
}

} // namespace annals::cli
