// The `annals` executable with the example domains: bank and orders. Their
// projections keep a read-model snapshot every 500 events, as a service would,
// so a restarted projector replays only what came after it.
#include "annals/cli/cli.hpp"

#include "annals/runtime.hpp"
#include "bank/account.hpp"
#include "bank/projections.hpp"
#include "orders/inventory.hpp"
#include "orders/order.hpp"
#include "orders/projections.hpp"

int main(int argc, char** argv) {
  annals::scenarios::DomainCatalog catalog;
  catalog.add({"bank", "accounts (open, deposit, withdraw, close); projections balances and daily_totals",
               [](annals::Runtime& rt) {
                 rt.register_aggregate(bank::account_type());
                 rt.register_projection(bank::balances_projection(500));
                 rt.register_projection(bank::daily_totals_projection(500));
               }});
  catalog.add({"orders", "inventory (add_stock, reserve, release, ship) and orders (place, confirm, cancel, "
                         "mark_shipped); projections order_summary and stock_levels",
               [](annals::Runtime& rt) {
                 rt.register_aggregate(orders::inventory_type());
                 rt.register_aggregate(orders::order_type());
                 rt.register_projection(orders::order_summary_projection(500));
                 rt.register_projection(orders::stock_levels_projection(500));
               }});
  return annals::cli::main(argc, argv, catalog);
}
