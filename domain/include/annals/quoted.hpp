#pragma once
// quoted(): a name for a message, in single quotes, safe to print.

#include <string>
#include <string_view>

namespace annals {

/// `text` in single quotes, each control character (below 0x20, and DEL)
/// written as \u00XX. Names in messages come from requests and stored rows:
/// a NUL would cut the message short where it is read through what() or
/// c_str(), and an escape sequence would drive the operator's terminal.
/// quoted("frozen") == "'frozen'"; quoted(std::string("a\0b", 3)) == "'a\\u0000b'".
std::string quoted(std::string_view text);

/// The same without the quotes, for a name already set apart ("(deposited v1)").
std::string printable(std::string_view text);

} // namespace annals
