// Commands on any node: a clustered node runs a command itself when it holds
// the command's shard and otherwise forwards it to the node that does, which
// runs the whole pipeline (checks, audit) and whose result comes back
// unchanged. Here two runtimes share one store and the "transport" between
// them is a direct call (execute_forwarded): what is under test is the
// dispatch, not the network (tests/cluster has the real transport).

#include "bank_commands.hpp"
#include "wait_until.hpp"

#include <annals/persistence/memory_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;

namespace {

// One node's view of the shards (by account id) and its way to the others.
class TestForwarder final : public CommandForwarder {
public:
  bool owns(const StreamId& s) const override {
    std::lock_guard<std::mutex> lock(mtx_);
    return mine_.count(s.id) > 0;
  }
  void forward(Command c, std::chrono::milliseconds timeout, std::function<void(ForwardedResult)> done) override {
    ++forwards;
    Runtime* to;
    std::optional<Error> fail;
    bool lose_reply;
    {
      std::lock_guard<std::mutex> lock(mtx_);
      to = owner_;
      fail = unreachable_;
      lose_reply = lose_reply_;
    }
    if (fail) {  // never on the caller's thread
      std::thread([done, s = c.stream(), e = *fail] { done(ForwardedResult{CommandResult::fail(s, e), false}); })
        .detach();
      return;
    }
    to->execute_forwarded(std::move(c), timeout, [this, done, lose_reply](CommandResult r) {
      if (on_owner_result) on_owner_result(r);
      if (lose_reply)
        return done(ForwardedResult{CommandResult::fail({r.aggregate, r.id}, Error{errc::node_unavailable, "lost"}), false});
      done(ForwardedResult{std::move(r), true});
    });
  }

  void hold(const std::string& id) {
    std::lock_guard<std::mutex> lock(mtx_);
    mine_.insert(id);
  }
  void drop(const std::string& id) {
    std::lock_guard<std::mutex> lock(mtx_);
    mine_.erase(id);
  }
  void others_at(Runtime* owner) {
    std::lock_guard<std::mutex> lock(mtx_);
    owner_ = owner;
  }
  void unreachable(std::optional<Error> e) {
    std::lock_guard<std::mutex> lock(mtx_);
    unreachable_ = std::move(e);
  }
  void lose_replies(bool lose) {
    std::lock_guard<std::mutex> lock(mtx_);
    lose_reply_ = lose;
  }

  std::atomic<int> forwards{0};
  std::function<void(const CommandResult&)> on_owner_result;  // set before use

private:
  mutable std::mutex mtx_;
  std::set<std::string> mine_;
  Runtime* owner_ = nullptr;
  std::optional<Error> unreachable_;
  bool lose_reply_ = false;
};

// Nodes A and B on one store; A forwards to B, B to A.
struct TwoNodes {
  std::shared_ptr<EventStoreProvider> store = memory_store();
  std::shared_ptr<TestForwarder> at_a = std::make_shared<TestForwarder>();
  std::shared_ptr<TestForwarder> at_b = std::make_shared<TestForwarder>();
  std::unique_ptr<Runtime> a = node(at_a);
  std::unique_ptr<Runtime> b = node(at_b);

  TwoNodes() {
    at_a->others_at(b.get());
    at_b->others_at(a.get());
  }
  std::unique_ptr<Runtime> node(std::shared_ptr<TestForwarder> f) const {
    RuntimeOptions o;
    o.store = store;
    o.forwarder = std::move(f);
    o.command_timeout = 20s;
    auto rt = std::make_unique<Runtime>(std::move(o));
    rt->register_aggregate(bank::account_type());
    return rt;
  }
  std::vector<AuditRecord> audit_of(const std::string& command_id) const {
    std::vector<AuditRecord> out;
    for (auto& r : a->audit_log(1, 10000))
      if (r.command_id == command_id) out.push_back(r);
    return out;
  }
  static CommandStats totals(Runtime& rt) { return rt.metrics().command_totals(); }
};

Command with_id(Command c, const std::string& id) {
  c.command_id = id;
  return c;
}

} // namespace

SCENARIO("G8 a command sent to a node that does not hold its shard runs on the node that does, and its result "
         "comes back unchanged, audited and counted once", "[cluster][G8][forwarding]") {
  GIVEN("node B holds account acc-2, node A does not") {
    TwoNodes nodes;
    nodes.at_b->hold("acc-2");
    WHEN("acc-2 is opened and then credited through A, synchronously and asynchronously") {
      const auto opened = nodes.a->execute(with_id(open_account("acc-2"), "cmd-open"));
      std::promise<std::pair<CommandResult, std::thread::id>> later;
      nodes.a->execute_async(deposit("acc-2", 30), [&](CommandResult r) {
        later.set_value({std::move(r), std::this_thread::get_id()});
      });
      auto [deposited, on_thread] = later.get_future().get();
      THEN("B ran both: the results are B's, with their positions, and A activated nothing") {
        REQUIRE(opened.accepted());
        REQUIRE(deposited.accepted());
        CHECK(on_thread != std::this_thread::get_id());
        CHECK(opened.position == 1);
        CHECK(opened.version == 1);
        CHECK(deposited.position == 2);
        CHECK(deposited.version == 2);
        REQUIRE(deposited.events.size() == 1);
        CHECK(deposited.events[0].type == "deposited");
        CHECK(nodes.at_a->forwards == 2);
        CHECK(nodes.a->active_aggregates() == 0);
        CHECK(nodes.b->active_aggregates() == 1);
        CHECK(nodes.b->inspect("account", "acc-2")->state.as_object().at("balance").as_int64() == 30);
      }
      AND_THEN("the trail has one record of each, B's, and A counts them as forwarded, B as its own") {
        const auto trail = nodes.audit_of("cmd-open");
        REQUIRE(trail.size() == 1);
        CHECK(trail[0].outcome == "accepted");
        CHECK(trail[0].position == 1);
        const auto at_a = TwoNodes::totals(*nodes.a);
        const auto at_b = TwoNodes::totals(*nodes.b);
        CHECK(at_a.forwarded.accepted == 2);
        CHECK(at_a.accepted == 0);
        CHECK(at_b.accepted == 2);
        CHECK(at_b.forwarded.accepted == 0);
        CHECK(nodes.a->metrics_text().find("annals_cluster_forwarded_commands_total{aggregate=\"account\","
                                           "command=\"open\",outcome=\"accepted\"} 1")
              != std::string::npos);
      }
    }
    WHEN("B rejects a forwarded command") {
      REQUIRE(nodes.a->execute(open_account("acc-2")).accepted());
      const auto r = nodes.a->execute(with_id(withdraw("acc-2", 500), "cmd-overdraw"));
      THEN("A returns B's rejection as is, and only B audits it") {
        CHECK(r.rejected());
        CHECK(r.code() == "insufficient_funds");
        CHECK(wait_until([&] { return nodes.audit_of("cmd-overdraw").size() == 1; }));
        CHECK(nodes.audit_of("cmd-overdraw")[0].outcome == "rejected");
        CHECK(TwoNodes::totals(*nodes.a).forwarded.rejected == 1);
        CHECK(TwoNodes::totals(*nodes.a).rejected == 0);
      }
    }
  }
}

