#pragma once
// Who may send which command: one policy, asked by the runtime for every
// command from every entry point (C++ calls, JSON, HTTP, scenarios) before
// the command reaches its aggregate. A denied command is rejected with code
// "forbidden" and changes nothing.

#include "annals/command.hpp"

#include <functional>
#include <string>

namespace annals {

struct AuthDecision {
  bool allowed = true;
  std::string reason;

  static AuthDecision allow() { return {}; }
  static AuthDecision deny(std::string reason) { return {false, std::move(reason)}; }
};

/// (principal, command) -> allow | deny(reason). Called on the caller's
/// thread, concurrently: it must be thread-safe and quick.
using CommandPolicy = std::function<AuthDecision(const std::string& principal, const Command&)>;

} // namespace annals
