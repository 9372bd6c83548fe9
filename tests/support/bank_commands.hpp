#pragma once
// Short builders for bank commands in tests.

#include <annals/command.hpp>

#include <optional>
#include <string>

namespace annals::test {

inline Command account_command(const std::string& id, const std::string& type, json::object data = {},
                               std::optional<std::string> key = std::nullopt,
                               std::optional<std::int64_t> expected_version = std::nullopt) {
  Command c;
  c.aggregate = "account";
  c.id = id;
  c.command = type;
  c.data = std::move(data);
  c.idempotency_key = std::move(key);
  c.expected_version = expected_version;
  return c;
}

inline Command open_account(const std::string& id, const std::string& owner = "Ada") {
  return account_command(id, "open", {{"owner", owner}});
}
inline Command deposit(const std::string& id, std::int64_t amount, std::optional<std::string> key = std::nullopt) {
  return account_command(id, "deposit", {{"amount", amount}}, std::move(key));
}
inline Command withdraw(const std::string& id, std::int64_t amount, std::optional<std::string> key = std::nullopt) {
  return account_command(id, "withdraw", {{"amount", amount}}, std::move(key));
}

} // namespace annals::test