SCENARIO("G8 a command that arrives forwarded at a node that does not hold its shard fails with not_owner and "
         "runs nowhere", "[cluster][G8][forwarding]") {
  GIVEN("node B, which does not hold acc-1") {
    TwoNodes nodes;
    WHEN("a command for acc-1 arrives at B as forwarded") {
      std::promise<CommandResult> p;
      nodes.b->execute_forwarded(open_account("acc-1"), 5s, [&](CommandResult r) { p.set_value(std::move(r)); });
      const auto r = p.get_future().get();
      THEN("it fails with not_owner, B sends it nowhere and nothing is written") {
        CHECK(r.failed());
        CHECK(r.code() == "not_owner");
        CHECK(nodes.at_b->forwards == 0);
        CHECK(nodes.b->active_aggregates() == 0);
        CHECK(nodes.b->head_position() == 0);
      }
    }
  }
}

SCENARIO("G8 a command whose shard moved meanwhile is routed once more: not_owner at the old owner, then it runs "
         "at the new one", "[cluster][G8][forwarding]") {
  GIVEN("A believes B holds acc-3, but B has just handed it to A") {
    TwoNodes nodes;
    // When B answers not_owner, A's next lease round has made A the owner.
    nodes.at_a->on_owner_result = [&](const CommandResult& r) {
      if (r.code() == "not_owner") nodes.at_a->hold("acc-3");
    };
    WHEN("acc-3 is opened through A") {
      const auto r = nodes.a->execute(open_account("acc-3"));
      THEN("it was forwarded once, refused by B, and ran at A: one event") {
        CHECK(r.accepted());
        CHECK(nodes.at_a->forwards == 1);
        CHECK(nodes.a->active_aggregates() == 1);
        CHECK(nodes.a->read_stream({"account", "acc-3"}).size() == 1);
      }
    }
  }
}

SCENARIO("G8 when the owner cannot be reached a command fails fast with node_unavailable, counted and audited "
         "where it arrived, and G3 a retry with its key takes effect once, also after a lost reply",
         "[cluster][G8][G3][forwarding]") {
  GIVEN("B holds acc-4 and cannot be reached from A") {
    TwoNodes nodes;
    nodes.at_b->hold("acc-4");
    REQUIRE(nodes.b->execute(open_account("acc-4")).accepted());
    nodes.at_a->unreachable(Error{errc::node_unavailable, "node b cannot be reached"});
    WHEN("a deposit with a key is sent to A, then retried once B is reachable, and again after a lost reply") {
      const auto first = nodes.a->execute(with_id(deposit("acc-4", 10, std::string("key-1")), "cmd-unreached"));
      nodes.at_a->unreachable(std::nullopt);
      nodes.at_a->lose_replies(true);  // B runs it, A never hears back
      const auto second = nodes.a->execute(deposit("acc-4", 10, std::string("key-1")));
      nodes.at_a->lose_replies(false);
      const auto third = nodes.a->execute(deposit("acc-4", 10, std::string("key-1")));
      THEN("the first fails with node_unavailable, in A's trail and counters; the deposit is booked exactly once") {
        CHECK(first.failed());
        CHECK(first.code() == "node_unavailable");
        CHECK(second.code() == "node_unavailable");
        CHECK(third.accepted());
        CHECK(third.replayed);
        CHECK(nodes.b->read_stream({"account", "acc-4"}).size() == 2);
        CHECK(nodes.b->inspect("account", "acc-4")->state.as_object().at("balance").as_int64() == 10);
        REQUIRE(wait_until([&] { return nodes.audit_of("cmd-unreached").size() == 1; }));
        const auto row = nodes.audit_of("cmd-unreached")[0];
        CHECK(row.outcome == "failed");
        CHECK(row.code == "node_unavailable");
        const auto at_a = TwoNodes::totals(*nodes.a);
        CHECK(at_a.forwarded.node_unavailable == 2);
        CHECK(at_a.forwarded.accepted == 1);
        CHECK(at_a.failed == 2);  // the two A answered itself
        CHECK(nodes.a->active_aggregates() == 0);
      }
    }
  }
}
