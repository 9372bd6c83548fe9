#pragma once
// What a runtime serves, as JSON: `annals describe --json` and the HTTP
// front's GET / are both made from it, so they cannot disagree.

#include <annals/json.hpp>

#include <string>
#include <vector>

namespace annals {
class Runtime;
}

namespace annals::http {

/// The aggregate types ({"name", "commands": {name: data shape}, "events":
/// {type: data shape}, "rejections": {code: meaning}}) and projections
/// ({"name", "follows": [...], "queries": {name: {"args", "answer"}}})
/// registered in `rt`, each sorted by name:
/// {"aggregates": [...], "projections": [...]}.
json::object describe_types(Runtime& rt);

/// A domain as GET / lists it: its name, one line, and what it registers.
struct DomainSummary {
  std::string name;
  std::string description;
  std::vector<std::string> aggregates;
  std::vector<std::string> projections;
};

} // namespace annals::http
