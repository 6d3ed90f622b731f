#include "tests/support/openapi_spec.hpp"

#include <set>

namespace keyflow::test {
namespace {

// The HTTP methods an OpenAPI path item may hold.
const std::set<std::string> kOperationKeys = {"get",     "put",  "post",  "delete",
                                              "options", "head", "patch", "trace"};

}  // namespace

OpenApiSpec::OpenApiSpec()
    : root_(YAML::LoadFile(std::string(KEYFLOW_SOURCE_DIR) + "/schemas/openapi.yaml")) {}

std::map<OpenApiSpec::Route, YAML::Node> OpenApiSpec::operations() const {
  std::map<Route, YAML::Node> out;
  for (const auto& path : root_["paths"]) {
    for (const auto& item : path.second) {
      const auto key = item.first.as<std::string>();
      if (kOperationKeys.contains(key)) {
        out.emplace(Route{key, path.first.as<std::string>()}, item.second);
      }
    }
  }
  return out;
}

YAML::Node OpenApiSpec::resolve(const std::string& ref) const {
  if (!ref.starts_with("#/")) return YAML::Node(YAML::NodeType::Undefined);
  // reset() rebinds a node; assigning one would overwrite the document's contents.
  YAML::Node node;
  node.reset(root_);
  std::size_t start = 2;
  while (start <= ref.size()) {
    auto end = ref.find('/', start);
    if (end == std::string::npos) end = ref.size();
    std::string token = ref.substr(start, end - start);
    for (std::size_t at; (at = token.find("~1")) != std::string::npos;)
      token.replace(at, 2, "/");
    for (std::size_t at; (at = token.find("~0")) != std::string::npos;)
      token.replace(at, 2, "~");
    // Read through a const reference: operator[] on a mutable node may add what it looks up.
    const YAML::Node& current = node;
    if (!current.IsMap() || !current[token]) return YAML::Node(YAML::NodeType::Undefined);
    node.reset(current[token]);
    start = end + 1;
  }
  return node;
}

YAML::Node OpenApiSpec::dereference(const YAML::Node& node) const {
  if (node.IsMap() && node["$ref"]) return resolve(node["$ref"].as<std::string>());
  return node;
}

std::vector<std::string> OpenApiSpec::parameters(const Route& route, const std::string& in) const {
  std::vector<std::string> out;
  const auto op = operations().at(route);
  const YAML::Node& paths = root_["paths"];
  for (const auto& list : {paths[route.second]["parameters"], op["parameters"]}) {
    if (!list) continue;
    for (const auto& p : list) {
      const auto param = dereference(p);
      if (param.IsMap() && param["in"].as<std::string>() == in) {
        out.push_back(param["name"].as<std::string>());
      }
    }
  }
  return out;
}

std::vector<std::string> OpenApiSpec::body_properties(const Route& route) const {
  std::vector<std::string> out;
  const auto op = operations().at(route);
  if (!op["requestBody"]) return out;
  const YAML::Node body = dereference(op["requestBody"]);
  if (!body.IsMap() || !body["content"] || !body["content"]["application/json"] ||
      !body["content"]["application/json"]["schema"]) {
    return out;
  }
  const YAML::Node schema = dereference(body["content"]["application/json"]["schema"]);
  if (!schema.IsMap() || !schema["properties"]) return out;
  for (const auto& property : schema["properties"])
    out.push_back(property.first.as<std::string>());
  return out;
}

}  // namespace keyflow::test
