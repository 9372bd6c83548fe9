#include "annals/error.hpp"

namespace annals {

namespace errc {

std::initializer_list<std::string_view> all() {
  static const std::initializer_list<std::string_view> codes{
    invalid_command, unknown_aggregate, unknown_command, payload_too_large, concurrency_conflict,
    idempotency_conflict, store_unavailable, timeout, outcome_unknown, shutting_down, forbidden,
    internal_error, overloaded, unknown_projection, unknown_query, not_found, invalid_query, not_owner, node_unavailable};
  return codes;
}

bool is_runtime_code(std::string_view code) {
  for (auto c : all())
    if (c == code) return true;
  return false;
}

} // namespace errc

std::string to_string(const Error& e) {
  return e.code + ": " + e.message;
}

} // namespace annals
