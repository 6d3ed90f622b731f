#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/model.hpp"

namespace keyflow {

// SQL for organizations, projects and environments, and nothing else. Every function works
// inside the caller's transaction.
class TenantStore {
 public:
  static void insert(pqxx::work& txn, const Organization& organization);
  static std::optional<Organization> find_organization(pqxx::work& txn, const std::string& id);
  static bool organization_exists(pqxx::work& txn, const std::string& id);

  static void insert(pqxx::work& txn, const Project& project);
  static std::optional<Project> find_project(pqxx::work& txn, const std::string& id);

  // False when the project already has an environment of that name.
  static bool insert(pqxx::work& txn, const Environment& environment);
  static std::vector<Environment> environments(pqxx::work& txn, const std::string& project_id);
  // The name of the environment, if it is one of that project's.
  static std::optional<std::string> environment_name(pqxx::work& txn,
                                                     const std::string& environment_id,
                                                     const std::string& project_id);
};

}  // namespace keyflow
