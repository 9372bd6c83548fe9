#pragma once
// The service's auth configuration: bearer tokens, each naming a principal
// and the commands and queries it may use.
//
//   {"tokens": {"s3cret": {"principal": "alice",
//                          "commands": ["account:deposit", "account:open"],
//                          "queries": ["balances:*"],
//                          "observe": true}}}
//
// Patterns are "<aggregate>:<command>" / "<projection>:<query>"; "*" matches
// any run of characters ("account:*", "*:deposit", "*"). Event reads are
// query patterns with reserved names: "$streams:<aggregate>" for
// GET /streams/<aggregate>/..., "$events:all" for GET /events and
// GET /events/subscribe. "observe" (default
// false) lets the token read /metrics and the details of /health (error
// texts, store paths); without it /health says only ok or degraded.
// "operate" (default false) lets it manage the running service (operator
// endpoints, the status page's buttons) and implies "observe".

#include <annals/authorization.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace annals::http {

/// A configuration file that cannot be used. what() names the file and the
/// offending place ("auth.json: tokens.\"t1\".commands[2]: expected a string, got integer").
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct TokenGrant {
  std::string principal;
  std::vector<std::string> commands;  ///< "<aggregate>:<command>" patterns
  std::vector<std::string> queries;   ///< "<projection>:<query>" patterns
  bool observe = false;               ///< may read /metrics and /health's details
  /// May manage the running service: the operator endpoints (/operator/...:
  /// rebuild, reconcile, pause/resume a projector, retry dead letters) and the
  /// status page's buttons. Also grants what `observe` grants.
  bool operate = false;
};

struct AuthConfig {
  std::map<std::string, TokenGrant> tokens;  ///< bearer token -> grant

  /// The grant of a token, or nullptr.
  const TokenGrant* find_token(std::string_view token) const;
  /// Whether `grant` may run the query `projection:query`.
  static bool may_query(const TokenGrant& grant, std::string_view projection, std::string_view query);

  /// The annals policy for RuntimeOptions::authorize: a principal of this
  /// config may send the commands its patterns match; everything else
  /// (other principals, no principal) is denied with a reason.
  annals::CommandPolicy command_policy() const;
};

/// "*" matches any run of characters (also none); everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

/// Parses a configuration from JSON text. `source` (a file name) prefixes
/// every error message. Throws ConfigError.
AuthConfig parse_auth_config(std::string_view json_text, const std::string& source = "config");

/// Reads and parses a configuration file. Throws ConfigError (also when the
/// file cannot be read).
AuthConfig load_auth_config(const std::string& path);

} // namespace annals::http
