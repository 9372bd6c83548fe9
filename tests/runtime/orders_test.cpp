// The orders example end to end: a Runtime on SQLite with the inventory and
// order aggregates and their projections. The caller does the saga's work:
// it reserves stock per item, then confirms; on cancellation it releases.

#include "runtime_fixture.hpp"

#include <orders/inventory.hpp>
#include <orders/order.hpp>
#include <orders/projections.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using namespace annals;
using namespace annals::test;

namespace {

Command inventory_command(const std::string& sku, const std::string& type, json::object data = {}) {
  Command c;
  c.aggregate = "inventory";
  c.id = sku;
  c.command = type;
  c.data = std::move(data);
  return c;
}
Command add_stock(const std::string& sku, std::int64_t q) { return inventory_command(sku, "add_stock", {{"quantity", q}}); }
Command reserve(const std::string& sku, const std::string& order, std::int64_t q) {
  return inventory_command(sku, "reserve", {{"order_id", order}, {"quantity", q}});
}
Command release(const std::string& sku, const std::string& order) {
  return inventory_command(sku, "release", {{"order_id", order}});
}
Command ship(const std::string& sku, const std::string& order) {
  return inventory_command(sku, "ship", {{"order_id", order}});
}

Command order_command(const std::string& id, const std::string& type, json::object data = {}) {
  Command c;
  c.aggregate = "order";
  c.id = id;
  c.command = type;
  c.data = std::move(data);
  return c;
}
json::object item(const std::string& sku, std::int64_t quantity, std::int64_t unit_price) {
  return {{"sku", sku}, {"quantity", quantity}, {"unit_price", unit_price}};
}
Command place(const std::string& id, const std::string& customer, json::array items) {
  return order_command(id, "place", {{"customer", customer}, {"items", std::move(items)}});
}

std::unique_ptr<Runtime> orders_runtime(RuntimeOptions o, int snapshot_every = 100) {
  auto rt = std::make_unique<Runtime>(std::move(o));
  rt->register_aggregate(orders::inventory_type(snapshot_every));
  rt->register_aggregate(orders::order_type(snapshot_every));
  rt->register_projection(orders::order_summary_projection());
  rt->register_projection(orders::stock_levels_projection());
  return rt;
}

// Runs a command that must be accepted; returns its result.
CommandResult ok(Runtime& rt, Command c) {
  const std::string what = c.stream().to_string() + " " + c.command;
  auto r = rt.execute(std::move(c));
  INFO(what << ": " << to_string(r.status) << " " << r.code() << (r.error ? ": " + r.error->message : ""));
  REQUIRE(r.accepted());
  REQUIRE(r.position > 0);
  return r;
}

// The checkout flow of the scenario below; returns the last command's result.
//   sku-A: +10, o-1 reserves 3 (shipped), o-2 reserves 4 (released)
//   sku-B: +5,  o-1 reserves 2 (shipped), o-3 reserves 1 (still held)
CommandResult checkout(Runtime& rt) {
  ok(rt, add_stock("sku-A", 10));
  ok(rt, add_stock("sku-B", 5));

  // o-1: place, reserve each item, confirm.
  ok(rt, place("o-1", "ada", {item("sku-A", 3, 250), item("sku-B", 2, 1000)}));
  ok(rt, reserve("sku-A", "o-1", 3));
  ok(rt, reserve("sku-B", "o-1", 2));
  ok(rt, order_command("o-1", "confirm"));

  // o-2: placed and reserved, then cancelled and its reservation released.
  ok(rt, place("o-2", "ada", {item("sku-A", 4, 250)}));
  ok(rt, reserve("sku-A", "o-2", 4));
  ok(rt, order_command("o-2", "cancel", {{"reason", "customer request"}}));
  auto released = ok(rt, release("sku-A", "o-2"));
  REQUIRE(released.events.size() == 1);
  CHECK(released.events[0].type == "reservation_released");
  CHECK(released.events[0].data == json::parse(R"({"order_id": "o-2", "quantity": 4})"));

  // o-3: placed and reserved, left as it is.
  ok(rt, place("o-3", "bob", {item("sku-B", 1, 1000)}));
  ok(rt, reserve("sku-B", "o-3", 1));

  // o-1 ships: stock leaves per item, then the order is marked.
  auto shipped = ok(rt, ship("sku-A", "o-1"));
  CHECK(shipped.events.at(0).data == json::parse(R"({"order_id": "o-1", "quantity": 3})"));
  ok(rt, ship("sku-B", "o-1"));
  return ok(rt, order_command("o-1", "mark_shipped"));
}

const char* const o1_shipped = R"({"id": "o-1", "customer": "ada", "status": "shipped",
  "items": [{"sku": "sku-A", "quantity": 3, "unit_price": 250, "line_total": 750},
            {"sku": "sku-B", "quantity": 2, "unit_price": 1000, "line_total": 2000}],
  "total": 2750, "item_count": 5})";
