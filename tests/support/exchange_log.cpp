#include "tests/support/exchange_log.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace keyflow::test {

namespace {

std::string current_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr ? std::string()
                         : std::string(info->test_suite_name()) + "." + info->name();
}

}  // namespace

void record_exchange(const std::string& method, const std::string& target,
                     const HttpResult& response) {
  static const char* const directory = std::getenv("KEYFLOW_TEST_EXCHANGES");
  if (directory == nullptr || *directory == '\0') return;
  boost::json::object headers;
  for (const auto& [name, value] : response.headers)
    headers[name] = value;
  const boost::json::object line{{"test", current_test()},
                                 {"method", method},
                                 {"target", target},
                                 {"status", response.status},
                                 {"headers", std::move(headers)},
                                 {"body", response.body}};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  // Opened once per process, at its first exchange; each line is flushed (a test may crash).
  static std::ofstream out = [&] {
    std::filesystem::create_directories(directory);
    return std::ofstream(std::filesystem::path(directory) / (std::to_string(getpid()) + ".jsonl"),
                         std::ios::app);
  }();
  out << boost::json::serialize(line) << std::endl;
}

}  // namespace keyflow::test
