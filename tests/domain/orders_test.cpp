// The orders example as pure functions: the "inventory" and "order"
// aggregates given/when/then, and the order_summary and stock_levels
// projections applied to hand-built events.

#include <orders/inventory.hpp>
#include <orders/order.hpp>
#include <orders/projections.hpp>

#include <annals/aggregate_type.hpp>
#include <annals/command.hpp>
#include <annals/decision.hpp>
#include <annals/error.hpp>
#include <annals/event.hpp>
#include <annals/projection_type.hpp>

#include <catch2/catch.hpp>

#include <any>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace json = annals::json;

namespace {

using EventSpec = std::pair<std::string, json::value>;  // (event type, data)

// Given/when/then over one stream of one aggregate type.
class Spec {
public:
  Spec(annals::AggregateType type, std::string id)
    : type_(std::move(type)), id_(std::move(id)), state_(type_.initial_state()) {}

  /// Past events: committed as versions 1..n of the stream and applied in order.
  Spec& given(const std::vector<EventSpec>& events) {
    for (const auto& [type, data] : events) {
      annals::Event e;
      e.stream = {type_.name(), id_};
      e.version = ++version_;
      e.position = e.version;
      e.type = type;
      e.data = data;
      e.metadata.timestamp_us = 1'700'000'000'000'000 + e.version;
      type_.evolve(state_, e);
    }
    return *this;
  }

  /// A command on the stream, decided against the current state.
  annals::Decision when(const std::string& command, json::object data = {}) const {
    annals::Command c;
    c.aggregate = type_.name();
    c.id = id_;
    c.command = command;
    c.data = std::move(data);
    return type_.decide(state_, c);
  }

  json::value state() const { return type_.state_to_json(state_); }
  const annals::AggregateType& type() const { return type_; }
  std::any& raw_state() { return state_; }

private:
  annals::AggregateType type_;
  std::string id_;
  std::any state_;
  std::int64_t version_ = 0;
};

Spec inventory() { return Spec(orders::inventory_type(), "sku-A"); }
Spec order() { return Spec(orders::order_type(), "o-1"); }

// Then: the command was accepted with exactly these events.
void then_emits(const annals::Decision& d, const std::vector<EventSpec>& expected) {
  INFO("rejection: " << d.rejection().code << ": " << d.rejection().message);
  REQUIRE(d.accepted());
  REQUIRE(d.events().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("event " << i);
    CHECK(d.events()[i].type == expected[i].first);
    CHECK(d.events()[i].schema_version == 1);
    CHECK(json::serialize(d.events()[i].data) == json::serialize(expected[i].second));
  }
}

// Then: the command was rejected with this code; returns the message.
std::string then_rejects(const annals::Decision& d, const std::string& code) {
  REQUIRE_FALSE(d.accepted());
  CHECK(d.events().empty());
  CHECK(d.rejection().code == code);
  return d.rejection().message;
}

// --- inventory events ------------------------------------------------------
EventSpec stock_added(std::int64_t q) { return {"stock_added", json::object{{"quantity", q}}}; }
EventSpec reserved(const std::string& order, std::int64_t q) {
  return {"stock_reserved", json::object{{"order_id", order}, {"quantity", q}}};
}
EventSpec released(const std::string& order, std::int64_t q) {
  return {"reservation_released", json::object{{"order_id", order}, {"quantity", q}}};
}
EventSpec shipped(const std::string& order, std::int64_t q) {
  return {"stock_shipped", json::object{{"order_id", order}, {"quantity", q}}};
}

// --- order events ------------------------------------------------------------
json::object item(const std::string& sku, std::int64_t quantity, std::int64_t unit_price) {
  return {{"sku", sku}, {"quantity", quantity}, {"unit_price", unit_price}};
}
json::object place_data(const std::string& customer, json::array items) {
  return {{"customer", customer}, {"items", std::move(items)}};
}
EventSpec order_placed(const std::string& customer, json::array items) {
  return {"order_placed", place_data(customer, std::move(items))};
}
const json::array two_items{item("sku-A", 2, 150), item("sku-B", 1, 1000)};
const EventSpec placed = order_placed("ada", two_items);
const EventSpec confirmed{"order_confirmed", json::object{}};
EventSpec cancelled(const std::string& reason) { return {"order_cancelled", json::object{{"reason", reason}}}; }
const EventSpec order_shipped{"order_shipped", json::object{}};

} // namespace

