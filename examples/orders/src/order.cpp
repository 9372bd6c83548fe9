#include "orders/order.hpp"

#include <optional>
#include <set>

namespace orders {

using annals::Decision;
using annals::emit;
using annals::reject;

namespace {

bool is(const Order& s, const char* st) { return s.status == st; }

// Shared precondition of confirm, cancel and mark_shipped.
std::optional<Decision> must_be_live(const Order& s) {
  if (s.status.empty()) return reject("not_placed", "the order has not been placed");
  if (is(s, status::cancelled)) return reject("order_cancelled", "the order is cancelled");
  return std::nullopt;
}

std::optional<Decision> invalid(std::string message) { return reject("invalid_order", std::move(message)); }

std::optional<Decision> must_be_valid(const PlaceOrder& c) {
  if (c.customer.empty()) return invalid("customer must not be empty");
  if (c.items.empty()) return invalid("an order needs at least one item");
  std::set<std::string> skus;
  for (std::size_t i = 0; i < c.items.size(); ++i) {
    const Item& item = c.items[i];
    const std::string where = "items[" + std::to_string(i) + "]";
    if (item.sku.empty()) return invalid(where + ".sku must not be empty");
    if (!skus.insert(item.sku).second) return invalid(where + ".sku '" + item.sku + "' is listed twice");
    if (item.quantity <= 0)
      return invalid(where + ".quantity must be positive, got " + std::to_string(item.quantity));
    if (item.unit_price <= 0)
      return invalid(where + ".unit_price must be positive, got " + std::to_string(item.unit_price));
  }
  return std::nullopt;
}

} // namespace

annals::AggregateType order_type(int snapshot_every) {
  return annals::AggregateType::define<Order>("order")
    .handle<PlaceOrder>([](const Order& s, const PlaceOrder& c) -> Decision {
      if (!s.status.empty()) return reject("already_placed", "the order was already placed");
      if (auto no = must_be_valid(c)) return *no;
      return emit(OrderPlaced{c.customer, c.items});
    })
    .handle<ConfirmOrder>([](const Order& s, const ConfirmOrder&) -> Decision {
      if (auto no = must_be_live(s)) return *no;
      if (!is(s, status::placed)) return reject("already_confirmed", "the order is already " + s.status);
      return emit(OrderConfirmed{});
    })
    .handle<CancelOrder>([](const Order& s, const CancelOrder& c) -> Decision {
      if (auto no = must_be_live(s)) return *no;
      if (is(s, status::shipped)) return reject("already_shipped", "a shipped order cannot be cancelled");
      return emit(OrderCancelled{c.reason});
    })
    .handle<MarkShipped>([](const Order& s, const MarkShipped&) -> Decision {
      if (auto no = must_be_live(s)) return *no;
      if (is(s, status::shipped)) return reject("already_shipped", "the order is already shipped");
      if (!is(s, status::confirmed)) return reject("not_confirmed", "the order has not been confirmed");
      return emit(OrderShipped{});
    })
    .apply<OrderPlaced>([](Order& s, const OrderPlaced& e) {
      s.status = status::placed;
      s.customer = e.customer;
      s.items = e.items;
    })
    .apply<OrderConfirmed>([](Order& s, const OrderConfirmed&) { s.status = status::confirmed; })
    .apply<OrderCancelled>([](Order& s, const OrderCancelled&) { s.status = status::cancelled; })
    .apply<OrderShipped>([](Order& s, const OrderShipped&) { s.status = status::shipped; })
    .rejects("already_placed", "place: the order was already placed")
    .rejects("invalid_order", "place: no customer or no items, an item without sku or listed twice, a quantity or price not positive")
    .rejects("not_placed", "confirm, cancel, mark_shipped: the order has not been placed")
    .rejects("order_cancelled", "confirm, cancel, mark_shipped: the order is cancelled")
    .rejects("already_confirmed", "confirm: the order is already confirmed or further")
    .rejects("already_shipped", "cancel, mark_shipped: the order is already shipped")
    .rejects("not_confirmed", "mark_shipped: the order has not been confirmed")
    .snapshot_every(snapshot_every);
}

} // namespace orders
