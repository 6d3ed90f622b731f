#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "engine/tenancy/access.hpp"

namespace keyflow {

// What a project_id of another organization than the organization_id beside it is: a request
// that contradicts itself (creating: 422 naming organization_id) or a project that is not there
// for that organization (listing: 404 naming project_id).
enum class ForeignProject { invalid, missing };

// The tenant a request names: a project (with its organization, read from the project and
// checked against organization_id when both are given) or an organization alone; nullopt when
// it names neither. Throws Error(invalid_argument) for an id that is not one and
// Error(not_found) naming the field for a project or organization that does not exist. Reach
// and scopes are the caller's to check (require_access).
struct ResolvedTenant {
  Tenant tenant;
  std::string key_prefix = "kf";  // the project's, for the keys made in it
};
std::optional<ResolvedTenant> resolve_tenant(pqxx::work& txn,
                                             const std::optional<std::string>& project_id,
                                             const std::optional<std::string>& organization_id,
                                             ForeignProject foreign);

}  // namespace keyflow