// ============================================================================
// inventory
// ============================================================================

SCENARIO("orders: inventory add_stock", "[orders][inventory]") {
  GIVEN("a SKU with no history") {
    auto spec = inventory();
    WHEN("stock is added") {
      THEN("'stock_added' is emitted with the quantity") {
        then_emits(spec.when("add_stock", {{"quantity", 10}}), {stock_added(10)});
      }
    }
    WHEN("zero is added") {
      THEN("the rejection is invalid_quantity") {
        CHECK(then_rejects(spec.when("add_stock", {{"quantity", 0}}), "invalid_quantity")
              == "quantity must be positive, got 0");
      }
    }
    WHEN("a negative quantity is added") {
      THEN("the rejection is invalid_quantity") {
        CHECK(then_rejects(spec.when("add_stock", {{"quantity", -3}}), "invalid_quantity")
              == "quantity must be positive, got -3");
      }
    }
  }
  GIVEN("two additions") {
    auto spec = inventory();
    spec.given({stock_added(10), stock_added(5)});
    THEN("on_hand is their sum and nothing is reserved") {
      CHECK(json::serialize(spec.state()) == R"({"on_hand":15,"reserved":{}})");
    }
  }
}

SCENARIO("orders: inventory reserve", "[orders][inventory]") {
  GIVEN("10 on hand, 4 of them reserved for o-1") {
    auto spec = inventory();
    spec.given({stock_added(10), reserved("o-1", 4)});
    REQUIRE(json::serialize(spec.state()) == R"({"on_hand":10,"reserved":{"o-1":4}})");

    WHEN("another order reserves exactly what is available") {
      THEN("'stock_reserved' is emitted") {
        then_emits(spec.when("reserve", {{"order_id", "o-2"}, {"quantity", 6}}), {reserved("o-2", 6)});
      }
    }
    WHEN("another order reserves more than is available") {
      THEN("the rejection is insufficient_stock") {
        CHECK(then_rejects(spec.when("reserve", {{"order_id", "o-2"}, {"quantity", 7}}), "insufficient_stock")
              == "available 6 is less than 7");
      }
    }
    WHEN("the same order reserves again, even an amount that is available") {
      THEN("the rejection is already_reserved") {
        CHECK(then_rejects(spec.when("reserve", {{"order_id", "o-1"}, {"quantity", 1}}), "already_reserved")
              == "order 'o-1' already holds 4");
      }
    }
    WHEN("a quantity of zero is reserved") {
      THEN("the rejection is invalid_quantity") {
        then_rejects(spec.when("reserve", {{"order_id", "o-2"}, {"quantity", 0}}), "invalid_quantity");
      }
    }
    WHEN("a negative quantity is reserved") {
      THEN("the rejection is invalid_quantity") {
        then_rejects(spec.when("reserve", {{"order_id", "o-2"}, {"quantity", -1}}), "invalid_quantity");
      }
    }
    WHEN("the order id is empty") {
      THEN("the rejection is invalid_order_id") {
        then_rejects(spec.when("reserve", {{"order_id", ""}, {"quantity", 1}}), "invalid_order_id");
      }
    }
    WHEN("a second reservation is applied") {
      spec.given({reserved("o-2", 5)});
      THEN("both are held and only 1 is available") {
        CHECK(json::serialize(spec.state()) == R"({"on_hand":10,"reserved":{"o-1":4,"o-2":5}})");
        then_rejects(spec.when("reserve", {{"order_id", "o-3"}, {"quantity", 2}}), "insufficient_stock");
        then_emits(spec.when("reserve", {{"order_id", "o-3"}, {"quantity", 1}}), {reserved("o-3", 1)});
      }
    }
  }
  GIVEN("a SKU that never had stock") {
    auto spec = inventory();
    THEN("any reservation is insufficient_stock") {
      CHECK(then_rejects(spec.when("reserve", {{"order_id", "o-1"}, {"quantity", 1}}), "insufficient_stock")
            == "available 0 is less than 1");
    }
  }
}

