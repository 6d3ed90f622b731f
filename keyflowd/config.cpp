#include "keyflowd/config.hpp"

#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string_view>

#include "engine/keys/cidr.hpp"

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

// A whole number in [min, max] into the field `at` picks of a Config; the setting's error
// otherwise.
template <class Field>
std::function<std::string(Config&, const std::string&)> whole_number(Field at, long long min,
                                                                     long long max) {
  return [=](Config& c, const std::string& v) {
    long long n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < min || n > max) {
      return "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    }
    auto& field = at(c);
    field = std::remove_reference_t<decltype(field)>(n);
    return std::string();
  };
}

template <class T>
std::function<std::string(Config&, const std::string&)> number_setting(T Config::HttpLimits::*field,
                                                                       long long min,
                                                                       long long max) {
  return whole_number([field](Config& c) -> T& { return c.http.*field; }, min, max);
}

template <class T>
std::function<std::string(Config&, const std::string&)> number_setting(T Config::*field,
                                                                       long long min,
                                                                       long long max) {
  return whole_number([field](Config& c) -> T& { return c.*field; }, min, max);
}

std::function<std::string(Config&, const std::string&)> text_setting(std::string Config::*field) {
  return [=](Config& c, const std::string& v) {
    c.*field = v;
    return std::string();
  };
}

// A duration such as 7d, 36h, 90m, 45s (or plain seconds) into target.
std::function<std::string(Config&, const std::string&)> duration_setting(
    std::chrono::seconds Config::*field) {
  return [=](Config& c, const std::string& v) {
    const auto d = parse_retention(v);
    if (!d) return std::string("must be a duration such as 7d, 36h, 90m or 45s");
    c.*field = *d;
    return std::string();
  };
}

// Long enough that guessing it is hopeless: 16 characters at the least (scripts/run makes 64).
constexpr std::size_t kMinAdminTokenChars = 16;

std::string admin_token_setting(Config& c, const std::string& v) {
  if (v.size() < kMinAdminTokenChars) {
    return "must be at least " + std::to_string(kMinAdminTokenChars) + " characters";
  }
  c.admin_token = v;
  return std::string();
}

std::string master_key_setting(Config& c, const std::string& v) {
  c.master_key = MasterKey::from_base64(v);
  return c.master_key ? std::string() : std::string("must be 32 bytes, base64");
}

std::string previous_master_keys_setting(Config& c, const std::string& v) {
  c.previous_master_keys.clear();
  std::size_t start = 0;
  while (start <= v.size()) {
    auto end = v.find(',', start);
    if (end == std::string::npos) end = v.size();
    auto item = v.substr(start, end - start);
    while (!item.empty() && item.front() == ' ')
      item.erase(item.begin());
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty()) {
      auto key = MasterKey::from_base64(item);
      if (!key) return std::string("must be master keys (32 bytes, base64) separated by commas");
      c.previous_master_keys.push_back(*key);
    }
    start = end + 1;
  }
  return std::string();
}

// The same setting, its value read from the file the variable names (a mounted secret), with
// the trailing newline and spaces an editor or `echo` leaves dropped. Errors never show the
// file's content.
std::function<std::string(Config&, const std::string&)> from_file(
    std::string (*apply)(Config&, const std::string&)) {
  return [apply](Config& c, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "cannot read " + path;
    std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
      value.pop_back();
    const auto err = apply(c, value);
    return err.empty() ? err : "the content of " + path + " " + err;
  };
}

