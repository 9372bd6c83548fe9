// Must NOT compile: a query that takes the read model by non-const reference
// (and could change it). Built with -DANNALS_CONST_QUERY as the control,
// which must compile, so the failure is the const rule and nothing else.
#include <annals/projection_type.hpp>

#include <boost/describe/class.hpp>

struct Model {
  std::int64_t n = 0;
};
BOOST_DESCRIBE_STRUCT(Model, (), (n))

#ifdef ANNALS_CONST_QUERY
using ModelRef = const Model&;
#else
using ModelRef = Model&;
#endif

annals::ProjectionType make() {
  return annals::ProjectionType::define<Model>("m").query(
    "bump", [](ModelRef m, const annals::json::object&) -> annals::Expected<annals::json::value> {
      return annals::json::value(m.n);
    });
}