SCENARIO("orders: inventory release", "[orders][inventory]") {
  GIVEN("10 on hand, 4 reserved for o-1") {
    auto spec = inventory();
    spec.given({stock_added(10), reserved("o-1", 4)});
    WHEN("o-1's reservation is released") {
      auto d = spec.when("release", {{"order_id", "o-1"}});
      THEN("'reservation_released' carries the reserved quantity") { then_emits(d, {released("o-1", 4)}); }
    }
    WHEN("an order without a reservation is released") {
      THEN("the rejection is not_reserved") {
        CHECK(then_rejects(spec.when("release", {{"order_id", "o-9"}}), "not_reserved")
              == "order 'o-9' has no reservation");
      }
    }
    WHEN("the release is applied") {
      spec.given({released("o-1", 4)});
      THEN("everything is available again") {
        CHECK(json::serialize(spec.state()) == R"({"on_hand":10,"reserved":{}})");
        then_emits(spec.when("reserve", {{"order_id", "o-2"}, {"quantity", 10}}), {reserved("o-2", 10)});
      }
      AND_THEN("releasing it again is not_reserved") {
        then_rejects(spec.when("release", {{"order_id", "o-1"}}), "not_reserved");
      }
      AND_THEN("o-1 may reserve again") {
        then_emits(spec.when("reserve", {{"order_id", "o-1"}, {"quantity", 2}}), {reserved("o-1", 2)});
      }
    }
  }
}

SCENARIO("orders: inventory ship", "[orders][inventory]") {
  GIVEN("10 on hand, 4 reserved for o-1 and 3 for o-2") {
    auto spec = inventory();
    spec.given({stock_added(10), reserved("o-1", 4), reserved("o-2", 3)});
    WHEN("o-1 is shipped") {
      auto d = spec.when("ship", {{"order_id", "o-1"}});
      THEN("'stock_shipped' carries the reserved quantity") { then_emits(d, {shipped("o-1", 4)}); }
    }
    WHEN("an order without a reservation is shipped") {
      THEN("the rejection is not_reserved") {
        CHECK(then_rejects(spec.when("ship", {{"order_id", "o-9"}}), "not_reserved")
              == "order 'o-9' has no reservation");
      }
    }
    WHEN("the shipment is applied") {
      spec.given({shipped("o-1", 4)});
      THEN("on_hand decreases and the reservation is gone; o-2 still holds its 3") {
        CHECK(json::serialize(spec.state()) == R"({"on_hand":6,"reserved":{"o-2":3}})");
        then_rejects(spec.when("reserve", {{"order_id", "o-3"}, {"quantity", 4}}), "insufficient_stock");
        then_emits(spec.when("reserve", {{"order_id", "o-3"}, {"quantity", 3}}), {reserved("o-3", 3)});
      }
      AND_THEN("shipping it again is not_reserved") {
        then_rejects(spec.when("ship", {{"order_id", "o-1"}}), "not_reserved");
      }
      AND_THEN("releasing it is not_reserved") {
        then_rejects(spec.when("release", {{"order_id", "o-1"}}), "not_reserved");
      }
    }
  }
}

TEST_CASE("orders: inventory available() is on_hand minus all reservations", "[orders][inventory]") {
  orders::Inventory s;
  CHECK(orders::available(s) == 0);
  s.on_hand = 12;
  CHECK(orders::available(s) == 12);
  s.reserved = {{"o-1", 5}, {"o-2", 4}};
  CHECK(orders::available(s) == 3);
}

TEST_CASE("orders: inventory malformed commands are invalid_command naming the field", "[orders][inventory]") {
  auto spec = inventory();
  spec.given({stock_added(10)});
  CHECK(then_rejects(spec.when("reserve", {{"order_id", "o-1"}, {"quantity", "3"}}), "invalid_command")
        == "field 'quantity': expected integer, got string");
  CHECK(then_rejects(spec.when("reserve", {{"quantity", 3}}), "invalid_command") == "missing field 'order_id'");
  CHECK(then_rejects(spec.when("ship", {{"order_id", "o-1"}, {"carrier", "x"}}), "invalid_command")
        == "unknown field 'carrier'");
  CHECK(then_rejects(spec.when("restock", {{"quantity", 1}}), "unknown_command")
        == "aggregate 'inventory' has no command 'restock'");
}

