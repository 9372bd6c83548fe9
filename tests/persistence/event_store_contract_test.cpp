// The EventStore contract: every case runs against every backend of
// store_backends.hpp (in memory, SQLite), which must behave the same.

#include "store_backends.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace json = annals::json;
using annals::AppendOutcome;
using annals::AppendRequest;
using annals::Event;
using annals::EventStore;
using annals::NewEvent;
using annals::StreamId;
using annals::test::StoreOptions;

namespace {

const StreamId acc1{"account", "acc-1"};
const StreamId acc2{"account", "acc-2"};

NewEvent ev(const std::string& type, json::value data) { return NewEvent{type, 1, std::move(data)}; }
NewEvent deposited(std::int64_t amount) { return ev("deposited", json::object{{"amount", amount}}); }

AppendRequest request(const StreamId& s, std::int64_t expected, std::vector<NewEvent> events,
                      std::optional<std::string> key = std::nullopt, std::string fingerprint = "") {
  AppendRequest r;
  r.stream = s;
  r.expected_version = expected;
  r.events = std::move(events);
  r.metadata.correlation_id = "corr-" + s.id;
  r.metadata.causation_id = "cmd-" + s.id + "-" + std::to_string(expected);
  r.metadata.principal = "tester";
  r.idempotency_key = std::move(key);
  r.fingerprint = std::move(fingerprint);
  return r;
}

// Appends one request and requires it to succeed.
annals::AppendResult append_ok(EventStore& store, AppendRequest r) {
  auto out = store.append({std::move(r)});
  REQUIRE(out.size() == 1);
  INFO((out[0] ? std::string("ok") : annals::to_string(out[0].error())));
  REQUIRE(out[0].has_value());
  return *out[0];
}

std::vector<std::int64_t> versions_of(const std::vector<Event>& evs) {
  std::vector<std::int64_t> v;
  for (const auto& e : evs) v.push_back(e.version);
  return v;
}
std::vector<std::int64_t> amounts_of(const std::vector<Event>& evs) {
  std::vector<std::int64_t> v;
  for (const auto& e : evs) v.push_back(e.data.at("amount").as_int64());
  return v;
}

constexpr std::size_t all = 1000;

// Each number of a flat object as "name:kind:value", so that an int64 1 and
// a uint64 1 (equal for json::value's ==) or a double 1.0 differ.
std::vector<std::string> number_kinds(const json::value& data) {
  std::vector<std::string> out;
  for (const auto& [name, v] : data.as_object()) {
    const std::string n(name);
    if (v.is_int64()) out.push_back(n + ":int64:" + std::to_string(v.get_int64()));
    else if (v.is_uint64()) out.push_back(n + ":uint64:" + std::to_string(v.get_uint64()));
    else if (v.is_double()) out.push_back(n + ":double:" + json::serialize(v));
    else out.push_back(n + ":" + json::serialize(v));
  }
  return out;
}

} // namespace

STORE_CONTRACT_TEST("event store: an empty store has no events, no head and no streams", "[store][contract]") {
  auto s = TestType::open({});
  auto store = s.connect();
  CHECK(store->head_position() == 0);
  CHECK(store->event_count() == 0);
  CHECK(store->stream_version(acc1) == 0);
  CHECK(store->read_all(0, all).empty());
  CHECK(store->read_stream(acc1, 1, all).empty());
  CHECK_FALSE(store->find_idempotency_key("nope").has_value());
}

