#pragma once

#include <optional>
#include <string>

#include "engine/core/model.hpp"

namespace keyflow {

// What an operation needs of its caller. Scopes grant them: READ → read, CREATE → create,
// UPDATE → update (rotate included), DELETE → remove, MANAGE → all of these plus manage
// (webhooks, connections, tenants).
enum class Permission { read, create, update, remove, manage };

// Where a resource lives.
struct Tenant {
  std::string organization_id;
  std::optional<std::string> project_id;
};

// True when the resource lies inside the caller's reach: everything for the admin, the
// caller's organization for an organization key, the caller's project for a project key.
bool can_reach(const Actor& actor, const Tenant& resource);

bool has_permission(const Actor& actor, Permission permission);

// Throws Error(not_found) when the resource is out of reach — the same answer as for a
// resource that does not exist, so ids never leak across tenants — and Error(forbidden) when
// it is in reach but the caller's scopes do not grant the permission.
void require_access(const Actor& actor, Permission permission, const Tenant& resource,
                    const char* what = "resource");

}  // namespace keyflow