TEST_CASE("orders: the inventory type knows its name, commands and snapshot interval", "[orders][inventory]") {
  auto type = orders::inventory_type();
  CHECK(type.name() == "inventory");
  CHECK(type.command_types() == std::set<std::string>{"add_stock", "release", "reserve", "ship"});
  CHECK(type.snapshot_every() == 100);
  CHECK(orders::inventory_type(0).snapshot_every() == 0);
  CHECK(orders::inventory_type(7).snapshot_every() == 7);
}

TEST_CASE("orders: an inventory snapshot (with its reservation map) round-trips", "[orders][inventory][snapshot]") {
  auto spec = inventory();
  spec.given({stock_added(10), reserved("o-1", 4), reserved("o-2", 3), shipped("o-1", 4)});
  const auto& type = spec.type();
  json::value snap = type.to_snapshot(spec.raw_state());
  CHECK(json::serialize(snap) == R"({"on_hand":6,"reserved":{"o-2":3}})");

  auto restored = type.from_snapshot(snap);
  REQUIRE(restored.has_value());
  CHECK(type.state_to_json(*restored) == spec.state());

  annals::Command c;
  c.aggregate = "inventory";
  c.id = "sku-A";
  c.command = "reserve";
  c.data = {{"order_id", "o-2"}, {"quantity", 1}};
  then_rejects(type.decide(*restored, c), "already_reserved");
  c.data = {{"order_id", "o-3"}, {"quantity", 4}};
  then_rejects(type.decide(*restored, c), "insufficient_stock");

  auto bad = type.from_snapshot(json::parse(R"({"on_hand": 6, "reserved": {"o-2": "three"}})"));
  CHECK_FALSE(bad.has_value());
}

// ============================================================================
// order
// ============================================================================

SCENARIO("orders: placing an order", "[orders][order]") {
  GIVEN("no history") {
    auto spec = order();
    WHEN("an order with two items is placed") {
      auto d = spec.when("place", place_data("ada", two_items));
      THEN("'order_placed' carries the customer and the items") { then_emits(d, {placed}); }
    }
    WHEN("an order with no items is placed") {
      THEN("the rejection is invalid_order") {
        CHECK(then_rejects(spec.when("place", place_data("ada", {})), "invalid_order")
              == "an order needs at least one item");
      }
    }
    WHEN("the customer is empty") {
      THEN("the rejection is invalid_order") {
        CHECK(then_rejects(spec.when("place", place_data("", two_items)), "invalid_order")
              == "customer must not be empty");
      }
    }
    WHEN("the second item's quantity is zero") {
      THEN("the rejection is invalid_order naming items[1].quantity") {
        CHECK(then_rejects(spec.when("place", place_data("ada", {item("sku-A", 1, 10), item("sku-B", 0, 10)})),
                           "invalid_order")
              == "items[1].quantity must be positive, got 0");
      }
    }
    WHEN("an item's quantity is negative") {
      THEN("the rejection is invalid_order") {
        then_rejects(spec.when("place", place_data("ada", {item("sku-A", -2, 10)})), "invalid_order");
      }
    }
    WHEN("an item's unit price is zero") {
      THEN("the rejection is invalid_order naming items[0].unit_price") {
        CHECK(then_rejects(spec.when("place", place_data("ada", {item("sku-A", 1, 0)})), "invalid_order")
              == "items[0].unit_price must be positive, got 0");
      }
    }
    WHEN("an item's unit price is negative") {
      THEN("the rejection is invalid_order") {
        CHECK(then_rejects(spec.when("place", place_data("ada", {item("sku-A", 1, -5)})), "invalid_order")
              == "items[0].unit_price must be positive, got -5");
      }
    }
    WHEN("an item has an empty sku") {
      THEN("the rejection is invalid_order") {
        CHECK(then_rejects(spec.when("place", place_data("ada", {item("", 1, 10)})), "invalid_order")
              == "items[0].sku must not be empty");
      }
    }
    WHEN("a sku is listed twice") {
      THEN("the rejection is invalid_order (one reservation per order and sku)") {
        CHECK(then_rejects(spec.when("place", place_data("ada", {item("sku-A", 1, 10), item("sku-A", 2, 10)})),
                           "invalid_order")
              == "items[1].sku 'sku-A' is listed twice");
      }
    }
  }
  GIVEN("a placed order") {
    auto spec = order();
    spec.given({placed});
    THEN("its state holds the customer and items") {
      CHECK(json::serialize(spec.state())
            == R"({"status":"placed","customer":"ada","items":[{"sku":"sku-A","quantity":2,"unit_price":150},)"
               R"({"sku":"sku-B","quantity":1,"unit_price":1000}]})");
    }
    WHEN("it is placed again") {
      THEN("the rejection is already_placed") {
        then_rejects(spec.when("place", place_data("bob", {item("sku-C", 1, 1)})), "already_placed");
      }
    }
  }
}

