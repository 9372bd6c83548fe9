#pragma once
// The HTTP side of annals results, as plain functions (no sockets): which
// status code an error code gets, and how a query string becomes query
// arguments.

#include <annals/command_result.hpp>
#include <annals/expected.hpp>
#include <annals/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annals::http {

/// The HTTP status for an annals error code (runtime or query codes). Domain
/// codes (anything not listed) are 422 when `rejected`, 500 otherwise. An
/// unknown aggregate type or command in a command is 422 (the request is
/// understood, its content is not); an unknown projection or query in a path is 404.
unsigned http_status_for(std::string_view code, bool rejected = true);

/// 200 for accepted; otherwise by the error code (see http_status_for).
unsigned http_status_for(const annals::CommandResult& r);

/// Decodes %XX escapes (and '+' as a space when `plus_is_space`). nullopt
/// for a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// Whether `s` is well-formed UTF-8 (what ends up in JSON answers must be).
bool valid_utf8(std::string_view s);

/// A parsed query string: the query's arguments plus the two controls.
struct QueryRequestArgs {
  annals::json::object args;
  std::int64_t min_position = 0;
  std::optional<std::chrono::milliseconds> timeout;
};

/// Parses "k=v&k2=v2". Values that are integers become JSON integers,
/// "true"/"false" booleans, a value in double quotes ("\"123\"") the string
/// inside them, anything else a string; "k" alone is the empty string.
/// min_position and timeout_ms are taken out (non-negative integers).
/// Errors (code invalid_query): a bad escape, text that is not UTF-8, an
/// empty or repeated name, a bad min_position / timeout_ms.
annals::Expected<QueryRequestArgs> parse_query_string(std::string_view query);

/// An RFC 9457 problem (application/problem+json) with annals' error code:
/// {"type": "urn:annals:error:<code>", "title": <the status's reason phrase>,
///  "status": <status>, "detail": <message>, "code": <code>}
annals::json::object problem_body(unsigned status, std::string_view code, std::string detail);

/// The media type of a Content-Type value ("application/json; charset=utf-8"
/// -> "application/json"), lower case, parameters and spaces dropped.
std::string media_type(std::string_view content_type);
/// Whether a media type is JSON: application/json or any "+json" type.
bool is_json_media_type(std::string_view media);

/// The version in an If-Match value: "\"5\"" (also W/"5") -> 5; nullopt for
/// anything else ("*", a list, not a number).
std::optional<std::int64_t> parse_if_match(std::string_view value);

} // namespace annals::http
