#pragma once

#include <string>

namespace keyflow {

// A random (version 4) UUID in canonical text form.
std::string new_uuid();

}  // namespace keyflow
