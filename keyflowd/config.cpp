#include "keyflowd/config.hpp"

#include <functional>
#include <map>
#include <string_view>

namespace keyflow {
namespace {

struct Setting {
  const char* env;
  const char* flag;
  std::function<std::string(Config&, const std::string&)> apply;  // returns an error or ""
};

bool parse_bool(const std::string& v) {
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"KEYFLOW_DATABASE_URL", "--database-url",
       [](Config& c, const std::string& v) {
         c.database_url = v;
         return std::string();
       }},
      {"KEYFLOW_KAFKA_BROKERS", "--kafka-brokers",
       [](Config& c, const std::string& v) {
         c.kafka_brokers = v;
         return std::string();
       }},
      {"KEYFLOW_HTTP_ADDR", "--http-addr",
       [](Config& c, const std::string& v) {
         c.http_addr = v;
         return std::string();
       }},
      {"KEYFLOW_ADMIN_TOKEN", "--admin-token",
       [](Config& c, const std::string& v) {
         c.admin_token = v;
         return std::string();
       }},
      {"KEYFLOW_MASTER_KEY", "--master-key",
       [](Config& c, const std::string& v) {
         c.master_key = MasterKey::from_base64(v);
         return c.master_key ? std::string() : std::string("must be 32 bytes, base64");
       }},
      {"KEYFLOW_WEBHOOK_ALLOW_PRIVATE", "--webhook-allow-private",
       [](Config& c, const std::string& v) {
         c.webhook_allow_private = parse_bool(v);
         return std::string();
       }},
      {"KEYFLOW_KAFKA_BOOTSTRAP_FILE", "--kafka-bootstrap-file",
       [](Config& c, const std::string& v) {
         c.kafka_bootstrap_file = v;
         return std::string();
       }},
      {"KEYFLOW_LOG_LEVEL", "--log-level",
       [](Config& c, const std::string& v) {
         c.log_level = v;
         return std::string();
       }},
      {"KEYFLOW_OUTBOX_RETENTION", "--outbox-retention",
       [](Config& c, const std::string& v) {
         const auto retention = parse_retention(v);
         if (!retention) return std::string("must be a duration such as 7d, 36h, 90m or 45s");
         c.outbox_retention = *retention;
         return std::string();
       }},
  };
  return all;
}

const std::vector<std::string_view> kRoles = {"serve",   "relay",  "deliver", "schedule",
                                              "migrate", "broker", "all"};

}  // namespace

std::string usage() {
  std::string text =
      "usage: keyflowd <role> [--flag=value ...]\n"
      "roles: serve relay deliver schedule migrate broker all\n"
      "settings (environment variable, or flag):\n";
  for (const auto& s : settings())
    text += std::string("  ") + s.env + "  " + s.flag + "\n";
  return text;
}

ConfigResult load_config(int argc, const char* const* argv, const char* const* envp) {
  Config config;
  std::map<std::string, std::string, std::less<>> env;
  for (auto e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& s : settings()) {
    if (auto it = env.find(s.env); it != env.end()) {
      if (auto err = s.apply(config, it->second); !err.empty()) {
        return {std::nullopt, std::string(s.env) + ": " + err};
      }
    }
  }
  if (argc < 2) return {std::nullopt, "missing role\n" + usage()};
  config.role = argv[1];
  if (config.role == "-h" || config.role == "--help" || config.role == "help") {
    return {std::nullopt, "help"};
  }
  bool known = false;
  for (auto r : kRoles)
    known = known || r == config.role;
  if (!known) return {std::nullopt, "unknown role '" + config.role + "'\n" + usage()};

  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    const Setting* match = nullptr;
    for (const auto& s : settings()) {
      if (arg == s.flag) match = &s;
    }
    if (match == nullptr) return {std::nullopt, "unknown flag '" + arg + "'\n" + usage()};
    if (eq == std::string::npos) {
      if (arg == "--webhook-allow-private") {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return {std::nullopt, arg + " needs a value"};
      }
    }
    if (auto err = match->apply(config, value); !err.empty()) {
      return {std::nullopt, arg + ": " + err};
    }
  }
  return {config, {}};
}

}  // namespace keyflow
