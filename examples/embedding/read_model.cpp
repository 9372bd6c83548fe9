// A read model beside the counter of minimal.cpp: a projection that keeps the
// total per counter, queried with read-your-writes.
#include <annals/persistence/memory_event_store.hpp>
#include <annals/runtime.hpp>

#include <boost/describe/class.hpp>
#include <iostream>
#include <map>

struct Counter { std::int64_t value = 0; };
BOOST_DESCRIBE_STRUCT(Counter, (), (value))
struct Increment { static constexpr const char* command_type = "increment"; std::int64_t by = 1; };
BOOST_DESCRIBE_STRUCT(Increment, (), (by))
struct Incremented { static constexpr const char* event_type = "incremented"; std::int64_t by = 0; };
BOOST_DESCRIBE_STRUCT(Incremented, (), (by))

// The read model and the arguments of its query.
struct Totals { std::map<std::string, std::int64_t> by_counter; };
BOOST_DESCRIBE_STRUCT(Totals, (), (by_counter))
struct CounterArgs { std::string id; };
BOOST_DESCRIBE_STRUCT(CounterArgs, (), (id))

int main() {
  annals::RuntimeOptions options;
  options.store = annals::memory_store();
  options.projections.max_attempts = 3;  // a poison event is parked after 3 failures
  annals::Runtime runtime(options);

  runtime.register_aggregate(annals::AggregateType::define<Counter>("counter")
    .handle<Increment>([](const Counter&, const Increment& c) { return annals::emit(Incremented{c.by}); })
    .apply<Incremented>([](Counter& s, const Incremented& e) { s.value += e.by; }));

  runtime.register_projection(annals::ProjectionType::define<Totals>("totals")
    .on<Incremented>("counter", [](Totals& m, const Incremented& e, const annals::Event& ev) {
      m.by_counter[ev.stream.id] += e.by;
    })
    .query<CounterArgs>("total", [](const Totals& m, const CounterArgs& a) -> annals::Expected<annals::json::value> {
      auto it = m.by_counter.find(a.id);
      if (it == m.by_counter.end()) return annals::Error{annals::errc::not_found, "no counter " + a.id};
      return annals::json::value(it->second);
    }));

  auto r = runtime.execute_json(R"({"aggregate": "counter", "id": "c-1", "command": "increment", "data": {"by": 5}})");
  // min_position = the command's position: the answer includes that write.
  auto total = runtime.query("totals", "total", {{"id", "c-1"}}, r.position);
  std::cout << "total of c-1: " << (total ? annals::json::serialize(*total) : total.error().message) << "\n";
  auto status = runtime.projection_status("totals");
  std::cout << "checkpoint " << status->checkpoint << ", backlog " << status->backlog << ", parked "
            << status->parked << "\n";
  return total && *total == annals::json::value(5) ? 0 : 1;
}
