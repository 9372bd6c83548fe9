// The Runtime facade, direct reads of the store on a connection of its own.
#include "runtime_impl.hpp"

namespace annals {

std::vector<AuditRecord> Runtime::audit_log(std::int64_t from_id, std::size_t max_count) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().audit_log(from_id, max_count);
}

std::vector<Event> Runtime::read_stream(const StreamId& stream, std::int64_t from_version,
                                        std::size_t max_count) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().read_stream(stream, from_version, max_count);
}

std::vector<Event> Runtime::read_all(std::int64_t from_position, std::size_t max_count) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().read_all(from_position, max_count);
}

std::int64_t Runtime::head_position() {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().head_position();
}

} // namespace annals
