#pragma once
// The bank example: accounts that can be opened, credited, debited and
// closed. Commands, events and state are plain described structs; the
// aggregate type is their wiring.

#include <annals/aggregate_type.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace bank {

// --- state -----------------------------------------------------------------
struct Account {
  bool open = false;
  bool closed = false;
  std::string owner;
  std::int64_t balance = 0;  // in cents
};
BOOST_DESCRIBE_STRUCT(Account, (), (open, closed, owner, balance))

// --- commands --------------------------------------------------------------
struct OpenAccount {
  static constexpr const char* command_type = "open";
  std::string owner;
  std::optional<std::int64_t> initial_deposit;
};
BOOST_DESCRIBE_STRUCT(OpenAccount, (), (owner, initial_deposit))

struct Deposit {
  static constexpr const char* command_type = "deposit";
  std::int64_t amount = 0;
};
BOOST_DESCRIBE_STRUCT(Deposit, (), (amount))

struct Withdraw {
  static constexpr const char* command_type = "withdraw";
  std::int64_t amount = 0;
};
BOOST_DESCRIBE_STRUCT(Withdraw, (), (amount))

struct CloseAccount {
  static constexpr const char* command_type = "close";
};
BOOST_DESCRIBE_STRUCT(CloseAccount, (), ())

// --- events ----------------------------------------------------------------
struct AccountOpened {
  static constexpr const char* event_type = "opened";
  std::string owner;
};
BOOST_DESCRIBE_STRUCT(AccountOpened, (), (owner))

struct Deposited {
  static constexpr const char* event_type = "deposited";
  std::int64_t amount = 0;
};
BOOST_DESCRIBE_STRUCT(Deposited, (), (amount))

struct Withdrawn {
  static constexpr const char* event_type = "withdrawn";
  std::int64_t amount = 0;
};
BOOST_DESCRIBE_STRUCT(Withdrawn, (), (amount))

struct AccountClosed {
  static constexpr const char* event_type = "closed";
};
BOOST_DESCRIBE_STRUCT(AccountClosed, (), ())

/// The "account" aggregate type. Rejections: already_open, account_not_open,
/// account_closed, invalid_amount, insufficient_funds, balance_not_zero,
/// balance_overflow (a deposit past the largest int64 balance).
/// `snapshot_every` 0 disables snapshots.
annals::AggregateType account_type(int snapshot_every = 100);

} // namespace bank
