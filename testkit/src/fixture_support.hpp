#pragma once
// Internal to the testkit: what the aggregate and projection fixtures share.

#include "annals/testkit.hpp"
#include "annals/upcasters.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace annals::testkit::detail {

inline std::string rejection_text(const Error& e) { return e.code + ": " + e.message; }

inline std::string quoted(std::string_view s) { return json::serialize(json::value(json::string(s))); }

inline std::string expected_rejection(std::string_view code, std::string_view substring) {
  std::string out = "rejected with " + std::string(code);
  if (!substring.empty()) out += ", message containing " + quoted(substring);
  return out;
}

// Brings a stored event to the current schema version, as the runtime does
// before an aggregate or projection sees it.
inline void upcast(const Upcasters* upcasters, Event& e) {
  if (!upcasters) return;
  if (auto err = upcasters->upcast(e)) throw std::runtime_error("cannot apply stored event: " + err->message);
}

// What a store does to a document: serialize it, parse it back.
inline json::value through_text(const json::value& v, const std::string& what, const std::string& name) {
  const std::string stored = json::serialize(v);
  json::error_code ec;
  json::value back = json::parse(stored, ec);
  if (ec)
    detail::fail(what + ": the " + name + " is not valid JSON once stored as text (" + ec.message() + ")\n  "
                 + name + ": " + stored);
  return back;
}

} // namespace annals::testkit::detail
