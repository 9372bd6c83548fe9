// annals::decode / annals::encode for described structs, and canonical_json.

#include <annals/json.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace jt {

struct Point {
  int x = 0;
  int y = 0;
};
BOOST_DESCRIBE_STRUCT(Point, (), (x, y))

struct Profile {
  std::string name;
  std::optional<std::string> nickname;
  std::optional<std::int64_t> age;
};
BOOST_DESCRIBE_STRUCT(Profile, (), (name, nickname, age))

struct Item {
  std::string sku;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(Item, (), (sku, quantity))

struct Address {
  std::string city;
  std::string zip;
};
BOOST_DESCRIBE_STRUCT(Address, (), (city, zip))

struct Order {
  std::string id;
  Address shipping;
  std::vector<Item> items;
  std::optional<std::string> note;
  bool express = false;
};
BOOST_DESCRIBE_STRUCT(Order, (), (id, shipping, items, note, express))

} // namespace jt

namespace json = annals::json;

namespace {

json::value parse(const char* text) { return json::parse(text); }

} // namespace

TEST_CASE("json decode: a complete described struct decodes into its members", "[json][decode]") {
  auto p = annals::decode<jt::Point>(parse(R"({"x": 3, "y": -7})"));
  REQUIRE(p.has_value());
  CHECK(p->x == 3);
  CHECK(p->y == -7);
}

TEST_CASE("json decode: a missing required field is an invalid_command naming the field", "[json][decode]") {
  auto p = annals::decode<jt::Point>(parse(R"({"x": 3})"));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == "invalid_command");
  CHECK(p.error().message == "missing field 'y'");
}

TEST_CASE("json decode: a field of the wrong type says which field, what was expected and what came",
          "[json][decode]") {
  auto p = annals::decode<jt::Point>(parse(R"({"x": "three", "y": 1})"));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == "invalid_command");
  CHECK(p.error().message == "field 'x': expected integer, got string");

  auto q = annals::decode<jt::Profile>(parse(R"({"name": 42})"));
  REQUIRE_FALSE(q.has_value());
  CHECK(q.error().message == "field 'name': expected string, got integer");

  auto r = annals::decode<jt::Order>(
    parse(R"({"id": "o1", "shipping": {"city": "Oslo", "zip": "0150"}, "items": [], "express": "yes"})"));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "field 'express': expected boolean, got string");
}

TEST_CASE("json decode: the input must be an object for a described struct", "[json][decode]") {
  auto p = annals::decode<jt::Point>(parse("[1, 2]"));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == "invalid_command");
  CHECK(p.error().message == "data: expected object, got array");
}

TEST_CASE("json decode: an unknown field is rejected and named", "[json][decode]") {
  auto p = annals::decode<jt::Point>(parse(R"({"x": 1, "y": 2, "z": 3})"));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == "invalid_command");
  CHECK(p.error().message == "unknown field 'z'");

  // Also next to absent optional members (the count of known fields is lower).
  auto q = annals::decode<jt::Profile>(parse(R"({"name": "Ada", "nick": "a"})"));
  REQUIRE_FALSE(q.has_value());
  CHECK(q.error().message == "unknown field 'nick'");
}

TEST_CASE("json decode: std::optional members may be absent or null", "[json][decode][optional]") {
  SECTION("absent") {
    auto p = annals::decode<jt::Profile>(parse(R"({"name": "Ada"})"));
    REQUIRE(p.has_value());
    CHECK(p->name == "Ada");
    CHECK_FALSE(p->nickname.has_value());
    CHECK_FALSE(p->age.has_value());
  }
  SECTION("null") {
    auto p = annals::decode<jt::Profile>(parse(R"({"name": "Ada", "nickname": null, "age": null})"));
    REQUIRE(p.has_value());
    CHECK_FALSE(p->nickname.has_value());
    CHECK_FALSE(p->age.has_value());
  }
  SECTION("present") {
    auto p = annals::decode<jt::Profile>(parse(R"({"name": "Ada", "nickname": "countess", "age": 36})"));
    REQUIRE(p.has_value());
    REQUIRE(p->nickname.has_value());
    CHECK(*p->nickname == "countess");
    REQUIRE(p->age.has_value());
    CHECK(*p->age == 36);
  }
  SECTION("present with the wrong type is still an error") {
    auto p = annals::decode<jt::Profile>(parse(R"({"name": "Ada", "age": "old"})"));
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().message == "field 'age': expected integer, got string");
  }
}

