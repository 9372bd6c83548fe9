// The testkit: what a failed expectation says (JSON differences, event lists).
#include "annals/testkit.hpp"

#include <algorithm>
#include <cctype>

namespace annals::testkit {

// --- messages ----------------------------------------------------------------

namespace detail {

void fail(const std::string& message) { throw ExpectationFailed(message); }

std::string text(const json::value& v) { return canonical_json(v); }

namespace {

// "(root)[0].data.amount" -> "[0].data.amount"
std::string tidy_path(std::string p) {
  static const std::string root = "(root)";
  if (p.compare(0, root.size(), root) == 0 && p.size() > root.size()) p.erase(0, root.size());
  return p;
}

std::string differences(const json::value& expected, const json::value& actual) {
  const auto paths = json_differences(expected, actual, 5);
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : ", ") + tidy_path(p);
  return out;
}

// Keys in a readable order (type before data), data canonical.
json::value event_json(const NewEvent& e) {
  json::object o;
  o["type"] = e.type;
  if (e.schema_version != 1) o["schema_version"] = e.schema_version;
  o["data"] = json::parse(canonical_json(e.data));
  return o;
}

} // namespace

void expect_json(const std::string& what, const json::value& expected, const json::value& actual, bool sort_keys) {
  if (expected == actual) return;
  auto show = [&](const json::value& v) { return sort_keys ? text(v) : json::serialize(v); };
  fail(what + ": differs at " + differences(expected, actual) + "\n  expected: " + show(expected)
       + "\n  actual:   " + show(actual));
}

json::value events_json(const std::vector<NewEvent>& events) {
  json::array out;
  for (const auto& e : events) out.push_back(event_json(e));
  return out;
}

} // namespace detail

} // namespace annals::testkit
