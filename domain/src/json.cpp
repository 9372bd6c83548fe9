#include "annals/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

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

void diff(const json::value& a, const json::value& b, const std::string& path, std::vector<std::string>& out,
          std::size_t limit) {
  if (out.size() >= limit) return;
  const std::string here = path.empty() ? std::string("(root)") : path;
  if (a.is_object() && b.is_object()) {
    const auto& oa = a.get_object();
    const auto& ob = b.get_object();
    std::vector<std::string> keys;
    for (const auto& kv : oa) keys.emplace_back(kv.key());
    for (const auto& kv : ob)
      if (!oa.contains(kv.key())) keys.emplace_back(kv.key());
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys) {
      const std::string sub = path.empty() ? k : path + "." + k;
      const json::value* va = oa.if_contains(k);
      const json::value* vb = ob.if_contains(k);
      if (!va || !vb) {
        if (out.size() < limit) out.push_back(sub);
      } else {
        diff(*va, *vb, sub, out, limit);
      }
    }
    return;
  }
  if (a.is_array() && b.is_array()) {
    const auto& xa = a.get_array();
    const auto& xb = b.get_array();
    const std::size_t n = std::max(xa.size(), xb.size());
    for (std::size_t i = 0; i < n && out.size() < limit; ++i) {
      const std::string sub = here + "[" + std::to_string(i) + "]";
      if (i >= xa.size() || i >= xb.size()) out.push_back(sub);
      else diff(xa[i], xb[i], sub, out, limit);
    }
    return;
  }
  if (a != b) out.push_back(here);
}

} // namespace

bool is_finite_json(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& e : v.get_array())
        if (!is_finite_json(e)) return false;
      return true;
    case json::kind::object:
      for (const auto& kv : v.get_object())
        if (!is_finite_json(kv.value())) return false;
      return true;
    default: return true;
  }
}

std::vector<std::string> json_differences(const json::value& a, const json::value& b, std::size_t limit) {
  std::vector<std::string> out;
  diff(a, b, "", out, limit);
  return out;
}

std::string canonical_json(const json::value& v) {
  return json::serialize(canonical(v));
}

namespace {

void write_plain(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {  // JSON has no such number; Boost.JSON would write 1e99999
        out += "null";
        return;
      }
      // The fewest digits that read back as the same double; in fixed
      // notation where JavaScript's Number#toString uses it (1e-6 <= |d| <
      // 1e21), so 330 digits of 5e-324 never appear and readers that parse
      // long numbers imprecisely (Boost.JSON) still read back the value.
      const double magnitude = std::fabs(d);
      const bool fixed = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21);
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, d, fixed ? std::chars_format::fixed : std::chars_format::scientific);
      out.append(buf, r.ptr);
      // A whole number stays a double for the reader: 3.0, not 3.
      if (fixed && std::find(buf, r.ptr, '.') == r.ptr) out += ".0";
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_plain(x, out);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(kv.key());
        out += ':';
        write_plain(kv.value(), out);
      }
      out += '}';
      return;
    }
    default: out += json::serialize(v);
  }
}

} // namespace

std::string plain_json(const json::value& v) {
  std::string out;
  write_plain(v, out);
  return out;
}

} // namespace annals
