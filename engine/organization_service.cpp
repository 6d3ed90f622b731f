#include "engine/organization_service.hpp"

#include "engine/access.hpp"
#include "engine/errc.hpp"
#include "engine/ids.hpp"
#include "engine/key_format.hpp"
#include "engine/sql_values.hpp"
#include "engine/validation.hpp"

namespace keyflow {

Organization OrganizationService::create_organization(const Actor& actor, const std::string& name) {
  if (actor.kind == Actor::Kind::key) {
    throw Error(errc::forbidden, "only the admin token creates organizations");
  }
  require_name(name, "name");
  Organization org{new_id(), name, clock_.now()};
  db_.transact([&](pqxx::work& txn) {
    txn.exec_params(
        "INSERT INTO organizations (id, name, created_at) VALUES ($1::bigint, $2, $3::timestamptz)",
        org.id, org.name, sql_timestamp(org.created_at));
  });
  return org;
}

Organization OrganizationService::get_organization(const Actor& actor, const std::string& id) {
  require_id(id, "id");
  return db_.transact([&](pqxx::work& txn) {
    const auto r = txn.exec_params(
        "SELECT id::text, name, created_at::text FROM organizations WHERE id = $1::bigint", id);
    if (r.empty()) throw Error(errc::not_found, "organization does not exist", "id");
    Organization org{r[0][0].as<std::string>(), r[0][1].as<std::string>(), timestamp_of(r[0][2])};
    require_access(actor, Permission::read, {org.id, std::nullopt}, "organization");
    return org;
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
    if (txn.exec_params("SELECT 1 FROM organizations WHERE id = $1::bigint", organization_id)
            .empty()) {
      throw Error(errc::not_found, "organization does not exist", "organization_id");
    }
    require_access(actor, Permission::manage, {organization_id, std::nullopt}, "organization");
    txn.exec_params(
        "INSERT INTO projects (id, organization_id, name, key_prefix, created_at)"
        " VALUES ($1::bigint, $2::bigint, $3, $4, $5::timestamptz)",
        p.id, p.organization_id, p.name, p.key_prefix, sql_timestamp(p.created_at));
  });
  return p;
}

Project OrganizationService::load_project(pqxx::work& txn, const std::string& id) {
  const auto r = txn.exec_params(
      "SELECT id::text, organization_id::text, name, key_prefix, created_at::text"
      " FROM projects WHERE id = $1::bigint",
      id);
  if (r.empty()) throw Error(errc::not_found, "project does not exist", "id");
  return Project{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<std::string>(),
                 r[0][3].as<std::string>(), timestamp_of(r[0][4])};
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
    const auto inserted = txn.exec_params(
        "INSERT INTO environments (id, project_id, name, created_at)"
        " VALUES ($1::bigint, $2::bigint, $3, $4::timestamptz) ON CONFLICT (project_id, name) DO "
        "NOTHING"
        " RETURNING 1",
        env.id, env.project_id, env.name, sql_timestamp(env.created_at));
    if (inserted.empty()) {
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
    std::vector<Environment> out;
    for (const auto& r : txn.exec_params(
             "SELECT id::text, project_id::text, name, created_at::text FROM environments"
             " WHERE project_id = $1::bigint ORDER BY name",
             project_id)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     timestamp_of(r[3])});
    }
    return out;
  });
}

}  // namespace keyflow
