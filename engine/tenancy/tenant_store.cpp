#include "engine/tenancy/tenant_store.hpp"

#include "engine/store/sql_values.hpp"

namespace keyflow {

void TenantStore::insert(pqxx::work& txn, const Organization& o) {
  txn.exec_params(
      "INSERT INTO organizations (id, name, created_at) VALUES ($1::bigint, $2, $3::timestamptz)",
      o.id, o.name, sql_timestamp(o.created_at));
}

std::optional<Organization> TenantStore::find_organization(pqxx::work& txn, const std::string& id) {
  const auto r = txn.exec_params(
      "SELECT id::text, name, created_at::text FROM organizations WHERE id = $1::bigint", id);
  if (r.empty()) return std::nullopt;
  return Organization{r[0][0].as<std::string>(), r[0][1].as<std::string>(), timestamp_of(r[0][2])};
}

bool TenantStore::organization_exists(pqxx::work& txn, const std::string& id) {
  return !txn.exec_params("SELECT 1 FROM organizations WHERE id = $1::bigint", id).empty();
}

void TenantStore::insert(pqxx::work& txn, const Project& p) {
  txn.exec_params(
      "INSERT INTO projects (id, organization_id, name, key_prefix, created_at)"
      " VALUES ($1::bigint, $2::bigint, $3, $4, $5::timestamptz)",
      p.id, p.organization_id, p.name, p.key_prefix, sql_timestamp(p.created_at));
}

std::optional<Project> TenantStore::find_project(pqxx::work& txn, const std::string& id) {
  const auto r = txn.exec_params(
      "SELECT id::text, organization_id::text, name, key_prefix, created_at::text"
      " FROM projects WHERE id = $1::bigint",
      id);
  if (r.empty()) return std::nullopt;
  return Project{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<std::string>(),
                 r[0][3].as<std::string>(), timestamp_of(r[0][4])};
}

bool TenantStore::insert(pqxx::work& txn, const Environment& e) {
  return !txn.exec_params(
                 "INSERT INTO environments (id, project_id, name, created_at)"
                 " VALUES ($1::bigint, $2::bigint, $3, $4::timestamptz)"
                 " ON CONFLICT (project_id, name) DO NOTHING RETURNING 1",
                 e.id, e.project_id, e.name, sql_timestamp(e.created_at))
              .empty();
}

std::vector<Environment> TenantStore::environments(pqxx::work& txn, const std::string& project_id) {
  std::vector<Environment> out;
  for (const auto& r :
       txn.exec_params("SELECT id::text, project_id::text, name, created_at::text FROM environments"
                       " WHERE project_id = $1::bigint ORDER BY name",
                       project_id)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                   timestamp_of(r[3])});
  }
  return out;
}

std::optional<std::string> TenantStore::environment_name(pqxx::work& txn,
                                                         const std::string& environment_id,
                                                         const std::string& project_id) {
  const auto r = txn.exec_params(
      "SELECT name FROM environments WHERE id = $1::bigint AND project_id = $2::bigint",
      environment_id, project_id);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

}  // namespace keyflow
