#include "bank/projections.hpp"

#include "bank/account.hpp"

namespace bank {

using annals::Error;
using annals::Event;
using annals::Expected;
namespace json = annals::json;

annals::ProjectionType balances_projection(int snapshot_every) {
  return annals::ProjectionType::define<Balances>("balances")
    .on<AccountOpened>("account", [](Balances& m, const AccountOpened& e, const Event& ev) {
      m.accounts[ev.stream.id].owner = e.owner;
    })
    .on<Deposited>("account", [](Balances& m, const Deposited& e, const Event& ev) {
      m.accounts[ev.stream.id].balance += e.amount;
      m.total += e.amount;
    })
    .on<Withdrawn>("account", [](Balances& m, const Withdrawn& e, const Event& ev) {
      m.accounts[ev.stream.id].balance -= e.amount;
      m.total -= e.amount;
    })
    .on<AccountClosed>("account", [](Balances& m, const AccountClosed&, const Event& ev) {
      m.accounts[ev.stream.id].closed = true;
    })
    .query<AccountArgs>("balance", [](const Balances& m, const AccountArgs& a) -> Expected<AccountAnswer> {
      auto it = m.accounts.find(a.id);
      if (it == m.accounts.end()) return Error{annals::errc::not_found, "no account '" + a.id + "'"};
      return AccountAnswer{it->second, a.id};
    })
    .query<annals::NoArgs>("accounts", [](const Balances& m, const annals::NoArgs&) -> Expected<std::vector<AccountAnswer>> {
      std::vector<AccountAnswer> out;
      for (const auto& [id, acc] : m.accounts) out.push_back(AccountAnswer{acc, id});
      return out;
    })
    .query<annals::NoArgs>("total", [](const Balances& m, const annals::NoArgs&) -> Expected<TotalAnswer> {
      return TotalAnswer{m.total, m.accounts.size()};
    })
    .snapshot_every(snapshot_every);
}

namespace {
std::string day_of(const Event& ev) { return annals::format_timestamp(ev.metadata.timestamp_us).substr(0, 10); }
} // namespace

annals::ProjectionType daily_totals_projection(int snapshot_every) {
  return annals::ProjectionType::define<DailyTotals>("daily_totals")
    .on<Deposited>("account", [](DailyTotals& m, const Deposited& e, const Event& ev) {
      auto& d = m.days[day_of(ev)];
      ++d.deposits;
      d.deposited += e.amount;
    })
    .on<Withdrawn>("account", [](DailyTotals& m, const Withdrawn& e, const Event& ev) {
      auto& d = m.days[day_of(ev)];
      ++d.withdrawals;
      d.withdrawn += e.amount;
    })
    .query<DayArgs>("day", [](const DailyTotals& m, const DayArgs& a) -> Expected<DayTotals> {
      auto it = m.days.find(a.date);
      return it == m.days.end() ? DayTotals{} : it->second;
    })
    .query<annals::NoArgs>("days", [](const DailyTotals& m, const annals::NoArgs&) -> Expected<std::map<std::string, DayTotals>> {
      return m.days;
    })
    .snapshot_every(snapshot_every);
}

} // namespace bank