const std::vector<Setting>& settings() {
  using Limits = Config::HttpLimits;
  static const std::vector<Setting> all = {
      {"KEYFLOW_DATABASE_URL", "--database-url", text_setting(&Config::database_url)},
      {"KEYFLOW_KAFKA_BROKERS", "--kafka-brokers", text_setting(&Config::kafka_brokers)},
      {"KEYFLOW_KAFKA_COMPRESSION", "--kafka-compression",
       [](Config& c, const std::string& v) {
         for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
           if (v == codec) {
             c.kafka_compression = v;
             return std::string();
           }
         }
         return std::string("must be one of none, gzip, snappy, lz4, zstd");
       }},
      {"KEYFLOW_HTTP_ADDR", "--http-addr", text_setting(&Config::http_addr)},
      {"KEYFLOW_METRICS_ADDR", "--metrics-addr", text_setting(&Config::metrics_addr)},
      {"KEYFLOW_ADMIN_TOKEN", "--admin-token", admin_token_setting},
      {"KEYFLOW_ADMIN_TOKEN_FILE", "--admin-token-file", from_file(admin_token_setting)},
      {"KEYFLOW_MASTER_KEY", "--master-key", master_key_setting},
      {"KEYFLOW_MASTER_KEY_FILE", "--master-key-file", from_file(master_key_setting)},
      {"KEYFLOW_PREVIOUS_MASTER_KEYS", "--previous-master-keys", previous_master_keys_setting},
      {"KEYFLOW_PREVIOUS_MASTER_KEYS_FILE", "--previous-master-keys-file",
       from_file(previous_master_keys_setting)},
      {"KEYFLOW_WEBHOOK_ALLOW_PRIVATE", "--webhook-allow-private",
       [](Config& c, const std::string& v) {
         c.webhook_allow_private = parse_bool(v);
         return std::string();
       }},
      {"KEYFLOW_WEBHOOK_ALLOW_CIDRS", "--webhook-allow-cidrs",
       [](Config& c, const std::string& v) {
         c.webhook_allow_cidrs = split_cidr_list(v);
         for (const auto& cidr : c.webhook_allow_cidrs) {
           if (!canonical_cidr(cidr)) return "'" + cidr + "' is not a CIDR such as 10.0.0.0/8";
         }
         return std::string();
       }},
      {"KEYFLOW_WEBHOOK_MAX_SUBSCRIPTIONS", "--webhook-max-subscriptions",
       number_setting(&Config::webhook_max_subscriptions, 1, 100000)},
      {"KEYFLOW_VERIFY_CACHE_TTL", "--verify-cache-ttl",
       duration_setting(&Config::verify_cache_ttl)},
      {"KEYFLOW_VERIFY_CACHE_KEYS", "--verify-cache-keys",
       number_setting(&Config::verify_cache_keys, 1000, 100000000)},
      {"KEYFLOW_WEBHOOK_RETRY_SCHEDULE", "--webhook-retry-schedule",
       [](Config& c, const std::string& v) {
         auto schedule = RetrySchedule::parse(v);
         if (!schedule) return std::string("must be delays such as 0s,5s,5m,30m,2h (the first 0s)");
         c.webhook_retry = std::move(*schedule);
         return std::string();
       }},
      {"KEYFLOW_KAFKA_BOOTSTRAP_FILE", "--kafka-bootstrap-file",
       text_setting(&Config::kafka_bootstrap_file)},
      {"KEYFLOW_LOG_LEVEL", "--log-level",
       [](Config& c, const std::string& v) {
         for (const char* level :
              {"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}) {
           if (v == level) {
             c.log_level = v;
             return std::string();
           }
         }
         return std::string("must be one of trace, debug, info, warning, error, critical, off");
       }},
      {"KEYFLOW_LOG_FORMAT", "--log-format",
       [](Config& c, const std::string& v) {
         if (v != "text" && v != "json") return std::string("must be text or json");
         c.log_format = v == "json" ? LogFormat::json : LogFormat::text;
         return std::string();
       }},
      {"KEYFLOW_ACCESS_LOG", "--access-log",
       [](Config& c, const std::string& v) {
         c.access_log = parse_bool(v);
         return std::string();
       }},
      {"KEYFLOW_OUTBOX_RETENTION", "--outbox-retention",
       duration_setting(&Config::outbox_retention)},
      {"KEYFLOW_WEBHOOK_RETENTION", "--webhook-retention",
       duration_setting(&Config::webhook_retention)},
      {"KEYFLOW_WEBHOOK_DISABLE_AFTER", "--webhook-disable-after",
       duration_setting(&Config::webhook_disable_after)},
      {"KEYFLOW_EXPIRY_WARNING", "--expiry-warning", duration_setting(&Config::expiry_warning)},
      {"KEYFLOW_ROTATION_GRACE", "--rotation-grace", duration_setting(&Config::rotation_grace)},
      {"KEYFLOW_ROTATION_GRACE_EXTENSION", "--rotation-grace-extension",
       duration_setting(&Config::rotation_grace_extension)},
      {"KEYFLOW_HTTP_MAX_CONNECTIONS", "--http-max-connections",
       number_setting(&Limits::max_connections, 1, 1000000)},
      {"KEYFLOW_HTTP_MAX_BODY_BYTES", "--http-max-body-bytes",
       number_setting(&Limits::max_body_bytes, 1024, 16 * 1024 * 1024)},
      {"KEYFLOW_HTTP_MAX_HEADER_BYTES", "--http-max-header-bytes",
       number_setting(&Limits::max_header_bytes, 1024, 1024 * 1024)},
      {"KEYFLOW_HTTP_MAX_HEADERS", "--http-max-headers",
       number_setting(&Limits::max_headers, 8, 10000)},
      {"KEYFLOW_HTTP_MAX_TARGET_BYTES", "--http-max-target-bytes",
       number_setting(&Limits::max_target_bytes, 256, 1024 * 1024)},
      {"KEYFLOW_HTTP_HEADER_TIMEOUT", "--http-header-timeout",
       number_setting(&Limits::header_timeout, 1, 3600)},
      {"KEYFLOW_HTTP_THREADS", "--http-threads", number_setting(&Limits::threads, 0, 1024)},
      {"KEYFLOW_HTTP_MAX_QUEUED", "--http-max-queued",
       number_setting(&Limits::max_queued, 1, 1000000)},
      {"KEYFLOW_HTTP_IDLE_TIMEOUT", "--http-idle-timeout",
       number_setting(&Limits::idle_timeout, 1, 3600)},
  };
  return all;
}