TEST_CASE("json decode: nested structs and vectors appear as paths in error messages", "[json][decode][nested]") {
  SECTION("a wrong type inside a vector element") {
    auto o = annals::decode<jt::Order>(parse(R"({
      "id": "o1", "shipping": {"city": "Oslo", "zip": "0150"},
      "items": [{"sku": "A", "quantity": 1}, {"sku": 7, "quantity": 2}], "express": false})"));
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().code == "invalid_command");
    CHECK(o.error().message == "field 'items[1].sku': expected string, got integer");
  }
  SECTION("a missing field inside a vector element") {
    auto o = annals::decode<jt::Order>(parse(R"({
      "id": "o1", "shipping": {"city": "Oslo", "zip": "0150"},
      "items": [{"sku": "A", "quantity": 1}, {"sku": "B"}], "express": false})"));
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().message == "missing field 'items[1].quantity'");
  }
  SECTION("an unknown field inside a nested struct") {
    auto o = annals::decode<jt::Order>(parse(R"({
      "id": "o1", "shipping": {"city": "Oslo", "zip": "0150", "street": "x"},
      "items": [], "express": false})"));
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().message == "unknown field 'shipping.street'");
  }
  SECTION("a missing field inside a nested struct") {
    auto o = annals::decode<jt::Order>(parse(R"({
      "id": "o1", "shipping": {"city": "Oslo"}, "items": [], "express": false})"));
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().message == "missing field 'shipping.zip'");
  }
  SECTION("a vector that is not an array") {
    auto o = annals::decode<jt::Order>(parse(R"({
      "id": "o1", "shipping": {"city": "Oslo", "zip": "0150"}, "items": {}, "express": false})"));
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().message == "field 'items': expected array, got object");
  }
  SECTION("a nested struct that is not an object") {
    auto o = annals::decode<jt::Order>(parse(R"({
      "id": "o1", "shipping": "Oslo", "items": [], "express": false})"));
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().message == "field 'shipping': expected object, got string");
  }
  SECTION("a valid nested document decodes completely") {
    auto o = annals::decode<jt::Order>(parse(R"({
      "id": "o1", "shipping": {"city": "Oslo", "zip": "0150"},
      "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 5}], "express": true})"));
    REQUIRE(o.has_value());
    CHECK(o->id == "o1");
    CHECK(o->shipping.city == "Oslo");
    CHECK(o->shipping.zip == "0150");
    REQUIRE(o->items.size() == 2);
    CHECK(o->items[1].sku == "B");
    CHECK(o->items[1].quantity == 5);
    CHECK_FALSE(o->note.has_value());
    CHECK(o->express);
  }
}

TEST_CASE("json decode: an integer that does not fit the member's type is an error", "[json][decode]") {
  SECTION("int64 too large for int") {
    auto p = annals::decode<jt::Point>(parse(R"({"x": 4294967296, "y": 0})"));
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().code == "invalid_command");
    CHECK(p.error().message == "field 'x': expected an integer that fits, got 4294967296");
  }
  SECTION("int64 too small for int") {
    auto p = annals::decode<jt::Point>(parse(R"({"x": 0, "y": -2147483649})"));
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().message == "field 'y': expected an integer that fits, got -2147483649");
  }
  SECTION("the largest int still fits") {
    auto p = annals::decode<jt::Point>(parse(R"({"x": 2147483647, "y": -2147483648})"));
    REQUIRE(p.has_value());
    CHECK(p->x == 2147483647);
    CHECK(p->y == -2147483647 - 1);
  }
}

TEST_CASE("json encode: empty optionals are left out and present ones written", "[json][encode]") {
  jt::Profile p{"Ada", std::nullopt, 36};
  json::value v = annals::encode(p);
  REQUIRE(v.is_object());
  const auto& o = v.get_object();
  CHECK(o.size() == 2);
  CHECK(o.at("name") == "Ada");
  CHECK(o.at("age") == 36);
  CHECK_FALSE(o.contains("nickname"));
}

TEST_CASE("json encode: a nested struct round-trips through decode", "[json][encode]") {
  jt::Order in;
  in.id = "o-42";
  in.shipping = {"Bergen", "5003"};
  in.items = {{"A", 1}, {"B", 99}};
  in.note = "leave at the door";
  in.express = true;

  json::value v = annals::encode(in);
  CHECK(annals::canonical_json(v)
        == R"({"express":true,"id":"o-42","items":[{"quantity":1,"sku":"A"},{"quantity":99,"sku":"B"}],)"
           R"("note":"leave at the door","shipping":{"city":"Bergen","zip":"5003"}})");

  auto out = annals::decode<jt::Order>(v);
  REQUIRE(out.has_value());
  CHECK(out->id == in.id);
  CHECK(out->shipping.city == "Bergen");
  CHECK(out->shipping.zip == "5003");
  REQUIRE(out->items.size() == 2);
  CHECK(out->items[0].sku == "A");
  CHECK(out->items[1].quantity == 99);
  REQUIRE(out->note.has_value());
  CHECK(*out->note == "leave at the door");
  CHECK(out->express);
  CHECK(annals::encode(*out) == v);
}

