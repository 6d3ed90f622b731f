#include "engine/tenancy/organization_service.hpp"

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/validation.hpp"
#include "engine/keys/key_format.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/tenancy/tenant_store.hpp"

namespace keyflow {

Organization OrganizationService::create_organization(const Actor& actor, const std::string& name) {
  if (actor.kind == Actor::Kind::key) {
    throw Error(errc::forbidden, "only the admin token creates organizations");
  }
  require_name(name, "name");
  Organization org{new_id(), name, clock_.now()};
  db_.transact([&](pqxx::work& txn) { TenantStore::insert(txn, org); });
  return org;
}

Organization OrganizationService::get_organization(const Actor& actor, const std::string& id) {
  require_id(id, "id");
  return db_.transact([&](pqxx::work& txn) {
    auto org = TenantStore::find_organization(txn, id);
    if (!org) throw Error(errc::not_found, "organization does not exist", "id");
    require_access(actor, Permission::read, {org->id, std::nullopt}, "organization");
    return std::move(*org);
  });
}

Project OrganizationService::create_project(const Actor& actor, const std::string& organization_id,
                                            const std::string& name,
                                            const std::string& key_prefix) {
  require_id(organization_id, "organization_id");
  require_name(name, "name");
  if (!is_valid_key_label(key_prefix)) {
    throw Error(errc::invalid_argument, "key_prefix must be 1-16 characters of a-z and 0-9",
                "key_prefix");
  }
  Project p{new_id(), organization_id, name, key_prefix, clock_.now()};
  db_.transact([&](pqxx::work& txn) {
    if (!TenantStore::organization_exists(txn, organization_id)) {
      throw Error(errc::not_found, "organization does not exist", "organization_id");
    }
    require_access(actor, Permission::manage, {organization_id, std::nullopt}, "organization");
    TenantStore::insert(txn, p);
  });
  return p;
}

Project OrganizationService::load_project(pqxx::work& txn, const std::string& id) {
  auto project = TenantStore::find_project(txn, id);
  if (!project) throw Error(errc::not_found, "project does not exist", "id");
  return std::move(*project);
}

Project OrganizationService::get_project(const Actor& actor, const std::string& id) {
  require_id(id, "id");
  return db_.transact([&](pqxx::work& txn) {
    auto project = load_project(txn, id);
    require_access(actor, Permission::read, {project.organization_id, project.id}, "project");
    return project;
  });
}

Environment OrganizationService::create_environment(const Actor& actor,
                                                    const std::string& project_id,
                                                    const std::string& name) {
  require_id(project_id, "id");
  if (!is_valid_key_label(name)) {
    throw Error(errc::invalid_argument,
                "name must be 1-16 characters of a-z and 0-9 (it becomes part of the key prefix)",
                "name");
  }
  Environment env{new_id(), project_id, name, clock_.now()};
  db_.transact([&](pqxx::work& txn) {
    const auto project = load_project(txn, project_id);
    require_access(actor, Permission::manage, {project.organization_id, project.id}, "project");
    if (!TenantStore::insert(txn, env)) {
      throw Error(errc::conflict, "the project already has an environment named " + name, "name");
    }
  });
  return env;
}

std::vector<Environment> OrganizationService::list_environments(const Actor& actor,
                                                                const std::string& project_id) {
  require_id(project_id, "id");
  return db_.transact([&](pqxx::work& txn) {
    const auto project = load_project(txn, project_id);
    require_access(actor, Permission::read, {project.organization_id, project.id}, "project");
    return TenantStore::environments(txn, project_id);
  });
}

}  // namespace keyflow