const char* const sku_a = R"({"sku": "sku-A", "on_hand": 7, "reserved": 0, "available": 7, "shipped": 3})";
const char* const sku_b = R"({"sku": "sku-B", "on_hand": 3, "reserved": 1, "available": 2, "shipped": 2})";

} // namespace

TEST_CASE_METHOD(RuntimeFixture, "orders: checkout end to end, queries at the last position show it exactly") {
  auto rt = orders_runtime(options());
  const auto last = checkout(*rt);
  CHECK(rt->head_position() == last.position);
  CHECK(last.position == 15);

  auto q = [&](const std::string& projection, const std::string& name, json::object args) {
    auto r = rt->query(projection, name, std::move(args), last.position);
    INFO(projection << "." << name << ": " << (r ? std::string() : r.error().code + ": " + r.error().message));
    REQUIRE(r);
    return *r;
  };

  SECTION("order summaries") {
    CHECK(q("order_summary", "order", {{"id", "o-1"}}) == json::parse(o1_shipped));
    CHECK(q("order_summary", "order", {{"id", "o-2"}}) == json::parse(R"({"id": "o-2", "customer": "ada",
      "status": "cancelled", "items": [{"sku": "sku-A", "quantity": 4, "unit_price": 250, "line_total": 1000}],
      "total": 1000, "item_count": 4})"));
    CHECK(q("order_summary", "order", {{"id", "o-3"}}).at("status") == "placed");
    CHECK(q("order_summary", "by_customer", {{"customer", "ada"}})
          == json::parse(R"([{"id": "o-1", "total": 2750}, {"id": "o-2", "total": 1000}])"));
    CHECK(q("order_summary", "by_customer", {{"customer", "bob"}}) == json::parse(R"([{"id": "o-3", "total": 1000}])"));
    auto none = rt->query("order_summary", "order", {{"id", "o-9"}}, last.position);
    REQUIRE_FALSE(none);
    CHECK(none.error().code == errc::not_found);
  }
  SECTION("stock levels") {
    CHECK(q("stock_levels", "sku", {{"sku", "sku-A"}}) == json::parse(sku_a));
    CHECK(q("stock_levels", "sku", {{"sku", "sku-B"}}) == json::parse(sku_b));
    CHECK(q("stock_levels", "low_stock", {{"below", 3}}) == json::parse(R"([{"sku": "sku-B", "available": 2}])"));
    CHECK(q("stock_levels", "low_stock", {{"below", 8}})
          == json::parse(R"([{"sku": "sku-A", "available": 7}, {"sku": "sku-B", "available": 2}])"));
    auto none = rt->query("stock_levels", "sku", {{"sku", "sku-Z"}}, last.position);
    REQUIRE_FALSE(none);
    CHECK(none.error().code == errc::not_found);
  }
  SECTION("the aggregates' own states agree") {
    auto a = rt->inspect("inventory", "sku-A");
    auto b = rt->inspect("inventory", "sku-B");
    auto o1 = rt->inspect("order", "o-1");
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(o1);
    CHECK(a->version == 5);  // added, reserved twice, released, shipped
    CHECK(a->state == json::parse(R"({"on_hand": 7, "reserved": {}})"));
    CHECK(b->version == 4);
    CHECK(b->state == json::parse(R"({"on_hand": 3, "reserved": {"o-3": 1}})"));
    CHECK(o1->version == 3);
    CHECK(o1->state.at("status") == "shipped");
  }
  SECTION("an over-reservation is rejected with insufficient_stock and changes nothing") {
    REQUIRE(caught_up(*rt, "stock_levels"));
    const auto head = rt->head_position();
    const auto before = rt->inspect("inventory", "sku-B");
    REQUIRE(before);

    auto r = rt->execute(reserve("sku-B", "o-4", 3));  // only 2 available
    CHECK(r.rejected());
    CHECK(r.code() == "insufficient_stock");
    REQUIRE(r.error);
    CHECK(r.error->message == "available 2 is less than 3");
    CHECK(r.events.empty());

    CHECK(rt->head_position() == head);
    CHECK(stored_events() == head);
    auto after = rt->inspect("inventory", "sku-B");
    REQUIRE(after);
    CHECK(after->version == before->version);
    CHECK(after->state == before->state);
    CHECK(*rt->query("stock_levels", "sku", {{"sku", "sku-B"}}, head) == json::parse(sku_b));

    SECTION("reserving what is available still works") {
      auto fits = ok(*rt, reserve("sku-B", "o-4", 2));
      CHECK(fits.position == head + 1);
      CHECK(*rt->query("stock_levels", "sku", {{"sku", "sku-B"}}, fits.position)
            == json::parse(R"({"sku": "sku-B", "on_hand": 3, "reserved": 3, "available": 0, "shipped": 2})"));
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "orders: a restarted runtime recovers the aggregates from snapshots and rebuilds the read models") {
  json::value sku_a_state, sku_b_state, o1_state;
  std::int64_t last_position = 0;
  {
    auto rt = orders_runtime(options(), /*snapshot_every=*/2);
    last_position = checkout(*rt).position;
    sku_a_state = rt->inspect("inventory", "sku-A")->state;
    sku_b_state = rt->inspect("inventory", "sku-B")->state;
    o1_state = rt->inspect("order", "o-1")->state;
  }
  // Snapshots of both aggregate types, maps and vectors included, are in the file.
  auto store = open_sqlite_store({db});
  auto snap_a = store->load_snapshot({"inventory", "sku-A"});
  auto snap_o1 = store->load_snapshot({"order", "o-1"});
  REQUIRE(snap_a);
  REQUIRE(snap_o1);
  CHECK(snap_a->version == 4);
  CHECK(snap_a->state == json::parse(R"({"on_hand": 10, "reserved": {"o-1": 3}})"));
  CHECK(snap_o1->version == 2);
  CHECK(snap_o1->state.at("status") == "confirmed");
  CHECK(snap_o1->state.at("items").as_array().size() == 2);

  auto rt = orders_runtime(options(), 2);
  auto a = rt->inspect("inventory", "sku-A");
  REQUIRE(a);
  CHECK(a->version == 5);
  CHECK(a->state == sku_a_state);
  CHECK(rt->inspect("inventory", "sku-B")->state == sku_b_state);
  CHECK(rt->inspect("order", "o-1")->state == o1_state);

  // The read models, rebuilt from the store, answer as before.
  auto o1 = rt->query("order_summary", "order", {{"id", "o-1"}}, last_position);
  REQUIRE(o1);
  CHECK(*o1 == json::parse(o1_shipped));
  auto b = rt->query("stock_levels", "sku", {{"sku", "sku-B"}}, last_position);
  REQUIRE(b);
  CHECK(*b == json::parse(sku_b));

  // The recovered state decides: o-3 still holds 1 of sku-B, o-1 nothing.
  auto again = rt->execute(reserve("sku-B", "o-3", 1));
  CHECK(again.code() == "already_reserved");
  auto gone = rt->execute(release("sku-A", "o-1"));
  CHECK(gone.code() == "not_reserved");
  auto late = rt->execute(order_command("o-2", "confirm"));
  CHECK(late.code() == "order_cancelled");
}
