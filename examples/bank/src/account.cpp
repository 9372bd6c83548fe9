#include "bank/account.hpp"

#include <limits>

namespace bank {

using annals::Decision;
using annals::emit;
using annals::reject;

namespace {

// Shared precondition of deposit, withdraw and close.
std::optional<Decision> must_be_active(const Account& s) {
  if (!s.open) return reject("account_not_open", "the account has not been opened");
  if (s.closed) return reject("account_closed", "the account is closed");
  return std::nullopt;
}

std::optional<Decision> must_be_positive(std::int64_t amount) {
  if (amount <= 0) return reject("invalid_amount", "amount must be positive, got " + std::to_string(amount));
  return std::nullopt;
}

} // namespace

annals::AggregateType account_type(int snapshot_every) {
  return annals::AggregateType::define<Account>("account")
    .handle<OpenAccount>([](const Account& s, const OpenAccount& c) -> Decision {
      if (s.open) return reject("already_open", "the account is already open");
      if (c.owner.empty()) return reject("invalid_owner", "owner must not be empty");
      if (!c.initial_deposit || *c.initial_deposit == 0) return emit(AccountOpened{c.owner});
      if (auto no = must_be_positive(*c.initial_deposit)) return *no;
      return emit(AccountOpened{c.owner}, Deposited{*c.initial_deposit});
    })
    .handle<Deposit>([](const Account& s, const Deposit& c) -> Decision {
      if (auto no = must_be_active(s)) return *no;
      if (auto no = must_be_positive(c.amount)) return *no;
      // The balance is an int64 of cents: a deposit that would pass its
      // maximum is refused, never wrapped to a negative balance.
      if (c.amount > std::numeric_limits<std::int64_t>::max() - s.balance)
        return reject("balance_overflow", "a deposit of " + std::to_string(c.amount) + " to the balance of "
                                            + std::to_string(s.balance) + " would exceed the largest balance, "
                                            + std::to_string(std::numeric_limits<std::int64_t>::max()));
      return emit(Deposited{c.amount});
    })
    .handle<Withdraw>([](const Account& s, const Withdraw& c) -> Decision {
      if (auto no = must_be_active(s)) return *no;
      if (auto no = must_be_positive(c.amount)) return *no;
      if (c.amount > s.balance)
        return reject("insufficient_funds", "balance " + std::to_string(s.balance)
                                              + " is less than " + std::to_string(c.amount));
      return emit(Withdrawn{c.amount});
    })
    .handle<CloseAccount>([](const Account& s, const CloseAccount&) -> Decision {
      if (auto no = must_be_active(s)) return *no;
      if (s.balance != 0)
        return reject("balance_not_zero", "withdraw the balance of " + std::to_string(s.balance) + " first");
      return emit(AccountClosed{});
    })
    .apply<AccountOpened>([](Account& s, const AccountOpened& e) {
      s.open = true;
      s.owner = e.owner;
    })
    .apply<Deposited>([](Account& s, const Deposited& e) { s.balance += e.amount; })
    .apply<Withdrawn>([](Account& s, const Withdrawn& e) { s.balance -= e.amount; })
    .apply<AccountClosed>([](Account& s, const AccountClosed&) { s.closed = true; })
    .rejects("already_open", "open: the account is already open")
    .rejects("invalid_owner", "open: the owner is empty")
    .rejects("account_not_open", "deposit, withdraw, close: the account has not been opened")
    .rejects("account_closed", "deposit, withdraw, close: the account is closed")
    .rejects("invalid_amount", "open, deposit, withdraw: the amount is not positive")
    .rejects("insufficient_funds", "withdraw: the amount is more than the balance")
    .rejects("balance_not_zero", "close: the balance is not 0")
    .rejects("balance_overflow", "deposit: the balance would pass the largest int64")
    .snapshot_every(snapshot_every);
}

} // namespace bank
