// Fuzzes the scenario file parser (annals run FILE): whatever the bytes,
// parse_scenario returns a Scenario or throws ScenarioError with a reason;
// any other exception, a crash or undefined behaviour is a finding.
#include <annals/scenarios/scenario_parser.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>
#include <typeinfo>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  try {
    annals::scenarios::Scenario s = annals::scenarios::parse_scenario(text, "fuzz.json");
    (void)s;
  } catch (const annals::scenarios::ScenarioError& e) {
    if (e.reason().empty()) {
      std::fprintf(stderr, "fuzz_scenario_parser: a ScenarioError without a reason: %s\n", e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_scenario_parser: %s instead of a ScenarioError: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}
