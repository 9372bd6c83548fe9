#pragma once
// Reads a scenario file. Everything wrong with it (bad JSON, an unknown step
// or field, a missing field, a wrong type, a value out of range) is found
// here, before anything runs, and reported with the file, the step number
// and what is wrong.

#include "annals/scenarios/scenario.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace annals::scenarios {

class ScenarioError : public std::runtime_error {
public:
  /// step 0: the problem is not in one step (the file, its top-level fields).
  ScenarioError(std::string file, std::size_t step, std::string step_kind, std::string reason);

  const std::string& file() const { return file_; }
  std::size_t step() const { return step_; }
  const std::string& reason() const { return reason_; }

private:
  std::string file_;
  std::size_t step_;
  std::string reason_;
};

/// Parses scenario JSON; `file` names it in errors. Throws ScenarioError.
Scenario parse_scenario(std::string_view json_text, const std::string& file = "<scenario>");

/// Reads and parses a file. Throws ScenarioError (also if it cannot be read).
Scenario load_scenario(const std::string& path);

/// The step kinds, for help texts: "command", "load", ...
const std::vector<std::string>& step_kinds();

} // namespace annals::scenarios
