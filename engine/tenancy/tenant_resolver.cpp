#include "engine/tenancy/tenant_resolver.hpp"

#include "engine/core/errc.hpp"
#include "engine/core/validation.hpp"
#include "engine/tenancy/tenant_store.hpp"

namespace keyflow {

std::optional<ResolvedTenant> resolve_tenant(pqxx::work& txn,
                                             const std::optional<std::string>& project_id,
                                             const std::optional<std::string>& organization_id,
                                             ForeignProject foreign) {
  if (project_id) {
    require_id(*project_id, "project_id");
    const auto project = TenantStore::find_project(txn, *project_id);
    if (!project) throw Error(errc::not_found, "project does not exist", "project_id");
    if (organization_id && *organization_id != project->organization_id) {
      if (foreign == ForeignProject::missing) {
        throw Error(errc::not_found, "project does not exist", "project_id");
      }
      throw Error(errc::invalid_argument, "project belongs to another organization",
                  "organization_id");
    }
    return ResolvedTenant{{project->organization_id, project->id}, project->key_prefix};
  }
  if (!organization_id) return std::nullopt;
  require_id(*organization_id, "organization_id");
  if (!TenantStore::organization_exists(txn, *organization_id)) {
    throw Error(errc::not_found, "organization does not exist", "organization_id");
  }
  return ResolvedTenant{{*organization_id, std::nullopt}};
}

}  // namespace keyflow
