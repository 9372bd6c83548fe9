#pragma once
// Seeds for tests that choose random moments (kill times, orders): random
// unless ANNALS_TEST_SEED is set, and always printed, so that a failure can
// be run again with the same choices.

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace annals::test {

/// ANNALS_TEST_SEED if set, else a fresh random seed; printed with `what`.
inline std::uint64_t test_seed(const std::string& what) {
  std::uint64_t seed = 0;
  if (const char* env = std::getenv("ANNALS_TEST_SEED"); env && *env) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  std::cout << what << ": seed " << seed << " (run again with ANNALS_TEST_SEED=" << seed << ")" << std::endl;
  return seed;
}

} // namespace annals::test
