#include "annals/json.hpp"

#include <algorithm>

namespace annals {

const char* json_kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "value";
}

namespace {

json::value canonical(const json::value& v) {
  if (const auto* obj = v.if_object()) {
    std::vector<const json::key_value_pair*> items;
    items.reserve(obj->size());
    for (const auto& kv : *obj) items.push_back(&kv);
    std::sort(items.begin(), items.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
    json::object out;
    out.reserve(items.size());
    for (const auto* kv : items) out.emplace(kv->key(), canonical(kv->value()));
    return out;
  }
  if (const auto* arr = v.if_array()) {
    json::array out;
    out.reserve(arr->size());
    for (const auto& e : *arr) out.push_back(canonical(e));
    return out;
  }
  return v;
}

} // namespace

std::string canonical_json(const json::value& v) {
  return json::serialize(canonical(v));
}

} // namespace annals
