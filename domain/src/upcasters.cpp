#include "annals/upcasters.hpp"

#include "annals/quoted.hpp"

#include <mutex>
#include <stdexcept>

namespace annals {

namespace {
std::string key(const std::string& aggregate, const std::string& type) { return aggregate + "\n" + type; }
} // namespace

void Upcasters::add(const std::string& aggregate, const std::string& event_type, int from_version, Fn fn) {
  if (from_version < 1) throw std::invalid_argument("an upcaster starts at schema version 1 or later");
  std::unique_lock<std::shared_mutex> lock(mtx_);
  auto& steps = types_[key(aggregate, event_type)];
  if (!steps.by_from.emplace(from_version, std::move(fn)).second)
    throw std::invalid_argument("an upcaster for " + aggregate + "/" + event_type + " from version "
                                + std::to_string(from_version) + " is already registered");
  steps.current = std::max(steps.current, from_version + 1);
  empty_.store(false, std::memory_order_release);
}

int Upcasters::current_version(const std::string& aggregate, const std::string& event_type) const {
  if (empty()) return 1;
  std::shared_lock<std::shared_mutex> lock(mtx_);
  auto it = types_.find(key(aggregate, event_type));
  return it == types_.end() ? 1 : it->second.current;
}

std::optional<Error> Upcasters::upcast(Event& e) const {
  if (empty()) return std::nullopt;
  std::shared_lock<std::shared_mutex> lock(mtx_);
  auto it = types_.find(key(e.stream.aggregate, e.type));
  if (it == types_.end()) return std::nullopt;  // never evolved: nothing to do
  const Steps& steps = it->second;
  auto name = [&] {
    return "event " + std::to_string(e.position) + " (" + printable(e.type) + " v" + std::to_string(e.schema_version) + ") of "
           + e.stream.to_string();
  };
  if (e.schema_version > steps.current)
    return Error{errc::internal_error, name() + " is newer than this build knows (schema version "
                                         + std::to_string(steps.current) + ")"};
  while (e.schema_version < steps.current) {
    auto step = steps.by_from.find(e.schema_version);
    if (step == steps.by_from.end())
      return Error{errc::internal_error, name() + ": no upcaster from schema version "
                                           + std::to_string(e.schema_version) + " (current is "
                                           + std::to_string(steps.current) + ")"};
    try {
      e.data = step->second(std::move(e.data));
    } catch (const std::exception& ex) {
      return Error{errc::internal_error, name() + ": upcaster from version " + std::to_string(e.schema_version)
                                           + " threw: " + ex.what()};
    }
    ++e.schema_version;
  }
  return std::nullopt;
}

} // namespace annals
