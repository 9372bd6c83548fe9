#pragma once
// Read models of the bank: balances per account, and totals per day.

#include <annals/projection_type.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bank {

struct AccountBalance {
  std::string owner;
  std::int64_t balance = 0;
  bool closed = false;
};
BOOST_DESCRIBE_STRUCT(AccountBalance, (), (owner, balance, closed))

struct Balances {
  std::map<std::string, AccountBalance> accounts;
  std::int64_t total = 0;
};
BOOST_DESCRIBE_STRUCT(Balances, (), (accounts, total))

/// Query args: {"id": "acc-1"}.
struct AccountArgs {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(AccountArgs, (), (id))

// Query answers (their shapes are in `annals describe`).
struct AccountAnswer : AccountBalance {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(AccountAnswer, (AccountBalance), (id))

struct TotalAnswer {
  std::int64_t total = 0;
  std::uint64_t accounts = 0;  // how many accounts were ever opened
};
BOOST_DESCRIBE_STRUCT(TotalAnswer, (), (total, accounts))

/// "balances": queries balance {id} -> {id, owner, balance, closed}
/// (not_found if unknown), accounts {} -> [...], total {} -> {total, accounts}.
annals::ProjectionType balances_projection(int snapshot_every = 0);

struct DayTotals {
  std::int64_t deposits = 0;     // count
  std::int64_t deposited = 0;    // sum
  std::int64_t withdrawals = 0;
  std::int64_t withdrawn = 0;
};
BOOST_DESCRIBE_STRUCT(DayTotals, (), (deposits, deposited, withdrawals, withdrawn))

struct DailyTotals {
  std::map<std::string, DayTotals> days;  // "YYYY-MM-DD" (UTC, commit time)
};
BOOST_DESCRIBE_STRUCT(DailyTotals, (), (days))

/// Query args: {"date": "2026-11-24"}.
struct DayArgs {
  std::string date;
};
BOOST_DESCRIBE_STRUCT(DayArgs, (), (date))

/// "daily_totals": queries day {date} -> DayTotals (zeros when none), days {} -> {date: DayTotals}.
annals::ProjectionType daily_totals_projection(int snapshot_every = 0);

} // namespace bank
