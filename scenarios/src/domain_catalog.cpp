#include "annals/scenarios/domain_catalog.hpp"

#include <stdexcept>

namespace annals::scenarios {

DomainCatalog& DomainCatalog::add(Domain domain) {
  if (find(domain.name)) throw std::invalid_argument("domain '" + domain.name + "' is already in the catalog");
  domains_.push_back(std::move(domain));
  return *this;
}

const Domain* DomainCatalog::find(std::string_view name) const {
  for (const auto& d : domains_)
    if (d.name == name) return &d;
  return nullptr;
}

std::vector<std::string> DomainCatalog::names() const {
  std::vector<std::string> out;
  for (const auto& d : domains_) out.push_back(d.name);
  return out;
}

std::string DomainCatalog::unknown(const std::vector<std::string>& names) const {
  for (const auto& n : names) {
    if (find(n)) continue;
    std::string known;
    for (const auto& d : domains_) known += (known.empty() ? "" : ", ") + d.name;
    return "unknown domain '" + n + "' (known: " + known + ")";
  }
  return {};
}

void DomainCatalog::install(Runtime& runtime, const std::vector<std::string>& names) const {
  if (names.empty()) {
    for (const auto& d : domains_) d.install(runtime);
    return;
  }
  // Check every name before installing any: an unknown one changes nothing.
  if (auto problem = unknown(names); !problem.empty()) throw std::invalid_argument(problem);
  for (const auto& n : names) find(n)->install(runtime);
}

} // namespace annals::scenarios
