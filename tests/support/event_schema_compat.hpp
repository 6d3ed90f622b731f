#pragma once

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "tests/support/event_schema.hpp"

namespace keyflow::test {

// Whether an event schema still describes what consumers have already received, taking the
// recorded events of its type (examples/<type>/) as the record of that. Consumers built against
// the schema read those members with those types, so a change is breaking when it
//   - rejects a recorded event: a type, format or enum tightened, a field added as required,
//     a field renamed;
//   - no longer declares a member that recorded events carry: a field removed or renamed;
//   - lets a recorded member go missing, become null, change its JSON type, or stop being a
//     UUID or a date-time, when no recorded event of the type ever had it so.
// The last point is checked by mutating each recorded event and expecting the schema to reject
// the mutant. Members inside free-form objects (meta, the client's JSON; previous, which holds
// only the changed fields) are left alone. One line per problem, naming the recorded event;
// empty when the schema is compatible.
std::vector<std::string> compatibility_problems(const boost::json::value& schema,
                                                const std::vector<EventExample>& recorded);

// The schema with every local reference ("#/definitions/...") replaced by what it points to.
// Throws std::runtime_error for other references and for cycles.
boost::json::value inline_references(const boost::json::value& schema);

// The schema (references inlined) with additionalProperties: false on every object schema that
// declares properties, also through allOf: only the declared members are allowed. Additions are
// fine for consumers; this variant finds recorded members the schema forgot.
boost::json::value closed_schema(const boost::json::value& schema);

}  // namespace keyflow::test
