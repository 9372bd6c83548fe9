#pragma once
// ProjectionType: a name, an empty read model, apply(model, event) and named
// queries. Queries receive the model as const: they cannot change it.
//
//   auto balances = annals::ProjectionType::define<Balances>("balances")
//     .on<bank::Deposited>("account", [](Balances& m, const bank::Deposited& e, const annals::Event& ev) {
//        m.by_account[ev.stream.id] += e.amount; })
//     .query("balance", [](const Balances& m, const annals::json::object& args) -> annals::Expected<annals::json::value> {
//        ... });
//
// Events of types the projection does not handle are skipped (a projection
// usually follows a few event types of a few aggregates).

#include "annals/event.hpp"
#include "annals/expected.hpp"
#include "annals/json.hpp"
#include "annals/json_shape.hpp"

#include <any>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace annals {

template <class Model> class ProjectionBuilder;

/// The arguments of a query that takes none: query<NoArgs>(...) refuses any
/// argument (invalid_query naming it) and shows `{}` in `annals describe`.
struct NoArgs {};
BOOST_DESCRIBE_STRUCT(NoArgs, (), ())

class ProjectionType {
public:
  using Apply = std::function<void(std::any& model, const Event&)>;
  using Query = std::function<Expected<json::value>(const std::any& model, const json::object& args)>;

  template <class Model>
  static ProjectionBuilder<Model> define(std::string name, Model empty = Model{});

  const std::string& name() const { return name_; }
  std::any empty_model() const { return empty_(); }

  /// True if this projection has a handler for the event (by aggregate and type).
  bool handles(const Event& e) const { return find(e) != nullptr; }

  /// Applies one event (a no-op for events it does not handle). Exceptions
  /// from the handler propagate: the supervisor decides what happens.
  void apply(std::any& model, const Event& e) const {
    if (const Apply* f = find(e)) (*f)(model, e);
  }

  bool has_query(const std::string& name) const { return queries_.count(name) > 0; }
  std::set<std::string> query_names() const;

  /// For references generated from the types (`annals describe`): each
  /// query's arguments and answer as json_shape ("any" where the query
  /// takes or returns raw JSON), and the events it follows
  /// ("account/deposited"; "*" for any aggregate or type).
  struct QueryShape {
    json::value args;
    json::value result;
  };
  const std::map<std::string, QueryShape, std::less<>>& query_shapes() const { return query_shapes_; }
  std::vector<std::string> followed_events() const;

  /// Runs a named query. Unknown name: error unknown_query.
  Expected<json::value> query(const std::any& model, const std::string& name, const json::object& args) const;

  /// The whole read model as JSON (for snapshots, reconciliation and tools);
  /// requires a described Model or one with Boost.JSON conversions.
  json::value model_to_json(const std::any& model) const { return to_json_(model); }
  Expected<std::any> model_from_json(const json::value& v) const { return from_json_(v); }

  /// Save the read model with its checkpoint every N events (0: never).
  int snapshot_every() const { return snapshot_every_; }
  int snapshot_version() const { return snapshot_version_; }

private:
  template <class Model> friend class ProjectionBuilder;

  // Most specific first: aggregate+type, any aggregate+type, aggregate+any type, anything.
  const Apply* find(const Event& e) const {
    for (const std::string& key : {e.stream.aggregate + "\n" + e.type, "*\n" + e.type,
                                   e.stream.aggregate + "\n*", std::string("*\n*")}) {
      auto it = handlers_.find(key);
      if (it != handlers_.end()) return &it->second;
    }
    return nullptr;
  }

  std::string name_;
  std::function<std::any()> empty_;
  std::map<std::string, Apply> handlers_;  // "aggregate\ntype" ("*" for any aggregate)
  std::map<std::string, Query, std::less<>> queries_;
  std::map<std::string, QueryShape, std::less<>> query_shapes_;
  std::function<json::value(const std::any&)> to_json_;
  std::function<Expected<std::any>(const json::value&)> from_json_;
  int snapshot_every_ = 0;
  int snapshot_version_ = 1;
};

template <class Model>
class ProjectionBuilder {
public:
  ProjectionBuilder(std::string name, Model empty) {
    if (name.empty()) throw std::invalid_argument("projection name must not be empty");
    t_.name_ = std::move(name);
    t_.empty_ = [empty = std::move(empty)] { return std::any{empty}; };
    t_.to_json_ = [](const std::any& m) { return encode(std::any_cast<const Model&>(m)); };
    t_.from_json_ = [](const json::value& v) -> Expected<std::any> {
      auto m = decode<Model>(v);
      if (!m) return m.error();
      return std::any{std::move(*m)};
    };
  }

