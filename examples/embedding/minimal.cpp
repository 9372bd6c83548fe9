// The smallest useful embedding of annals: a counter aggregate, one command.
#include <annals/persistence/memory_event_store.hpp>
#include <annals/runtime.hpp>

#include <boost/describe/class.hpp>
#include <iostream>

struct Counter { std::int64_t value = 0; };
BOOST_DESCRIBE_STRUCT(Counter, (), (value))

struct Increment { static constexpr const char* command_type = "increment"; std::int64_t by = 1; };
BOOST_DESCRIBE_STRUCT(Increment, (), (by))

struct Incremented { static constexpr const char* event_type = "incremented"; std::int64_t by = 0; };
BOOST_DESCRIBE_STRUCT(Incremented, (), (by))

int main() {
  annals::RuntimeOptions options;
  options.store = annals::memory_store();  // or annals::sqlite_store({"counters.db"})
  annals::Runtime runtime(options);

  runtime.register_aggregate(
    annals::AggregateType::define<Counter>("counter")
      .handle<Increment>([](const Counter&, const Increment& c) -> annals::Decision {
        if (c.by <= 0) return annals::reject("invalid_step", "by must be positive");
        return annals::emit(Incremented{c.by});
      })
      .apply<Incremented>([](Counter& s, const Incremented& e) { s.value += e.by; }));

  annals::CommandResult r = runtime.execute_json(
    R"({"aggregate": "counter", "id": "c-1", "command": "increment", "data": {"by": 5}})");
  std::cout << annals::json::serialize(r.to_json()) << "\n";
  return r.accepted() ? 0 : 1;
}