SCENARIO("orders: malformed items are invalid_command naming the item's field", "[orders][order]") {
  auto spec = order();
  WHEN("items[0].quantity is a string") {
    auto d = spec.when("place", place_data("ada", {json::object{{"sku", "sku-A"}, {"quantity", "two"}, {"unit_price", 150}}}));
    THEN("the message names items[0].quantity") {
      CHECK(then_rejects(d, "invalid_command") == "field 'items[0].quantity': expected integer, got string");
    }
  }
  WHEN("the second item has no sku") {
    auto d = spec.when("place", place_data("ada", {item("sku-A", 1, 1), json::object{{"quantity", 1}, {"unit_price", 1}}}));
    THEN("the message names items[1].sku") { CHECK(then_rejects(d, "invalid_command") == "missing field 'items[1].sku'"); }
  }
  WHEN("an item has an unknown field") {
    json::object extra = item("sku-A", 1, 1);
    extra["colour"] = "red";
    auto d = spec.when("place", place_data("ada", {extra}));
    THEN("the message names it") { CHECK(then_rejects(d, "invalid_command") == "unknown field 'items[0].colour'"); }
  }
  WHEN("items is not an array") {
    auto d = spec.when("place", {{"customer", "ada"}, {"items", "sku-A"}});
    THEN("the message says so") {
      CHECK(then_rejects(d, "invalid_command") == "field 'items': expected array, got string");
    }
  }
  WHEN("an item is not an object") {
    auto d = spec.when("place", place_data("ada", {42}));
    THEN("the message names items[0]") {
      CHECK(then_rejects(d, "invalid_command") == "field 'items[0]': expected object, got integer");
    }
  }
}

SCENARIO("orders: confirming an order", "[orders][order]") {
  GIVEN("an order never placed") {
    auto spec = order();
    THEN("confirm is not_placed") {
      CHECK(then_rejects(spec.when("confirm"), "not_placed") == "the order has not been placed");
    }
  }
  GIVEN("a placed order") {
    auto spec = order();
    spec.given({placed});
    THEN("confirm emits 'order_confirmed'") { then_emits(spec.when("confirm"), {confirmed}); }
  }
  GIVEN("a confirmed order") {
    auto spec = order();
    spec.given({placed, confirmed});
    CHECK(spec.state().at("status") == "confirmed");
    THEN("confirm again is already_confirmed") { then_rejects(spec.when("confirm"), "already_confirmed"); }
  }
  GIVEN("a shipped order") {
    auto spec = order();
    spec.given({placed, confirmed, order_shipped});
    THEN("confirm is already_confirmed") { then_rejects(spec.when("confirm"), "already_confirmed"); }
  }
  GIVEN("a cancelled order") {
    auto spec = order();
    spec.given({placed, cancelled("changed my mind")});
    THEN("confirm is order_cancelled") {
      CHECK(then_rejects(spec.when("confirm"), "order_cancelled") == "the order is cancelled");
    }
  }
}

