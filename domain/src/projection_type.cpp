#include "annals/projection_type.hpp"

namespace annals {

std::set<std::string> ProjectionType::query_names() const {
  std::set<std::string> out;
  for (const auto& kv : queries_) out.insert(kv.first);
  return out;
}

std::vector<std::string> ProjectionType::followed_events() const {
  std::vector<std::string> out;
  for (const auto& kv : handlers_) {
    std::string key = kv.first;
    key[key.find('\n')] = '/';
    out.push_back(std::move(key));
  }
  return out;
}

Expected<json::value> ProjectionType::query(const std::any& model, const std::string& name,
                                            const json::object& args) const {
  auto it = queries_.find(name);
  if (it == queries_.end())
    return Error{errc::unknown_query, "projection '" + name_ + "' has no query '" + name + "'"};
  return it->second(model, args);
}

} // namespace annals
