// keyflowd: one binary, one subcommand per role. This file only reads the configuration and
// hands over to the role.
#include <cstdio>

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "engine/core/logging.hpp"
#include "keyflowd/config.hpp"
#include "keyflowd/roles.hpp"

extern char** environ;

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "keyflowd: libsodium failed to initialise\n");
    return 1;
  }
  const auto loaded = keyflow::load_config(argc, argv, environ);
  if (!loaded.config) {
    if (loaded.error == "help") {
      std::printf("%s", keyflow::usage().c_str());
      return 0;
    }
    std::fprintf(stderr, "keyflowd: %s\n", loaded.error.c_str());
    return 2;
  }
  keyflow::configure_logging(loaded.config->log_format, loaded.config->log_level,
                             loaded.config->access_log);
  try {
    return keyflow::run_role(*loaded.config);
  } catch (const std::exception& e) {
    // One line: libpq's messages span several ("...failed\n\tIs the server running...").
    std::string message = e.what();
    std::string line;
    for (const char c : message) {
      const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
      if (space && (line.empty() || line.back() == ' ')) continue;
      line += space ? ' ' : c;
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    message = line;
    spdlog::critical("{}", message);
    return 1;
  }
}
