#pragma once
// Internal to the scenario parser: one JSON object of a scenario file being
// read, with typed getters whose errors name the file, step and field.

#include "annals/json.hpp"
#include "annals/scenarios/scenario_parser.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace annals::scenarios::detail {

// One JSON object being read: typed getters that name the field in errors,
// and a final check that no field was left unread (a typo is an error, not
// a silently ignored setting).
class Fields {
public:
  Fields(const json::object& obj, std::string file, std::size_t step, std::string kind, std::string prefix = "")
      : obj_(obj), file_(std::move(file)), step_(step), kind_(std::move(kind)), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& reason) const { throw ScenarioError(file_, step_, kind_, reason); }

  std::string name(const std::string& key) const { return "'" + prefix_ + key + "'"; }

  const json::value* find(const std::string& key) {
    seen_.insert(key);
    return obj_.if_contains(key);
  }
  const json::value& require(const std::string& key) {
    const auto* v = find(key);
    if (!v) fail("missing field " + name(key));
    return *v;
  }

  std::string string(const std::string& key, const std::optional<std::string>& fallback = std::nullopt,
                     bool allow_empty = false) {
    const auto* v = fallback ? find(key) : &require(key);
    if (!v) return *fallback;
    if (!v->is_string()) fail(name(key) + " must be a string, not " + json_kind(*v));
    std::string s(v->as_string());
    if (s.empty() && !allow_empty) fail(name(key) + " must not be empty");
    return s;
  }
  std::optional<std::string> optional_string(const std::string& key) {
    if (!obj_.contains(key)) {
      seen_.insert(key);
      return std::nullopt;
    }
    return string(key);
  }

  std::int64_t integer(const std::string& key, std::int64_t lo, std::int64_t hi,
                       std::optional<std::int64_t> fallback = std::nullopt) {
    const auto* v = fallback ? find(key) : &require(key);
    if (!v) return *fallback;
    return as_integer(*v, name(key), lo, hi);
  }
  std::optional<std::int64_t> optional_integer(const std::string& key, std::int64_t lo, std::int64_t hi) {
    const auto* v = find(key);
    if (!v) return std::nullopt;
    return as_integer(*v, name(key), lo, hi);
  }
  std::int64_t as_integer(const json::value& v, const std::string& what, std::int64_t lo, std::int64_t hi) const {
    auto out_of_range = [&](const std::string& got) {
      fail(what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " + got);
    };
    std::int64_t n = 0;
    if (v.is_int64()) {
      n = v.as_int64();
    } else if (v.is_uint64()) {
      out_of_range(std::to_string(v.as_uint64()));  // only uint64 when above INT64_MAX
    } else if (v.is_double()) {
      const double d = v.as_double();
      // Range first: converting a double beyond int64 is undefined behaviour.
      if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi))) out_of_range(json::serialize(v));
      if (d != static_cast<double>(static_cast<std::int64_t>(d))) fail(what + " must be an integer, not a fraction");
      n = static_cast<std::int64_t>(d);
    } else {
      fail(what + " must be an integer, not " + json_kind(v));
    }
    if (n < lo || n > hi) out_of_range(std::to_string(n));
    return n;
  }
  /// The full unsigned 64-bit range (seeds).
  std::uint64_t unsigned_integer(const std::string& key, std::uint64_t fallback) {
    const auto* v = find(key);
    if (!v) return fallback;
    if (v->is_uint64()) return v->as_uint64();
    return static_cast<std::uint64_t>(as_integer(*v, name(key), 0, INT64_MAX));
  }
  std::chrono::milliseconds millis(const std::string& key, std::chrono::milliseconds fallback,
                                   std::int64_t hi = 3600000) {
    return std::chrono::milliseconds(integer(key, 0, hi, fallback.count()));
  }
  std::optional<std::chrono::milliseconds> optional_millis(const std::string& key, std::int64_t lo = 0) {
    auto n = optional_integer(key, lo, 3600000);
    if (!n) return std::nullopt;
    return std::chrono::milliseconds(*n);
  }
  double number(const std::string& key, double lo, double hi, double fallback) {
    const auto* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) fail(name(key) + " must be a number, not " + json_kind(*v));
    double d = v->to_number<double>();
    if (d < lo || d > hi) {
      std::ostringstream os;
      os << name(key) << " must be between " << lo << " and " << hi << ", not " << d;
      fail(os.str());
    }
    return d;
  }
  bool boolean(const std::string& key, bool fallback) {
    const auto* v = find(key);
    if (!v) return fallback;
    if (!v->is_bool()) fail(name(key) + " must be true or false, not " + json_kind(*v));
    return v->as_bool();
  }
  json::object object(const std::string& key, bool required = false) {
    const auto* v = required ? &require(key) : find(key);
    if (!v) return {};
    if (!v->is_object()) fail(name(key) + " must be an object, not " + json_kind(*v));
    return v->as_object();
  }
  std::optional<json::value> any(const std::string& key) {
    const auto* v = find(key);
    if (!v) return std::nullopt;
    return *v;
  }
  std::string choice(const std::string& key, const std::vector<std::string>& allowed,
                     const std::optional<std::string>& fallback = std::nullopt) {
    auto s = string(key, fallback);
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) fail(name(key) + " must be one of " + join(allowed) + ", not '" + s + "'");
    return s;
  }
  Fields nested(const std::string& key, const json::object& obj) const {
    return Fields(obj, file_, step_, kind_, prefix_ + key + ".");
  }

  /// Every field of the object must have been read.
  void done() const {
    for (const auto& kv : obj_) {
      std::string k(kv.key());
      if (!seen_.count(k)) {
        std::vector<std::string> known(seen_.begin(), seen_.end());
        fail("unknown field " + name(k) + (known.empty() ? "" : " (known here: " + join(known) + ")"));
      }
    }
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }

private:
  json::object obj_;  // a copy: nested objects are often temporaries
  std::string file_;
  std::size_t step_;
  std::string kind_;
  std::string prefix_;
  std::set<std::string> seen_;
};

} // namespace annals::scenarios::detail
