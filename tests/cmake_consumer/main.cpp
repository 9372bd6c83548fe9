// The consumer project's service: a runtime on an in-memory store with the
// bank domain's aggregate type.
#include <annals/persistence/memory_event_store.hpp>
#include <annals/runtime.hpp>

int main() {
  annals::RuntimeOptions options;
  options.store = annals::memory_store();
  annals::Runtime runtime(options);
  return runtime.projection_names().empty() ? 0 : 1;
}