TEST_CASE("json encode: a struct without its optionals round-trips without them", "[json][encode]") {
  jt::Profile in{"Grace", std::nullopt, std::nullopt};
  json::value v = annals::encode(in);
  CHECK(json::serialize(v) == R"({"name":"Grace"})");
  auto out = annals::decode<jt::Profile>(v);
  REQUIRE(out.has_value());
  CHECK(out->name == "Grace");
  CHECK_FALSE(out->nickname.has_value());
  CHECK_FALSE(out->age.has_value());
}

TEST_CASE("canonical_json: objects with different key order give identical text", "[json][canonical]") {
  json::value a = parse(R"({"b": 1, "a": {"z": [ {"q": 1, "p": 2} ], "y": null}, "c": "x"})");
  json::value b = parse(R"({"c": "x", "a": {"y": null, "z": [ {"p": 2, "q": 1} ]}, "b": 1})");
  CHECK(json::serialize(a) != json::serialize(b));
  CHECK(annals::canonical_json(a) == annals::canonical_json(b));
  CHECK(annals::canonical_json(a) == R"({"a":{"y":null,"z":[{"p":2,"q":1}]},"b":1,"c":"x"})");
}

TEST_CASE("canonical_json: different documents give different text", "[json][canonical]") {
  CHECK(annals::canonical_json(parse(R"({"a": 1, "b": 2})"))
        != annals::canonical_json(parse(R"({"a": 1, "b": 3})")));
  // Array order is meaningful and is kept.
  CHECK(annals::canonical_json(parse("[1, 2]")) != annals::canonical_json(parse("[2, 1]")));
  CHECK(annals::canonical_json(parse(R"({"a": {"x": 1}})"))
        != annals::canonical_json(parse(R"({"a": {"x": "1"}})")));
}

TEST_CASE("json_kind names every JSON kind", "[json]") {
  CHECK(std::string(annals::json_kind(json::value(nullptr))) == "null");
  CHECK(std::string(annals::json_kind(json::value(true))) == "boolean");
  CHECK(std::string(annals::json_kind(json::value(-1))) == "integer");
  CHECK(std::string(annals::json_kind(json::value(std::uint64_t{1} << 63))) == "integer");
  CHECK(std::string(annals::json_kind(json::value(1.5))) == "number");
  CHECK(std::string(annals::json_kind(json::value("s"))) == "string");
  CHECK(std::string(annals::json_kind(json::array{})) == "array");
  CHECK(std::string(annals::json_kind(json::object{})) == "object");
}

TEST_CASE("plain_json writes doubles as plain decimals that read back as the same value", "[json][plain]") {
  // Boost.JSON's serializer writes 8.153430866745283E-1, 1.5E0, 2E3.
  CHECK(annals::plain_json(json::value(0.8153430866745283)) == "0.8153430866745283");
  CHECK(annals::plain_json(json::value(1.5)) == "1.5");
  CHECK(annals::plain_json(json::value(2000.0)) == "2000.0");
  CHECK(annals::plain_json(json::value(-0.000125)) == "-0.000125");
  CHECK(annals::plain_json(json::value(0.0)) == "0.0");
  // Beyond JavaScript's plain range, the exponent form (readers parse 330 digits imprecisely).
  CHECK(annals::plain_json(json::value(1e21)) == "1e+21");
  CHECK(annals::plain_json(json::value(5e-324)) == "5e-324");
  CHECK(annals::plain_json(json::value(1.7976931348623157e308)) == "1.7976931348623157e+308");
  CHECK(annals::plain_json(json::value(std::numeric_limits<double>::infinity())) == "null");
  CHECK(annals::plain_json(json::value(std::nan(""))) == "null");
  // Everything else is written as json::serialize writes it.
  const auto doc = json::parse(R"({"n":3,"big":18446744073709551615,"s":"a\"b\u00e9\n","list":[true,null,0.25],"o":{}})");
  CHECK(annals::plain_json(doc) == R"({"n":3,"big":18446744073709551615,"s":"a\"b)" "\xc3\xa9" R"(\n","list":[true,null,0.25],"o":{}})");
  for (double d : {0.1 + 0.2, 1.0 / 3.0, 0.000001, 123456.789, 4.5e20}) {
    INFO(d);
    const auto text = annals::plain_json(json::value(d));
    CHECK(text.find_first_of("eE") == std::string::npos);
    CHECK(json::parse(text).to_number<double>() == d);
  }
  for (double d : {5e-324, 1.7976931348623157e308, 1e-7})
    CHECK(json::parse(annals::plain_json(json::value(d))).to_number<double>() == d);
}