STORE_CONTRACT_TEST("event store: appending to a new stream gives versions 1..n and increasing positions",
          "[store][contract]") {
  auto s = TestType::open({});
  auto store = s.connect();

  auto r = append_ok(*store, request(acc1, 0,
                                     {ev("opened", json::object{{"owner", "Ada"}}), deposited(100),
                                      NewEvent{"audited", 3, json::array{1, "two", nullptr}}}));
  CHECK(r.version == 3);
  CHECK_FALSE(r.replay.has_value());
  REQUIRE(r.events.size() == 3);
  CHECK(versions_of(r.events) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(r.events[0].position >= 1);
  CHECK(r.events[1].position > r.events[0].position);
  CHECK(r.events[2].position > r.events[1].position);
  CHECK(r.events[0].metadata.timestamp_us > 0);

  CHECK(store->head_position() == r.events[2].position);
  CHECK(store->stream_version(acc1) == 3);
  CHECK(store->stream_version(acc2) == 0);
  CHECK(store->event_count() == 3);

  auto check_read = [&](const std::vector<Event>& got) {
    REQUIRE(got.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      INFO("event " << i);
      CHECK(got[i].stream == acc1);
      CHECK(got[i].version == r.events[i].version);
      CHECK(got[i].position == r.events[i].position);
      CHECK(got[i].metadata.correlation_id == "corr-acc-1");
      CHECK(got[i].metadata.causation_id == "cmd-acc-1-0");
      CHECK(got[i].metadata.principal == "tester");
      CHECK(got[i].metadata.timestamp_us > 0);
      CHECK(got[i].metadata.timestamp_us == r.events[i].metadata.timestamp_us);
    }
    CHECK(got[0].type == "opened");
    CHECK(got[0].schema_version == 1);
    CHECK(json::serialize(got[0].data) == R"({"owner":"Ada"})");
    CHECK(got[1].type == "deposited");
    CHECK(got[1].data.at("amount") == 100);
    CHECK(got[2].type == "audited");
    CHECK(got[2].schema_version == 3);
    CHECK(json::serialize(got[2].data) == R"([1,"two",null])");
  };
  SECTION("read_stream") { check_read(store->read_stream(acc1, 1, all)); }
  SECTION("read_all") { check_read(store->read_all(0, all)); }

  SECTION("a second append continues the stream") {
    auto r2 = append_ok(*store, request(acc1, 3, {deposited(5)}));
    CHECK(r2.version == 4);
    REQUIRE(r2.events.size() == 1);
    CHECK(r2.events[0].version == 4);
    CHECK(r2.events[0].position > r.events[2].position);
    CHECK(store->stream_version(acc1) == 4);
    CHECK(store->head_position() == r2.events[0].position);
  }
  SECTION("another stream starts at version 1 but continues the positions") {
    auto r2 = append_ok(*store, request(acc2, 0, {deposited(7), deposited(8)}));
    CHECK(versions_of(r2.events) == std::vector<std::int64_t>{1, 2});
    CHECK(r2.events[0].position > r.events[2].position);
    CHECK(store->stream_version(acc1) == 3);
    CHECK(store->stream_version(acc2) == 2);
    CHECK(store->event_count() == 5);
    CHECK(amounts_of(store->read_stream(acc2, 1, all)) == std::vector<std::int64_t>{7, 8});
  }
}

STORE_CONTRACT_TEST("event store: a stale expected_version is a concurrency_conflict and writes nothing",
          "[store][contract]") {
  auto s = TestType::open({});
  auto store = s.connect();
  append_ok(*store, request(acc1, 0, {deposited(1), deposited(2)}));
  const auto head = store->head_position();

  SECTION("behind the stream") {
    auto out = store->append({request(acc1, 1, {deposited(3)})});
    REQUIRE(out.size() == 1);
    REQUIRE_FALSE(out[0].has_value());
    CHECK(out[0].error().code == "concurrency_conflict");
    CHECK_THAT(out[0].error().message, Catch::Contains("account/acc-1 is at version 2"));
  }
  SECTION("ahead of the stream") {
    auto out = store->append({request(acc1, 5, {deposited(3)})});
    REQUIRE_FALSE(out.at(0).has_value());
    CHECK(out[0].error().code == "concurrency_conflict");
  }
  SECTION("a new stream expected to exist") {
    auto out = store->append({request(acc2, 1, {deposited(3)})});
    REQUIRE_FALSE(out.at(0).has_value());
    CHECK(out[0].error().code == "concurrency_conflict");
    CHECK(store->stream_version(acc2) == 0);
  }
  CHECK(store->stream_version(acc1) == 2);
  CHECK(store->head_position() == head);
  CHECK(store->event_count() == 2);
  CHECK(amounts_of(store->read_stream(acc1, 1, all)) == std::vector<std::int64_t>{1, 2});
}

STORE_CONTRACT_TEST("event store: a batch with a stale append and an oversized event commits the others",
          "[store][contract][batch]") {
  auto s = TestType::open(StoreOptions{64});
  auto store = s.connect();
  append_ok(*store, request(acc2, 0, {deposited(1)}));  // acc-2 is at version 1

  const StreamId acc3{"account", "acc-3"};
  const StreamId acc4{"account", "acc-4"};
  std::vector<AppendRequest> batch{
    request(acc1, 0, {deposited(10), deposited(11)}),                           // good
    request(acc2, 0, {deposited(20)}),                                          // stale
    request(acc3, 0, {deposited(30), ev("memo", json::object{{"text", std::string(100, 'x')}})}),  // too large
    request(acc4, 0, {deposited(40)}),                                          // good
  };
  auto out = store->append(batch);
  REQUIRE(out.size() == 4);

  REQUIRE(out[0].has_value());
  CHECK(versions_of(out[0]->events) == std::vector<std::int64_t>{1, 2});
  REQUIRE_FALSE(out[1].has_value());
  CHECK(out[1].error().code == "concurrency_conflict");
  REQUIRE_FALSE(out[2].has_value());
  CHECK(out[2].error().code == "payload_too_large");
  CHECK_THAT(out[2].error().message, Catch::Contains("'memo'") && Catch::Contains("the limit is 64"));
  REQUIRE(out[3].has_value());
  CHECK(versions_of(out[3]->events) == std::vector<std::int64_t>{1});
  CHECK(out[3]->events[0].position > out[0]->events[1].position);

  // Exactly the good appends are stored, nothing of the failed ones (not even
  // acc-3's first, small event).
  CHECK(store->event_count() == 4);
  CHECK(amounts_of(store->read_stream(acc1, 1, all)) == std::vector<std::int64_t>{10, 11});
  CHECK(amounts_of(store->read_stream(acc2, 1, all)) == std::vector<std::int64_t>{1});
  CHECK(store->read_stream(acc3, 1, all).empty());
  CHECK(store->stream_version(acc3) == 0);
  CHECK(amounts_of(store->read_stream(acc4, 1, all)) == std::vector<std::int64_t>{40});
  CHECK(amounts_of(store->read_all(0, all)) == std::vector<std::int64_t>{1, 10, 11, 40});
  CHECK(store->head_position() == out[3]->events[0].position);
}

STORE_CONTRACT_TEST("event store: the append rules give the same codes and messages in every backend",
                    "[store][contract][batch]") {
  auto s = TestType::open(StoreOptions{64});
  auto store = s.connect();
  append_ok(*store, request(acc1, 0, {deposited(1)}, std::string("key-K"), "fp-1"));

  NewEvent not_a_number = ev("measured", json::object{{"value", std::numeric_limits<double>::quiet_NaN()}});
  auto out = store->append({
    request(acc2, 0, {deposited(2)}, std::string("key-K"), "fp-2"),            // key reused
    request(acc1, 3, {deposited(3)}),                                          // stale
    request(acc2, 0, {deposited(4), ev("memo", json::object{{"text", std::string(100, 'x')}})}),  // too large
    request(acc2, 0, {not_a_number}),                                          // NaN
  });
  REQUIRE(out.size() == 4);
  auto error_of = [&](std::size_t i) {
    REQUIRE_FALSE(out[i].has_value());
    return out[i].error().code + ": " + out[i].error().message;
  };
  CHECK(error_of(0) == "idempotency_conflict: idempotency key 'key-K' was already used for a different command "
                       "(on account/acc-1)");
  CHECK(error_of(1) == "concurrency_conflict: account/acc-1 is at version 1; the append expected version 3");
  CHECK(error_of(2) == "payload_too_large: event 'memo' for account/acc-2 is 111 bytes; the limit is 64");
  CHECK(error_of(3) == "internal_error: event 'measured' for account/acc-2 holds a number that is NaN or "
                       "infinite, which JSON cannot store");
  CHECK(store->event_count() == 1);
}

STORE_CONTRACT_TEST("event store: appends to one stream in the same batch see each other", "[store][contract][batch]") {
  auto s = TestType::open({});
  auto store = s.connect();
  auto out = store->append({request(acc1, 0, {deposited(1)}), request(acc1, 1, {deposited(2)}),
                            request(acc1, 1, {deposited(3)})});
  REQUIRE(out.size() == 3);
  REQUIRE(out[0].has_value());
  REQUIRE(out[1].has_value());
  CHECK(out[1]->version == 2);
  REQUIRE_FALSE(out[2].has_value());
  CHECK(out[2].error().code == "concurrency_conflict");
  CHECK(amounts_of(store->read_stream(acc1, 1, all)) == std::vector<std::int64_t>{1, 2});
}

STORE_CONTRACT_TEST("event store: read_all pages by from_position and max_count in position order",
          "[store][contract][read]") {
  auto s = TestType::open({});
  auto store = s.connect();
  // Ten events interleaved over two streams: amounts 1..10 in commit order.
  std::int64_t v1 = 0, v2 = 0;
  for (std::int64_t i = 1; i <= 10; ++i) {
    if (i % 3 == 0) { append_ok(*store, request(acc2, v2, {deposited(i)})); ++v2; }
    else { append_ok(*store, request(acc1, v1, {deposited(i)})); ++v1; }
  }
  const auto everything = store->read_all(0, all);
  REQUIRE(everything.size() == 10);
  CHECK(amounts_of(everything) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  for (std::size_t i = 1; i < everything.size(); ++i) CHECK(everything[i].position > everything[i - 1].position);
  CHECK(everything[2].stream == acc2);
  CHECK(everything[2].version == 1);
  CHECK(everything[3].stream == acc1);
  CHECK(everything[3].version == 3);

  // Page through three at a time, continuing after the last position seen.
  std::vector<std::int64_t> paged;
  std::int64_t from = 1;
  int pages = 0;
  while (true) {
    auto page = store->read_all(from, 3);
    CHECK(page.size() <= 3);
    if (page.empty()) break;
    ++pages;
    for (const auto& e : page) paged.push_back(e.data.at("amount").as_int64());
    from = page.back().position + 1;
    REQUIRE(pages < 10);
  }
  CHECK(pages == 4);
  CHECK(paged == amounts_of(everything));

  // from_position is inclusive.
  auto from_fifth = store->read_all(everything[4].position, 2);
  CHECK(amounts_of(from_fifth) == std::vector<std::int64_t>{5, 6});
  CHECK(store->read_all(everything.back().position + 1, all).empty());
  CHECK(store->read_all(0, 0).empty());
}

STORE_CONTRACT_TEST("event store: read_stream starts at from_version and honours max_count", "[store][contract][read]") {
  auto s = TestType::open({});
  auto store = s.connect();
  append_ok(*store, request(acc1, 0, {deposited(1), deposited(2), deposited(3)}));
  append_ok(*store, request(acc2, 0, {deposited(100)}));
  append_ok(*store, request(acc1, 3, {deposited(4), deposited(5)}));

  CHECK(amounts_of(store->read_stream(acc1, 1, all)) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(amounts_of(store->read_stream(acc1, 0, all)) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(versions_of(store->read_stream(acc1, 3, all)) == std::vector<std::int64_t>{3, 4, 5});
  CHECK(versions_of(store->read_stream(acc1, 2, 2)) == std::vector<std::int64_t>{2, 3});
  CHECK(store->read_stream(acc1, 6, all).empty());
  CHECK(amounts_of(store->read_stream(acc2, 1, all)) == std::vector<std::int64_t>{100});
  CHECK(store->read_stream({"account", "acc-9"}, 1, all).empty());
  // Same id, other aggregate type: another stream.
  CHECK(store->read_stream({"loan", "acc-1"}, 1, all).empty());
}

namespace {
// "aggregate/id v<version> n<events> <first>..<last>" for each stream, in the order returned.
std::vector<std::string> describe_streams(const std::vector<annals::StreamInfo>& infos) {
  std::vector<std::string> v;
  for (const auto& i : infos)
    v.push_back(i.stream.to_string() + " v" + std::to_string(i.version) + " n" + std::to_string(i.events) + " "
                + std::to_string(i.first_position) + ".." + std::to_string(i.last_position));
  return v;
}
} // namespace

STORE_CONTRACT_TEST("event store: streams lists each stream with its version, count and positions, ordered and paged",
          "[store][contract][streams]") {
  auto s = TestType::open({});
  auto store = s.connect();
  CHECK(store->streams("", std::nullopt, all).empty());
  CHECK(store->streams("account", std::nullopt, all).empty());

  // Positions 1..8, interleaved; "loan/acc-1" shares an id with an account.
  const StreamId loan1{"loan", "acc-1"};
  const StreamId acc10{"account", "acc-10"};
  append_ok(*store, request(acc2, 0, {deposited(1)}));                 // 1
  append_ok(*store, request(acc1, 0, {deposited(2), deposited(3)}));   // 2, 3
  append_ok(*store, request(loan1, 0, {deposited(4)}));                // 4
  append_ok(*store, request(acc2, 1, {deposited(5)}));                 // 5
  append_ok(*store, request(acc10, 0, {deposited(6)}));                // 6
  append_ok(*store, request(acc1, 2, {deposited(7), deposited(8)}));   // 7, 8
  // An append of no events and a failed append leave no stream behind.
  append_ok(*store, request({"account", "acc-0"}, 0, {}));
  REQUIRE_FALSE(store->append({request({"account", "acc-9"}, 3, {deposited(9)})}).at(0).has_value());

  const std::vector<std::string> everything{"account/acc-1 v4 n4 2..8", "account/acc-10 v1 n1 6..6",
                                            "account/acc-2 v2 n2 1..5", "loan/acc-1 v1 n1 4..4"};
  CHECK(describe_streams(store->streams("", std::nullopt, all)) == everything);

  SECTION("of one aggregate type") {
    CHECK(describe_streams(store->streams("account", std::nullopt, all)) ==
          std::vector<std::string>{everything[0], everything[1], everything[2]});
    CHECK(describe_streams(store->streams("loan", std::nullopt, all)) == std::vector<std::string>{everything[3]});
    CHECK(store->streams("acc", std::nullopt, all).empty());  // a prefix is not a match
    CHECK(store->streams("zzz", std::nullopt, all).empty());
  }
  SECTION("paged with max_count and after") {
    std::vector<std::string> paged;
    std::optional<StreamId> after;
    int pages = 0;
    for (;;) {
      auto page = store->streams("", after, 3);
      CHECK(page.size() <= 3);
      if (page.empty()) break;
      ++pages;
      for (const auto& p : describe_streams(page)) paged.push_back(p);
      after = page.back().stream;
      REQUIRE(pages < 5);
    }
    CHECK(pages == 2);
    CHECK(paged == everything);
    CHECK(store->streams("", std::nullopt, 0).empty());
  }
  SECTION("after is exclusive and may name a stream that does not exist") {
    CHECK(describe_streams(store->streams("", acc1, all)) ==
          std::vector<std::string>{everything[1], everything[2], everything[3]});
    CHECK(describe_streams(store->streams("", StreamId{"account", "acc-15"}, all)) ==
          std::vector<std::string>{everything[2], everything[3]});
    CHECK(describe_streams(store->streams("account", acc10, 1)) == std::vector<std::string>{everything[2]});
    CHECK(store->streams("account", acc2, all).empty());
    // With an aggregate type, an `after` of another type before it starts at its first stream.
    CHECK(describe_streams(store->streams("loan", StreamId{"account", "zzz"}, all)) ==
          std::vector<std::string>{everything[3]});
    CHECK(store->streams("account", loan1, all).empty());
  }
}

STORE_CONTRACT_TEST("event store: snapshots keep the newest version per stream", "[store][contract][snapshot]") {
  auto s = TestType::open({});
  auto store = s.connect();
  CHECK_FALSE(store->load_snapshot(acc1).has_value());

  annals::Snapshot snap;
  snap.stream = acc1;
  snap.version = 10;
  snap.snapshot_version = 2;
  snap.state = json::object{{"balance", 10}, {"owner", "Ada"}};
  snap.taken_at_us = 1'700'000'000'000'000;
  store->save_snapshot(snap);

  auto loaded = store->load_snapshot(acc1);
  REQUIRE(loaded.has_value());
  CHECK(loaded->stream == acc1);
  CHECK(loaded->version == 10);
  CHECK(loaded->snapshot_version == 2);
  CHECK(loaded->state == snap.state);
  CHECK(loaded->taken_at_us == 1'700'000'000'000'000);
  CHECK_FALSE(store->load_snapshot(acc2).has_value());

  SECTION("a newer snapshot replaces it") {
    annals::Snapshot newer = snap;
    newer.version = 20;
    newer.state = json::object{{"balance", 20}, {"owner", "Ada"}};
    store->save_snapshot(newer);
    auto l = store->load_snapshot(acc1);
    REQUIRE(l.has_value());
    CHECK(l->version == 20);
    CHECK(l->state.at("balance") == 20);
  }
  SECTION("an older snapshot does not replace it") {
    annals::Snapshot older = snap;
    older.version = 5;
    older.state = json::object{{"balance", 5}, {"owner", "Ada"}};
    store->save_snapshot(older);
    auto l = store->load_snapshot(acc1);
    REQUIRE(l.has_value());
    CHECK(l->version == 10);
    CHECK(l->state.at("balance") == 10);
  }
  SECTION("snapshots of other streams are independent") {
    annals::Snapshot other = snap;
    other.stream = acc2;
    other.version = 1;
    other.state = json::object{{"balance", 1}};
    store->save_snapshot(other);
    CHECK(store->load_snapshot(acc2)->version == 1);
    CHECK(store->load_snapshot(acc1)->version == 10);
  }
}

STORE_CONTRACT_TEST("event store: an append with an idempotency key records the key and its result",
          "[store][contract][idempotency]") {
  auto s = TestType::open({});
  auto store = s.connect();
  append_ok(*store, request(acc2, 0, {deposited(1)}));  // so positions differ from versions
  auto r = append_ok(*store, request(acc1, 0, {deposited(5), deposited(6)}, std::string("key-K"), "fp-1"));
  REQUIRE(r.events.size() == 2);

  auto rec = store->find_idempotency_key("key-K");
  REQUIRE(rec.has_value());
  CHECK(rec->key == "key-K");
  CHECK(rec->stream == acc1);
  CHECK(rec->fingerprint == "fp-1");
  CHECK(rec->result.accepted());
  CHECK_FALSE(rec->result.replayed);
  CHECK(rec->result.aggregate == "account");
  CHECK(rec->result.id == "acc-1");
  CHECK(rec->result.version == 2);
  CHECK(rec->result.position == r.events[1].position);
  REQUIRE(rec->result.events.size() == 2);
  CHECK(rec->result.events[0].position == r.events[0].position);
  CHECK(rec->result.events[1].position == r.events[1].position);
  CHECK(rec->result.events[1].version == 2);
  CHECK(rec->result.events[1].type == "deposited");
  CHECK(rec->result.events[1].data.at("amount") == 6);

  CHECK_FALSE(store->find_idempotency_key("key-other").has_value());
}

STORE_CONTRACT_TEST("event store: repeating an idempotency key with the same fingerprint replays the first result",
          "[store][contract][idempotency]") {
  auto s = TestType::open({});
  auto store = s.connect();
  const auto first_req = request(acc1, 0, {deposited(5)}, std::string("key-K"), "fp-1");
  auto first = append_ok(*store, first_req);
  REQUIRE(first.events.size() == 1);
  const auto head = store->head_position();

  // The same request again: its expected_version 0 is stale by now, but the
  // key is recognised first.
  auto again = append_ok(*store, first_req);
  REQUIRE(again.replay.has_value());
  CHECK(again.replay->replayed);
  CHECK(again.replay->accepted());
  CHECK(again.replay->version == 1);
  CHECK(again.replay->position == first.events[0].position);
  REQUIRE(again.replay->events.size() == 1);
  CHECK(again.replay->events[0].position == first.events[0].position);
  CHECK(again.version == 1);
  CHECK(again.events.empty());

  CHECK(store->event_count() == 1);
  CHECK(store->head_position() == head);
  CHECK(store->stream_version(acc1) == 1);
  // The record itself still holds the first, not-replayed result.
  auto rec = store->find_idempotency_key("key-K");
  REQUIRE(rec.has_value());
  CHECK_FALSE(rec->result.replayed);

  SECTION("also from another connection") {
    auto other = s.connect();
    auto third = append_ok(*other, first_req);
    REQUIRE(third.replay.has_value());
    CHECK(third.replay->position == first.events[0].position);
    CHECK(other->event_count() == 1);
  }
}

STORE_CONTRACT_TEST("event store: a repeated idempotency key in the same batch replays the first", "[store][contract][idempotency]") {
  auto s = TestType::open({});
  auto store = s.connect();
  auto req = request(acc1, 0, {deposited(5)}, std::string("key-K"), "fp-1");
  auto out = store->append({req, req});
  REQUIRE(out.size() == 2);
  REQUIRE(out[0].has_value());
  REQUIRE(out[1].has_value());
  CHECK_FALSE(out[0]->replay.has_value());
  REQUIRE(out[1]->replay.has_value());
  CHECK(out[1]->replay->position == out[0]->events.at(0).position);
  CHECK(store->event_count() == 1);
}

STORE_CONTRACT_TEST("event store: reusing an idempotency key for a different command is an idempotency_conflict",
          "[store][contract][idempotency]") {
  auto s = TestType::open({});
  auto store = s.connect();
  append_ok(*store, request(acc1, 0, {deposited(5)}, std::string("key-K"), "fp-1"));

  SECTION("same stream") {
    auto out = store->append({request(acc1, 1, {deposited(6)}, std::string("key-K"), "fp-2")});
    REQUIRE_FALSE(out.at(0).has_value());
    CHECK(out[0].error().code == "idempotency_conflict");
    CHECK_THAT(out[0].error().message, Catch::Contains("key-K") && Catch::Contains("account/acc-1"));
    CHECK(store->stream_version(acc1) == 1);
  }
  SECTION("another stream") {
    auto out = store->append({request(acc2, 0, {deposited(6)}, std::string("key-K"), "fp-2")});
    REQUIRE_FALSE(out.at(0).has_value());
    CHECK(out[0].error().code == "idempotency_conflict");
    CHECK(store->stream_version(acc2) == 0);
  }
  CHECK(store->event_count() == 1);
  auto rec = store->find_idempotency_key("key-K");
  REQUIRE(rec.has_value());
  CHECK(rec->fingerprint == "fp-1");
}

STORE_CONTRACT_TEST("event store: two connections from the same provider see each other's writes",
          "[store][contract]") {
  auto s = TestType::open({});
  auto a = s.connect();
  auto b = s.connect();

  append_ok(*a, request(acc1, 0, {deposited(1)}));
  CHECK(b->stream_version(acc1) == 1);
  CHECK(amounts_of(b->read_stream(acc1, 1, all)) == std::vector<std::int64_t>{1});

  // b writes on top of what a wrote; a stale write through a is refused.
  append_ok(*b, request(acc1, 1, {deposited(2)}, std::string("key-b"), "fp-b"));
  auto stale = a->append({request(acc1, 1, {deposited(3)})});
  REQUIRE_FALSE(stale.at(0).has_value());
  CHECK(stale[0].error().code == "concurrency_conflict");

  CHECK(amounts_of(a->read_all(0, all)) == std::vector<std::int64_t>{1, 2});
  CHECK(a->head_position() == b->head_position());
  CHECK(a->find_idempotency_key("key-b").has_value());

  annals::Snapshot snap;
  snap.stream = acc1;
  snap.version = 2;
  snap.state = json::object{{"balance", 3}};
  a->save_snapshot(snap);
  auto l = b->load_snapshot(acc1);
  REQUIRE(l.has_value());
  CHECK(l->state.at("balance") == 3);
}

namespace {

annals::DeadLetter letter(const std::string& projection, std::int64_t position, const StreamId& s,
                          const std::string& error, int attempts, std::int64_t parked_at_us = 0) {
  annals::DeadLetter d;
  d.projection = projection;
  d.position = position;
  d.stream = s;
  d.event_type = "deposited";
  d.error = error;
  d.attempts = attempts;
  d.parked_at_us = parked_at_us;
  return d;
}

// "projection@position" for each entry, in the order returned.
std::vector<std::string> keys_of(const std::vector<annals::DeadLetter>& ds) {
  std::vector<std::string> v;
  for (const auto& d : ds) v.push_back(d.projection + "@" + std::to_string(d.position));
  return v;
}

} // namespace

STORE_CONTRACT_TEST("event store: parked events are listed by projection and position, replaced and removed",
          "[store][contract][dead_letter]") {
  auto s = TestType::open({});
  auto store = s.connect();
  CHECK(store->dead_letters("").empty());
  CHECK(store->dead_letters("balances").empty());
  CHECK_FALSE(store->remove_dead_letter("balances", 1));

  // Parked out of order, over two projections.
  store->park_event(letter("balances", 7, acc1, "boom at 7", 3, 1'700'000'000'000'007));
  store->park_event(letter("audit", 9, acc2, "audit 9 failed", 5, 1'700'000'000'000'009));
  store->park_event(letter("balances", 2, acc2, "boom at 2", 3, 1'700'000'000'000'002));
  store->park_event(letter("audit", 4, acc1, "audit 4 failed", 1, 1'700'000'000'000'004));
  store->park_event(letter("balances", 12, acc1, "boom at 12", 2, 1'700'000'000'000'012));

  CHECK(keys_of(store->dead_letters("")) ==
        std::vector<std::string>{"audit@4", "audit@9", "balances@2", "balances@7", "balances@12"});
  CHECK(keys_of(store->dead_letters("balances")) ==
        std::vector<std::string>{"balances@2", "balances@7", "balances@12"});
  CHECK(keys_of(store->dead_letters("audit")) == std::vector<std::string>{"audit@4", "audit@9"});
  CHECK(store->dead_letters("balance").empty());   // a prefix is not a match
  CHECK(store->dead_letters("unknown").empty());

  // Every field comes back as parked.
  auto balances = store->dead_letters("balances");
  REQUIRE(balances.size() == 3);
  CHECK(balances[1].projection == "balances");
  CHECK(balances[1].position == 7);
  CHECK(balances[1].stream == acc1);
  CHECK(balances[1].event_type == "deposited");
  CHECK(balances[1].error == "boom at 7");
  CHECK(balances[1].attempts == 3);
  CHECK(balances[1].parked_at_us == 1'700'000'000'000'007);
  CHECK(balances[0].stream == acc2);
  CHECK(balances[0].error == "boom at 2");

  SECTION("parking the same projection and position again replaces the entry") {
    auto again = letter("balances", 7, acc1, "still failing", 6, 1'700'000'000'000'077);
    again.event_type = "withdrawn";
    store->park_event(again);
    auto got = store->dead_letters("balances");
    CHECK(keys_of(got) == std::vector<std::string>{"balances@2", "balances@7", "balances@12"});
    REQUIRE(got.size() == 3);
    CHECK(got[1].error == "still failing");
    CHECK(got[1].attempts == 6);
    CHECK(got[1].event_type == "withdrawn");
    CHECK(got[1].parked_at_us == 1'700'000'000'000'077);
    CHECK(store->dead_letters("").size() == 5);
    // The same position of another projection is a different entry.
    CHECK(store->dead_letters("audit").at(0).error == "audit 4 failed");
  }
  SECTION("removing an entry removes only that one, once") {
    CHECK(store->remove_dead_letter("balances", 7));
    CHECK(keys_of(store->dead_letters("balances")) == std::vector<std::string>{"balances@2", "balances@12"});
    CHECK_FALSE(store->remove_dead_letter("balances", 7));
    CHECK_FALSE(store->remove_dead_letter("audit", 7));   // no such entry in the other projection
    CHECK_FALSE(store->remove_dead_letter("balances", 3));
    CHECK(keys_of(store->dead_letters("")) ==
          std::vector<std::string>{"audit@4", "audit@9", "balances@2", "balances@12"});
  }
  SECTION("a new connection of the same provider sees the entries") {
    CHECK(store->remove_dead_letter("audit", 9));
    auto other = s.connect();
    auto got = other->dead_letters("");
    CHECK(keys_of(got) == std::vector<std::string>{"audit@4", "balances@2", "balances@7", "balances@12"});
    REQUIRE(got.size() == 4);
    CHECK(got[0].stream == acc1);
    CHECK(got[0].error == "audit 4 failed");
    CHECK(got[0].attempts == 1);
    CHECK(got[0].parked_at_us == 1'700'000'000'000'004);
    // And a removal through it is seen by the first.
    CHECK(other->remove_dead_letter("balances", 2));
    CHECK(keys_of(store->dead_letters("balances")) == std::vector<std::string>{"balances@7", "balances@12"});
  }
}

STORE_CONTRACT_TEST("event store: a parked event without a time gets the current time", "[store][contract][dead_letter]") {
  auto s = TestType::open({});
  auto store = s.connect();
  const auto before = annals::now_us();
  store->park_event(letter("balances", 3, acc1, "boom", 1));
  const auto after = annals::now_us();
  auto got = store->dead_letters("balances");
  REQUIRE(got.size() == 1);
  CHECK(got[0].parked_at_us >= before);
  CHECK(got[0].parked_at_us <= after);
}

STORE_CONTRACT_TEST("event store: projection snapshots keep the newest position per projection",
          "[store][contract][projection_snapshot]") {
  auto s = TestType::open({});
  auto store = s.connect();
  CHECK_FALSE(store->load_projection_snapshot("balances").has_value());

  annals::ProjectionSnapshot snap;
  snap.projection = "balances";
  snap.position = 10;
  snap.snapshot_version = 2;
  snap.model = json::object{{"accounts", json::object{{"acc-1", 10}, {"acc-2", -3}}},
                            {"names", json::array{"Ada", nullptr, 1.5, true}}};
  snap.taken_at_us = 1'700'000'000'000'000;
  store->save_projection_snapshot(snap);

  auto loaded = store->load_projection_snapshot("balances");
  REQUIRE(loaded.has_value());
  CHECK(loaded->projection == "balances");
  CHECK(loaded->position == 10);
  CHECK(loaded->snapshot_version == 2);
  CHECK(loaded->model == snap.model);
  CHECK(json::serialize(loaded->model.at("names")) == R"(["Ada",null,1.5E0,true])");
  CHECK(loaded->taken_at_us == 1'700'000'000'000'000);
  CHECK_FALSE(store->load_projection_snapshot("audit").has_value());
  CHECK_FALSE(store->load_projection_snapshot("").has_value());

  SECTION("a newer position replaces it") {
    auto newer = snap;
    newer.position = 20;
    newer.model = json::object{{"accounts", json::object{{"acc-1", 20}}}};
    newer.taken_at_us = 1'700'000'000'000'020;
    store->save_projection_snapshot(newer);
    auto l = store->load_projection_snapshot("balances");
    REQUIRE(l.has_value());
    CHECK(l->position == 20);
    CHECK(l->model == newer.model);
    CHECK(l->taken_at_us == 1'700'000'000'000'020);
  }
  SECTION("an older position of the same snapshot_version does not replace it") {
    auto older = snap;
    older.position = 5;
    older.model = json::object{{"accounts", json::object{{"acc-1", 5}}}};
    store->save_projection_snapshot(older);
    auto l = store->load_projection_snapshot("balances");
    REQUIRE(l.has_value());
    CHECK(l->position == 10);
    CHECK(l->model == snap.model);
    CHECK(l->taken_at_us == 1'700'000'000'000'000);
  }
  SECTION("a different snapshot_version replaces it, even at an older position") {
    auto reshaped = snap;
    reshaped.position = 4;
    reshaped.snapshot_version = 3;
    reshaped.model = json::object{{"v3", true}};
    store->save_projection_snapshot(reshaped);
    auto l = store->load_projection_snapshot("balances");
    REQUIRE(l.has_value());
    CHECK(l->position == 4);
    CHECK(l->snapshot_version == 3);
    CHECK(l->model == reshaped.model);
    // From now on, version 3's position is what an older one is compared to.
    auto older_v3 = reshaped;
    older_v3.position = 3;
    older_v3.model = json::object{{"v3", false}};
    store->save_projection_snapshot(older_v3);
    CHECK(store->load_projection_snapshot("balances")->position == 4);
    CHECK(store->load_projection_snapshot("balances")->model == reshaped.model);
  }
  SECTION("snapshots of other projections are independent and seen by other connections") {
    annals::ProjectionSnapshot audit;
    audit.projection = "audit";
    audit.position = 1;
    audit.model = json::array{};
    store->save_projection_snapshot(audit);
    auto other = s.connect();
    auto a = other->load_projection_snapshot("audit");
    REQUIRE(a.has_value());
    CHECK(a->position == 1);
    CHECK(a->snapshot_version == 1);
    CHECK(a->model == json::array{});
    CHECK(a->taken_at_us > 0);  // defaulted to the current time
    auto b = other->load_projection_snapshot("balances");
    REQUIRE(b.has_value());
    CHECK(b->position == 10);
    CHECK(b->model == snap.model);
  }
}

STORE_CONTRACT_TEST("G4 an event's JSON numbers have the same kind and value as committed and as read back",
                    "[store][contract][json]") {
  auto s = TestType::open({});
  auto store = s.connect();
  // Built the ways domain code builds numbers: int64, uint64, double.
  const json::object data{{"one", std::int64_t{1}},
                          {"one_unsigned", std::uint64_t{1}},
                          {"one_double", 1.0},
                          {"int64_max", std::numeric_limits<std::int64_t>::max()},
                          {"uint64_max", std::numeric_limits<std::uint64_t>::max()},
                          {"minus_half", -0.5},
                          {"tenth_sum", 0.1 + 0.2}};
  auto committed = append_ok(*store, request(acc1, 0, {ev("measured", data)}));
  REQUIRE(committed.events.size() == 1);
  const auto live = number_kinds(committed.events[0].data);  // what the aggregate and the bus get

  auto by_stream = store->read_stream(acc1, 1, all);
  auto from_all = store->read_all(0, all);
  auto from_new_connection = s.connect()->read_all(0, all);
  REQUIRE(by_stream.size() == 1);
  REQUIRE(from_all.size() == 1);
  REQUIRE(from_new_connection.size() == 1);
  CHECK(number_kinds(by_stream[0].data) == live);
  CHECK(number_kinds(from_all[0].data) == live);
  CHECK(number_kinds(from_new_connection[0].data) == live);
  // JSON text has no uint64 kind for small numbers: both paths read an int64 1.
  CHECK(live[1] == "one_unsigned:int64:1");
  CHECK(live[2].rfind("one_double:double:", 0) == 0);
  CHECK(live[4] == "uint64_max:uint64:18446744073709551615");
}

STORE_CONTRACT_TEST("event store: what uses the store is recorded, each name once, seen by every connection",
                    "[store][contract][users]") {
  auto s = TestType::open({});
  auto store = s.connect();
  auto empty = store->recorded_users();
  REQUIRE(empty.has_value());
  CHECK(empty->aggregates.empty());
  CHECK(empty->projections.empty());

  store->record_users(annals::StoreUsers{{"account"}, {"balances"}});
  store->record_users(annals::StoreUsers{{"account", "loan"}, {}});
  store->record_users(annals::StoreUsers{{}, {"balances", "daily_totals"}});
  auto recorded = s.connect()->recorded_users();
  REQUIRE(recorded.has_value());
  CHECK(recorded->aggregates == std::set<std::string>{"account", "loan"});
  CHECK(recorded->projections == std::set<std::string>{"balances", "daily_totals"});
}

STORE_CONTRACT_TEST("event store: the aggregate types and event types of the stored events, sorted",
                    "[store][contract][users]") {
  auto s = TestType::open({});
  auto store = s.connect();
  CHECK(store->aggregate_types().empty());
  CHECK(store->event_types().empty());
  append_ok(*store, request(acc1, 0, {ev("opened", json::object{}), deposited(5)}));
  append_ok(*store, request({"loan", "l-1"}, 0, {ev("granted", json::object{})}));
  append_ok(*store, request(acc2, 0, {ev("opened", json::object{}), ev("withdrawn", json::object{})}));
  append_ok(*store, request({"inventory", "sku-1"}, 0, {ev("stock_added", json::object{})}));
  CHECK(store->aggregate_types() == std::vector<std::string>{"account", "inventory", "loan"});
  CHECK(store->event_types() == std::vector<std::string>{"deposited", "granted", "opened", "stock_added", "withdrawn"});
}
