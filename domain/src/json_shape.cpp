#include "annals/json_shape.hpp"

namespace annals {

std::string shape_text(const json::value& shape) {
  if (const auto* s = shape.if_string()) return std::string(*s);
  if (const auto* a = shape.if_array()) return a->empty() ? "[]" : "[" + shape_text(a->front()) + "]";
  if (const auto* o = shape.if_object()) {
    std::string out = "{";
    for (const auto& kv : *o) {
      if (out.size() > 1) out += ", ";
      out += std::string(kv.key()) + ": " + shape_text(kv.value());
    }
    return out + "}";
  }
  return json::serialize(shape);
}

} // namespace annals
