#pragma once
// Reading JSON text so that numbers come back exactly as they were written.
// Boost.JSON 1.81's parser rounds some decimal numbers to a neighbouring
// double ("10.5e300", "123456789.123456789" come out one unit in the last
// place off), so a double written as text (an event's data in the store,
// a command's envelope) and read back would change: a replay would see
// other values than the live path, and a command's fingerprint would change
// on a round trip. parse_json reads every non-integer number with
// std::from_chars, which rounds correctly, so serialize -> parse_json gives
// back the same double. A number too large for a double (1e400) is an
// error (json::error::exponent_overflow), not an infinity that no JSON text
// can hold. Everything else is Boost.JSON's parser.

#include "annals/json.hpp"

#include <cstddef>
#include <string_view>

namespace annals {

/// Parses one JSON document (nothing but whitespace after it). On an error
/// `ec` is set and the result is null; `consumed`, when given, is the number
/// of bytes read before the end or the error.
json::value parse_json(std::string_view text, json::error_code& ec, const json::parse_options& opts = {},
                       std::size_t* consumed = nullptr);

} // namespace annals
