// A project of its own against an installed annals (docs/installing.md): a
// counter aggregate checked with annals::testkit, then one command through a
// Runtime on a SQLite store (the path given as argv[1]).
#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/runtime.hpp>
#include <annals/testkit.hpp>

#include <boost/describe/class.hpp>
#include <iostream>

struct Counter { std::int64_t value = 0; };
BOOST_DESCRIBE_STRUCT(Counter, (), (value))

struct Increment { static constexpr const char* command_type = "increment"; std::int64_t by = 1; };
BOOST_DESCRIBE_STRUCT(Increment, (), (by))

struct Incremented { static constexpr const char* event_type = "incremented"; std::int64_t by = 0; };
BOOST_DESCRIBE_STRUCT(Incremented, (), (by))

annals::AggregateType counter_type() {
  return annals::AggregateType::define<Counter>("counter")
    .handle<Increment>([](const Counter&, const Increment& c) -> annals::Decision {
      if (c.by <= 0) return annals::reject("invalid_step", "by must be positive");
      return annals::emit(Incremented{c.by});
    })
    .apply<Incremented>([](Counter& s, const Incremented& e) { s.value += e.by; });
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: counter_service <store.db>\n";
    return 2;
  }
  annals::testkit::AggregateFixture counter(counter_type(), "c-1");
  counter.given(Incremented{2}).when(Increment{3}).then_events(Incremented{3});
  std::cout << "testkit: ok\n";

  annals::RuntimeOptions options;
  options.store = annals::sqlite_store({argv[1]});
  annals::Runtime runtime(options);
  runtime.register_aggregate(counter_type());
  annals::CommandResult r = runtime.execute_json(
    R"({"aggregate": "counter", "id": "c-1", "command": "increment", "data": {"by": 5}})");
  std::cout << annals::json::serialize(r.to_json()) << "\n";
  return r.accepted() ? 0 : 1;
}
