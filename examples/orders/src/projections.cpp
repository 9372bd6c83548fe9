#include "orders/projections.hpp"

#include "orders/inventory.hpp"
#include "orders/order.hpp"

namespace orders {

using annals::Error;
using annals::Event;
using annals::Expected;
namespace json = annals::json;

annals::ProjectionType order_summary_projection(int snapshot_every) {
  return annals::ProjectionType::define<OrderSummaries>("order_summary")
    .on<OrderPlaced>("order", [](OrderSummaries& m, const OrderPlaced& e, const Event& ev) {
      OrderSummary& o = m.orders[ev.stream.id];
      o = OrderSummary{};
      o.customer = e.customer;
      o.status = status::placed;
      for (const Item& item : e.items) {
        const std::int64_t line_total = item.quantity * item.unit_price;
        o.items.push_back(OrderLine{item.sku, item.quantity, item.unit_price, line_total});
        o.total += line_total;
        o.item_count += item.quantity;
      }
    })
    .on<OrderConfirmed>("order", [](OrderSummaries& m, const OrderConfirmed&, const Event& ev) {
      m.orders[ev.stream.id].status = status::confirmed;
    })
    .on<OrderCancelled>("order", [](OrderSummaries& m, const OrderCancelled&, const Event& ev) {
      m.orders[ev.stream.id].status = status::cancelled;
    })
    .on<OrderShipped>("order", [](OrderSummaries& m, const OrderShipped&, const Event& ev) {
      m.orders[ev.stream.id].status = status::shipped;
    })
    .query<OrderArgs>("order", [](const OrderSummaries& m, const OrderArgs& a) -> Expected<OrderAnswer> {
      auto it = m.orders.find(a.id);
      if (it == m.orders.end()) return Error{annals::errc::not_found, "no order '" + a.id + "'"};
      return OrderAnswer{it->second, a.id};
    })
    .query<CustomerArgs>("by_customer",
                         [](const OrderSummaries& m, const CustomerArgs& a) -> Expected<std::vector<CustomerOrder>> {
                           std::vector<CustomerOrder> out;
                           for (const auto& [id, o] : m.orders)  // std::map: sorted by id
                             if (o.customer == a.customer) out.push_back(CustomerOrder{id, o.total});
                           return out;
                         })
    .snapshot_every(snapshot_every);
}

namespace {
void settle(StockLevel& l) { l.available = l.on_hand - l.reserved; }
} // namespace

annals::ProjectionType stock_levels_projection(int snapshot_every) {
  return annals::ProjectionType::define<StockLevels>("stock_levels")
    .on<StockAdded>("inventory", [](StockLevels& m, const StockAdded& e, const Event& ev) {
      StockLevel& l = m.skus[ev.stream.id];
      l.on_hand += e.quantity;
      settle(l);
    })
    .on<StockReserved>("inventory", [](StockLevels& m, const StockReserved& e, const Event& ev) {
      StockLevel& l = m.skus[ev.stream.id];
      l.reserved += e.quantity;
      settle(l);
    })
    .on<ReservationReleased>("inventory", [](StockLevels& m, const ReservationReleased& e, const Event& ev) {
      StockLevel& l = m.skus[ev.stream.id];
      l.reserved -= e.quantity;
      settle(l);
    })
    .on<StockShipped>("inventory", [](StockLevels& m, const StockShipped& e, const Event& ev) {
      StockLevel& l = m.skus[ev.stream.id];
      l.reserved -= e.quantity;
      l.on_hand -= e.quantity;
      l.shipped += e.quantity;
      settle(l);
    })
    .query<SkuArgs>("sku", [](const StockLevels& m, const SkuArgs& a) -> Expected<SkuAnswer> {
      auto it = m.skus.find(a.sku);
      if (it == m.skus.end()) return Error{annals::errc::not_found, "no sku '" + a.sku + "'"};
      return SkuAnswer{it->second, a.sku};
    })
    .query<LowStockArgs>("low_stock", [](const StockLevels& m, const LowStockArgs& a) -> Expected<std::vector<LowSku>> {
      std::vector<LowSku> out;
      for (const auto& [sku, l] : m.skus)  // std::map: sorted by sku
        if (l.available < a.below) out.push_back(LowSku{sku, l.available});
      return out;
    })
    .snapshot_every(snapshot_every);
}

} // namespace orders
