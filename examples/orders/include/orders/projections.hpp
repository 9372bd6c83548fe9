#pragma once
// Read models of the orders example: a denormalised summary per order, and
// stock levels per SKU.

#include <annals/projection_type.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace orders {

struct OrderLine {
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price = 0;
  std::int64_t line_total = 0;  // quantity * unit_price
};
BOOST_DESCRIBE_STRUCT(OrderLine, (), (sku, quantity, unit_price, line_total))

struct OrderSummary {
  std::string customer;
  std::string status;  // "placed", "confirmed", "cancelled" or "shipped"
  std::vector<OrderLine> items;
  std::int64_t total = 0;       // sum of line totals, in cents
  std::int64_t item_count = 0;  // sum of quantities
};
BOOST_DESCRIBE_STRUCT(OrderSummary, (), (customer, status, items, total, item_count))

struct OrderSummaries {
  std::map<std::string, OrderSummary> orders;  // by order id
};
BOOST_DESCRIBE_STRUCT(OrderSummaries, (), (orders))

/// Query args: {"id": "o-1"}.
struct OrderArgs {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(OrderArgs, (), (id))

/// Query args: {"customer": "ada"}.
struct CustomerArgs {
  std::string customer;
};
BOOST_DESCRIBE_STRUCT(CustomerArgs, (), (customer))

// Query answers (their shapes are in `annals describe`).
struct OrderAnswer : OrderSummary {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(OrderAnswer, (OrderSummary), (id))

struct CustomerOrder {
  std::string id;
  std::int64_t total = 0;
};
BOOST_DESCRIBE_STRUCT(CustomerOrder, (), (id, total))

/// "order_summary" (follows "order" events): queries
///   order {id}             -> {id, customer, status, items: [{sku, quantity,
///                             unit_price, line_total}], total, item_count}
///                             (not_found if unknown)
///   by_customer {customer} -> [{id, total}] sorted by id ([] if none)
annals::ProjectionType order_summary_projection(int snapshot_every = 0);

struct StockLevel {
  std::int64_t on_hand = 0;    // in the warehouse (reserved or not)
  std::int64_t reserved = 0;   // held for orders
  std::int64_t available = 0;  // on_hand - reserved
  std::int64_t shipped = 0;    // left the warehouse, ever
};
BOOST_DESCRIBE_STRUCT(StockLevel, (), (on_hand, reserved, available, shipped))

struct StockLevels {
  std::map<std::string, StockLevel> skus;
};
BOOST_DESCRIBE_STRUCT(StockLevels, (), (skus))

/// Query args: {"sku": "sku-1"}.
struct SkuArgs {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(SkuArgs, (), (sku))

struct SkuAnswer : StockLevel {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(SkuAnswer, (StockLevel), (sku))

struct LowSku {
  std::string sku;
  std::int64_t available = 0;
};
BOOST_DESCRIBE_STRUCT(LowSku, (), (sku, available))

/// Query args: {"below": 5}.
struct LowStockArgs {
  std::int64_t below = 0;
};
BOOST_DESCRIBE_STRUCT(LowStockArgs, (), (below))

/// "stock_levels" (follows "inventory" events): queries
///   sku {sku}         -> {sku, on_hand, reserved, available, shipped}
///                        (not_found if the SKU never had an event)
///   low_stock {below} -> [{sku, available}] for available < below, sorted by sku
annals::ProjectionType stock_levels_projection(int snapshot_every = 0);

} // namespace orders
