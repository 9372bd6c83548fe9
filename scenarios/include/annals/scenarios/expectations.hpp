#pragma once
// How a scenario compares what it got with what it expected. Each check
// returns "" when it holds, else the first difference, readable on one line:
// "/balance: expected 150, got 100".

#include "annals/json.hpp"
#include "annals/scenarios/scenario.hpp"

#include <string>

namespace annals::scenarios {

/// `actual` has everything `expected` has: objects match key by key,
/// recursively (extra keys in `actual` are fine); arrays and scalars must be
/// equal (numbers by value: 150 == 150.0).
std::string match_subset(const json::value& expected, const json::value& actual);

/// `actual` equals `expected` exactly (numbers by value).
std::string match_equal(const json::value& expected, const json::value& actual);

/// One predicate over a JSON pointer into `actual`.
std::string check_predicate(const Predicate& p, const json::value& actual);

/// Compact one-line JSON for logs, cut to `max` characters with "...".
std::string brief_json(const json::value& v, std::size_t max = 120);

} // namespace annals::scenarios