const std::vector<std::string_view> kRoles = {"serve",   "relay",  "deliver", "schedule",
                                              "migrate", "broker", "all",     "rekey"};

}  // namespace

std::string usage() {
  std::string text =
      "usage: keyflowd <role> [--flag=value ...]\n"
      "roles: serve relay deliver schedule migrate broker all rekey\n"
      "settings (environment variable, or flag):\n";
  for (const auto& s : settings())
    text += std::string("  ") + s.env + "  " + s.flag + "\n";
  return text;
}

namespace {

// Every KEYFLOW_* variable of envp that names a setting; returns the first error or "".
std::string apply_environment(Config& config, const char* const* envp) {
  std::map<std::string, std::string, std::less<>> env;
  for (auto e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& s : settings()) {
    if (auto it = env.find(s.env); it != env.end()) {
      if (auto err = s.apply(config, it->second); !err.empty())
        return std::string(s.env) + ": " + err;
      env.erase(it);
    }
  }
  for (const auto& [name, value] : env) {
    const auto property = kafka_property_of_variable(name);
    if (property.empty()) continue;
    if (auto err = check_kafka_property(property, value); !err.empty()) return name + ": " + err;
    config.kafka_properties[property] = value;
  }
  return {};
}

// The flags after the role (--flag=value or --flag value), over the environment's values.
std::string apply_flags(Config& config, int argc, const char* const* argv) {
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
    if (match == nullptr) return "unknown flag '" + arg + "'\n" + usage();
    if (eq == std::string::npos) {
      if (arg == "--webhook-allow-private") {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return arg + " needs a value";
      }
    }
    if (auto err = match->apply(config, value); !err.empty()) {
      return arg + ": " + err;
    }
  }
  return {};
}

}  // namespace

ConfigResult load_config(int argc, const char* const* argv, const char* const* envp) {
  Config config;
  if (auto err = apply_environment(config, envp); !err.empty()) return {std::nullopt, err};
  if (argc < 2) return {std::nullopt, "missing role\n" + usage()};
  config.role = argv[1];
  if (config.role == "-h" || config.role == "--help" || config.role == "help") {
    return {std::nullopt, "help"};
  }
  bool known = false;
  for (auto r : kRoles)
    known = known || r == config.role;
  if (!known) return {std::nullopt, "unknown role '" + config.role + "'\n" + usage()};

  if (auto err = apply_flags(config, argc, argv); !err.empty()) return {std::nullopt, err};
  if (config.http.header_timeout > config.http.idle_timeout) {
    return {std::nullopt,
            "KEYFLOW_HTTP_HEADER_TIMEOUT must not be longer than "
            "KEYFLOW_HTTP_IDLE_TIMEOUT"};
  }
  return {config, {}};
}

}  // namespace keyflow