SCENARIO("orders: cancelling an order", "[orders][order]") {
  GIVEN("an order never placed") {
    auto spec = order();
    THEN("cancel is not_placed") { then_rejects(spec.when("cancel", {{"reason", "x"}}), "not_placed"); }
  }
  GIVEN("a placed order") {
    auto spec = order();
    spec.given({placed});
    THEN("cancel emits 'order_cancelled' with the reason") {
      then_emits(spec.when("cancel", {{"reason", "out of stock"}}), {cancelled("out of stock")});
    }
  }
  GIVEN("a confirmed order") {
    auto spec = order();
    spec.given({placed, confirmed});
    THEN("cancel is still allowed") {
      then_emits(spec.when("cancel", {{"reason", "fraud"}}), {cancelled("fraud")});
    }
  }
  GIVEN("a cancelled order") {
    auto spec = order();
    spec.given({placed, cancelled("first")});
    CHECK(spec.state().at("status") == "cancelled");
    THEN("cancel again is order_cancelled") {
      then_rejects(spec.when("cancel", {{"reason", "second"}}), "order_cancelled");
    }
  }
  GIVEN("a shipped order") {
    auto spec = order();
    spec.given({placed, confirmed, order_shipped});
    THEN("cancel is already_shipped") {
      CHECK(then_rejects(spec.when("cancel", {{"reason", "late"}}), "already_shipped")
            == "a shipped order cannot be cancelled");
    }
  }
  GIVEN("a placed order and a cancel without a reason") {
    auto spec = order();
    spec.given({placed});
    THEN("the missing field is invalid_command") {
      CHECK(then_rejects(spec.when("cancel"), "invalid_command") == "missing field 'reason'");
    }
  }
}

SCENARIO("orders: marking an order shipped", "[orders][order]") {
  GIVEN("an order never placed") {
    auto spec = order();
    THEN("mark_shipped is not_placed") { then_rejects(spec.when("mark_shipped"), "not_placed"); }
  }
  GIVEN("a placed but unconfirmed order") {
    auto spec = order();
    spec.given({placed});
    THEN("mark_shipped is not_confirmed") {
      CHECK(then_rejects(spec.when("mark_shipped"), "not_confirmed") == "the order has not been confirmed");
    }
  }
  GIVEN("a confirmed order") {
    auto spec = order();
    spec.given({placed, confirmed});
    THEN("mark_shipped emits 'order_shipped'") { then_emits(spec.when("mark_shipped"), {order_shipped}); }
  }
  GIVEN("a shipped order") {
    auto spec = order();
    spec.given({placed, confirmed, order_shipped});
    CHECK(spec.state().at("status") == "shipped");
    THEN("mark_shipped again is already_shipped") { then_rejects(spec.when("mark_shipped"), "already_shipped"); }
  }
  GIVEN("a cancelled order") {
    auto spec = order();
    spec.given({placed, confirmed, cancelled("x")});
    THEN("mark_shipped is order_cancelled") { then_rejects(spec.when("mark_shipped"), "order_cancelled"); }
  }
}

TEST_CASE("orders: the order type knows its name, commands and snapshot interval", "[orders][order]") {
  auto type = orders::order_type();
  CHECK(type.name() == "order");
  CHECK(type.command_types() == std::set<std::string>{"cancel", "confirm", "mark_shipped", "place"});
  CHECK(type.snapshot_every() == 100);
  CHECK(orders::order_type(0).snapshot_every() == 0);
}

TEST_CASE("orders: an order snapshot (with its item vector) round-trips", "[orders][order][snapshot]") {
  auto spec = order();
  spec.given({placed, confirmed});
  const auto& type = spec.type();
  json::value snap = type.to_snapshot(spec.raw_state());
  CHECK(snap.at("status") == "confirmed");
  CHECK(snap.at("items").as_array().size() == 2);
  CHECK(snap.at("items").at(1).at("unit_price") == 1000);
  auto restored = type.from_snapshot(snap);
  REQUIRE(restored.has_value());
  CHECK(type.state_to_json(*restored) == spec.state());
  annals::Command c;
  c.aggregate = "order";
  c.id = "o-1";
  c.command = "confirm";
  then_rejects(type.decide(*restored, c), "already_confirmed");
}

// ============================================================================
// projections
// ============================================================================

namespace {

// Feeds hand-built events to a projection type, positions 1, 2, ...
class ProjectionSpec {
public:
  explicit ProjectionSpec(annals::ProjectionType type) : type_(std::move(type)), model_(type_.empty_model()) {}

