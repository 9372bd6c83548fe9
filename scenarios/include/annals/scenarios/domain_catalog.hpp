#pragma once
// DomainCatalog: the domains (aggregate types, projections, upcasters) that a
// scenario or a CLI tool can run against, by name. The `annals` executable
// ships "bank" and "orders"; a service that embeds annals builds its own
// catalog and hands it to annals::cli::run_cli to get the same tools.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace annals {
class Runtime;
}

namespace annals::scenarios {

struct Domain {
  std::string name;         ///< "bank"
  std::string description;  ///< one line, for --help and the run header
  /// Registers the domain's upcasters, aggregate types and projections.
  std::function<void(Runtime&)> install;
};

class DomainCatalog {
public:
  /// Throws std::invalid_argument for a second domain of the same name.
  DomainCatalog& add(Domain domain);
  const Domain* find(std::string_view name) const;
  const std::vector<Domain>& domains() const { return domains_; }
  std::vector<std::string> names() const;

  /// The problem with these names ("unknown domain 'x' (known: ...)"), or
  /// "" when every one is in the catalog.
  std::string unknown(const std::vector<std::string>& names) const;

  /// Installs the named domains (all of them when `names` is empty) into
  /// `runtime`. Throws std::invalid_argument naming an unknown domain.
  void install(Runtime& runtime, const std::vector<std::string>& names = {}) const;

private:
  std::vector<Domain> domains_;
};

} // namespace annals::scenarios
