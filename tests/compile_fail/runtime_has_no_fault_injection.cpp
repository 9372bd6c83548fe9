// Must NOT compile: embedding code that includes only the runtime facade and
// tries to inject a fault. Fault injection is FaultInjector's
// (annals/fault_injector.hpp), not Runtime's. Built with
// -DANNALS_WITH_FAULT_INJECTOR as the control, which must compile, so the
// failure is the missing interface and nothing else.
#include <annals/runtime.hpp>
#ifdef ANNALS_WITH_FAULT_INJECTOR
#include <annals/fault_injector.hpp>
#endif

void crash(annals::Runtime& rt) {
#ifdef ANNALS_WITH_FAULT_INJECTOR
  annals::FaultInjector(rt).crash_projection("balances");
#else
  rt.crash_projection("balances");
#endif
}

int main() { return 0; }
