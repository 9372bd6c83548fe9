// Must NOT compile: domain code (built against domain/include alone, as
// annals::domain is) that includes the runtime facade. Built with
// -DANNALS_DOMAIN_ONLY as the control, which must compile, so the failure is
// the missing header and nothing else.
#include <annals/aggregate_type.hpp>
#include <annals/projection_type.hpp>
#ifndef ANNALS_DOMAIN_ONLY
#include <annals/runtime.hpp>
#endif

int main() { return 0; }
