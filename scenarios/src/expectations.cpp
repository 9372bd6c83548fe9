#include "annals/scenarios/expectations.hpp"

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstring>

namespace annals::scenarios {

namespace {

bool same_number(const json::value& a, const json::value& b) {
  if (a.is_int64() && b.is_int64()) return a.as_int64() == b.as_int64();
  if (a.is_uint64() && b.is_uint64()) return a.as_uint64() == b.as_uint64();
  return a.to_number<double>() == b.to_number<double>();
}

std::string at(const std::string& path) { return path.empty() ? "result" : path; }

std::string compare(const json::value& expected, const json::value& actual, const std::string& path, bool subset) {
  if (expected.is_number() && actual.is_number()) {
    if (same_number(expected, actual)) return {};
  } else if (expected.is_object() && actual.is_object()) {
    const auto& e = expected.as_object();
    const auto& a = actual.as_object();
    for (const auto& kv : e) {
      std::string p = path + "/" + std::string(kv.key());
      const auto* got = a.if_contains(kv.key());
      if (!got) return p + ": expected " + brief_json(kv.value(), 60) + ", but it is missing";
      if (auto d = compare(kv.value(), *got, p, subset); !d.empty()) return d;
    }
    if (!subset)
      for (const auto& kv : a)
        if (!e.contains(kv.key()))
          return path + "/" + std::string(kv.key()) + ": not expected, got " + brief_json(kv.value(), 60);
    return {};
  } else if (expected.is_array() && actual.is_array()) {
    const auto& e = expected.as_array();
    const auto& a = actual.as_array();
    if (e.size() != a.size())
      return at(path) + ": expected " + std::to_string(e.size()) + " elements, got " + std::to_string(a.size()) + ": " +
             brief_json(actual, 80);
    for (std::size_t i = 0; i < e.size(); ++i)
      if (auto d = compare(e[i], a[i], path + "/" + std::to_string(i), subset); !d.empty()) return d;
    return {};
  } else if (expected == actual) {
    return {};
  }
  return at(path) + ": expected " + brief_json(expected, 60) + ", got " + brief_json(actual, 60);
}

} // namespace

std::string match_subset(const json::value& expected, const json::value& actual) {
  return compare(expected, actual, "", true);
}

std::string match_equal(const json::value& expected, const json::value& actual) {
  return compare(expected, actual, "", false);
}

std::string check_predicate(const Predicate& p, const json::value& actual) {
  boost::system::error_code ec;
  const json::value* v = p.path.empty() ? &actual : actual.find_pointer(p.path, ec);
  const std::string where = at(p.path);
  if (p.op == "exists") return v ? "" : where + ": expected to exist, but it is missing";
  if (p.op == "missing") return v ? where + ": expected to be missing, got " + brief_json(*v, 60) : "";
  if (!v) return where + ": missing (expected " + p.op + " " + brief_json(p.value, 40) + ")";
  if (p.op == "==") return match_equal(p.value, *v).empty() ? "" : where + ": expected == " + brief_json(p.value, 40) + ", got " + brief_json(*v, 60);
  if (p.op == "!=") return match_equal(p.value, *v).empty() ? where + ": expected != " + brief_json(p.value, 40) + ", got it" : "";
  if (!v->is_number()) return where + ": expected a number " + p.op + " " + brief_json(p.value, 40) + ", got " + brief_json(*v, 60);
  const double a = v->to_number<double>();
  const double b = p.value.to_number<double>();
  bool ok = (p.op == "<" && a < b) || (p.op == "<=" && a <= b) || (p.op == ">" && a > b) || (p.op == ">=" && a >= b);
  return ok ? "" : where + ": expected " + p.op + " " + brief_json(p.value, 40) + ", got " + brief_json(*v, 60);
}

std::string brief_json(const json::value& v, std::size_t max) {
  // As a scenario writer writes it: fractions as 150.5, not boost::json's 1.505E2.
  std::string s = plain_json(v);
  if (s.size() > max) s = s.substr(0, max > 3 ? max - 3 : 0) + "...";
  return s;
}

} // namespace annals::scenarios
