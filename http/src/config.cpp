#include "annals/http/config.hpp"

#include <annals/json.hpp>

#include <fstream>
#include <memory>
#include <sstream>

namespace annals::http {

namespace json = boost::json;

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with backtracking to the last '*'.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

bool any_match(const std::vector<std::string>& patterns, const std::string& subject) {
  for (const auto& p : patterns)
    if (glob_match(p, subject)) return true;
  return false;
}

std::string quoted(const std::string& s) { return json::serialize(json::value(s)); }

struct Reader {
  const std::string& source;

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw ConfigError(source + ": " + (where.empty() ? "" : where + ": ") + what);
  }

  const json::object& object(const json::value& v, const std::string& where) const {
    if (!v.is_object()) fail(where, std::string("expected an object, got ") + annals::json_kind(v));
    return v.as_object();
  }

  std::vector<std::string> patterns(const json::value& v, const std::string& where, const char* left,
                                    const char* right) const {
    if (!v.is_array()) fail(where, std::string("expected an array of strings, got ") + annals::json_kind(v));
    std::vector<std::string> out;
    const auto& arr = v.as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string at = where + "[" + std::to_string(i) + "]";
      if (!arr[i].is_string()) fail(at, std::string("expected a string, got ") + annals::json_kind(arr[i]));
      std::string p(arr[i].as_string());
      const auto colon = p.find(':');
      const bool ok = p == "*" || (colon != std::string::npos && colon > 0 && colon + 1 < p.size()
                                   && p.find(':', colon + 1) == std::string::npos);
      if (!ok)
        fail(at, "pattern " + quoted(p) + " must be \"*\" or \"<" + left + ">:<" + right
                   + ">\" (\"*\" matches anything, e.g. \"account:*\")");
      out.push_back(std::move(p));
    }
    return out;
  }
};

} // namespace

const TokenGrant* AuthConfig::find_token(std::string_view token) const {
  auto it = tokens.find(std::string(token));
  return it == tokens.end() ? nullptr : &it->second;
}

bool AuthConfig::may_query(const TokenGrant& grant, std::string_view projection, std::string_view query) {
  return any_match(grant.queries, std::string(projection) + ":" + std::string(query));
}

annals::CommandPolicy AuthConfig::command_policy() const {
  // Per principal (the policy sees principals, not tokens). parse_auth_config
  // guarantees that every token of one principal grants the same commands.
  auto by_principal = std::make_shared<std::map<std::string, std::vector<std::string>>>();
  for (const auto& [token, grant] : tokens) (*by_principal)[grant.principal] = grant.commands;
  return [by_principal](const std::string& principal, const annals::Command& c) {
    auto it = by_principal->find(principal);
    if (principal.empty() || it == by_principal->end())
      return annals::AuthDecision::deny(principal.empty() ? "no principal: a bearer token is required"
                                                          : "unknown principal '" + principal + "'");
    const std::string subject = c.aggregate + ":" + c.command;
    if (any_match(it->second, subject)) return annals::AuthDecision::allow();
    return annals::AuthDecision::deny("principal '" + principal + "' may not send '" + subject + "'");
  };
}

AuthConfig parse_auth_config(std::string_view json_text, const std::string& source) {
  Reader r{source};
  boost::system::error_code ec;
  json::value root = json::parse(json_text, ec);
  if (ec) r.fail("", "not valid JSON (" + ec.message() + ")");
  const auto& top = r.object(root, "");
  for (const auto& kv : top)
    if (kv.key() != "tokens") r.fail("", "unknown field " + quoted(std::string(kv.key())) + " (expected only \"tokens\")");
  const auto* tokens = top.if_contains("tokens");
  if (!tokens) r.fail("", "missing field \"tokens\"");
  const auto& tok = r.object(*tokens, "tokens");
  if (tok.empty()) r.fail("tokens", "no tokens: nobody could use the service");

  AuthConfig out;
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> commands_of;  // principal -> (token, commands)
  for (const auto& kv : tok) {
    const std::string token(kv.key());
    const std::string where = "tokens." + quoted(token);
    if (token.empty()) r.fail(where, "a token must not be empty");
    for (char ch : token)
      if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f)
        r.fail(where, "a token must not contain spaces or control characters");
    const auto& entry = r.object(kv.value(), where);
    TokenGrant g;
    bool have_principal = false;
    for (const auto& f : entry) {
      const std::string field(f.key());
      const std::string at = where + "." + field;
      if (field == "principal") {
        if (!f.value().is_string()) r.fail(at, std::string("expected a string, got ") + annals::json_kind(f.value()));
        g.principal = std::string(f.value().as_string());
        if (g.principal.empty()) r.fail(at, "must not be empty");
        have_principal = true;
      } else if (field == "commands") {
        g.commands = r.patterns(f.value(), at, "aggregate", "command");
      } else if (field == "queries") {
        g.queries = r.patterns(f.value(), at, "projection", "query");
      } else if (field == "observe") {
        if (!f.value().is_bool()) r.fail(at, std::string("expected true or false, got ") + annals::json_kind(f.value()));
        g.observe = f.value().as_bool();
      } else if (field == "operate") {
        if (!f.value().is_bool()) r.fail(at, std::string("expected true or false, got ") + annals::json_kind(f.value()));
        g.operate = f.value().as_bool();
      } else {
        r.fail(where, "unknown field " + quoted(field)
                        + " (expected \"principal\", \"commands\", \"queries\", \"observe\", \"operate\")");
      }
    }
    if (!have_principal) r.fail(where, "missing field \"principal\"");
    auto [it, fresh] = commands_of.emplace(g.principal, std::make_pair(token, g.commands));
    if (!fresh && it->second.second != g.commands)
      r.fail(where, "principal " + quoted(g.principal) + " is also granted by token " + quoted(it->second.first)
                      + " with different \"commands\"; commands are authorized per principal, so they must match");
    out.tokens.emplace(token, std::move(g));
  }
  return out;
}

AuthConfig load_auth_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read the config file");
  return parse_auth_config(text.str(), path);
}

} // namespace annals::http
