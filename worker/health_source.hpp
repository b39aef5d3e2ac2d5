// Where the runtime's health readings come from, when not from the worker
// itself. tend-batch serves the protocol for tests that run in a child
// process: the health it reports is the child's. Not a public header.
#pragma once

#include "messages.hpp"

namespace tend::worker {

/// Returns the health to report with a result or a finalize.
using HealthSource = protocol::Health (*)();

/// Replaces the worker's own readings with `source`'s (null: the worker's
/// own again). Call before serve().
void set_health_source(HealthSource source);

}  // namespace tend::worker