  /// Handler for events of type E (a described struct with `event_type`) from
  /// aggregate type `aggregate` ("*": any): f(Model&, const E&, const Event&).
  template <class E, class F>
  ProjectionBuilder& on(const std::string& aggregate, F f) {
    add(aggregate, E::event_type, [f = std::move(f)](std::any& m, const Event& ev) {
      auto payload = decode<E>(ev.data);
      if (!payload)
        throw std::runtime_error("event " + std::to_string(ev.position) + " (" + ev.type + ") of "
                                 + ev.stream.to_string() + " cannot be read: " + payload.error().message);
      f(std::any_cast<Model&>(m), *payload, ev);
    });
    return *this;
  }

  /// Handler on raw JSON: f(Model&, const Event&). "*" as aggregate or
  /// event_type matches any.
  ProjectionBuilder& on_json(const std::string& aggregate, const std::string& event_type,
                             std::function<void(Model&, const Event&)> f) {
    add(aggregate, event_type, [f = std::move(f)](std::any& m, const Event& ev) { f(std::any_cast<Model&>(m), ev); });
    return *this;
  }

  /// A named query: f(const Model&, const json::object& args) -> Expected<R>,
  /// where R is json::value or a type annals::encode takes (a described
  /// struct, a vector or map of them: its shape is then in `describe`).
  /// Bad args should return Error{errc::invalid_query, ...}.
  template <class F>
  ProjectionBuilder& query(std::string name, F f) {
    static_assert(std::is_invocable_v<F&, const Model&, const json::object&>,
                  "a query takes (const Model&, const json::object& args)");
    return add_query(std::move(name), "any", [f = std::move(f)](const Model& m, const json::object& args) {
      return f(m, args);
    });
  }

  /// A named query with typed arguments (a described struct): args that do
  /// not decode are an invalid_query error naming the field.
  /// f(const Model&, const Args&) -> Expected<R> (R as above).
  template <class Args, class F>
  ProjectionBuilder& query(std::string name, F f) {
    static_assert(std::is_invocable_v<F&, const Model&, const Args&>,
                  "a query takes (const Model&, const Args&)");
    using R = std::invoke_result_t<F&, const Model&, const Args&>;
    return add_query(std::move(name), json_shape<Args>(),
                        [f = std::move(f)](const Model& m, const json::object& raw) -> R {
                          auto args = decode<Args>(raw);
                          if (!args) return Error{errc::invalid_query, args.error().message};
                          return f(m, *args);
                        });
  }

  ProjectionBuilder& snapshot_every(int n, int snapshot_version = 1) {
    if (n < 0) throw std::invalid_argument("snapshot_every must be >= 0");
    t_.snapshot_every_ = n;
    t_.snapshot_version_ = snapshot_version;
    return *this;
  }

  ProjectionType build() && { return std::move(t_); }
  ProjectionType build() const& { return t_; }
  operator ProjectionType() && { return std::move(t_); }
  operator ProjectionType() const& { return t_; }

private:
  template <class T> struct answer_of;
  template <class T> struct answer_of<Expected<T>> { using type = T; };

  // Registers a query whose callable g(const Model&, const json::object&)
  // returns Expected<R>; R other than json::value is encoded, and its
  // shape recorded.
  template <class G>
  ProjectionBuilder& add_query(std::string name, json::value args_shape, G g) {
    using Returned = std::invoke_result_t<G&, const Model&, const json::object&>;
    using R = typename answer_of<std::decay_t<Returned>>::type;
    json::value result_shape = std::is_same_v<R, json::value> ? json::value("any") : json_shape<R>();
    auto run = [g = std::move(g)](const std::any& m, const json::object& args) -> Expected<json::value> {
      auto r = g(std::any_cast<const Model&>(m), args);
      if (!r) return r.error();
      if constexpr (std::is_same_v<R, json::value>) return std::move(*r);
      else return encode(*r);
    };
    if (!t_.queries_.emplace(name, std::move(run)).second)
      throw std::invalid_argument("projection '" + t_.name_ + "' has two queries named '" + name + "'");
    t_.query_shapes_[name] = ProjectionType::QueryShape{std::move(args_shape), std::move(result_shape)};
    return *this;
  }

  void add(const std::string& aggregate, const std::string& type, ProjectionType::Apply f) {
    if (!t_.handlers_.emplace(aggregate + "\n" + type, std::move(f)).second)
      throw std::invalid_argument("projection '" + t_.name_ + "' handles '" + aggregate + "/" + type + "' twice");
  }

  ProjectionType t_;
};

template <class Model>
ProjectionBuilder<Model> ProjectionType::define(std::string name, Model empty) {
  return ProjectionBuilder<Model>(std::move(name), std::move(empty));
}

} // namespace annals
