// The first demo: a program that embeds annals, registers the bank domain,
// runs a few commands against an SQLite file and prints what happened.
//   bank_demo [path/to/store.db]

#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>

#include <iostream>

namespace {

annals::Command command(std::string id, std::string type, annals::json::object data,
                        std::optional<std::string> key = std::nullopt) {
  annals::Command c;
  c.aggregate = "account";
  c.id = std::move(id);
  c.command = std::move(type);
  c.data = std::move(data);
  c.idempotency_key = std::move(key);
  return c;
}

void show(const std::string& what, const annals::CommandResult& r) {
  std::cout << "  " << what << "\n    -> " << annals::json::serialize(r.to_json()) << "\n";
}

} // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "annals-demo.db";
  try {
    annals::RuntimeOptions opts;
    opts.store = annals::sqlite_store({path});
    annals::Runtime rt(opts);
    rt.register_aggregate(bank::account_type());
    rt.register_projection(bank::balances_projection());
    rt.register_projection(bank::daily_totals_projection());

    const std::string id = "acc-" + annals::make_uuid().substr(0, 8);
    std::cout << "annals bank demo — store " << path << ", account " << id << "\n\n";
    show("open the account for Ada with 100", rt.execute(command(id, "open", {{"owner", "Ada"}, {"initial_deposit", 100}})));
    show("deposit 50", rt.execute(command(id, "deposit", {{"amount", 50}}, id + "-dep-1")));
    show("retry the same deposit (same idempotency key): nothing new", rt.execute(command(id, "deposit", {{"amount", 50}}, id + "-dep-1")));
    show("withdraw 500: the domain says no", rt.execute(command(id, "withdraw", {{"amount", 500}})));
    auto last = rt.execute(command(id, "withdraw", {{"amount", 120}}));
    show("withdraw 120", last);
    show("a malformed command (amount is a string)", rt.execute(command(id, "deposit", {{"amount", "lots"}})));
    show("an unknown command", rt.execute(command(id, "transfer", {})));
    show("malformed JSON", rt.execute_json(R"({"aggregate": "account", "id": )"));

    auto state = rt.inspect("account", id);
    if (state)
      std::cout << "\nstate of " << id << " at version " << state->version << ": "
                << annals::json::serialize(state->state) << "\n";
    std::cout << "events in the store (all accounts): " << rt.head_position() << "\n";

    // Read side: min_position = the last write's position gives read-your-writes.
    auto balance = rt.query("balances", "balance", {{"id", id}}, last.position);
    std::cout << "\nprojection 'balances', query balance(" << id << ") at position >= " << last.position << ": "
              << (balance ? annals::json::serialize(*balance) : balance.error().message) << "\n";
    auto today = rt.query("daily_totals", "day", {{"date", annals::format_timestamp(annals::now_us()).substr(0, 10)}},
                          last.position);
    std::cout << "projection 'daily_totals', query day(today): "
              << (today ? annals::json::serialize(*today) : today.error().message) << "\n";
    for (const auto& name : rt.projection_names()) {
      auto st = rt.projection_status(name);
      if (st)
        std::cout << "  " << name << ": checkpoint " << st->checkpoint << ", backlog " << st->backlog << ", restarts "
                  << st->restarts << ", parked " << st->parked << "\n";
    }
    std::cout << "\nevents of " << id << ":\n";
    for (const auto& e : rt.read_stream({"account", id}))
      std::cout << "  " << annals::json::serialize(e.to_json()) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bank_demo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
