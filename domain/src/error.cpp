#include "annals/error.hpp"

namespace annals {

std::string to_string(const Error& e) {
  return e.code + ": " + e.message;
}

} // namespace annals
