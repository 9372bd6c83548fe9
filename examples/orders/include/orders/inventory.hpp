#pragma once
// The orders example, stock side: one "inventory" aggregate per SKU (its id
// is the SKU). Stock is added, reserved for an order, then either released
// (the order was cancelled) or shipped (it leaves the warehouse).
//
// The inventory and order aggregates do not call each other (a process
// manager is out of scope): a caller places an order, reserves stock for each
// of its items (inventory/<sku> reserve {order_id, quantity}), confirms the
// order once every reservation was accepted, and on cancellation releases
// whatever it had reserved. See orders/order.hpp.

#include <annals/aggregate_type.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace orders {

// --- state -----------------------------------------------------------------
struct Inventory {
  std::int64_t on_hand = 0;                       // units in the warehouse, reserved or not
  std::map<std::string, std::int64_t> reserved;   // order_id -> quantity held for it
};
BOOST_DESCRIBE_STRUCT(Inventory, (), (on_hand, reserved))

/// on_hand minus everything reserved.
std::int64_t available(const Inventory& s);

// --- commands --------------------------------------------------------------
struct AddStock {
  static constexpr const char* command_type = "add_stock";
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(AddStock, (), (quantity))

struct Reserve {
  static constexpr const char* command_type = "reserve";
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(Reserve, (), (order_id, quantity))

struct Release {
  static constexpr const char* command_type = "release";
  std::string order_id;
};
BOOST_DESCRIBE_STRUCT(Release, (), (order_id))

struct Ship {
  static constexpr const char* command_type = "ship";
  std::string order_id;
};
BOOST_DESCRIBE_STRUCT(Ship, (), (order_id))

// --- events ----------------------------------------------------------------
struct StockAdded {
  static constexpr const char* event_type = "stock_added";
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(StockAdded, (), (quantity))

struct StockReserved {
  static constexpr const char* event_type = "stock_reserved";
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(StockReserved, (), (order_id, quantity))

struct ReservationReleased {
  static constexpr const char* event_type = "reservation_released";
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(ReservationReleased, (), (order_id, quantity))

struct StockShipped {
  static constexpr const char* event_type = "stock_shipped";
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(StockShipped, (), (order_id, quantity))

/// The "inventory" aggregate type (id = SKU). Rejections: invalid_quantity
/// (add_stock or reserve with quantity <= 0), invalid_order_id (empty
/// order_id), already_reserved (the order already holds a reservation of
/// this SKU), insufficient_stock (available < quantity), not_reserved
/// (release or ship of an order with no reservation). Shipping removes the
/// reservation, so an order may reserve the same SKU again afterwards.
/// `snapshot_every` 0 disables snapshots.
annals::AggregateType inventory_type(int snapshot_every = 100);

} // namespace orders