  ProjectionSpec& given(const std::string& aggregate, const std::string& id, const EventSpec& spec) {
    annals::Event e;
    e.stream = {aggregate, id};
    e.version = ++versions_[e.stream.to_string()];
    e.position = ++position_;
    e.type = spec.first;
    e.data = spec.second;
    e.metadata.timestamp_us = 1'700'000'000'000'000 + e.position;
    type_.apply(model_, e);
    return *this;
  }

  annals::Expected<json::value> query(const std::string& name, json::object args) const {
    return type_.query(model_, name, args);
  }
  const annals::ProjectionType& type() const { return type_; }
  const std::any& model() const { return model_; }

private:
  annals::ProjectionType type_;
  std::any model_;
  std::map<std::string, std::int64_t> versions_;
  std::int64_t position_ = 0;
};

} // namespace

TEST_CASE("orders: order_summary denormalises each order", "[orders][projection]") {
  ProjectionSpec p(orders::order_summary_projection());
  CHECK(p.type().name() == "order_summary");
  CHECK(p.type().query_names() == std::set<std::string>{"by_customer", "order"});

  // o-2 first, so that by_customer's sorting is visible.
  p.given("order", "o-2", order_placed("ada", {item("sku-A", 4, 250)}));
  p.given("order", "o-1", placed);  // 2 x 150 + 1 x 1000
  p.given("order", "o-3", order_placed("bob", {item("sku-B", 1, 999)}));
  p.given("order", "o-1", confirmed);
  p.given("order", "o-2", cancelled("changed my mind"));
  // Not an order event: ignored.
  p.given("inventory", "sku-A", stock_added(100));

  SECTION("order {id} after confirmation") {
    auto o1 = p.query("order", {{"id", "o-1"}});
    REQUIRE(o1);
    CHECK(*o1 == json::parse(R"({"id": "o-1", "customer": "ada", "status": "confirmed",
      "items": [{"sku": "sku-A", "quantity": 2, "unit_price": 150, "line_total": 300},
                {"sku": "sku-B", "quantity": 1, "unit_price": 1000, "line_total": 1000}],
      "total": 1300, "item_count": 3})"));
  }
  SECTION("statuses follow the events") {
    CHECK(p.query("order", {{"id", "o-2"}})->at("status") == "cancelled");
    CHECK(p.query("order", {{"id", "o-2"}})->at("total") == 1000);
    CHECK(p.query("order", {{"id", "o-3"}})->at("status") == "placed");
    p.given("order", "o-1", order_shipped);
    CHECK(p.query("order", {{"id", "o-1"}})->at("status") == "shipped");
    CHECK(p.query("order", {{"id", "o-1"}})->at("total") == 1300);
  }
  SECTION("by_customer lists ids and totals sorted by id") {
    auto ada = p.query("by_customer", {{"customer", "ada"}});
    REQUIRE(ada);
    CHECK(*ada == json::parse(R"([{"id": "o-1", "total": 1300}, {"id": "o-2", "total": 1000}])"));
    CHECK(*p.query("by_customer", {{"customer", "bob"}}) == json::parse(R"([{"id": "o-3", "total": 999}])"));
    CHECK(*p.query("by_customer", {{"customer", "eve"}}) == json::value(json::array{}));
  }
  SECTION("unknown orders and bad arguments are errors") {
    auto none = p.query("order", {{"id", "o-9"}});
    REQUIRE_FALSE(none);
    CHECK(none.error().code == annals::errc::not_found);
    CHECK(none.error().message == "no order 'o-9'");
    auto bad = p.query("order", {{"id", 1}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == annals::errc::invalid_query);
    CHECK(bad.error().message == "field 'id': expected string, got integer");
    CHECK(p.query("by_customer", {}).error().code == annals::errc::invalid_query);
    CHECK(p.query("orders", {}).error().code == annals::errc::unknown_query);
  }
  SECTION("the read model round-trips through JSON (its snapshot form)") {
    auto copy = p.type().model_from_json(p.type().model_to_json(p.model()));
    REQUIRE(copy);
    CHECK(p.type().model_to_json(*copy) == p.type().model_to_json(p.model()));
    CHECK(*p.type().query(*copy, "order", {{"id", "o-1"}}) == *p.query("order", {{"id", "o-1"}}));
  }
}

TEST_CASE("orders: stock_levels tracks on_hand, reserved, available and shipped per SKU", "[orders][projection]") {
  ProjectionSpec p(orders::stock_levels_projection());
  CHECK(p.type().name() == "stock_levels");
  CHECK(p.type().query_names() == std::set<std::string>{"low_stock", "sku"});

  p.given("inventory", "sku-B", stock_added(5));
  p.given("inventory", "sku-A", stock_added(10));
  p.given("inventory", "sku-A", reserved("o-1", 3));
  p.given("inventory", "sku-A", reserved("o-2", 4));
  p.given("inventory", "sku-B", reserved("o-1", 2));
  p.given("inventory", "sku-A", released("o-2", 4));
  p.given("inventory", "sku-A", shipped("o-1", 3));
  p.given("inventory", "sku-C", stock_added(1));
  p.given("inventory", "sku-C", stock_added(2));
  // Not an inventory event: ignored.
  p.given("order", "o-1", placed);

  SECTION("sku {sku}") {
    CHECK(*p.query("sku", {{"sku", "sku-A"}})
          == json::parse(R"({"sku": "sku-A", "on_hand": 7, "reserved": 0, "available": 7, "shipped": 3})"));
    CHECK(*p.query("sku", {{"sku", "sku-B"}})
          == json::parse(R"({"sku": "sku-B", "on_hand": 5, "reserved": 2, "available": 3, "shipped": 0})"));
    CHECK(*p.query("sku", {{"sku", "sku-C"}})
          == json::parse(R"({"sku": "sku-C", "on_hand": 3, "reserved": 0, "available": 3, "shipped": 0})"));
  }
  SECTION("a SKU never seen is not_found") {
    auto none = p.query("sku", {{"sku", "sku-Z"}});
    REQUIRE_FALSE(none);
    CHECK(none.error().code == annals::errc::not_found);
    CHECK(none.error().message == "no sku 'sku-Z'");
  }
  SECTION("low_stock {below} lists SKUs whose available is below, sorted") {
    CHECK(*p.query("low_stock", {{"below", 3}}) == json::value(json::array{}));
    CHECK(*p.query("low_stock", {{"below", 4}})
          == json::parse(R"([{"sku": "sku-B", "available": 3}, {"sku": "sku-C", "available": 3}])"));
    CHECK(*p.query("low_stock", {{"below", 8}})
          == json::parse(R"([{"sku": "sku-A", "available": 7}, {"sku": "sku-B", "available": 3},
                            {"sku": "sku-C", "available": 3}])"));
    auto bad = p.query("low_stock", {{"below", "ten"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == annals::errc::invalid_query);
    CHECK(bad.error().message == "field 'below': expected integer, got string");
  }
  SECTION("the read model round-trips through JSON (its snapshot form)") {
    auto copy = p.type().model_from_json(p.type().model_to_json(p.model()));
    REQUIRE(copy);
    CHECK(*p.type().query(*copy, "low_stock", {{"below", 100}}) == *p.query("low_stock", {{"below", 100}}));
  }
}

TEST_CASE("orders: projections agree with the aggregates they follow", "[orders][projection]") {
  // The inventory state after a history, and stock_levels after the same
  // history, give the same available quantity.
  const std::vector<EventSpec> history{stock_added(20), reserved("o-1", 5), reserved("o-2", 6),
                                       shipped("o-1", 5), released("o-2", 6), reserved("o-3", 2),
                                       stock_added(1)};
  auto spec = inventory();
  spec.given(history);
  ProjectionSpec p(orders::stock_levels_projection());
  for (const auto& e : history) p.given("inventory", "sku-A", e);
  auto state = annals::decode<orders::Inventory>(spec.state());
  REQUIRE(state);
  auto level = p.query("sku", {{"sku", "sku-A"}});
  REQUIRE(level);
  CHECK(level->at("available") == orders::available(*state));
  CHECK(level->at("on_hand") == state->on_hand);
  CHECK(level->at("available") == 14);
  CHECK(level->at("reserved") == 2);
  CHECK(level->at("shipped") == 5);
}
