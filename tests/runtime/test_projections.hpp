#pragma once
// Projections used by the read-side tests.

#include <annals/projection_type.hpp>
#include <annals/runtime.hpp>

#include <boost/describe/class.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace annals::test {

/// Every position it applied, in the order applied.
struct Seen {
  std::vector<std::int64_t> positions;
};
BOOST_DESCRIBE_STRUCT(Seen, (), (positions))

/// Sum of deposits minus withdrawals per account.
struct Sums {
  std::map<std::string, std::int64_t> by_account;
  std::int64_t total = 0;
};
BOOST_DESCRIBE_STRUCT(Sums, (), (by_account, total))

/// A hook run before each event is applied; it may throw (a poison event),
/// sleep (a slow projector) or count.
using BeforeApply = std::function<void(const Event&)>;

inline ProjectionType recorder(const std::string& name, BeforeApply before = {}, int snapshot_every = 0) {
  return ProjectionType::define<Seen>(name)
    .on_json("*", "*", [before](Seen& m, const Event& e) {
      if (before) before(e);
      m.positions.push_back(e.position);
    })
    .query("positions", [](const Seen& m, const json::object&) -> Expected<json::value> { return encode(m.positions); })
    .snapshot_every(snapshot_every);
}

inline ProjectionType sums(const std::string& name, BeforeApply before = {}) {
  auto amount = [](const Event& e) { return e.data.at("amount").as_int64(); };
  return ProjectionType::define<Sums>(name)
    .on_json("account", "deposited", [=](Sums& m, const Event& e) {
      if (before) before(e);
      m.by_account[e.stream.id] += amount(e);
      m.total += amount(e);
    })
    .on_json("account", "withdrawn", [=](Sums& m, const Event& e) {
      if (before) before(e);
      m.by_account[e.stream.id] -= amount(e);
      m.total -= amount(e);
    })
    .query("total", [](const Sums& m, const json::object&) -> Expected<json::value> { return json::value(m.total); })
    .query("dump", [](const Sums& m, const json::object&) -> Expected<json::value> { return encode(m); });
}

/// Throws on deposits of 13 ("cannot handle 13") until `fixed` is set: a
/// poison event for the supervision and dead-letter tests.
inline BeforeApply poison_13(std::shared_ptr<std::atomic<bool>> fixed) {
  return [fixed](const Event& e) {
    if (e.type == "deposited" && e.data.at("amount").as_int64() == 13 && !*fixed)
      throw std::runtime_error("cannot handle 13");
  };
}

/// Supervision that restarts within milliseconds and parks after 3 attempts,
/// so that tests of failing projectors finish quickly.
inline RuntimeOptions fast_supervision(RuntimeOptions o) {
  o.projections.initial_backoff = std::chrono::milliseconds(5);
  o.projections.max_backoff = std::chrono::milliseconds(40);
  o.projections.max_attempts = 3;
  return o;
}

/// 1..n, for comparing with a recorder's positions.
inline json::value one_to(std::int64_t n) {
  json::array a;
  for (std::int64_t i = 1; i <= n; ++i) a.push_back(i);
  return a;
}

} // namespace annals::test
