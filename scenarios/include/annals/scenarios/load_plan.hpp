#pragma once
// The commands of a `load` step, made before it runs: the same step with the
// same seed gives the same commands on every machine (a PRNG of our own,
// not std:: distributions, whose results differ between standard libraries).
// The order in which concurrent callers send them is not reproducible;
// which commands exist, their targets and their data are.

#include "annals/command.hpp"
#include "annals/scenarios/scenario.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace annals::scenarios {

struct PlannedCommand {
  int aggregate = 0;     ///< 1..step.aggregates
  bool setup = false;    ///< one of the per-aggregate setup commands (sent first)
  bool retried = false;  ///< a client will send it a second time after the first answer
  Command command;
};

struct LoadPlan {
  std::vector<PlannedCommand> setup;     ///< one per aggregate, in aggregate order
  std::vector<PlannedCommand> commands;  ///< the mix, step.commands of them
};

/// `key_prefix` makes the idempotency keys unique to this run and step.
LoadPlan plan_load(const LoadStep& step, const std::string& key_prefix);

/// Fills the templates of a load command's data: "{i}" (the aggregate's
/// number), "{n}" (the command's number) inside strings, and {"random":
/// [lo, hi]} (an integer, uniform, inclusive) drawn from `rng_state`.
json::value fill_template(const json::value& v, int i, int n, std::uint64_t& rng_state);

/// splitmix64: small, fast, and the same everywhere.
std::uint64_t splitmix64(std::uint64_t& state);

} // namespace annals::scenarios
