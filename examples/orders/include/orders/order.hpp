#pragma once
// The orders example, order side: one "order" aggregate per order (its id is
// the order id). An order is placed with its items, confirmed, and then
// either shipped or cancelled.
//
// The order does not reserve stock itself, and the inventory aggregate does
// not know orders (a process manager is out of scope). A caller:
//   1. order/<id> place {customer, items}
//   2. for each item: inventory/<sku> reserve {order_id: <id>, quantity}
//   3. order/<id> confirm {} once every reservation was accepted
//      (otherwise: release the ones that were, and cancel the order)
//   4. to ship: inventory/<sku> ship {order_id} per item, then
//      order/<id> mark_shipped {}
//   5. to cancel: order/<id> cancel {reason}, then inventory/<sku> release
//      {order_id} per item.

#include <annals/aggregate_type.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orders {

/// One line of an order. unit_price is in cents.
struct Item {
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price = 0;
};
BOOST_DESCRIBE_STRUCT(Item, (), (sku, quantity, unit_price))

// --- state -----------------------------------------------------------------
/// Order statuses, as stored in Order::status ("" until placed).
namespace status {
inline constexpr const char* placed = "placed";
inline constexpr const char* confirmed = "confirmed";
inline constexpr const char* cancelled = "cancelled";
inline constexpr const char* shipped = "shipped";
} // namespace status

struct Order {
  std::string status;  // "", or one of orders::status
  std::string customer;
  std::vector<Item> items;
};
BOOST_DESCRIBE_STRUCT(Order, (), (status, customer, items))

// --- commands --------------------------------------------------------------
struct PlaceOrder {
  static constexpr const char* command_type = "place";
  std::string customer;
  std::vector<Item> items;
};
BOOST_DESCRIBE_STRUCT(PlaceOrder, (), (customer, items))

struct ConfirmOrder {
  static constexpr const char* command_type = "confirm";
};
BOOST_DESCRIBE_STRUCT(ConfirmOrder, (), ())

struct CancelOrder {
  static constexpr const char* command_type = "cancel";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(CancelOrder, (), (reason))

struct MarkShipped {
  static constexpr const char* command_type = "mark_shipped";
};
BOOST_DESCRIBE_STRUCT(MarkShipped, (), ())

// --- events ----------------------------------------------------------------
struct OrderPlaced {
  static constexpr const char* event_type = "order_placed";
  std::string customer;
  std::vector<Item> items;
};
BOOST_DESCRIBE_STRUCT(OrderPlaced, (), (customer, items))

struct OrderConfirmed {
  static constexpr const char* event_type = "order_confirmed";
};
BOOST_DESCRIBE_STRUCT(OrderConfirmed, (), ())

struct OrderCancelled {
  static constexpr const char* event_type = "order_cancelled";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(OrderCancelled, (), (reason))

struct OrderShipped {
  static constexpr const char* event_type = "order_shipped";
};
BOOST_DESCRIBE_STRUCT(OrderShipped, (), ())

/// The "order" aggregate type (id = order id). Rejections:
///   place:        already_placed; invalid_order (empty customer, no items,
///                 an empty sku, a sku listed twice, quantity or unit_price <= 0)
///   confirm:      not_placed, order_cancelled, already_confirmed (also once shipped)
///   cancel:       not_placed, order_cancelled, already_shipped
///   mark_shipped: not_placed, order_cancelled, not_confirmed, already_shipped
/// `snapshot_every` 0 disables snapshots.
annals::AggregateType order_type(int snapshot_every = 100);

} // namespace orders
