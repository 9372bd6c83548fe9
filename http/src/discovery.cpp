#include "annals/http/discovery.hpp"

#include <annals/runtime.hpp>

#include <algorithm>

namespace annals::http {

namespace {

json::object shapes_object(const std::map<std::string, json::value, std::less<>>& shapes) {
  json::object o;
  for (const auto& [name, shape] : shapes) o[name] = shape;
  return o;
}

} // namespace

json::object describe_types(Runtime& rt) {
  json::array aggregates;
  auto types = rt.aggregate_types();
  std::sort(types.begin(), types.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
  for (const auto& t : types) {
    json::object rejections;
    for (const auto& [code, meaning] : t->rejection_codes()) rejections[code] = meaning;
    aggregates.push_back(json::object{{"name", t->name()},
                                      {"commands", shapes_object(t->command_shapes())},
                                      {"events", shapes_object(t->event_shapes())},
                                      {"rejections", std::move(rejections)}});
  }
  json::array projections;
  auto views = rt.projection_types();
  std::sort(views.begin(), views.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
  for (const auto& p : views) {
    json::array follows;
    for (const auto& e : p->followed_events()) follows.push_back(json::value(e));
    json::object queries;
    for (const auto& [name, shape] : p->query_shapes())
      queries[name] = json::object{{"args", shape.args}, {"answer", shape.result}};
    projections.push_back(json::object{{"name", p->name()}, {"follows", std::move(follows)},
                                       {"queries", std::move(queries)}});
  }
  return json::object{{"aggregates", std::move(aggregates)}, {"projections", std::move(projections)}};
}

} // namespace annals::http
