// The runtime's life: which threads may build, use and destroy it.

#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

using namespace annals;
using namespace annals::test;

// CAF 0.17 keeps a reference to the actor system's logger in every thread
// that built the system or made a blocking call into it, and the system's
// destructor waits for all of them: an earlier version hung here for as long
// as those threads lived.
SCENARIO_METHOD(RuntimeFixture, "A runtime built on one thread and used from another that lives on is destroyed on a third") {
  GIVEN("a runtime built on this thread, and a thread that queried it and still runs") {
    auto rt = bank_runtime();
    rt->register_projection(sums("sums"));
    auto opened = rt->execute(open_account("acc-1"));
    REQUIRE(opened.accepted());
    std::promise<void> finish;
    std::promise<bool> queried;
    auto answered = queried.get_future();
    std::thread user([&, done = finish.get_future()]() mutable {
      const bool ok = rt->query("sums", "total", {}, opened.position) && rt->projection_status("sums");
      queried.set_value(ok);
      done.wait();  // lives on while the runtime is destroyed
    });
    const bool user_queried = answered.get();
    WHEN("a third thread destroys the runtime") {
      std::atomic<bool> destroyed{false};
      std::thread destroyer([&] {
        rt.reset();
        destroyed = true;
      });
      const bool ended = eventually([&] { return destroyed.load(); }, std::chrono::seconds(20));
      finish.set_value();
      user.join();
      destroyer.join();  // returns once the user thread has ended, even in the broken version
      THEN("the destruction ends while the other threads still run") {
        CHECK(user_queried);
        CHECK(ended);
      }
    }
  }
}
