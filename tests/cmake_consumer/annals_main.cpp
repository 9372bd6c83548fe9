// The consumer project's `annals` (docs/cli.md, "Your own annals").
#include "annals/cli/cli.hpp"
#include "annals/runtime.hpp"
#include "bank/account.hpp"
#include "bank/projections.hpp"

int main(int argc, char** argv) {
  annals::scenarios::DomainCatalog catalog;
  catalog.add({"bank", "accounts; projections balances and daily_totals", [](annals::Runtime& rt) {
                 rt.register_aggregate(bank::account_type());
                 rt.register_projection(bank::balances_projection());
                 rt.register_projection(bank::daily_totals_projection());
               }});
  return annals::cli::main(argc, argv, catalog);
}
