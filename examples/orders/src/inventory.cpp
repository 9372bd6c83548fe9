#include "orders/inventory.hpp"

#include <optional>

namespace orders {

using annals::Decision;
using annals::emit;
using annals::reject;

std::int64_t available(const Inventory& s) {
  std::int64_t held = 0;
  for (const auto& [order_id, quantity] : s.reserved) held += quantity;
  return s.on_hand - held;
}

namespace {

std::optional<Decision> must_be_positive(std::int64_t quantity) {
  if (quantity <= 0)
    return reject("invalid_quantity", "quantity must be positive, got " + std::to_string(quantity));
  return std::nullopt;
}

std::optional<Decision> must_name_order(const std::string& order_id) {
  if (order_id.empty()) return reject("invalid_order_id", "order_id must not be empty");
  return std::nullopt;
}

// Shared precondition of release and ship: the quantity the order holds.
std::optional<Decision> must_hold_reservation(const Inventory& s, const std::string& order_id) {
  if (auto no = must_name_order(order_id)) return *no;
  if (s.reserved.count(order_id) == 0)
    return reject("not_reserved", "order '" + order_id + "' has no reservation");
  return std::nullopt;
}

} // namespace

annals::AggregateType inventory_type(int snapshot_every) {
  return annals::AggregateType::define<Inventory>("inventory")
    .handle<AddStock>([](const Inventory&, const AddStock& c) -> Decision {
      if (auto no = must_be_positive(c.quantity)) return *no;
      return emit(StockAdded{c.quantity});
    })
    .handle<Reserve>([](const Inventory& s, const Reserve& c) -> Decision {
      if (auto no = must_name_order(c.order_id)) return *no;
      if (auto no = must_be_positive(c.quantity)) return *no;
      auto held = s.reserved.find(c.order_id);
      if (held != s.reserved.end())
        return reject("already_reserved", "order '" + c.order_id + "' already holds "
                                            + std::to_string(held->second));
      if (available(s) < c.quantity)
        return reject("insufficient_stock", "available " + std::to_string(available(s))
                                              + " is less than " + std::to_string(c.quantity));
      return emit(StockReserved{c.order_id, c.quantity});
    })
    .handle<Release>([](const Inventory& s, const Release& c) -> Decision {
      if (auto no = must_hold_reservation(s, c.order_id)) return *no;
      return emit(ReservationReleased{c.order_id, s.reserved.at(c.order_id)});
    })
    .handle<Ship>([](const Inventory& s, const Ship& c) -> Decision {
      if (auto no = must_hold_reservation(s, c.order_id)) return *no;
      return emit(StockShipped{c.order_id, s.reserved.at(c.order_id)});
    })
    .apply<StockAdded>([](Inventory& s, const StockAdded& e) { s.on_hand += e.quantity; })
    .apply<StockReserved>([](Inventory& s, const StockReserved& e) { s.reserved[e.order_id] = e.quantity; })
    .apply<ReservationReleased>([](Inventory& s, const ReservationReleased& e) { s.reserved.erase(e.order_id); })
    .apply<StockShipped>([](Inventory& s, const StockShipped& e) {
      s.reserved.erase(e.order_id);
      s.on_hand -= e.quantity;
    })
    .rejects("invalid_quantity", "add_stock, reserve: the quantity is not positive")
    .rejects("invalid_order_id", "reserve, release, ship: order_id is empty")
    .rejects("already_reserved", "reserve: the order already holds a reservation")
    .rejects("insufficient_stock", "reserve: less is available than asked for")
    .rejects("not_reserved", "release, ship: the order holds no reservation")
    .snapshot_every(snapshot_every);
}

} // namespace orders
