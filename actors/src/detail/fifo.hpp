#pragma once
// INTERNAL. A first-in-first-out queue that allocates nothing while empty.
// std::deque allocates a map and a node at construction (about 600 bytes for
// a queued command); with a queue per live aggregate that was the largest
// part of an idle actor's memory (bench W4).

#include <cstddef>
#include <utility>
#include <vector>

namespace annals::actors::detail {

template <class T>
class Fifo {
public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  void push_back(T item) { items_.push_back(std::move(item)); }
  void pop_front() {
    items_[head_] = T{};  // release what it holds now, not when the queue compacts
    if (++head_ == items_.size()) {
      // Drained: start again at the front; a burst's capacity is given back.
      head_ = 0;
      if (items_.capacity() > 16) std::vector<T>().swap(items_);
      else items_.clear();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      // Half consumed: move the rest to the front (amortised O(1) per item).
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

} // namespace annals::actors::detail
